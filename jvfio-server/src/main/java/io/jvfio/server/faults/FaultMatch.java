package io.jvfio.server.faults;

/** What a {@link FaultRule} looks at: a region access, or an interrupt the device raises. */
public sealed interface FaultMatch {
    /** Any vector of an irq index. */
    int ANY_VECTOR = -1;

    /** Which way a region access goes. */
    enum Direction {
        READ, WRITE, ANY;

        boolean covers(boolean write) {
            return this == ANY || (this == WRITE) == write;
        }
    }

    /**
     * A REGION_READ/REGION_WRITE of {@code region} whose bytes overlap {@code [fromOffset, toOffset)}.
     * REGION_WRITE_MULTI's entries are not matched yet.
     */
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

        boolean matches(int accessRegion, long offset, long count, boolean write) {
            return accessRegion == region && direction.covers(write)
                    && offset < toOffset && offset + Math.max(count, 1) > fromOffset;
        }
    }

    /** An interrupt raised on {@code vector} of irq index {@code index} ({@link #ANY_VECTOR}: any). */
    record Interrupt(int index, int vector) implements FaultMatch {
        public Interrupt {
            if (index < 0 || vector < ANY_VECTOR) {
                throw new IllegalArgumentException("irq index %d, vector %d".formatted(index, vector));
            }
        }

        boolean matches(int raisedIndex, int raisedVector) {
            return raisedIndex == index && (vector == ANY_VECTOR || vector == raisedVector);
        }
    }
}
