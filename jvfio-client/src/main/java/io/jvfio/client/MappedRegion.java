package io.jvfio.client;

import io.jvfio.linux.Mapping;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.SparseMmapCap;
import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A region (or its sparse areas) mapped into this process from the fd the server sent. Each area
 * is a {@link MemorySegment} at its offset within the region; parts of the region outside every
 * area stay trapped (use {@link DeviceHandle#regionRead} for them). After {@link #close()} the
 * segments fail with IllegalStateException rather than touch unmapped memory.
 */
public final class MappedRegion implements AutoCloseable {
    /** One mapped part of the region, {@code offset} bytes from the region's start. */
    public record Area(long offset, Mapping mapping) {
        public MemorySegment segment() {
            return mapping.segment();
        }

        public long size() {
            return mapping.length();
        }

        boolean contains(long at, long length) {
            return at >= offset && length >= 0 && at + length >= at && at + length <= offset + size();
        }
    }

    private final int index;
    private final long size;
    private final boolean writable;
    private final List<Area> areas;
    private final Consumer<MappedRegion> onClose;
    private boolean closed;

    MappedRegion(int index, long size, boolean writable, List<Area> areas, Consumer<MappedRegion> onClose) {
        this.index = index;
        this.size = size;
        this.writable = writable;
        this.areas = List.copyOf(areas);
        this.onClose = onClose;
    }

    /**
     * Maps region {@code index}, mmap-able as {@code d} describes it (its fd at the region's offset,
     * areas checked with {@link #areaOutside}): the whole region, or each area of its SPARSE_MMAP
     * capability. For {@link DeviceHandle} implementations.
     */
    public static MappedRegion map(int index, RegionDescription d, Consumer<MappedRegion> onClose) throws IOException {
        RegionInfo info = d.info();
        boolean writable = d.writable();
        List<Area> areas = new ArrayList<>();
        try {
            for (SparseMmapCap.Area a : areas(info)) {
                areas.add(new Area(a.offset(), Mapping.map(d.fd(), info.offset() + a.offset(), a.size(), writable)));
            }
        } catch (IOException | RuntimeException e) {
            areas.forEach(a -> a.mapping().close());
            throw e;
        }
        return new MappedRegion(index, info.size(), writable, areas, onClose);
    }

    /** Why an area to map lies outside region {@code index} (a device's error); null when none does. */
    public static String areaOutside(int index, RegionInfo info) {
        for (SparseMmapCap.Area a : areas(info)) {
            long offset = a.offset(), size = a.size();
            if (offset < 0 || size <= 0 || offset + size < offset || offset + size > info.size()
                    || info.offset() < 0 || info.offset() + offset + size < 0) {
                return "region %d: mmap area [0x%x, +0x%x) lies outside the region of 0x%x bytes"
                        .formatted(index, offset, size, info.size());
            }
        }
        return null;
    }

    /** The non-empty areas of the SPARSE_MMAP capability, or the whole region. */
    private static List<SparseMmapCap.Area> areas(RegionInfo info) {
        SparseMmapCap sparse = info.cap(SparseMmapCap.class);
        if (sparse == null) {
            return List.of(new SparseMmapCap.Area(0, info.size()));
        }
        return sparse.areas().stream().filter(a -> a.size() != 0).toList();
    }

    public int index() {
        return index;
    }

    /** The whole region's size (the areas may cover less). */
    public long size() {
        return size;
    }

    public boolean writable() {
        return writable;
    }

    /** The mapped areas, in the server's order; one area at offset 0 covering the region when it is not sparse. */
    public List<Area> areas() {
        return areas;
    }

    /** Whether the whole region is mapped as one segment. */
    public boolean isWhole() {
        return areas.size() == 1 && areas.getFirst().offset() == 0 && areas.getFirst().size() == size;
    }

    /** The mapped bytes [offset, offset+length) of the region, if one area holds them all. */
    public Optional<MemorySegment> segment(long offset, long length) {
        for (Area a : areas) {
            if (a.contains(offset, length)) {
                return Optional.of(a.segment().asSlice(offset - a.offset(), length));
            }
        }
        return Optional.empty();
    }

    /** Unmaps every area; idempotent. */
    @Override
    public void close() {
        synchronized (this) {
            if (closed) {
                return;
            }
            closed = true;
        }
        for (Area a : areas) {
            a.mapping().close();
        }
        onClose.accept(this);
    }

    @Override
    public String toString() {
        return "MappedRegion[index=" + index + ", size=0x" + Long.toHexString(size) + ", areas=" + areas.size() + "]";
    }
}
