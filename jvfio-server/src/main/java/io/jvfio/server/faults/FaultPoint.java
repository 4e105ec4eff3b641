package io.jvfio.server.faults;

/**
 * Something happening in a device that fault rules may match: a region access, an interrupt, a DMA
 * transfer (the core's, here), or a device's own event — an NVMe command fetched, a virtio request
 * popped (the devices' own implementations). A {@link FaultMatch} decides whether it matches.
 *
 * <p>A point is built only when some rule is armed ({@link Faults#isEmpty()} is false), so the
 * common path allocates nothing; a device thread that sees many points may keep one mutable point
 * and refill it, since {@link Faults#ask} does not keep it (it keeps {@link #describe()}'s text).
 */
public interface FaultPoint {
    /** A short text for the firing log, e.g. "region 0 write 0x1000+4". Called only when a rule fires. */
    String describe();

    /**
     * A REGION_READ or REGION_WRITE (each entry of a REGION_WRITE_MULTI counts as a write) of
     * {@code count} bytes. Mutable: the session keeps one and {@linkplain #set refills} it for each
     * access while rules are armed, so asking the rules allocates nothing.
     */
    final class RegionAccess implements FaultPoint {
        private int region;
        private long offset, count;
        private boolean write;

        public RegionAccess(int region, long offset, long count, boolean write) {
            set(region, offset, count, write);
        }

        /** Makes this point the access given; returns it. */
        public RegionAccess set(int region, long offset, long count, boolean write) {
            this.region = region;
            this.offset = offset;
            this.count = count;
            this.write = write;
            return this;
        }

        public int region() {
            return region;
        }

        public long offset() {
            return offset;
        }

        public long count() {
            return count;
        }

        public boolean write() {
            return write;
        }

        @Override
        public String describe() {
            return "region %d %s 0x%x+%d".formatted(region, write ? "write" : "read", offset, count);
        }

        @Override
        public String toString() {
            return describe();
        }
    }

    /** The device raises {@code vector} of irq {@code index}. The interrupt lines keep one per vector. */
    record Interrupt(int index, int vector) implements FaultPoint {
        @Override
        public String describe() {
            return "irq %d/%d".formatted(index, vector);
        }
    }

    /** The device reads ({@code write} false) or writes {@code length} bytes of client memory at {@code iova}. */
    record Dma(long iova, long length, boolean write) implements FaultPoint {
        @Override
        public String describe() {
            return "dma %s 0x%x+%d".formatted(write ? "write" : "read", iova, length);
        }
    }
}
