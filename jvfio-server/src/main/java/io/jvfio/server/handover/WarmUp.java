package io.jvfio.server.handover;

import io.jvfio.linux.Fd;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.server.Access;
import io.jvfio.server.DeviceMigration;
import io.jvfio.server.DeviceSpec;
import io.jvfio.server.InterruptLines;
import io.jvfio.server.IrqSetting;
import io.jvfio.server.IrqSpec;
import io.jvfio.server.RegionSpec;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioException;
import io.jvfio.server.internal.DmaSpace;
import io.jvfio.server.internal.Session;
import io.jvfio.server.internal.StatsCounters;
import java.lang.foreign.MemorySegment;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.util.List;
import java.util.Optional;

/**
 * A hand-over rehearsed in one process over a socket pair, before a real one: a fresh JVM (the
 * successor) or code never run (the old server's first hand-over) would otherwise load and link
 * the wire, the state's encoding, the capabilities' JSON, SCM_RIGHTS, mmap, a resumed session and
 * the device's load (the FFM downcalls of syscalls never made yet among them) while the device is
 * stopped.
 */
final class WarmUp {
    private static final System.Logger LOG = System.getLogger(WarmUp.class.getName());

    /** The session of the warm-up is resumed, never sent a message: only its device's info is asked for. */
    private static final VfioDevice NO_DEVICE = new VfioDevice() {
        @Override
        public DeviceSpec info() {
            return new DeviceSpec(0, 0, 0, List.of());
        }

        @Override
        public RegionSpec regionInfo(int index) {
            throw new UnsupportedOperationException();
        }

        @Override
        public IrqSpec irqInfo(int index) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void setIrqs(IrqSetting request) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void regionRead(int index, long offset, MemorySegment dst) {
            throw new UnsupportedOperationException();
        }

        @Override
        public void regionWrite(int index, long offset, MemorySegment src) {
            throw new UnsupportedOperationException();
        }
    };

    private static volatile boolean done;

    private WarmUp() {}

    /**
     * For a successor's device, built and serving nobody yet: saves it and loads its own state back
     * ({@link DeviceMigration#rehearse}), as the hand-over will load the old server's.
     */
    static void rehearseLoad(VfioDevice served) {
        DeviceMigration migration = served.migration().orElse(null);
        if (migration == null) {
            return; // the old server refuses a device that cannot be migrated
        }
        try {
            migration.rehearse(true);
        } catch (VfioException | RuntimeException e) {
            LOG.log(Level.WARNING, "the device could not load its own state before the hand-over (the hand-over will tell): " + e.getMessage());
        }
    }

    static void run() {
        if (done) {
            return;
        }
        done = true;
        LOG.isLoggable(Level.INFO); // finding the logging backend costs tens of milliseconds once
        try {
            UnixSocket[] pair = UnixSocket.pair();
            try (HandoverWire sending = new HandoverWire(pair[0]); HandoverWire receiving = new HandoverWire(pair[1]);
                 Fd memory = Memfd.create("jvfio-warm-up", 4096)) {
                HandoverState state = new HandoverState("warm-up", Optional.empty(), null, memory.duplicate(),
                        VersionCapabilities.DEFAULTS, List.of(new DmaSpace.ExportedWindow(0, 4096, Access.READ_WRITE, memory.duplicate(), 0)),
                        new InterruptLines.Wiring(List.of(), false), new byte[64], new byte[16], System.nanoTime(),
                        System.nanoTime());
                try {
                    sending.send(HandoverWire.STATE, state.encode(), state.fds());
                } finally {
                    state.closeFds();
                }
                HandoverWire.Frame frame = receiving.expect(HandoverWire.STATE);
                HandoverState received = HandoverState.decode(frame.body(), frame.fds());
                try (Mapping mapping = Mapping.map(received.windows().getFirst().fd(), 0, 4096, true)) {
                    mapping.segment().fill((byte) 0);
                } finally {
                    received.closeFds();
                }
            }
            // A session's buffers and classes, on a connection no message comes from, resumed as a successor's is
            // (negotiated, a DMA window mapped): the successor's first session is then built from warm code.
            UnixSocket[] idle = UnixSocket.pair();
            idle[1].close();
            try (Session session = new Session(idle[0], NO_DEVICE, ServerOptions.defaults(), new StatsCounters());
                 Fd memory = Memfd.create("jvfio-warm-up", 4096)) {
                session.readyForHandover();
                session.resume(VersionCapabilities.DEFAULTS,
                        List.of(new DmaSpace.ExportedWindow(0, 4096, Access.READ_WRITE, memory.duplicate(), 0)), new byte[0]);
            }
        } catch (IOException | VfioException | RuntimeException e) {
            // Only the pause is at stake: the real hand-over reports what fails.
            LOG.log(Level.DEBUG, "hand-over warm-up: " + e);
        }
    }
}
