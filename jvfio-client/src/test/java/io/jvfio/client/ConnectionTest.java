package io.jvfio.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.Command;
import io.jvfio.server.VfioUserServer;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.RegionAccess;
import io.jvfio.protocol.Vfio;

/** One connection under load and under failure: many threads, a dying server, slow replies, large transfers. */
class ConnectionTest extends ClientTestSupport {

    @Test
    void eightThreadsShareOneConnectionAndEachGetsItsOwnAnswer() throws Exception {
        VfioUserClient client = connect(serve(device()));
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Integer>> results = new ArrayList<>();
            for (int t = 0; t < 8; t++) {
                int thread = t;
                results.add(pool.submit(() -> {
                    int checked = 0;
                    for (int i = 0; i < 500; i++) {
                        long offset = (thread * 500L + i) * 97 % (TestDevice.RAM_SIZE - 64);
                        int length = 1 + (i % 64);
                        byte[] got = client.regionRead(TestDevice.RAM, offset, length);
                        for (int b = 0; b < length; b++) {
                            if (got[b] != TestDevice.pattern(offset + b)) {
                                throw new AssertionError("thread %d read %d: byte %d at 0x%x".formatted(thread, i, b, offset));
                            }
                        }
                        checked++;
                    }
                    return checked;
                }));
            }
            for (Future<Integer> f : results) {
                assertThat(f.get(BOUND.toSeconds() * 6, TimeUnit.SECONDS)).isEqualTo(500);
            }
        } finally {
            pool.shutdownNow();
        }
        assertThat(client.isConnected()).isTrue();
    }

    @Test
    void serverDeathFailsTheWaitingCallAtOnceAndEveryLaterCall() throws Exception {
        TestDevice device = device();
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        device.doorbellRead = (offset, dst) -> {
            entered.countDown();
            try {
                release.await(BOUND.toSeconds() * 3, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        VfioUserServer server = serve(device);
        // A timeout far beyond the test's bounded waits: only the server's death can end the call in time.
        VfioUserClient client = connect(server, ClientOptions.defaults().withCallTimeout(Duration.ofMinutes(5)));

        CompletableFuture<Integer> blocked = CompletableFuture.supplyAsync(() -> {
            try {
                return client.read32(TestDevice.DOORBELL, 0);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        assertThat(entered.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        Thread closer = Thread.ofPlatform().start(server::close); // blocks until the device lets go

        assertThatThrownBy(() -> blocked.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                .hasCauseInstanceOf(VfioUserException.class)
                .cause().satisfies(e -> {
                    assertThat(((VfioUserException) e).errno()).isEqualTo(Errno.ENOTCONN);
                    assertThat(e.getMessage()).contains("server closed the connection");
                });
        assertThat(client.isConnected()).isFalse();
        assertThat(client.failure()).isPresent();
        long before = System.nanoTime();
        assertThatThrownBy(() -> client.read8(TestDevice.RAM, 0)).isInstanceOfSatisfying(VfioUserException.class, e -> {
            assertThat(e.errno()).isEqualTo(Errno.ENOTCONN);
            assertThat(e.getMessage()).contains("server closed the connection");
        });
        assertThatThrownBy(() -> client.regionWrite(TestDevice.RAM, 0, MemorySegment.ofArray(new byte[4]), true))
                .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOTCONN));
        assertThat(Duration.ofNanos(System.nanoTime() - before)).as("later calls fail without waiting").isLessThan(BOUND);

        release.countDown();
        closer.join(BOUND.toMillis());
        assertThat(closer.isAlive()).isFalse();
    }

    @Test
    void aTimedOutCallsLateReplyIsDroppedAndTheConnectionStaysUsable() throws Exception {
        TestDevice device = device();
        CountDownLatch release = new CountDownLatch(1);
        device.doorbellRead = (offset, dst) -> {
            try {
                release.await(BOUND.toSeconds() * 3, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            dst.fill((byte) 0x77); // the late answer: must never be taken for another call's
        };
        VfioUserServer server = serve(device);
        VfioUserClient client = connect(server);

        assertThatThrownBy(() -> client.call(Command.REGION_READ, regionRead(TestDevice.DOORBELL, 0, 4), List.of(),
                Duration.ofMillis(200))).isInstanceOfSatisfying(VfioUserException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.ETIMEDOUT);
                    assertThat(e.getMessage()).contains("REGION_READ");
                });
        // Queued behind the slow one; its reply comes after the late one and must be its own.
        CompletableFuture<byte[]> next = CompletableFuture.supplyAsync(() -> {
            try {
                return client.regionRead(TestDevice.RAM, 0x40, 4);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        release.countDown();
        assertThat(next.get(BOUND.toSeconds(), TimeUnit.SECONDS))
                .containsExactly(TestDevice.pattern(0x40), TestDevice.pattern(0x41), TestDevice.pattern(0x42), TestDevice.pattern(0x43));
        for (int i = 0; i < 20; i++) {
            assertThat(client.read8(TestDevice.RAM, i)).isEqualTo(Byte.toUnsignedInt(TestDevice.pattern(i)));
        }
        assertThat(client.isConnected()).isTrue();
    }

    @Test
    void largeTransfersAreSplitToTheServersLimitAndArriveWhole() throws Exception {
        TestDevice device = device();
        VfioUserServer server = serve(device, serverOptions(64 * 1024, 16));
        VfioUserClient client = connect(server);
        assertThat(client.transferChunk()).isEqualTo(64 * 1024);

        byte[] whole = client.regionRead(TestDevice.RAM, 0, 1 << 20);
        assertThat(device.ramReads.get()).as("REGION_READs the device served").isEqualTo(16);
        for (int i = 0; i < whole.length; i++) {
            if (whole[i] != TestDevice.pattern(i)) {
                throw new AssertionError("byte " + i);
            }
        }

        byte[] data = new byte[(1 << 20) + 123];
        new java.util.Random(7).nextBytes(data);
        long writesBefore = server.stats().count(Command.REGION_WRITE);
        client.regionWrite(TestDevice.RAM, 0x1000, MemorySegment.ofArray(data));
        assertThat(server.stats().count(Command.REGION_WRITE) - writesBefore).isEqualTo(17);
        assertThat(client.regionRead(TestDevice.RAM, 0x1000, data.length)).isEqualTo(data);
    }

    @Test
    void theClientsOwnTransferLimitAlsoBoundsItsRequests() throws Exception {
        TestDevice device = device();
        VfioUserClient client = connect(serve(device), ClientOptions.defaults().withMaxDataXferSize(4096));
        assertThat(client.transferChunk()).isEqualTo(4096);
        byte[] got = client.regionRead(TestDevice.RAM, 0, 40000);
        assertThat(device.ramReads.get()).isEqualTo(10);
        assertThat(got[39999]).isEqualTo(TestDevice.pattern(39999));
    }

    @Test
    void closingTheClientFailsCallsAndReleasesEverything() throws Exception {
        TestDevice device = device();
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch release = new CountDownLatch(1);
        device.doorbellRead = (offset, dst) -> {
            entered.countDown();
            try {
                release.await(BOUND.toSeconds() * 3, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        VfioUserServer server = serve(device);
        VfioUserClient client = VfioUserClient.connect(server.socketPath().orElseThrow(),
                ClientOptions.defaults().withCallTimeout(Duration.ofMinutes(5)));
        client.allocateDma(0x100000, 0x1000);
        client.mapRegion(TestDevice.WHOLE);
        client.interrupts(Vfio.PCI_MSIX_IRQ_INDEX, 2).onInterrupt(0, (v, n) -> { });
        CompletableFuture<Integer> blocked = CompletableFuture.supplyAsync(() -> {
            try {
                return client.read32(TestDevice.DOORBELL, 0);
            } catch (Exception e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        });
        assertThat(entered.await(BOUND.toSeconds(), TimeUnit.SECONDS)).isTrue();
        client.close();
        client.close();
        assertThatThrownBy(() -> blocked.get(BOUND.toSeconds(), TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(VfioUserException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.ENOTCONN);
                    assertThat(e.getMessage()).contains("client was closed");
                });
        release.countDown();
    }

    static Payload regionRead(int region, long offset, int count) {
        MemorySegment request = MemorySegment.ofArray(new byte[RegionAccess.SIZE]);
        RegionAccess.write(request, offset, region, count);
        return new Payload() {
            @Override
            public long encodedSize() {
                return request.byteSize();
            }

            @Override
            public void encode(MemorySegment dst) {
                MemorySegment.copy(request, 0, dst, 0, request.byteSize());
            }
        };
    }
}
