package io.jvfio.pci;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class WriteListenerTest {

    record Seen(int offset, int size, int oldValue, int newValue) {}

    private final ConfigSpace cfg = Devices.full();
    private final List<Seen> seen = new ArrayList<>();

    private ConfigSpace.Subscription watch(int offset, int length) {
        return cfg.addWriteListener(offset, length, (o, s, before, after) -> seen.add(new Seen(o, s, before, after)));
    }

    @Test
    void reportsMaskedValuesBeforeAndAfter() {
        watch(PciRegisters.COMMAND, 2);
        cfg.write(PciRegisters.COMMAND, 2, 0xffff);
        cfg.write(PciRegisters.COMMAND, 2, 0x2);
        assertThat(seen).containsExactly(new Seen(4, 2, 0, 0x547), new Seen(4, 2, 0x547, 0x2));
    }

    @Test
    void clipsWritesToTheWatchedRange() {
        watch(PciRegisters.COMMAND, 2);
        cfg.write(PciRegisters.COMMAND, 4, 0xffff_0006);
        cfg.write(PciRegisters.COMMAND + 1, 1, 0x4);
        cfg.write(PciRegisters.STATUS, 2, 0);
        assertThat(seen).containsExactly(new Seen(4, 2, 0, 6), new Seen(5, 1, 0, 4));
    }

    @Test
    void firesForEveryTouchingWriteEvenWithoutChange() {
        int bar0 = PciRegisters.barOffset(0);
        watch(bar0, 24);
        cfg.write(bar0 + 4, 4, 0);
        cfg.write(0x3c, 1, 0);
        assertThat(seen).containsExactly(new Seen(bar0 + 4, 4, 0, 0));
    }

    @Test
    void bulkWritesArriveInDwordPieces() {
        watch(0, 0x40);
        byte[] bytes = new byte[6];
        bytes[1] = 0x02; // the command register's low byte
        cfg.write(3, bytes, 0, 6);
        assertThat(seen).containsExactly(new Seen(3, 1, 0x0d, 0x0d), new Seen(4, 4, 0x0010_0000, 0x0010_0002),
                new Seen(8, 1, 7, 7));
    }

    @Test
    void bulkWritesApplyByteMasks() {
        byte[] ones = new byte[256];
        java.util.Arrays.fill(ones, (byte) 0xff);
        cfg.write(0, ones, 0, 64);
        assertThat(cfg.read(PciRegisters.VENDOR_ID, 4)).isEqualTo(Devices.DEVICE << 16 | Devices.VENDOR);
        assertThat(cfg.commandRegister()).isEqualTo(0x547);
        assertThat(cfg.read(PciRegisters.barOffset(0), 4)).isEqualTo(0xfff0_000c);
        assertThat(cfg.read(PciRegisters.barOffset(1), 4)).isEqualTo(0xffff_ffff);
        assertThat(cfg.read(PciRegisters.barOffset(4), 4)).isEqualTo(0xffff_ffe1);
    }

    @Test
    void memorySegmentAccesses() {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment segment = arena.allocate(cfg.size());
            cfg.read(0, segment);
            assertThat(segment.get(ValueLayout.JAVA_SHORT_UNALIGNED, 0)).isEqualTo((short) Devices.VENDOR);

            MemorySegment command = arena.allocate(2);
            command.set(ValueLayout.JAVA_SHORT_UNALIGNED, 0, (short) 0xffff);
            watch(PciRegisters.COMMAND, 2);
            cfg.write(PciRegisters.COMMAND, command);
            assertThat(cfg.commandRegister()).isEqualTo(0x547);
            assertThat(seen).hasSize(1);

            assertThatThrownBy(() -> cfg.read(4000, segment.asSlice(0, 100))).isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void closedSubscriptionsStopListening() {
        ConfigSpace.Subscription subscription = watch(PciRegisters.COMMAND, 2);
        subscription.close();
        subscription.close();
        cfg.write(PciRegisters.COMMAND, 2, 1);
        assertThat(seen).isEmpty();
    }

    @Test
    void deviceSideChangesAreNotReported() {
        watch(0, cfg.size());
        cfg.setInterruptStatus(true);
        cfg.deviceWrite(PciRegisters.STATUS, 2, 0);
        cfg.reset();
        assertThat(seen).isEmpty();
    }

    @Test
    void listenersMayAccessTheSpace() {
        cfg.addWriteListener(PciRegisters.COMMAND, 2, (offset, size, before, after) -> {
            if ((after & PciRegisters.Command.MEMORY_SPACE) != 0) {
                cfg.write(PciRegisters.INTERRUPT_LINE, 1, cfg.read(PciRegisters.COMMAND, 1));
            }
        });
        cfg.write(PciRegisters.COMMAND, 2, 0x6);
        assertThat(cfg.read(PciRegisters.INTERRUPT_LINE, 1)).isEqualTo(6);
    }

    @Test
    void watchedRangeMustLieInTheSpace() {
        assertThatThrownBy(() -> watch(4000, 200)).isInstanceOf(IllegalArgumentException.class);
    }
}
