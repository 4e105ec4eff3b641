package io.jvfio.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.VfioException;
import io.jvfio.server.VfioUserServer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Client memory reached by the device: through DMA_READ/WRITE messages, and through a shared memfd. */
class DmaTest extends ClientTestSupport {
    private static final long SOURCE = 0x1000_0000L, SINK = 0x2000_0000L, READ_ONLY = 0x3000_0000L;
    private static final int CHUNK = 3000, ROUNDS = 200;

    @Test
    void fullDuplexDeviceDmaWhileTheClientKeepsCalling() throws Exception {
        TestDevice device = device();
        List<CompletableFuture<Void>> deviceWork = new java.util.concurrent.CopyOnWriteArrayList<>();
        // A doorbell write starts a device thread that copies SOURCE to SINK through DMA messages,
        // transforming each byte, one chunk at a time (the way a DMA engine with descriptors would).
        device.doorbellWrite = (offset, src) -> {
            int engine = Byte.toUnsignedInt(src.get(ValueLayout.JAVA_BYTE, 0));
            deviceWork.add(CompletableFuture.runAsync(() -> {
                try {
                    byte[] buffer = new byte[CHUNK];
                    MemorySegment b = MemorySegment.ofArray(buffer);
                    for (int round = 0; round < ROUNDS; round++) {
                        long at = (long) engine * ROUNDS * CHUNK + (long) round * CHUNK;
                        device.dmaSpace().read(SOURCE + at, b);
                        for (int i = 0; i < CHUNK; i++) {
                            buffer[i] = (byte) (buffer[i] ^ 0xff);
                        }
                        device.dmaSpace().write(SINK + at, b);
                    }
                } catch (VfioException e) {
                    throw new java.util.concurrent.CompletionException(e);
                }
            }, Executors.newVirtualThreadPerTaskExecutor()));
        };
        VfioUserServer server = serve(device);
        VfioUserClient client = connect(server);
        int engines = 4;
        long size = (long) engines * ROUNDS * CHUNK;
        try (Arena arena = Arena.ofShared()) {
            MemorySegment source = arena.allocate(size);
            MemorySegment sink = arena.allocate(size);
            for (long i = 0; i < size; i++) {
                source.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 13 + (i >>> 10)));
            }
            // Registered WITHOUT an fd: every device access is a message the client must serve.
            client.registerMemory(SOURCE, source, Vfio.DMA_MAP_FLAG_READ);
            client.registerMemory(SINK, sink, Vfio.DMA_MAP_FLAG_WRITE);

            for (int e = 0; e < engines; e++) {
                client.write8(TestDevice.DOORBELL, 0, e);
            }
            // Meanwhile the client keeps the server busy from several threads.
            ExecutorService callers = Executors.newFixedThreadPool(3);
            List<Future<Integer>> calls = new ArrayList<>();
            for (int t = 0; t < 3; t++) {
                calls.add(callers.submit(() -> {
                    int n = 0;
                    while (deviceWork.size() < engines || !CompletableFuture.allOf(deviceWork.toArray(CompletableFuture[]::new)).isDone()) {
                        long offset = (n * 4099L) % (TestDevice.RAM_SIZE - 16);
                        byte[] got = client.regionRead(TestDevice.RAM, offset, 16);
                        if (got[15] != TestDevice.pattern(offset + 15)) {
                            throw new AssertionError("read at 0x" + Long.toHexString(offset));
                        }
                        n++;
                    }
                    return n;
                }));
            }
            CompletableFuture.allOf(deviceWork.toArray(CompletableFuture[]::new)).get(BOUND.toSeconds() * 3, TimeUnit.SECONDS);
            int total = 0;
            for (Future<Integer> f : calls) {
                total += f.get(BOUND.toSeconds(), TimeUnit.SECONDS);
            }
            callers.shutdown();
            assertThat(deviceWork).hasSize(engines);
            assertThat(total).as("client calls completed while the device did DMA").isPositive();
            for (long i = 0; i < size; i++) {
                if (sink.get(ValueLayout.JAVA_BYTE, i) != (byte) (source.get(ValueLayout.JAVA_BYTE, i) ^ 0xff)) {
                    throw new AssertionError("sink byte " + i);
                }
            }
            assertThat(server.stats().messageDmaWindows()).isEqualTo(2);
            client.dmaUnmapAll();
        }
    }

    @Test
    void messageDmaOutsideTheWindowsOrAgainstTheirPermissionFails() throws Exception {
        TestDevice device = device();
        VfioUserClient client = connect(serve(device));
        try (Arena arena = Arena.ofShared()) {
            MemorySegment ro = arena.allocate(0x1000);
            ro.fill((byte) 0x42);
            MemorySegment wo = arena.allocate(0x1000);
            client.registerMemory(READ_ONLY, ro, Vfio.DMA_MAP_FLAG_READ);
            client.registerMemory(SINK, wo, Vfio.DMA_MAP_FLAG_WRITE);
            MemorySegment buffer = MemorySegment.ofArray(new byte[64]);

            device.dmaSpace().read(READ_ONLY + 0x1000 - 64, buffer);
            assertThat(buffer.get(ValueLayout.JAVA_BYTE, 63)).isEqualTo((byte) 0x42);
            assertDeviceErrno(() -> device.dmaSpace().read(READ_ONLY + 0x1000 - 32, buffer), Errno.EFAULT);
            assertDeviceErrno(() -> device.dmaSpace().read(SINK, buffer), Errno.EPERM);
            assertDeviceErrno(() -> device.dmaSpace().write(READ_ONLY, buffer), Errno.EPERM);
            assertDeviceErrno(() -> device.dmaSpace().write(0x5000_0000L, buffer), Errno.EFAULT);
            device.dmaSpace().write(SINK + 8, buffer);
            assertThat(client.isConnected()).isTrue();
            client.dmaUnmapAll();
        }
    }

    @Test
    void allocatedDmaMemoryIsSharedWithTheDevice() throws Exception {
        TestDevice device = device();
        VfioUserServer server = serve(device);
        VfioUserClient client = connect(server);
        try (DmaBuffer buffer = client.allocateDma(0x4000_0000L, 0x10000)) {
            assertThat(buffer.iova()).isEqualTo(0x4000_0000L);
            assertThat(buffer.size()).isEqualTo(0x10000);
            assertThat(server.stats().mappedDmaWindows()).isEqualTo(1);

            byte[] written = "written by the device".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
            device.dmaSpace().write(0x4000_0000L + 0x8000, MemorySegment.ofArray(written));
            assertThat(buffer.segment().asSlice(0x8000, written.length).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(written);

            buffer.segment().asSlice(0x100, 4).fill((byte) 0x99);
            byte[] seen = new byte[4];
            device.dmaSpace().read(0x4000_0000L + 0x100, MemorySegment.ofArray(seen));
            assertThat(seen).containsOnly((byte) 0x99);
            MemorySegment direct = device.dmaSpace().segment(0x4000_0000L, 0x10000, true).orElseThrow();
            direct.set(ValueLayout.JAVA_LONG_UNALIGNED, 0x20, 0x1122_3344_5566_7788L);
            assertThat(buffer.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 0x20)).isEqualTo(0x1122_3344_5566_7788L);
        }
        assertThat(device.dmaSpace().windows()).as("close unmapped it on the server").isEmpty();
    }

    interface DeviceAction {
        void run() throws VfioException;
    }

    static void assertDeviceErrno(DeviceAction action, int errno) {
        assertThatThrownBy(action::run).isInstanceOfSatisfying(VfioException.class,
                e -> assertThat(e.errno()).as(e.getMessage()).isEqualTo(errno));
    }

    /**
     * Large message DMA both ways (1 MiB DMA_WRITE requests, pipelined 64 KiB DMA_READ replies sent
     * straight from registered memory) while other threads move large regions through the same
     * socket in both directions: the thread that reads never waits on a send, so nothing deadlocks.
     */
    @Test
    void largeMessageDmaBothWaysWhileCallersMoveLargeRegions() throws Exception {
        TestDevice device = device();
        long size = 3 << 20;
        CompletableFuture<Void> work = new CompletableFuture<>();
        device.doorbellWrite = (offset, src) -> Thread.ofPlatform().daemon().start(() -> {
            try (Arena arena = Arena.ofShared()) {
                MemorySegment buffer = arena.allocate(size);
                for (int round = 0; round < 4; round++) {
                    device.dmaSpace().read(SOURCE, buffer);
                    for (long i = 0; i < size; i += 8) {
                        buffer.set(ValueLayout.JAVA_LONG_UNALIGNED, i, ~buffer.get(ValueLayout.JAVA_LONG_UNALIGNED, i));
                    }
                    device.dmaSpace().write(SINK, buffer);
                }
                work.complete(null);
            } catch (Throwable t) {
                work.completeExceptionally(t);
            }
        });
        VfioUserClient client = connect(serve(device));
        try (Arena arena = Arena.ofShared()) {
            MemorySegment source = arena.allocate(size);
            MemorySegment sink = arena.allocate(size);
            for (long i = 0; i < size; i++) {
                source.set(ValueLayout.JAVA_BYTE, i, (byte) (i * 31 + (i >>> 12)));
            }
            client.registerMemory(SOURCE, source, Vfio.DMA_MAP_FLAG_READ);
            client.registerMemory(SINK, sink, Vfio.DMA_MAP_FLAG_WRITE);
            client.write8(TestDevice.DOORBELL, 0, 0);
            ExecutorService callers = Executors.newFixedThreadPool(2);
            List<Future<Integer>> calls = new ArrayList<>();
            for (int t = 0; t < 2; t++) {
                int thread = t;
                calls.add(callers.submit(() -> {
                    int n = 0;
                    MemorySegment block = MemorySegment.ofArray(new byte[512 << 10]);
                    while (!work.isDone()) {
                        long offset = thread * (1L << 20);
                        client.regionRead(TestDevice.RAM, offset, block);
                        client.regionWrite(TestDevice.RAM, offset, block);
                        n++;
                    }
                    return n;
                }));
            }
            work.get(BOUND.toSeconds() * 6, TimeUnit.SECONDS);
            for (Future<Integer> f : calls) {
                assertThat(f.get(BOUND.toSeconds(), TimeUnit.SECONDS)).isPositive();
            }
            callers.shutdown();
            for (long i = 0; i < size; i++) {
                if (sink.get(ValueLayout.JAVA_BYTE, i) != (byte) ~source.get(ValueLayout.JAVA_BYTE, i)) {
                    throw new AssertionError("sink byte " + i);
                }
            }
            assertThat(client.isConnected()).isTrue();
            client.dmaUnmapAll();
        }
    }

    @Test
    void aClientClosedInTheMiddleOfALargeTransferFailsTheDevicesDmaWithoutHanging() throws Exception {
        TestDevice device = device();
        CompletableFuture<VfioException> failure = new CompletableFuture<>();
        CompletableFuture<Void> started = new CompletableFuture<>();
        device.doorbellWrite = (offset, src) -> Thread.ofPlatform().daemon().start(() -> {
            try (Arena arena = Arena.ofShared()) {
                MemorySegment buffer = arena.allocate(1 << 20);
                started.complete(null);
                while (true) {
                    device.dmaSpace().read(SOURCE, buffer);
                }
            } catch (VfioException e) {
                failure.complete(e);
            } catch (Throwable t) {
                failure.completeExceptionally(t);
            }
        });
        VfioUserClient client = connect(serve(device));
        MemorySegment source = Arena.ofAuto().allocate(1 << 20);
        client.registerMemory(SOURCE, source, Vfio.DMA_MAP_FLAG_READ);
        client.write8(TestDevice.DOORBELL, 0, 0);
        started.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        Thread.sleep(50);
        client.close();
        VfioException e = failure.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        assertThat(e.errno()).isIn(Errno.ENODEV, Errno.EFAULT);
    }
}
