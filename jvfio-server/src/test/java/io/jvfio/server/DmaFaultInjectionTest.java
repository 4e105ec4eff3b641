package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.IoVectors;
import io.jvfio.linux.Mapping;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.faults.FaultAction;
import io.jvfio.server.faults.FaultFiring;
import io.jvfio.server.faults.FaultMatch;
import io.jvfio.server.faults.FaultRule;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * DMA faults injected into a served device: the test device's own thread reads client memory when
 * the client writes its DMA register (BAR 4), and sees a transfer fail, or its window taken away as
 * if the client had unmapped it. The base class checks that no fd outlives a test.
 */
class DmaFaultInjectionTest extends ServerTestBase {
    private static final int RW = Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, DMA_CONTROL = 4;
    private static final long PAGE = 0x1000, MAPPED = 0x100000, BY_MESSAGE = 0x200000;

    private Fd memfd;
    private Mapping view;

    /** A client with a memfd window at {@link #MAPPED} (a marker at its start) and a window by message at {@link #BY_MESSAGE}. */
    private TestPeer clientWithWindows() throws Exception {
        start();
        TestPeer c = client();
        memfd = closeLater(Memfd.create("client-ram", PAGE));
        view = closeLater(Mapping.map(memfd, 0, PAGE, true));
        view.segment().set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 0x1122334455667788L);
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, MAPPED, PAGE), memfd).close();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, BY_MESSAGE, PAGE)).close();
        return c;
    }

    /** The device thread reads 8 bytes at {@code iova}, started by the client's register write. */
    private TestDevice.DmaResult deviceReads(TestPeer c, long iova) throws Exception {
        c.write(DMA_CONTROL, 0, TestDevice.dmaCommand(iova, 8, TestDevice.OP_READ));
        return device.nextDmaResult();
    }

    private static FaultMatch window(long iova, FaultMatch.Direction direction) {
        return new FaultMatch.Dma(iova, iova + PAGE, direction);
    }

    private static long mappingsOfClientMemory() throws Exception {
        return Files.readAllLines(Path.of("/proc/self/maps")).stream().filter(l -> l.contains("/memfd:client-ram")).count();
    }

    @Test
    void aFailedTransferLooksToTheDeviceLikeMemoryThatIsNotThere() throws Exception {
        TestPeer c = clientWithWindows();
        VfioException missing = deviceReads(c, 0x300000).error();
        server.faults().add(FaultRule.on("efault", window(MAPPED, FaultMatch.Direction.READ),
                new FaultAction.FailDma(Errno.EFAULT)).times(1));

        VfioException injected = deviceReads(c, MAPPED).error();
        assertThat(injected).isNotNull().isInstanceOf(missing.getClass());
        assertThat(injected.errno()).isEqualTo(missing.errno()).isEqualTo(Errno.EFAULT);
        assertThat(deviceReads(c, MAPPED).data()).as("the rule is spent; the window stayed")
                .containsExactly(0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11);
        assertThat(server.faults().log()).extracting(FaultFiring::matched).containsExactly("dma read 0x100000+8");
    }

    @Test
    void aFailedTransferCarriesTheRulesErrnoAndMatchesItsDirectionOnly() throws Exception {
        TestPeer c = clientWithWindows();
        server.faults().add(FaultRule.on("eio", window(MAPPED, FaultMatch.Direction.WRITE), new FaultAction.FailDma(Errno.EIO)));
        DmaView dma = device.dmaSpace();
        MemorySegment buffer = MemorySegment.ofArray(new byte[8]);

        dma.read(MAPPED, buffer);
        assertThat(buffer.get(ValueLayout.JAVA_LONG_UNALIGNED, 0)).as("reads are not matched").isEqualTo(0x1122334455667788L);
        buffer.set(ValueLayout.JAVA_LONG_UNALIGNED, 0, 42);
        assertThatThrownBy(() -> dma.write(MAPPED + 8, buffer))
                .isInstanceOfSatisfying(VfioException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EIO));
        assertThat(view.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, 8)).as("nothing was written").isZero();
        assertThat(dma.windows()).hasSize(2);
    }

    @Test
    void aTransferByMessageFailsBeforeAnyMessageIsSent() throws Exception {
        TestPeer c = clientWithWindows();
        server.faults().add(FaultRule.on("efault", window(BY_MESSAGE, FaultMatch.Direction.ANY), new FaultAction.FailDma(Errno.EFAULT)));

        assertThat(deviceReads(c, BY_MESSAGE).error().errno()).isEqualTo(Errno.EFAULT);
        c.read(0, 0, 4); // a round trip: a DMA_READ sent before it would be stashed now
        assertThat(c.hasStashed()).as("no DMA_READ reached the client").isFalse();
    }

    @Test
    void aRemovedWindowIsGoneAsIfTheClientHadUnmappedItUntilItIsMappedAgain() throws Exception {
        TestPeer c = clientWithWindows();
        MemorySegment held = device.dmaSpace().segment(MAPPED, 8, false).orElseThrow();
        int baseline = Fd.openFdCountOfProcess();
        long mappings = mappingsOfClientMemory();
        server.faults().add(FaultRule.on("yank", window(MAPPED, FaultMatch.Direction.ANY), new FaultAction.RemoveDmaWindow()).times(1));

        assertThat(deviceReads(c, MAPPED + 8).error().errno()).isEqualTo(Errno.EFAULT);
        assertThat(server.faults().rules()).as("spent").isEmpty();
        assertThat(deviceReads(c, MAPPED).error().errno()).as("later transfers fail too").isEqualTo(Errno.EFAULT);
        assertThat(device.dmaSpace().windows()).extracting(DmaWindow::iova).containsExactly(BY_MESSAGE);
        assertThat(mappingsOfClientMemory()).as("the window's mapping is gone").isEqualTo(mappings - 1);
        assertThatThrownBy(() -> held.get(ValueLayout.JAVA_BYTE, 0)).as("a segment the device held")
                .isInstanceOf(IllegalStateException.class);
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(baseline);

        try (var reply = c.call(Command.DMA_UNMAP, DmaUnmap.of(MAPPED, PAGE))) {
            assertThat(reply.isError()).as("the client's own unmap of it still succeeds").isFalse();
        }
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, MAPPED, PAGE), memfd).close();
        assertThat(deviceReads(c, MAPPED).data()).as("mapped again").containsExactly(0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11);
    }

    @Test
    void anUnalignedWindowRemovedByAFaultCanStillBeUnmappedByItsExactRange() throws Exception {
        TestPeer c = clientWithWindows();
        c.call(Command.DMA_MAP, DmaMap.of(RW, 0, 0x400800, 0x800)).close();
        server.faults().add(FaultRule.on("yank", new FaultMatch.Dma(0x400800, 0x401000, FaultMatch.Direction.ANY),
                new FaultAction.RemoveDmaWindow()).times(1));
        assertThat(deviceReads(c, 0x400800).error().errno()).isEqualTo(Errno.EFAULT);

        c.call(Command.DMA_UNMAP, DmaUnmap.of(0x400800, 0x800)).close();
        assertThat(c.callError(Command.DMA_UNMAP, DmaUnmap.of(0x400800, 0x800)))
                .as("only once, as for a window the client unmapped").isEqualTo(Errno.EINVAL);
    }

    @Test
    void whileDmaRulesAreArmedTheDeviceCopiesSoEveryTransferMeetsThem() throws Exception {
        clientWithWindows();
        DmaView dma = device.dmaSpace();
        IoVectors vectors = new IoVectors(4);
        DmaView.MappedTransfer nothing = v -> {};
        assertThat(dma.segment(MAPPED, 8, false)).isPresent();
        assertThat(dma.transferMapped(new long[] {MAPPED}, new long[] {8}, 1, 8, false, vectors, nothing)).isTrue();

        server.faults().add(FaultRule.on("not-dma", FaultMatch.RegionAccess.anyOf(0), new FaultAction.FailAccess(Errno.EIO)));
        assertThat(dma.segment(MAPPED, 8, false)).as("a rule on region accesses leaves DMA in place").isPresent();
        assertThat(dma.transferMapped(new long[] {MAPPED}, new long[] {8}, 1, 8, false, vectors, nothing)).isTrue();

        server.faults().add(FaultRule.on("elsewhere", new FaultMatch.Dma(0x900000, 0x901000, FaultMatch.Direction.ANY),
                new FaultAction.FailDma(Errno.EIO)));
        assertThat(dma.segment(MAPPED, 8, false)).isEmpty();
        assertThat(dma.transferMapped(new long[] {MAPPED}, new long[] {8}, 1, 8, false, vectors, nothing)).isFalse();

        server.faults().clear();
        assertThat(dma.segment(MAPPED, 8, false)).isPresent();
    }
}
