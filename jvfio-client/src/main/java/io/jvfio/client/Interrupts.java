package io.jvfio.client;

import io.jvfio.linux.Epoll;
import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.LinuxException;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Vfio;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.time.Duration;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

/**
 * The vectors of one irq index (INTx, MSI, MSI-X, ...) wired to eventfds of this process with
 * SET_IRQS. Take interrupts in one of three styles, per vector:
 * <ul>
 *   <li>{@link #await}: block until the vector fires (or a timeout passes);</li>
 *   <li>{@link #poll}: check without blocking;</li>
 *   <li>{@link #onInterrupt}: a callback on a background epoll thread.</li>
 * </ul>
 * A vector with a callback cannot also be awaited or polled (the callback thread consumes it).
 * For INTx, which the device masks when it fires, acknowledge the device and then call
 * {@link #unmask(int)} (or {@link DeviceHandle#unmaskIntx()}), as a kernel does at EOI.
 */
public final class Interrupts implements AutoCloseable {
    private static final System.Logger LOG = System.getLogger(Interrupts.class.getName());
    private static final long WAKE_TOKEN = -1;

    /** Called on the interrupt thread with the vector and how many times it fired since the last call. */
    @FunctionalInterface
    public interface Handler {
        void interrupt(int vector, long count);
    }

    private final DeviceHandle device;
    /** Whether the device still takes calls (reachable and not being closed): worth disabling the index. */
    private final BooleanSupplier deviceUsable;
    private final Consumer<Interrupts> onClose;
    private final int index;
    private final IrqInfo info;
    private final List<EventFd> eventfds;
    private final AtomicReferenceArray<Handler> handlers;
    private Epoll epoll;
    private EventFd wake;
    private Thread thread;
    private volatile boolean closed;

    private Interrupts(DeviceHandle device, int index, IrqInfo info, List<EventFd> eventfds, BooleanSupplier deviceUsable,
            Consumer<Interrupts> onClose) {
        this.device = device;
        this.deviceUsable = deviceUsable;
        this.onClose = onClose;
        this.index = index;
        this.info = info;
        this.eventfds = List.copyOf(eventfds);
        this.handlers = new AtomicReferenceArray<>(eventfds.size());
    }

    /**
     * Wires eventfds to the first {@code count} vectors of irq {@code index} of {@code device}, after
     * asking it how many it has (EINVAL, as {@code errors} makes it, when fewer than {@code count}).
     * For {@link DeviceHandle} implementations; {@code onClose} hears when the user closes them.
     */
    public static Interrupts open(DeviceHandle device, int index, int count, BooleanSupplier deviceUsable,
            Consumer<Interrupts> onClose, DeviceException.Factory errors) throws IOException {
        IrqInfo info = device.irqInfo(index);
        if (count < 1 || count > info.count()) {
            throw errors.of(Errno.EINVAL, "irq index %d has %d vectors; cannot wire %d".formatted(index, info.count(), count), null);
        }
        return wire(device, index, info, count, deviceUsable, onClose);
    }

    /**
     * Wires eventfds to the first {@code count} vectors of {@code index} (which {@code info} describes);
     * {@code onClose} hears when the user closes them.
     */
    static Interrupts wire(DeviceHandle device, int index, IrqInfo info, int count, BooleanSupplier deviceUsable,
            Consumer<Interrupts> onClose) throws IOException {
        List<EventFd> fds = new ArrayList<>(count);
        try {
            for (int i = 0; i < count; i++) {
                fds.add(EventFd.create());
            }
            device.setIrqEventfds(index, 0, fds);
        } catch (IOException | RuntimeException e) {
            fds.forEach(EventFd::close);
            throw e;
        }
        return new Interrupts(device, index, info, fds, deviceUsable, onClose);
    }

    public int index() {
        return index;
    }

    /** The number of vectors wired. */
    public int count() {
        return eventfds.size();
    }

    /** What the device reported for this index (MASKABLE, AUTOMASKED, ...). */
    public IrqInfo info() {
        return info;
    }

    /** The eventfd of {@code vector}, for callers that poll it themselves. */
    public EventFd eventfd(int vector) {
        return eventfds.get(vector);
    }

    /**
     * Waits up to {@code timeout} for {@code vector} to fire; true if it did (the firing is
     * consumed: every firing since the last await or poll counts as one).
     */
    public boolean await(int vector, Duration timeout) throws IOException {
        EventFd e = consumable(vector);
        if (!e.await(timeout)) {
            return false;
        }
        e.read();
        return true;
    }

    /** How many times {@code vector} fired since the last await or poll; 0 without waiting if none. */
    public long poll(int vector) throws IOException {
        EventFd e = consumable(vector);
        return e.await(Duration.ZERO) ? e.read() : 0;
    }

    private EventFd consumable(int vector) {
        checkOpen();
        if (handlers.get(vector) != null) {
            throw new IllegalStateException("vector " + vector + " has a callback; it cannot be awaited or polled");
        }
        return eventfds.get(vector);
    }

    /**
     * Calls {@code handler} on the background interrupt thread whenever {@code vector} fires;
     * null removes the callback. A handler that throws is logged and stays registered.
     */
    public synchronized void onInterrupt(int vector, Handler handler) throws IOException {
        checkOpen();
        EventFd e = eventfds.get(vector);
        Handler before = handlers.getAndSet(vector, handler);
        if (handler != null && before == null) {
            startThread();
            epoll.add(e.fd(), Epoll.IN, vector);
        } else if (handler == null && before != null) {
            epoll.remove(e.fd());
        }
    }

    private void startThread() throws LinuxException {
        if (thread != null) {
            return;
        }
        epoll = Epoll.create();
        try {
            wake = EventFd.create();
            epoll.add(wake.fd(), Epoll.IN, WAKE_TOKEN);
        } catch (LinuxException e) {
            if (wake != null) {
                wake.close();
            }
            epoll.close();
            throw e;
        }
        thread = Thread.ofPlatform().name("jvfio-irq-" + index).daemon().start(this::dispatchLoop);
    }

    private void dispatchLoop() {
        long[] tokens = new long[16];
        int[] events = new int[16];
        try {
            while (!closed) {
                int n = epoll.await(tokens, events, -1);
                for (int i = 0; i < n && !closed; i++) {
                    if (tokens[i] == WAKE_TOKEN) {
                        wake.read();
                        continue;
                    }
                    int vector = (int) tokens[i];
                    Handler h = handlers.get(vector);
                    if (h == null) {
                        continue; // removed after the event was queued: leave the count for await/poll
                    }
                    EventFd e = eventfds.get(vector);
                    if (!e.await(Duration.ZERO)) {
                        continue;
                    }
                    long count = e.read();
                    try {
                        h.interrupt(vector, count);
                    } catch (Throwable t) {
                        LOG.log(Level.WARNING, "interrupt handler for %d/%d failed".formatted(index, vector), t);
                    }
                }
            }
        } catch (LinuxException e) {
            if (!closed) {
                LOG.log(Level.ERROR, "interrupt thread of index %d stopped: %s".formatted(index, e.getMessage()), e);
            }
        }
    }

    /** MASK one vector (DATA_NONE): the device holds its firings pending until unmasked. */
    public void mask(int vector) throws IOException {
        checkVector(vector);
        device.setIrqs(IrqSet.none(index, Vfio.IRQ_SET_ACTION_MASK, vector, 1));
    }

    /** UNMASK one vector (DATA_NONE); for INTx this is the EOI that re-arms the line. */
    public void unmask(int vector) throws IOException {
        checkVector(vector);
        device.setIrqs(IrqSet.none(index, Vfio.IRQ_SET_ACTION_UNMASK, vector, 1));
    }

    /** MASK the vectors set in {@code vectors} in one message (DATA_BOOL). */
    public void mask(BitSet vectors) throws IOException {
        device.setIrqs(IrqSet.bools(index, Vfio.IRQ_SET_ACTION_MASK, 0, bools(vectors)));
    }

    /** UNMASK the vectors set in {@code vectors} in one message (DATA_BOOL). */
    public void unmask(BitSet vectors) throws IOException {
        device.setIrqs(IrqSet.bools(index, Vfio.IRQ_SET_ACTION_UNMASK, 0, bools(vectors)));
    }

    /** Asks the device to fire {@code vector} (DATA_NONE + TRIGGER), e.g. to test the wiring. */
    public void trigger(int vector) throws IOException {
        checkVector(vector);
        device.setIrqs(IrqSet.none(index, Vfio.IRQ_SET_ACTION_TRIGGER, vector, 1));
    }

    private byte[] bools(BitSet vectors) {
        if (vectors.length() > count()) {
            throw new IllegalArgumentException("vector " + (vectors.length() - 1) + " is not wired (" + count() + " are)");
        }
        byte[] b = new byte[count()];
        vectors.stream().forEach(v -> b[v] = 1);
        return b;
    }

    private void checkVector(int vector) {
        if (vector < 0 || vector >= count()) {
            throw new IndexOutOfBoundsException("vector " + vector + " of " + count());
        }
    }

    private void checkOpen() {
        if (closed) {
            throw new IllegalStateException("interrupts of index " + index + " are closed");
        }
    }

    /**
     * Disables the index on the device (DATA_NONE + TRIGGER, count 0) while it is reachable, stops the
     * interrupt thread and closes the eventfds. Idempotent.
     */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        try {
            if (deviceUsable.getAsBoolean()) {
                device.setIrqs(IrqSet.none(index, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 0));
            }
        } catch (IOException e) {
            LOG.log(Level.DEBUG, "disabling irq index %d: %s".formatted(index, e.getMessage()));
        }
        if (thread != null) {
            try {
                wake.signal();
                thread.join(5000);
            } catch (LinuxException e) {
                LOG.log(Level.WARNING, "waking the interrupt thread: " + e.getMessage());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            epoll.close();
            wake.close();
        }
        eventfds.forEach(EventFd::close);
        onClose.accept(this);
    }

    @Override
    public String toString() {
        return "Interrupts[index=" + index + ", vectors=" + count() + "]";
    }
}
