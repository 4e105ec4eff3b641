package io.jvfio.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.VfioUserServer;
import io.jvfio.testing.Await;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;

/** The migration driver between two jvfio servers, with a device that keeps writing DMA memory. */
class MigrationDriverTest extends ClientTestSupport {
    static final long IOVA = 0x4000_0000L, SIZE = 0x20000; // 32 pages

    private DmaWritingDevice device(boolean writes) {
        DmaWritingDevice d = new DmaWritingDevice(writes);
        later(d::dispose);
        return d;
    }

    /** Points the device at its memory. */
    private static void aim(VfioUserClient c) throws Exception {
        c.write64(0, 8, SIZE);
        c.write64(0, 0, IOVA);
    }

    private static void waitForCounter(DmaWritingDevice d, long atLeast) throws Exception {
        Await.until(BOUND, () -> d.counter() >= atLeast);
        assertThat(d.counter()).as("device steps within %s", BOUND).isGreaterThanOrEqualTo(atLeast);
    }

    @Test
    void theDeviceAndTheMemoryItWroteArriveWhole() throws Exception {
        DmaWritingDevice a = device(true);
        DmaWritingDevice b = device(false);
        VfioUserClient toA = connect(serve(a));
        VfioUserClient toB = connect(serve(b));
        // A stopped device refuses DMA_UNMAP (as libvfio-user's does): A's buffer goes after A's connection.
        DmaBuffer memoryOnA = toA.allocateDma(IOVA, SIZE);
        later(() -> {
            toA.close();
            memoryOnA.close();
        });
        DmaBuffer memoryOnB = later(toB.allocateDma(IOVA, SIZE));
        aim(toA);
        waitForCounter(a, 50);

        List<MigrationDriver.Progress> progress = new CopyOnWriteArrayList<>();
        MigrationDriver.Result result = new MigrationDriver(toA, toB,
                List.of(new MigrationDriver.DmaRegion(IOVA, memoryOnA.segment(), memoryOnB.segment())),
                MigrationDriver.Options.defaults().withMaxPreCopyRounds(4), progress::add).migrate();

        assertThat(toA.migrationState()).isEqualTo(MigrationState.STOP);
        assertThat(toB.migrationState()).isEqualTo(MigrationState.RUNNING);
        long stoppedAt = a.counter();
        assertThat(b.counter()).as("the device's own state").isEqualTo(stoppedAt);
        assertThat(memoryOnB.segment().mismatch(memoryOnA.segment())).as("every page the device wrote, carried").isEqualTo(-1);
        assertThat(memoryOnB.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, DmaWritingDevice.slot(stoppedAt, SIZE))).isEqualTo(stoppedAt);
        assertThat(a.counter()).as("the source stays stopped").isEqualTo(stoppedAt);

        assertThat(result.preCopyRounds()).isBetween(1, 4);
        assertThat(result.dmaBytes()).isGreaterThanOrEqualTo(SIZE);
        assertThat(result.deviceBytes()).isPositive();
        assertThat(progress).last().satisfies(p -> {
            assertThat(p.phase()).isEqualTo(MigrationDriver.Phase.DONE);
            assertThat(p.downtime()).isEqualTo(result.downtime()).isPositive();
        });
        assertThat(progress.stream().map(MigrationDriver.Progress::phase).distinct())
                .containsExactly(MigrationDriver.Phase.PRE_COPY, MigrationDriver.Phase.STOP_COPY, MigrationDriver.Phase.DONE);
    }

    @Test
    void withoutPreCopyRoundsItIsStopAndCopyAlone() throws Exception {
        DmaWritingDevice a = device(true);
        DmaWritingDevice b = device(false);
        VfioUserClient toA = connect(serve(a));
        VfioUserClient toB = connect(serve(b));
        aim(toA); // no memory mapped: the device waits, its state still moves
        MigrationDriver.Result result = new MigrationDriver(toA, toB, List.of(),
                MigrationDriver.Options.defaults().withMaxPreCopyRounds(0), p -> { }).migrate();
        assertThat(result.preCopyRounds()).isZero();
        assertThat(toB.read64(0, 0)).isZero();
        assertThat(toB.migrationState()).isEqualTo(MigrationState.RUNNING);
    }

    @Test
    void memoryReachedByDmaWriteMessagesIsCarriedToo() throws Exception {
        DmaWritingDevice a = device(true);
        DmaWritingDevice b = device(false);
        VfioUserClient toA = connect(serve(a));
        VfioUserClient toB = connect(serve(b));
        Arena arena = later(Arena.ofShared());
        MemorySegment onA = arena.allocate(SIZE, 4096), onB = arena.allocate(SIZE, 4096);
        int rw = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE;
        toA.registerMemory(IOVA, onA, rw);
        toB.registerMemory(IOVA, onB, rw);
        aim(toA);
        waitForCounter(a, 20);
        new MigrationDriver(toA, toB, List.of(new MigrationDriver.DmaRegion(IOVA, onA, onB)),
                MigrationDriver.Options.defaults(), p -> { }).migrate();
        assertThat(onB.mismatch(onA)).isEqualTo(-1);
        assertThat(b.counter()).isEqualTo(a.counter());
        toA.close(); // A is stopped: it refuses DMA_UNMAP; the disconnect drops its windows
        toB.dmaUnmapAll();
    }

    @Test
    void aDestinationThatRefusesTheStateLeavesTheDeviceRunningOnTheSource() throws Exception {
        DmaWritingDevice a = device(true);
        VfioUserClient toA = connect(serve(a));
        DmaBuffer memoryOnA = later(toA.allocateDma(IOVA, SIZE));
        aim(toA);
        waitForCounter(a, 10);
        class OtherKind extends DmaWritingDevice {
            OtherKind() {
                super(false);
            }
        }
        OtherKind other = new OtherKind();
        later(other::dispose);
        VfioUserClient toOther = connect(serve(other));
        DmaBuffer memoryOnOther = later(toOther.allocateDma(IOVA, SIZE));

        assertThatThrownBy(() -> new MigrationDriver(toA, toOther,
                List.of(new MigrationDriver.DmaRegion(IOVA, memoryOnA.segment(), memoryOnOther.segment())),
                MigrationDriver.Options.defaults(), p -> { }).migrate())
                .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(toA.migrationState()).isEqualTo(MigrationState.RUNNING);
        long before = a.counter();
        waitForCounter(a, before + 5);
        assertThat(toOther.migrationState()).as("the refusal leaves the destination resuming").isEqualTo(MigrationState.RESUMING);
    }
}
