package io.jvfio.devices;

import io.jvfio.protocol.Vfio;
import io.jvfio.server.Access;
import io.jvfio.server.RegionHandler;
import io.jvfio.server.StateReader;
import io.jvfio.server.StateWriter;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;

/**
 * A variant of the PCI-IDIO-16: the same card, plus a read-only diagnostics region (a
 * device-specific region announced with a vendor region TYPE) counting input changes and resets,
 * and a reset of its own that keeps those counters. Everything else is the base card's.
 */
public class PciIdio16Diagnostics extends PciIdio16 {
    /** Region TYPE: vendor-specific for 494f, subtype 1 = diagnostics. */
    public static final int REGION_TYPE = Vfio.REGION_TYPE_PCI_VENDOR_TYPE | VENDOR_ID, REGION_SUBTYPE = 1;
    static final int INPUT_CHANGES = 0x0, RESETS = 0x4, MAGIC = 0x8;   // u32 little-endian each
    static final int MAGIC_VALUE = 0x4741_4944;                          // "DIAG"
    private static final ValueLayout.OfInt U32 = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final String DIAGNOSTICS_STATE = "idio16.diagnostics";

    private final MemorySegment counters = MemorySegment.ofArray(new int[4]);
    private final int region;

    public PciIdio16Diagnostics() {
        counters.set(U32, MAGIC, MAGIC_VALUE);
        region = deviceRegion(counters.byteSize(), REGION_TYPE, REGION_SUBTYPE, Access.READ_ONLY, new RegionHandler() {
            @Override
            public void read(long offset, MemorySegment dst) {
                synchronized (PciIdio16Diagnostics.this) {
                    MemorySegment.copy(counters, offset, dst, 0, dst.byteSize());
                }
            }

            @Override
            public void write(long offset, MemorySegment src) throws VfioException {
                throw VfioException.invalid("the diagnostics region is read-only");
            }
        });
    }

    /** The index of the diagnostics region (9: the first after the PCI regions). */
    public int diagnosticsRegion() {
        return region;
    }

    @Override
    protected void inputsChanged() {
        bump(INPUT_CHANGES);
    }

    /** The card resets as the base does; the diagnostics count the reset and survive it. */
    @Override
    protected synchronized void resetDevice() {
        super.resetDevice();
        bump(RESETS);
    }

    /** The counters migrate with the card. */
    @Override
    public synchronized void saveState(StateWriter out) {
        super.saveState(out);
        out.section(DIAGNOSTICS_STATE, 1).u32(counters.get(U32, INPUT_CHANGES)).u32(counters.get(U32, RESETS));
    }

    @Override
    public synchronized void loadState(StateReader in) throws VfioException {
        super.loadState(in);
        StateReader.Section s = in.section(DIAGNOSTICS_STATE).requireVersion(1);
        counters.set(U32, INPUT_CHANGES, s.u32());
        counters.set(U32, RESETS, s.u32());
    }

    private void bump(int counter) {
        counters.set(U32, counter, counters.get(U32, counter) + 1);
    }
}
