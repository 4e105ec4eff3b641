package io.jvfio.server;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.LinuxException;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultPoint;
import io.jvfio.server.faults.Faults;
import java.util.EnumSet;
import java.util.List;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * A device's interrupt lines as the client wired them with SET_IRQS: one eventfd slot per vector
 * of each irq index (INTx, MSI, MSI-X, ERR, REQ), a mask bit per vector, and INTx level
 * semantics: an asserted line fires once, masks itself, and fires again when the client unmasks
 * it while it is still asserted (the client's EOI path).
 *
 * <p>An interrupt a fault rule delays ({@link FaultAction.DelayInterrupt}) is delivered later from
 * one daemon thread shared by all devices, started on the first delay; other interrupts pass it.
 * It is delivered as the lines are then: held pending if its vector is masked (and asked about
 * again on unmask), lost if the client no longer wires it, and lost after a {@link #reset()} (the
 * client went away). A migration that stops the device does not hold it back.
 */
public final class InterruptLines {
    private static final int INTX = Vfio.PCI_INTX_IRQ_INDEX, MSI = Vfio.PCI_MSI_IRQ_INDEX,
            MSIX = Vfio.PCI_MSIX_IRQ_INDEX, ERR = Vfio.PCI_ERR_IRQ_INDEX, REQ = Vfio.PCI_REQ_IRQ_INDEX,
            INDEX_COUNT = Vfio.PCI_NUM_IRQS;

    private final Line[][] lines = new Line[INDEX_COUNT][];
    private boolean intxAsserted;
    private final Object lock = new Object();
    /** Asked before each delivery (guarded by {@code lock}); an empty registry until a server attaches its own. */
    private Faults faults = new Faults();
    /** Counts {@link #reset()}s (guarded by {@code lock}): a delayed interrupt from before one is not delivered. */
    private long generation;

    /** The thread that delivers delayed interrupts, made on the first delay. */
    private static final class LateDelivery {
        static final ScheduledExecutorService SCHEDULER = Executors.newSingleThreadScheduledExecutor(
                task -> Thread.ofPlatform().daemon().name("jvfio-delayed-interrupts").unstarted(task));
    }

    private static final class Line {
        /** This vector as fault rules see it: made once, so asking them allocates nothing. */
        final FaultPoint.Interrupt faultPoint;
        EventFd trigger;
        boolean masked;
        boolean pending;

        Line(int index, int vector) {
            this.faultPoint = new FaultPoint.Interrupt(index, vector);
        }
    }

    /**
     * The client's wiring as a live upgrade carries it to a successor process: every vector that
     * has an eventfd or a mask or pending bit set, and the INTx level.
     */
    public record Wiring(List<WiredVector> vectors, boolean intxAsserted) {
        public Wiring {
            vectors = List.copyOf(vectors);
        }
    }

    /** One vector: a duplicate of its eventfd (null without one; owned by the holder), its mask and pending bits. */
    public record WiredVector(int index, int vector, Fd eventfd, boolean masked, boolean pending) {}

    private InterruptLines(int[] counts) {
        for (int i = 0; i < INDEX_COUNT; i++) {
            lines[i] = new Line[counts[i]];
            for (int v = 0; v < counts[i]; v++) {
                lines[i][v] = new Line(i, v);
            }
        }
    }

    /** Declares the vectors of each irq index; an index not declared has none. */
    public static Builder builder() {
        return new Builder();
    }

    /** Which interrupts a device has: vectors per irq index. */
    public static final class Builder {
        private final int[] counts = new int[INDEX_COUNT];

        private Builder() {}

        /** An INTx pin. */
        public Builder intx() {
            counts[INTX] = 1;
            return this;
        }

        public Builder msi(int vectors) {
            counts[MSI] = vectors;
            return this;
        }

        public Builder msix(int vectors) {
            counts[MSIX] = vectors;
            return this;
        }

        /** The ERR interrupt (AER error reporting). */
        public Builder err() {
            counts[ERR] = 1;
            return this;
        }

        /** The REQ interrupt (the device asks the client to release it). */
        public Builder req() {
            counts[REQ] = 1;
            return this;
        }

        public InterruptLines build() {
            return new InterruptLines(counts.clone());
        }
    }

    public IrqSpec info(int index) throws VfioException {
        checkIndex(index);
        int count = lines[index].length;
        if (count == 0) {
            return IrqSpec.none();
        }
        return switch (index) {
            case INTX -> new IrqSpec(count, EnumSet.of(IrqSpec.Flag.MASKABLE, IrqSpec.Flag.AUTOMASKED));
            case MSI -> new IrqSpec(count, EnumSet.of(IrqSpec.Flag.NO_RESIZE));
            case MSIX -> new IrqSpec(count, EnumSet.of(IrqSpec.Flag.MASKABLE));
            default -> new IrqSpec(count, Set.of());
        };
    }

    /** Applies a SET_IRQS request. Takes ownership of its eventfds in every case. */
    public void set(IrqSetting request) throws VfioException {
        try {
            apply(request);
        } finally {
            // Whatever was not adopted into a slot is closed here: no fd outlives a failed request.
            List<Fd> eventfds = request.eventfds();
            for (int i = 0; i < eventfds.size(); i++) { // indexed: an UNMASK after each interrupt allocates no iterator
                if (!adopted(eventfds.get(i))) {
                    eventfds.get(i).close();
                }
            }
        }
    }

    private void apply(IrqSetting r) throws VfioException {
        checkIndex(r.index());
        Line[] slots = lines[r.index()];
        if (r.data() == IrqSetting.Data.NONE && r.action() == IrqSetting.Action.TRIGGER && r.count() == 0) {
            if (r.start() != 0) {
                throw VfioException.invalid("SET_IRQS disable-all needs start 0");
            }
            synchronized (lock) {
                for (Line line : slots) {
                    clear(line);
                }
                if (r.index() == INTX) {
                    intxAsserted = false;
                }
            }
            return;
        }
        if ((long) r.start() + r.count() > slots.length || r.count() < 0 || r.start() < 0) {
            throw VfioException.invalid("SET_IRQS vectors [%d, +%d) outside index %d's %d vectors"
                    .formatted(r.start(), r.count(), r.index(), slots.length));
        }
        if ((r.index() == ERR || r.index() == REQ) && r.action() != IrqSetting.Action.TRIGGER) {
            throw VfioException.invalid("ERR and REQ take only TRIGGER");
        }
        if (r.data() == IrqSetting.Data.EVENTFD && !r.eventfds().isEmpty() && r.eventfds().size() != r.count()) {
            throw VfioException.invalid("SET_IRQS has %d eventfds for %d vectors".formatted(r.eventfds().size(), r.count()));
        }
        if (r.action() != IrqSetting.Action.TRIGGER && r.data() == IrqSetting.Data.EVENTFD) {
            // Mask/unmask notification eventfds (resamplefds) only matter with a hypervisor; accept and drop.
            return;
        }
        synchronized (lock) {
            for (int i = 0; i < r.count(); i++) {
                Line line = slots[r.start() + i];
                switch (r.action()) {
                    case TRIGGER -> {
                        if (r.data() == IrqSetting.Data.EVENTFD) {
                            if (line.trigger != null) {
                                line.trigger.close();
                            }
                            line.trigger = r.eventfds().isEmpty() ? null : EventFd.adopt(r.eventfds().get(i));
                        } else if (r.selects(i)) {
                            fireLocked(r.index(), r.start() + i, line);
                        }
                    }
                    case MASK -> {
                        if (r.selects(i)) {
                            line.masked = true;
                        }
                    }
                    case UNMASK -> {
                        if (r.selects(i)) {
                            line.masked = false;
                            // Re-fire what happened while masked; INTx also while the line is still asserted.
                            if (line.pending || (r.index() == INTX && intxAsserted)) {
                                fireLocked(r.index(), r.start() + i, line);
                            }
                        }
                    }
                }
            }
        }
    }

    private boolean adopted(Fd fd) {
        synchronized (lock) {
            for (Line[] index : lines) {
                for (Line line : index) {
                    if (line.trigger != null && line.trigger.fd() == fd) {
                        return true;
                    }
                }
            }
        }
        return false;
    }

    /** Raises vector {@code vector} of {@code index} (an edge: MSI, MSI-X, ERR, REQ). */
    public void trigger(int index, int vector) {
        synchronized (lock) {
            if (index < 0 || index >= INDEX_COUNT || vector < 0 || vector >= lines[index].length) {
                throw new IllegalArgumentException("no vector %d at irq index %d".formatted(vector, index));
            }
            fireLocked(index, vector, lines[index][vector]);
        }
    }

    /** Sets the INTx line's level. Asserting fires the client's eventfd unless the line is masked. */
    public void setIntx(boolean asserted) {
        synchronized (lock) {
            if (lines[INTX].length == 0) {
                throw new IllegalStateException("device has no INTx pin");
            }
            boolean rising = asserted && !intxAsserted;
            intxAsserted = asserted;
            if (rising) {
                fireLocked(INTX, 0, lines[INTX][0]);
            }
        }
    }

    public boolean intxAsserted() {
        synchronized (lock) {
            return intxAsserted;
        }
    }

    /** Whether the client has given vector {@code vector} of {@code index} an eventfd. */
    public boolean isWired(int index, int vector) {
        synchronized (lock) {
            return vector < lines[index].length && lines[index][vector].trigger != null;
        }
    }

    /** Makes every delivery from now on ask {@code faults} first (drop or repeat an interrupt). */
    public void attachFaults(Faults faults) {
        synchronized (lock) {
            this.faults = Objects.requireNonNull(faults, "faults");
        }
        faults.addPerformer(action -> action instanceof FaultAction.RaiseInterrupt raise && raiseIfPresent(raise.index(), raise.vector()));
    }

    /** A rule's {@link FaultAction.RaiseInterrupt}: like {@link #trigger}, but a missing vector is no error. */
    private boolean raiseIfPresent(int index, int vector) {
        synchronized (lock) {
            if (index >= INDEX_COUNT || vector >= lines[index].length) {
                return false;
            }
            fireLocked(index, vector, lines[index][vector]);
            return true;
        }
    }

    private void fireLocked(int index, int vector, Line line) {
        if (line.masked) {
            line.pending = true;
            return;
        }
        line.pending = false;
        if (line.trigger == null) {
            if (index == INTX) {
                line.masked = true; // automasked until the client's UNMASK
            }
            return;
        }
        int signals = 1;
        switch (faults.isEmpty() ? null : faults.ask(line.faultPoint)) {
            case null -> {}
            case FaultAction.DropInterrupt ignored -> {
                return; // lost on the way: not pending, and INTx not automasked, as if never raised
            }
            case FaultAction.RepeatInterrupt repeat -> signals += repeat.extra();
            case FaultAction.DelayInterrupt delay -> {
                long raisedIn = generation;
                LateDelivery.SCHEDULER.schedule(() -> deliverLate(index, vector, raisedIn),
                        TimeUnit.NANOSECONDS.convert(delay.delay()), TimeUnit.NANOSECONDS);
                return; // on its way: not pending, and INTx not automasked until it arrives
            }
            case FaultAction other -> throw new IllegalStateException("not an interrupt action: " + other);
        }
        signalLocked(index, vector, line, signals);
    }

    /** A delayed interrupt arrives: delivered as the line is now, without asking the rules again. */
    private void deliverLate(int index, int vector, long raisedIn) {
        synchronized (lock) {
            if (raisedIn != generation) {
                return; // the client it was raised for is gone
            }
            Line line = lines[index][vector];
            if (line.masked) {
                line.pending = true;
                return;
            }
            if (line.trigger == null) {
                return;
            }
            signalLocked(index, vector, line, 1);
        }
    }

    private void signalLocked(int index, int vector, Line line, int signals) {
        if (index == INTX) {
            line.masked = true; // automasked until the client's UNMASK
        }
        try {
            for (int i = 0; i < signals; i++) {
                line.trigger.signal();
            }
        } catch (LinuxException e) {
            System.getLogger(InterruptLines.class.getName()).log(System.Logger.Level.WARNING,
                    "interrupt %d/%d: %s".formatted(index, vector, e.getMessage()));
        }
    }

    /**
     * The wiring now, with duplicates of the eventfds (the caller closes them); fails on the first
     * eventfd that cannot be duplicated, closing those made so far.
     */
    public Wiring wiring() throws LinuxException {
        List<WiredVector> vectors = new java.util.ArrayList<>();
        synchronized (lock) {
            try {
                for (int index = 0; index < INDEX_COUNT; index++) {
                    for (int v = 0; v < lines[index].length; v++) {
                        Line line = lines[index][v];
                        if (line.trigger != null || line.masked || line.pending) {
                            vectors.add(new WiredVector(index, v, line.trigger == null ? null : line.trigger.fd().duplicate(),
                                    line.masked, line.pending));
                        }
                    }
                }
            } catch (LinuxException e) {
                vectors.forEach(w -> {
                    if (w.eventfd() != null) {
                        w.eventfd().close();
                    }
                });
                throw e;
            }
            return new Wiring(vectors, intxAsserted);
        }
    }

    /**
     * Takes over a predecessor's {@link #wiring()}: replaces every line's state with it, adopting
     * its eventfds (closed here if refused). Nothing fires: pending stays pending until unmasked.
     */
    public void rewire(Wiring wiring) throws VfioException {
        synchronized (lock) {
            try {
                for (WiredVector w : wiring.vectors()) {
                    if (w.index() < 0 || w.index() >= INDEX_COUNT || w.vector() < 0 || w.vector() >= lines[w.index()].length) {
                        throw VfioException.invalid("no vector %d at irq index %d".formatted(w.vector(), w.index()));
                    }
                }
                for (Line[] index : lines) {
                    for (Line line : index) {
                        clear(line);
                    }
                }
                for (WiredVector w : wiring.vectors()) {
                    Line line = lines[w.index()][w.vector()];
                    line.trigger = w.eventfd() == null ? null : EventFd.adopt(w.eventfd());
                    line.masked = w.masked();
                    line.pending = w.pending();
                }
                intxAsserted = wiring.intxAsserted();
            } catch (VfioException e) {
                wiring.vectors().forEach(w -> {
                    if (w.eventfd() != null) {
                        w.eventfd().close();
                    }
                });
                throw e;
            }
        }
    }

    /** Drops every eventfd and mask state (client gone, or device reset). */
    public void reset() {
        synchronized (lock) {
            for (Line[] index : lines) {
                for (Line line : index) {
                    clear(line);
                }
            }
            intxAsserted = false;
            generation++;
        }
    }

    private static void clear(Line line) {
        if (line.trigger != null) {
            line.trigger.close();
            line.trigger = null;
        }
        line.masked = false;
        line.pending = false;
    }

    private void checkIndex(int index) throws VfioException {
        if (index < 0 || index >= INDEX_COUNT) {
            throw new VfioException(Errno.EINVAL, "no irq index " + index);
        }
    }

    List<Integer> counts() {
        return java.util.Arrays.stream(lines).map(l -> l.length).toList();
    }
}
