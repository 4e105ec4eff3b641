package io.jvfio.server;

import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Run in a child JVM by {@link FaultTest}: a client maps a memfd as a DMA window and then truncates
 * it; the device then touches the vanished pages. Prints one {@code RESULT} line per access size
 * (what the access did: returned, or which exception), then {@code NEXT ok} if the server still
 * serves a new client. If the JVM dies of the SIGBUS, the parent sees no such lines and the exit code.
 */
final class FaultShrinkProbe {
    public static void main(String[] args) throws Exception {
        boolean seal = args.length > 0 && args[0].equals("seal");
        Path dir = Files.createTempDirectory("jvfio-shrink");
        Path sock = dir.resolve("s");
        TestDevice device = new TestDevice();
        try (VfioUserServer server = VfioUserServer.bind(sock, device, ServerOptions.defaults())) {
            server.start();
            long size = 1 << 20;
            try (TestPeer peer = TestPeer.connect(sock); Fd memory = Memfd.create("guest", size)) {
                peer.negotiate();
                if (seal) {
                    Linux.addSeals(memory, Linux.F_SEAL_SHRINK);
                }
                peer.call(Command.DMA_MAP, DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0, 0x100000, size), memory).close();
                // Let the JIT compile the copy paths first: a compiled access must fail as safely as an interpreted one.
                MemorySegment small = MemorySegment.ofArray(new byte[8]);
                for (int i = 0; i < 200_000; i++) {
                    device.dmaSpace().read(0x100000 + (i & 0xff) * 8, small);
                }
                try {
                    Linux.ftruncate(memory, 0);
                    System.out.println("TRUNCATED");
                } catch (LinuxException e) {
                    System.out.println("TRUNCATE refused: " + e.getMessage());
                }
                System.out.flush();
                for (int length : new int[] {8, 4096, 1 << 16, 1 << 20}) {
                    for (boolean write : new boolean[] {false, true}) {
                        String what = (write ? "write " : "read ") + length;
                        try {
                            MemorySegment buffer = MemorySegment.ofArray(new byte[length]);
                            if (write) {
                                device.dmaSpace().write(0x100000, buffer);
                            } else {
                                device.dmaSpace().read(0x100000, buffer);
                            }
                            System.out.println("RESULT " + what + ": returned");
                        } catch (Throwable t) {
                            System.out.println("RESULT " + what + ": " + t.getClass().getName() + ": " + t.getMessage());
                        }
                        System.out.flush();
                    }
                }
                // The same fault on the session thread: a device that reads client memory inline in a register write.
                try {
                    int id = peer.send(Command.REGION_WRITE, TestPeer.regionWrite(4, 0, TestDevice.dmaCommand(0x100000, 64, TestDevice.OP_READ_INLINE)));
                    try (TestPeer.Msg m = peer.receiveOrEof()) {
                        System.out.println("RESULT inline read on the session thread: "
                                + (m == null ? "disconnected" : m.isError() ? "error reply errno " + m.error() : "reply"));
                    }
                } catch (Throwable t) {
                    System.out.println("RESULT inline read on the session thread: " + t);
                }
            }
            try (TestPeer next = TestPeer.connect(sock)) {
                next.negotiate();
                next.read(Vfio.PCI_CONFIG_REGION_INDEX, 0, 2);
                System.out.println("NEXT ok");
            }
        } finally {
            device.dispose();
            Files.deleteIfExists(sock);
            Files.deleteIfExists(dir);
        }
    }
}
