package io.jvfio.server.faults;

/**
 * What a {@link FaultRule} looks at. The core's matches are here (region accesses, interrupts, DMA,
 * and {@link Now}); a device adds its own (an NVMe command, a virtio-blk request) by implementing
 * this interface for its own {@link FaultPoint}s.
 */
public interface FaultMatch {
    /** Any vector of an irq index. */
    int ANY_VECTOR = -1;

    /** Which way a region access goes. */
    enum Direction {
        READ, WRITE, ANY;

        public boolean covers(boolean write) {
            return this == ANY || (this == WRITE) == write;
        }
    }

    /** Whether {@code point} is one of the things this match looks at. */
    boolean matches(FaultPoint point);

    /** A REGION_READ/REGION_WRITE of {@code region} whose bytes overlap {@code [fromOffset, toOffset)}. */
    record RegionAccess(int region, long fromOffset, long toOffset, Direction direction) implements FaultMatch {
        public RegionAccess {
            if (region < 0 || fromOffset < 0 || toOffset <= fromOffset || direction == null) {
                throw new IllegalArgumentException("region %d, offsets [%d, %d), %s"
                        .formatted(region, fromOffset, toOffset, direction));
            }
        }

        /** Every access of {@code region}, either way. */
        public static RegionAccess anyOf(int region) {
            return new RegionAccess(region, 0, Long.MAX_VALUE, Direction.ANY);
        }

        @Override
        public boolean matches(FaultPoint point) {
            return point instanceof FaultPoint.RegionAccess access && access.region() == region && direction.covers(access.write())
                    && access.offset() < toOffset && access.offset() + Math.max(access.count(), 1) > fromOffset;
        }
    }

    /** An interrupt raised on {@code vector} of irq index {@code index} ({@link #ANY_VECTOR}: any). */
    record Interrupt(int index, int vector) implements FaultMatch {
        public Interrupt {
            if (index < 0 || vector < ANY_VECTOR) {
                throw new IllegalArgumentException("irq index %d, vector %d".formatted(index, vector));
            }
        }

        @Override
        public boolean matches(FaultPoint point) {
            return point instanceof FaultPoint.Interrupt irq && irq.index() == index
                    && (vector == ANY_VECTOR || vector == irq.vector());
        }
    }

    /** The device's DMA to or from client memory overlapping {@code [fromIova, toIova)}. */
    record Dma(long fromIova, long toIova, Direction direction) implements FaultMatch {
        public Dma {
            if (toIova <= fromIova || direction == null) {
                throw new IllegalArgumentException("iova [0x%x, 0x%x), %s".formatted(fromIova, toIova, direction));
            }
        }

        @Override
        public boolean matches(FaultPoint point) {
            return point instanceof FaultPoint.Dma dma && direction.covers(dma.write())
                    && Long.compareUnsigned(dma.iova(), toIova) < 0
                    && Long.compareUnsigned(dma.iova() + Math.max(dma.length(), 1), fromIova) > 0;
        }
    }

    /**
     * Not a match but a moment: a rule with it fires once, when it is added ({@link Faults#add}), and
     * its action is performed at once — raise ERR now, set CSTS.CFS now, attach a namespace now.
     */
    record Now() implements FaultMatch {
        @Override
        public boolean matches(FaultPoint point) {
            return false;
        }
    }
}
