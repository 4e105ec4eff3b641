package io.jvfio.bench;

import io.jvfio.devices.PciIdio16;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.linux.CpuAffinity;
import io.jvfio.linux.Fd;
import io.jvfio.linux.UnixServerSocket;
import io.jvfio.linux.UnixSocket;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioUserServer;
import java.io.EOFException;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The server side of {@code jvfio bench}: the GPIO card, the bench device, a plain AF_UNIX echo
 * (the round-trip floor), or jvfio's NVMe controller with a null namespace ({@code jvfio serve nvme
 * --null 1G}, with {@code --polled-doorbells} as nvme-polled), on one socket or on many. Runs in a child process of the bench (or on
 * threads of it, in tests).
 */
public final class BenchServe {
    private BenchServe() {}

    /** Echo protocol: a 16-byte request whose first u64 is the reply length (0: echo the 16 bytes back). */
    static final int ECHO_REQUEST = 16;
    /** The null namespace of the nvme kinds. */
    static final long NVME_NULL_BYTES = 1L << 30;

    /** Serves {@code count} devices of {@code kind} on {@code socket} (with %d replaced by 0..count-1 when count > 1); blocks. */
    static void serve(String kind, Path socket, int count) throws IOException, InterruptedException {
        List<Thread> threads = new ArrayList<>();
        for (int i = 0; i < count; i++) {
            Path path = socket.toString().contains("%d") ? Path.of(socket.toString().formatted(i)) : socket;
            threads.add(start(kind, path));
        }
        for (Thread t : threads) {
            t.join();
        }
    }

    /** Starts one server on a daemon thread. */
    static Thread start(String kind, Path path) throws IOException {
        if (kind.equals("echo")) {
            UnixServerSocket listener = UnixServerSocket.bind(path, 0600, 4);
            return Thread.ofPlatform().daemon().name("bench-echo").start(() -> echo(listener));
        }
        VfioDevice device = switch (kind) {
            case "gpio" -> new PciIdio16();
            case "bench" -> new BenchDevice();
            case "nvme", "nvme-polled" -> NvmeController.builder().namespace(new NullStore(NVME_NULL_BYTES))
                    .polledDoorbells(kind.equals("nvme-polled")).build();
            default -> throw new IllegalArgumentException("device must be gpio, bench, echo, nvme or nvme-polled, not '" + kind + "'");
        };
        VfioUserServer server = VfioUserServer.bind(path, device, ServerOptions.defaults());
        return server.start();
    }

    private static void echo(UnixServerSocket listener) {
        try (listener) {
            while (true) {
                try (UnixSocket s = listener.accept(); Arena arena = Arena.ofConfined()) {
                    MemorySegment request = arena.allocate(ECHO_REQUEST, 8);
                    MemorySegment bulk = arena.allocate(1 << 20, 64);
                    bulk.fill((byte) 0x5a);
                    List<Fd> fds = new ArrayList<>();
                    while (s.receiveFully(request, fds)) {
                        long reply = request.get(ValueLayout.JAVA_LONG, 0);
                        if (reply == 0) {
                            s.send(request);
                        } else {
                            s.send(bulk.asSlice(0, Math.min(reply, bulk.byteSize())));
                        }
                    }
                } catch (EOFException e) {
                    // the bench went away mid-message: wait for the next one
                }
            }
        } catch (IOException e) {
            // listener closed
        }
    }

    /**
     * Main of the child process the benches start: {@code KIND --socket PATH [--count N] [--cpus LIST]}
     * (KIND gpio, bench, echo, nvme or nvme-polled; with --count, %d in PATH is replaced by 0..N-1). Pins itself, serves,
     * and removes its sockets when killed.
     */
    public static void main(String[] args) throws Exception {
        String kind = null;
        Path socket = null;
        int count = 1;
        String cpus = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--socket" -> socket = Path.of(value(args, ++i));
                case "--count" -> count = Integer.parseInt(value(args, ++i));
                case "--cpus" -> cpus = value(args, ++i);
                default -> {
                    if (kind != null || args[i].startsWith("-")) throw new IllegalArgumentException("unexpected argument " + args[i]);
                    kind = args[i];
                }
            }
        }
        if (kind == null || socket == null || count < 1) {
            throw new IllegalArgumentException("usage: BenchServe gpio|bench|echo|nvme|nvme-polled --socket PATH [--count N] [--cpus LIST]");
        }
        if (cpus != null) {
            CpuAffinity.pinProcess(BenchLatency.parseCpus(cpus));
        }
        Path pattern = socket;
        int sockets = count;
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            for (int i = 0; i < sockets; i++) {
                try {
                    Files.deleteIfExists(pattern.toString().contains("%d") ? Path.of(pattern.toString().formatted(i)) : pattern);
                } catch (IOException ignored) {
                    // best effort
                }
            }
        }));
        serve(kind, socket, count);
    }

    private static String value(String[] args, int i) {
        if (i >= args.length) throw new IllegalArgumentException(args[i - 1] + " needs a value");
        return args[i];
    }
}
