package io.jvfio.server.internal;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.MigrationState;
import io.jvfio.server.VfioException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collections;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

import static io.jvfio.protocol.MigrationState.ERROR;
import static io.jvfio.protocol.MigrationState.PRE_COPY;
import static io.jvfio.protocol.MigrationState.RESUMING;
import static io.jvfio.protocol.MigrationState.RUNNING;
import static io.jvfio.protocol.MigrationState.STOP;
import static io.jvfio.protocol.MigrationState.STOP_COPY;

/**
 * The VFIO migration v2 device-state machine as vfio-user uses it (linux/vfio.h without the P2P
 * states): the single-step arcs a device implements, and the path the device walks for any
 * requested transition — the shortest chain of arcs whose interior states do not save (so a
 * multi-step request never opens a data session the client did not ask for).
 */
public final class MigrationStateMachine {
    /** The arcs of linux/vfio.h a vfio-user device implements (STOP_COPY and PRE_COPY both offered). */
    private static final Map<MigrationState, Set<MigrationState>> ARCS = new EnumMap<>(MigrationState.class);

    static {
        ARCS.put(RUNNING, EnumSet.of(STOP, PRE_COPY));
        ARCS.put(STOP, EnumSet.of(RUNNING, STOP_COPY, RESUMING));
        ARCS.put(STOP_COPY, EnumSet.of(STOP));
        ARCS.put(RESUMING, EnumSet.of(STOP));
        ARCS.put(PRE_COPY, EnumSet.of(RUNNING, STOP_COPY));
        ARCS.put(ERROR, EnumSet.noneOf(MigrationState.class));
    }

    /** The states a vfio-user device can be in (the P2P states are not used by vfio-user). */
    public static final Set<MigrationState> STATES = Collections.unmodifiableSet(ARCS.keySet());

    private MigrationStateMachine() {}

    /** Whether {@code from → to} is one arc the device implements. */
    public static boolean isArc(MigrationState from, MigrationState to) {
        return ARCS.getOrDefault(from, Set.of()).contains(to);
    }

    /**
     * The states the device passes through to get from {@code from} to {@code to}, excluding
     * {@code from} and ending with {@code to}; empty when they are equal. EINVAL for a transition
     * the device must refuse: into ERROR or a P2P state, out of ERROR (only DEVICE_RESET leaves it),
     * and STOP_COPY → PRE_COPY (linux/vfio.h forbids re-entering pre-copy once stop-copy started).
     */
    public static List<MigrationState> path(MigrationState from, MigrationState to) throws VfioException {
        if (!STATES.contains(from) || !STATES.contains(to) || to == ERROR) {
            throw VfioException.invalid("no transition %s -> %s".formatted(from, to));
        }
        if (from == to) {
            return List.of();
        }
        if (from == ERROR || (from == STOP_COPY && to == PRE_COPY)) {
            throw VfioException.invalid("transition %s -> %s is not allowed".formatted(from, to));
        }
        // Breadth-first over the arcs; interior states must not be saving ones.
        Map<MigrationState, MigrationState> previous = new EnumMap<>(MigrationState.class);
        ArrayDeque<MigrationState> queue = new ArrayDeque<>(List.of(from));
        previous.put(from, from);
        while (!queue.isEmpty()) {
            MigrationState at = queue.poll();
            for (MigrationState next : ARCS.get(at)) {
                if (previous.containsKey(next)) {
                    continue;
                }
                previous.put(next, at);
                if (next == to) {
                    List<MigrationState> steps = new ArrayList<>();
                    for (MigrationState s = to; s != from; s = previous.get(s)) {
                        steps.addFirst(s);
                    }
                    return List.copyOf(steps);
                }
                if (!next.isSaving()) {
                    queue.add(next);
                }
            }
        }
        throw new VfioException(Errno.EINVAL, "no path %s -> %s".formatted(from, to));
    }
}
