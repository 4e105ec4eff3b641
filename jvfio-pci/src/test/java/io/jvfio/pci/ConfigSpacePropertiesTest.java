package io.jvfio.pci;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.pci.PciRegisters.PciExpress;
import java.util.ArrayList;
import java.util.BitSet;
import java.util.List;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.constraints.IntRange;
import net.jqwik.api.constraints.Size;

class ConfigSpacePropertiesTest {

    record Write(int offset, int size, int value) {}

    @Provide
    Arbitrary<List<Write>> writes() {
        Arbitrary<Integer> sizes = Arbitraries.of(1, 2, 4);
        Arbitrary<Write> write = Combinators.combine(
                        // Half the writes aim at the header and standard capabilities, where the interesting bits are.
                        Arbitraries.oneOf(Arbitraries.integers().between(0, 0xff), Arbitraries.integers().between(0, 4095)),
                        sizes,
                        Arbitraries.oneOf(Arbitraries.integers(), Arbitraries.just(-1), Arbitraries.just(0)))
                .as((offset, size, value) -> new Write(Math.min(offset, 4096 - size), size, value));
        return write.list().ofMaxSize(200);
    }

    /** Bytes no guest write may change in {@link Devices#full()}, derived from the spec, not the implementation. */
    static BitSet readOnlyBytes(ConfigSpace cfg) {
        BitSet readOnly = new BitSet(cfg.size());
        readOnly.set(0x00, 0x04);   // vendor, device
        readOnly.set(0x06, 0x0c);   // status (only W1C bits, all clear), revision, class
        readOnly.set(0x0d, 0x10);   // latency timer (PCIe), header type, BIST
        readOnly.set(0x24, 0x3c);   // unused BAR 5, CardBus CIS, subsystem, absent ROM, capability pointer, reserved
        readOnly.set(0x3d, 0x40);   // interrupt pin, min grant, max latency
        for (CapabilityInfo cap : cfg.capabilities()) {
            readOnly.set(cap.offset(), cap.offset() + 2);
            int base = cap.offset();
            switch (cap.id()) {
                case PciCapabilityIds.POWER_MANAGEMENT -> readOnly.set(base + 2, base + 4);
                case PciCapabilityIds.MSI -> {
                    readOnly.set(base + 3); // per-vector-mask flag; byte 2 mixes enable and MME with RO bits
                    readOnly.set(base + 14, base + 16); // upper half of the data dword
                    readOnly.set(base + 17, base + 24); // mask bits 8-31 (4 vectors) and pending bits
                }
                case PciCapabilityIds.MSIX -> {
                    readOnly.set(base + 2);
                    readOnly.set(base + 4, base + 12);
                }
                case PciCapabilityIds.PCI_EXPRESS -> {
                    readOnly.set(base + PciExpress.FLAGS, base + PciExpress.DEVCTL);
                    readOnly.set(base + PciExpress.DEVSTA, base + PciExpress.LNKCTL);
                    readOnly.set(base + PciExpress.LNKSTA, base + PciExpress.DEVCTL2);
                    readOnly.set(base + PciExpress.DEVSTA2, base + PciExpress.SIZE_V2);
                }
                case PciCapabilityIds.VENDOR_SPECIFIC -> readOnly.set(base + 2, base + cap.length());
                default -> throw new AssertionError("unexpected capability " + cap);
            }
        }
        int lastCapEnd = cfg.capabilities().getLast().offset() + cfg.capabilities().getLast().length();
        readOnly.set(lastCapEnd, 0x100);
        readOnly.set(0x100, 0x114); // serial number, vendor extended header and its read-only bytes
        readOnly.set(0x115, cfg.size());
        return readOnly;
    }

    private static byte[] snapshot(ConfigSpace cfg) {
        byte[] bytes = new byte[cfg.size()];
        cfg.read(0, bytes, 0, bytes.length);
        return bytes;
    }

    @Property
    void readOnlyBytesNeverChange(@ForAll("writes") List<Write> writes) {
        ConfigSpace cfg = Devices.full();
        byte[] powerOn = snapshot(cfg);
        BitSet readOnly = readOnlyBytes(cfg);

        writes.forEach(w -> cfg.write(w.offset(), w.size(), w.value()));

        byte[] after = snapshot(cfg);
        readOnly.stream().forEach(i -> assertThat(after[i]).as("byte 0x%x", i).isEqualTo(powerOn[i]));
    }

    @Property
    void decodedInvariantsHoldUnderRandomWrites(@ForAll("writes") List<Write> writes) {
        ConfigSpace cfg = Devices.full();
        int pmcsr = cfg.capability(PciCapabilityIds.POWER_MANAGEMENT).orElseThrow().offset() + 4;
        int devctl = cfg.capability(PciCapabilityIds.PCI_EXPRESS).orElseThrow().offset() + PciExpress.DEVCTL;

        writes.forEach(w -> cfg.write(w.offset(), w.size(), w.value()));

        MsiState msi = cfg.msi().orElseThrow();
        assertThat(msi.vectorsEnabled()).isLessThanOrEqualTo(msi.vectorsCapable());
        assertThat(msi.address() & 3).isZero();
        assertThat(cfg.read(pmcsr, 1) & 3).isIn(0, 3);
        assertThat(cfg.read(devctl, 2) & PciExpress.DEVCTL_INITIATE_FLR).isZero();
        assertThat(cfg.msix().orElseThrow().tableSize()).isEqualTo(8);
        assertThat(cfg.commandRegister() & ~0x547).isZero();
    }

    @Property
    void wideReadsEqualTheirBytes(@ForAll("writes") List<Write> writes,
            @ForAll @IntRange(min = 0, max = 4092) int offset, @ForAll("accessSizes") int size) {
        ConfigSpace cfg = Devices.full();
        writes.forEach(w -> cfg.write(w.offset(), w.size(), w.value()));

        int composed = 0;
        for (int i = 0; i < size; i++) {
            composed |= cfg.read(offset + i, 1) << (8 * i);
        }
        assertThat(cfg.read(offset, size)).isEqualTo(composed);
    }

    @Provide
    Arbitrary<Integer> accessSizes() {
        return Arbitraries.of(1, 2, 4);
    }

    @Property
    void scalarAndBulkWritesAgree(@ForAll @IntRange(min = 0, max = 0xfc) int offset,
            @ForAll("accessSizes") int size, @ForAll int value) {
        ConfigSpace scalar = Devices.full();
        ConfigSpace bulk = Devices.full();
        scalar.write(offset, size, value);
        byte[] bytes = new byte[size];
        for (int i = 0; i < size; i++) {
            bytes[i] = (byte) (value >>> (8 * i));
        }
        bulk.write(offset, bytes, 0, size);
        assertThat(snapshot(bulk)).isEqualTo(snapshot(scalar));
    }

    @Property
    void resetRestoresPowerOn(@ForAll("writes") List<Write> writes) {
        ConfigSpace cfg = Devices.full();
        byte[] powerOn = snapshot(cfg);
        writes.forEach(w -> cfg.write(w.offset(), w.size(), w.value()));
        cfg.reset();
        assertThat(snapshot(cfg)).isEqualTo(powerOn);
    }

    @Property
    void barSizingReadsBackTheSize(@ForAll @IntRange(min = 0, max = 4) int index,
            @ForAll @IntRange(min = 4, max = 40) int log2Size, @ForAll boolean prefetchable,
            @ForAll boolean wide) {
        long size = 1L << log2Size;
        Bar bar = wide ? Bar.memory64(index, size, prefetchable) : Bar.memory32(index, Math.min(size, 1L << 31), prefetchable);
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI).bar(bar).build();
        int low = PciRegisters.barOffset(index);
        cfg.write(low, 4, -1);
        cfg.write(low + 4, 4, -1);

        long sizeMask = ~(bar.size() - 1);
        assertThat(cfg.read(low, 4)).isEqualTo((int) (sizeMask & ~0xfL) | bar.flags());
        if (wide) {
            assertThat(cfg.read(low + 4, 4)).isEqualTo((int) (sizeMask >>> 32));
            long sized = (cfg.read(low, 4) & 0xffff_fff0L) | (long) cfg.read(low + 4, 4) << 32;
            assertThat(~sized + 1).isEqualTo(bar.size());
        } else {
            assertThat(~(cfg.read(low, 4) & 0xffff_fff0L) + 1 & 0xffff_ffffL).isEqualTo(bar.size() & 0xffff_ffffL);
        }
    }

    @Provide
    Arbitrary<Capability> capabilities() {
        return Arbitraries.oneOf(
                Arbitraries.bytes().array(byte[].class).ofMaxSize(40).map(Capabilities::vendorSpecific),
                Arbitraries.just(Capabilities.powerManagement()),
                Arbitraries.just(Capabilities.msi(2, true, true)),
                Arbitraries.just(Capabilities.msi(1, false, false)));
    }

    @Property
    void chainWalkVisitsEveryDeclaredCapabilityOnce(@ForAll @Size(max = 8) List<@net.jqwik.api.From("capabilities") Capability> declared) {
        ConfigSpaceBuilder builder = Devices.minimal(ConfigSpace.Size.PCI);
        List<Integer> expected = new ArrayList<>();
        int end = PciRegisters.HEADER_END;
        boolean fits = true;
        List<Integer> seenIds = new ArrayList<>();
        for (Capability cap : declared) {
            if (cap.id() != PciCapabilityIds.VENDOR_SPECIFIC && seenIds.contains(cap.id())) {
                continue;
            }
            seenIds.add(cap.id());
            builder.capability(cap);
            fits &= end + cap.length() <= 0x100;
            end += (cap.length() + 3) & ~3;
            expected.add(cap.id());
        }
        if (!fits) {
            return;
        }
        ConfigSpace cfg = builder.build();
        assertThat(CapabilityChainTest.walkStandard(cfg)).isEqualTo(expected);
        assertThat(cfg.statusRegister() & PciRegisters.Status.CAPABILITY_LIST).isEqualTo(expected.isEmpty() ? 0 : 0x10);
    }
}
