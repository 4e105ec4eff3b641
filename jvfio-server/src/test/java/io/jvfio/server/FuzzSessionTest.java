package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import io.jvfio.linux.Memfd;
import io.jvfio.linux.MessageReceiver;
import io.jvfio.linux.UnixSocket;
import io.jvfio.testing.OpenFds;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.internal.Session;
import io.jvfio.server.internal.StatsCounters;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;
import org.junit.jupiter.api.Test;

/**
 * A live server session fed a fuzzed message stream, in process: the input is written into one end
 * of a socketpair whose other end a {@link Session} serves for a {@link FuzzDevice}. The session
 * must end cleanly (a reply, an error reply or a disconnect: never an internal error, an uncaught
 * exception in any thread, or a hang), and afterwards the process must hold exactly the fds it
 * held before.
 *
 * <p>Input: byte 0 is an fd plan (bit i set: the i-th message carries one fd — a 64 KiB memfd with a
 * DMA_MAP, an eventfd with anything else; bit 7 set: the 8th and later messages carry four eventfds
 * each, a flood); the rest is the byte stream, cut into sends at the msg_size of each header (a size
 * that does not fit sends the rest at once). The stream is followed by a half-close, so the server
 * sees the end of its input the way a vanishing client looks.
 */
class FuzzSessionTest {
    /** Small buffers (the session allocates 2 × (max + 4 KiB)) and a short DMA timeout keep executions fast. */
    static final ServerOptions OPTIONS = new ServerOptions(0600, 1 << 16, 16, 64, Duration.ofMillis(200), Optional.empty());
    /** A session that has read its whole input must be over within this. */
    static final long HANG_MILLIS = 10_000;

    private static final Logger JVFIO_LOG = Logger.getLogger("io.jvfio");
    private static final List<String> INTERNAL_ERRORS = new CopyOnWriteArrayList<>();

    static {
        // Refusals are logged at WARNING and below: not news here. An ERROR (SEVERE) from the server
        // means an exception it did not expect: that is a finding.
        JVFIO_LOG.setUseParentHandlers(false);
        JVFIO_LOG.setLevel(Level.SEVERE);
        JVFIO_LOG.addHandler(new Handler() {
            @Override
            public void publish(LogRecord r) {
                if (r.getLevel().intValue() >= Level.SEVERE.intValue()) {
                    INTERNAL_ERRORS.add(r.getMessage() + (r.getThrown() == null ? "" : ": " + stackTrace(r.getThrown())));
                }
            }

            @Override
            public void flush() {}

            @Override
            public void close() {}
        });
        Thread.setDefaultUncaughtExceptionHandler((t, e) -> INTERNAL_ERRORS.add("uncaught in " + t.getName() + ": " + stackTrace(e)));
    }

    private static boolean warm;

    @FuzzTest(maxDuration = "60s")
    void session(byte[] input) throws Exception {
        if (!warm) {
            // One full session first (not in the class initializer: its threads would wait for it), so
            // that lazily opened JDK files are open before any count.
            warm = true;
            run(seedQemuLike());
        }
        run(input);
    }

    /** One session over {@code input}; throws AssertionError on a finding. */
    static void run(byte[] input) throws Exception {
        if (input.length == 0) {
            return;
        }
        INTERNAL_ERRORS.clear();
        OpenFds fdsBefore = OpenFds.snapshot();
        FuzzDevice device = new FuzzDevice();
        UnixSocket[] pair = UnixSocket.pair();
        UnixSocket client = pair[0];
        Session session = new Session(pair[1], device, OPTIONS, new StatsCounters());
        Thread server = Thread.ofPlatform().daemon().name("fuzz-session").start(() -> {
            try (session) {
                session.run();
            }
        });
        Thread drain = Thread.ofPlatform().daemon().name("fuzz-drain").start(() -> drain(client));
        try {
            send(client, input);
            try {
                Linux.shutdownOutput(client.fd());
            } catch (LinuxException serverAlreadyGone) {
                // ENOTCONN: the server closed first
            }
            server.join(HANG_MILLIS);
            if (server.isAlive()) {
                throw new AssertionError("the session did not end within " + HANG_MILLIS + " ms of the end of its input; it is at "
                        + stackOf(server));
            }
            drain.join(HANG_MILLIS);
            if (drain.isAlive()) {
                throw new AssertionError("the server did not close the connection within " + HANG_MILLIS + " ms; reader at "
                        + stackOf(drain));
            }
        } finally {
            client.close();
        }
        for (Thread t : device.threads) {
            t.join(HANG_MILLIS);
            if (t.isAlive()) {
                throw new AssertionError("a device thread's DMA did not end within " + HANG_MILLIS + " ms of the disconnect");
            }
        }
        if (!INTERNAL_ERRORS.isEmpty()) {
            throw new AssertionError("internal error in the server: " + INTERNAL_ERRORS);
        }
        fdsBefore.assertNoneLeaked(Duration.ofSeconds(2));
    }

    private static void send(UnixSocket client, byte[] input) throws LinuxException {
        int plan = Byte.toUnsignedInt(input[0]);
        MemorySegment stream = MemorySegment.ofArray(input).asSlice(1);
        long at = 0;
        for (int index = 0; at < stream.byteSize(); index++) {
            long left = stream.byteSize() - at;
            long size = left;
            int command = -1;
            if (left >= Header.SIZE) {
                long declared = Header.messageSize(stream.asSlice(at));
                command = Header.command(stream.asSlice(at));
                if (declared >= Header.SIZE && declared <= left) {
                    size = declared;
                }
            }
            List<Fd> fds = new ArrayList<>();
            try {
                if (index < 7 && (plan & (1 << index)) != 0) {
                    fds.add(command == Command.DMA_MAP.code() ? Memfd.create("fuzz-dma", 1 << 16) : EventFd.create().fd());
                } else if (index >= 7 && (plan & 0x80) != 0) {
                    for (int i = 0; i < 4; i++) {
                        fds.add(EventFd.create().fd());
                    }
                }
                client.send(stream.asSlice(at, size), fds);
            } catch (LinuxException serverGone) {
                return; // EPIPE/ECONNRESET: the server has disconnected us, which is an allowed answer
            } finally {
                fds.forEach(Fd::close);
            }
            at += size;
        }
    }

    /** Reads and discards everything the server sends (closing fds) until it closes the connection. */
    private static void drain(UnixSocket client) {
        MemorySegment buffer = MemorySegment.ofArray(new byte[1 << 16]);
        List<Fd> fds = new ArrayList<>();
        try {
            while (client.receiveSome(buffer, fds, MessageReceiver.Wait.BLOCK) > 0) {
                fds.forEach(Fd::close);
                fds.clear();
            }
        } catch (IOException | RuntimeException e) {
            // closed under us or reset: the connection is over either way
        } finally {
            fds.forEach(Fd::close);
        }
    }

    private static String stackOf(Thread t) {
        StringBuilder b = new StringBuilder();
        for (StackTraceElement e : t.getStackTrace()) {
            b.append("\n\tat ").append(e);
        }
        return b.toString();
    }

    private static String stackTrace(Throwable t) {
        java.io.StringWriter w = new java.io.StringWriter();
        t.printStackTrace(new java.io.PrintWriter(w));
        return w.toString();
    }

    // ---------------------------------------------------------------- seeds

    static final String SEEDS = "src/test/resources/io/jvfio/server/FuzzSessionTestInputs/session";

    /** The hand-made seeds by file name, as their generators make them now. */
    static Map<String, byte[]> seeds() {
        Map<String, byte[]> seeds = new LinkedHashMap<>();
        seeds.put("seed-qemu-like-session", seedQemuLike());
        seeds.put("seed-version-only", seed(0, msg(1, Command.VERSION, TestPeer.versionPayload(0, 0, TestPeer.QEMU_JSON))));
        seeds.put("seed-message-dma", seedMessageDma());
        return seeds;
    }

    /**
     * The committed seeds are what the generators make: a change to the wire format or the test
     * device that leaves them stale fails here (then rewrite them with {@link #main}).
     */
    @Test
    void committedSeedsAreCurrent() throws IOException {
        for (Map.Entry<String, byte[]> seed : seeds().entrySet()) {
            assertThat(Files.readAllBytes(Path.of(SEEDS).resolve(seed.getKey()))).as(seed.getKey()).isEqualTo(seed.getValue());
        }
    }

    /**
     * Writes the hand-made seeds into the module's fuzz inputs (run from the module directory with
     * the test classpath, e.g. {@code ./mvnw -pl jvfio-server test-compile exec:java
     * -Dexec.mainClass=io.jvfio.server.FuzzSessionTest -Dexec.classpathScope=test}).
     */
    public static void main(String[] args) throws IOException {
        Path dir = Path.of(args.length > 0 ? args[0] : SEEDS);
        Files.createDirectories(dir);
        for (Map.Entry<String, byte[]> seed : seeds().entrySet()) {
            Files.write(dir.resolve(seed.getKey()), seed.getValue());
        }
    }

    private static byte[] seed(int plan, byte[]... messages) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        out.write(plan);
        for (byte[] m : messages) {
            out.writeBytes(m);
        }
        return out.toByteArray();
    }

    private static byte[] msg(int id, Command command, byte[] payload) {
        return TestPeer.message(id, command.code(), 0, 0, payload);
    }

    private static byte[] msg(int id, Command command, Payload payload) {
        return msg(id, command, TestPeer.bytes(payload));
    }

    /** Negotiation, discovery, a mapped window, an MSI-X eventfd, config and BAR accesses, DMA, unmap, reset. */
    static byte[] seedQemuLike() {
        byte[] configRead = TestPeer.regionRead(Vfio.PCI_CONFIG_REGION_INDEX, 0, 64);
        byte[] commandWrite = TestPeer.regionWrite(Vfio.PCI_CONFIG_REGION_INDEX, 4, new byte[] {6, 0});
        byte[] barWrite = TestPeer.regionWrite(0, 0x10, new byte[] {1, 2, 3, 4});
        byte[] dmaStart = TestPeer.regionWrite(4, 0, dmaCommand(0x100000, 64, 0));
        byte[] irq = TestPeer.regionWrite(4, 0, dmaCommand(0, 3, 3));
        // plan: message 2 (the DMA_MAP) carries a memfd, message 3 (SET_IRQS) an eventfd
        return seed(0b1100,
                msg(1, Command.VERSION, TestPeer.versionPayload(0, 0, TestPeer.QEMU_JSON)),
                msg(2, Command.DEVICE_GET_INFO, DeviceInfo.request(16)),
                msg(3, Command.DMA_MAP, DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0, 0x100000, 0x10000)),
                msg(4, Command.DEVICE_SET_IRQS, IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1)),
                msg(5, Command.DEVICE_GET_REGION_INFO, RegionInfo.request(32, Vfio.PCI_CONFIG_REGION_INDEX)),
                msg(6, Command.DEVICE_GET_IRQ_INFO, IrqInfo.request(Vfio.PCI_MSIX_IRQ_INDEX)),
                msg(7, Command.REGION_READ, configRead),
                msg(8, Command.REGION_WRITE, commandWrite),
                msg(9, Command.REGION_WRITE, barWrite),
                msg(10, Command.REGION_WRITE, dmaStart),
                msg(11, Command.REGION_WRITE, irq),
                msg(12, Command.DMA_UNMAP, DmaUnmap.of(0x100000, 0x10000)),
                msg(13, Command.DEVICE_RESET, new byte[0]));
    }

    /** A window without fd, a device-thread DMA read of it, and a reply to the server's DMA_READ (id 0). */
    static byte[] seedMessageDma() {
        byte[] reply = new byte[16 + 8];
        MemorySegment r = MemorySegment.ofArray(reply);
        r.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x200000);
        r.set(ValueLayout.JAVA_LONG_UNALIGNED, 8, 8);
        return seed(0,
                msg(1, Command.VERSION, TestPeer.versionPayload(0, 0, TestPeer.QEMU_JSON)),
                msg(2, Command.DMA_MAP, DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0, 0x200000, 0x1000)),
                msg(3, Command.REGION_WRITE, TestPeer.regionWrite(4, 0, dmaCommand(0x200000, 8, 0))),
                TestPeer.message(0, Command.DMA_READ.code(), Header.TYPE_REPLY, 0, reply),
                msg(4, Command.REGION_WRITE, TestPeer.regionWrite(4, 0, dmaCommand(0x200000, 8, 2))));
    }

    static byte[] dmaCommand(long iova, int length, int op) {
        return TestDevice.dmaCommand(iova, length, op);
    }
}
