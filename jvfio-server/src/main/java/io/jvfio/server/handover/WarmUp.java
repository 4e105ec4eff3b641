package io.jvfio.server.handover;

import io.jvfio.linux.Fd;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.server.Access;
import io.jvfio.server.DeviceSpec;
import io.jvfio.server.InterruptLines;
import io.jvfio.server.IrqSetting;
import io.jvfio.server.IrqSpec;
import io.jvfio.server.RegionSpec;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
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
 * the wire, the state's encoding, the capabilities' JSON, SCM_RIGHTS and mmap during the pause.
 */
final class WarmUp {
    private static final System.Logger LOG = System.getLogger(WarmUp.class.getName());

    /** The session of the warm-up never negotiates: nothing of its device is called. */
    private static final VfioDevice NO_DEVICE = new VfioDevice() {
        @Override
        public DeviceSpec info() {
            throw new UnsupportedOperationException();
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
            // A session's buffers and classes, on a connection no message comes from: the successor's first
            // session is then built from warm code.
            UnixSocket[] idle = UnixSocket.pair();
            idle[1].close();
            new Session(idle[0], NO_DEVICE, ServerOptions.defaults(), new StatsCounters()).close();
        } catch (IOException | RuntimeException e) {
            // Only the pause is at stake: the real hand-over reports what fails.
            LOG.log(Level.DEBUG, "hand-over warm-up: " + e);
        }
    }
}
