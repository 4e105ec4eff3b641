package io.jvfio.server.faults;

import java.util.Map;

/**
 * The words a fault plan, {@code jvfio fault … inject} and {@code serve --faults} use for one device:
 * the match kinds (a rule's {@code on:}) and the actions (its {@code action:}), each turned into the
 * {@link FaultMatch} and {@link FaultAction} objects Java users build directly. The core's words
 * (region accesses, interrupts, DMA, now) are {@link #core()}; a device adds its own
 * ({@code VfioDevice#faultVocabulary}) and combines them with the core's ({@link #combine}).
 */
public interface FaultVocabulary {
    /** The match kinds this vocabulary knows, each with a one-line description (for help and errors). */
    Map<String, String> matchKinds();

    /** The actions this vocabulary knows, each with a one-line description. */
    Map<String, String> actions();

    /**
     * The match for a rule whose {@code on:} is {@code kind}, its fields read from {@code spec}; null
     * if this vocabulary does not know {@code kind}.
     *
     * @throws IllegalArgumentException for a missing or bad field (the message names the field)
     */
    FaultMatch match(String kind, FaultSpec spec);

    /**
     * The action named {@code name}, its fields read from {@code spec}; null if this vocabulary does
     * not know {@code name}.
     *
     * @throws IllegalArgumentException for a missing or bad field
     */
    FaultAction action(String name, FaultSpec spec);

    /**
     * The plan fields that say {@code match}, its {@code on:} first, such that {@link #match} reads
     * them back to an equal match; null if this vocabulary does not know it. Listings of armed rules
     * ({@code jvfio fault … list}) show rules in this form.
     */
    default Map<String, Object> matchFields(FaultMatch match) {
        return null;
    }

    /** The plan fields that say {@code action}, its {@code action:} first (as {@link #matchFields(FaultMatch)}); null if unknown. */
    default Map<String, Object> actionFields(FaultAction action) {
        return null;
    }

    /** The core's words: region accesses, interrupts, DMA, now; and their actions. */
    static FaultVocabulary core() {
        return CoreFaultVocabulary.INSTANCE;
    }

    /** A vocabulary that asks {@code parts} in order (a device's words, then the core's). */
    static FaultVocabulary combine(FaultVocabulary... parts) {
        return new CombinedFaultVocabulary(parts);
    }
}
