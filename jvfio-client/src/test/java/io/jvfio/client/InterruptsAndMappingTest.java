package io.jvfio.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.VfioUserServer;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.time.Duration;
import java.util.BitSet;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/** Eventfd interrupts in their three styles, masking, INTx; and regions mapped into the client. */
class InterruptsAndMappingTest extends ClientTestSupport {
    private static final int MSIX = Vfio.PCI_MSIX_IRQ_INDEX, INTX = Vfio.PCI_INTX_IRQ_INDEX;

    @Test
    void eightMsixVectorsAreWiredInChunksOfTheServersMaxMsgFds() throws Exception {
        TestDevice device = device();
        VfioUserServer server = serve(device, serverOptions(1 << 20, 2));
        VfioUserClient client = connect(server);
        assertThat(client.serverCapabilities().maxMsgFds()).isEqualTo(2);
        long before = server.stats().count(Command.DEVICE_SET_IRQS);
        try (Interrupts irqs = client.interrupts(MSIX, TestDevice.MSIX_VECTORS)) {
            assertThat(server.stats().count(Command.DEVICE_SET_IRQS) - before).isEqualTo(4);
            for (int v = 0; v < TestDevice.MSIX_VECTORS; v++) {
                assertThat(device.interrupts().isWired(MSIX, v)).as("vector %d wired", v).isTrue();
            }
            for (int v = TestDevice.MSIX_VECTORS - 1; v >= 0; v--) {
                device.fire(MSIX, v);
                assertThat(irqs.await(v, BOUND)).as("vector %d", v).isTrue();
                for (int other = 0; other < TestDevice.MSIX_VECTORS; other++) {
                    assertThat(irqs.poll(other)).as("vector %d after firing %d", other, v).isZero();
                }
            }
        }
        assertThat(device.interrupts().isWired(MSIX, 0)).as("close disabled the index").isFalse();
    }

    @Test
    void pollCountsFiringsAndCallbacksRunOnTheInterruptThread() throws Exception {
        TestDevice device = device();
        VfioUserClient client = connect(serve(device));
        Interrupts irqs = client.interrupts(MSIX, 4);
        assertThat(irqs.poll(1)).isZero();
        device.fire(MSIX, 1);
        device.fire(MSIX, 1);
        device.fire(MSIX, 1);
        assertThat(irqs.eventfd(1).await(BOUND)).isTrue();
        assertThat(irqs.poll(1)).isEqualTo(3);

        LinkedBlockingQueue<String> seen = new LinkedBlockingQueue<>();
        irqs.onInterrupt(2, (vector, count) -> seen.add(vector + "x" + count + "@" + Thread.currentThread().getName()));
        irqs.onInterrupt(3, (vector, count) -> {
            throw new IllegalStateException("a failing handler stays registered");
        });
        device.fire(MSIX, 3);
        device.fire(MSIX, 2);
        assertThat(seen.poll(BOUND.toSeconds(), TimeUnit.SECONDS)).isEqualTo("2x1@jvfio-irq-" + MSIX);
        irqs.trigger(2); // the client may ask the server to fire, too
        assertThat(seen.poll(BOUND.toSeconds(), TimeUnit.SECONDS)).startsWith("2x1");
        assertThatThrownBy(() -> irqs.await(2, Duration.ZERO)).isInstanceOf(IllegalStateException.class);
        irqs.onInterrupt(2, null);
        device.fire(MSIX, 2);
        assertThat(irqs.await(2, BOUND)).as("without a callback the vector can be awaited again").isTrue();
        irqs.close();
        assertThatThrownBy(() -> irqs.poll(0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void maskedVectorsHoldTheirInterruptUntilUnmasked() throws Exception {
        TestDevice device = device();
        VfioUserClient client = connect(serve(device));
        Interrupts irqs = client.interrupts(MSIX, 4);
        irqs.mask(1);
        BitSet both = new BitSet();
        both.set(2);
        both.set(3);
        irqs.mask(both);
        device.fire(MSIX, 1);
        device.fire(MSIX, 3);
        device.fire(MSIX, 0);
        assertThat(irqs.await(0, BOUND)).as("unmasked vector fires").isTrue();
        assertThat(irqs.poll(1)).isZero();
        assertThat(irqs.poll(3)).isZero();
        irqs.unmask(1);
        assertThat(irqs.await(1, BOUND)).as("pending firing delivered at unmask").isTrue();
        irqs.unmask(both);
        assertThat(irqs.await(3, BOUND)).isTrue();
        assertThat(irqs.poll(2)).as("vector 2 never fired").isZero();
        assertThatThrownBy(() -> client.interrupts(MSIX, 9)).isInstanceOfSatisfying(VfioUserException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
    }

    @Test
    void intxIsAutomaskedUntilTheClientUnmasksIt() throws Exception {
        TestDevice device = device();
        VfioUserClient client = connect(serve(device));
        Interrupts intx = client.interrupts(INTX, 1);
        assertThat(intx.info().flags() & Vfio.IRQ_INFO_AUTOMASKED).isNotZero();
        device.interrupts().setIntx(true);             // the device asserts its line
        assertThat(intx.await(0, BOUND)).isTrue();
        client.unmaskIntx();                           // EOI while still asserted: fires again
        assertThat(intx.await(0, BOUND)).as("still-asserted INTx re-fires at EOI").isTrue();
        device.interrupts().setIntx(false);            // the driver acknowledged the device
        intx.unmask(0);
        assertThat(intx.poll(0)).isZero();
        device.interrupts().setIntx(true);
        assertThat(intx.await(0, BOUND)).as("a new assertion after the EOI fires").isTrue();
    }

    @Test
    void sparseAreasAreMappedAndTheRestStaysTrapped() throws Exception {
        TestDevice device = device();
        VfioUserClient client = connect(serve(device));
        try (MappedRegion region = client.mapRegion(TestDevice.SPARSE)) {
            assertThat(region.size()).isEqualTo(TestDevice.SPARSE_SIZE);
            assertThat(region.isWhole()).isFalse();
            assertThat(region.areas()).extracting(MappedRegion.Area::offset, MappedRegion.Area::size)
                    .containsExactly(org.assertj.core.groups.Tuple.tuple(0L, 0x1000L),
                            org.assertj.core.groups.Tuple.tuple(0x2000L, 0x2000L));
            MemorySegment high = region.segment(0x3000, 0x100).orElseThrow();
            high.set(ValueLayout.JAVA_INT_UNALIGNED, 0, 0x600d_f00d);
            assertThat(device.sparse.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x3000)).isEqualTo(0x600d_f00d);
            device.sparse.segment().set(ValueLayout.JAVA_BYTE, 0x10, (byte) 0x5e);
            assertThat(region.segment(0, 0x1000).orElseThrow().get(ValueLayout.JAVA_BYTE, 0x10)).isEqualTo((byte) 0x5e);
            assertThat(region.segment(0x1000, 4)).as("the hole is not mapped").isEmpty();
            assertThat(region.segment(0xff0, 0x20)).as("a range across areas is not one segment").isEmpty();
            client.write32(TestDevice.SPARSE, 0x1800, 0x1234_5678); // the trapped part, by message
            assertThat(device.sparse.segment().get(ValueLayout.JAVA_INT_UNALIGNED, 0x1800)).isEqualTo(0x1234_5678);
            assertThat(client.read32(TestDevice.SPARSE, 0x3000)).isEqualTo(0x600d_f00d);
            region.close();
            assertThatThrownBy(() -> high.get(ValueLayout.JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
        }
    }

    @Test
    void aWholeRegionIsOneSegmentAndAnUnmappableOneIsRefused() throws Exception {
        TestDevice device = device();
        VfioUserClient client = connect(serve(device));
        MappedRegion region = client.mapRegion(TestDevice.WHOLE);
        assertThat(region.isWhole()).isTrue();
        region.areas().getFirst().segment().set(ValueLayout.JAVA_LONG_UNALIGNED, TestDevice.WHOLE_SIZE - 8, -2L);
        assertThat(device.whole.segment().get(ValueLayout.JAVA_LONG_UNALIGNED, TestDevice.WHOLE_SIZE - 8)).isEqualTo(-2L);
        assertThatThrownBy(() -> client.mapRegion(TestDevice.RAM)).isInstanceOfSatisfying(VfioUserException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.ENOTSUP));
        client.close(); // unmaps what is still mapped
        assertThatThrownBy(() -> region.areas().getFirst().segment().get(ValueLayout.JAVA_BYTE, 0))
                .isInstanceOf(IllegalStateException.class);
    }
}
