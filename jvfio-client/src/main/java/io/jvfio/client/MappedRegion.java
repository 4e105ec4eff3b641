package io.jvfio.client;

import io.jvfio.linux.Mapping;
import java.lang.foreign.MemorySegment;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * A region (or its sparse areas) mapped into this process from the fd the server sent. Each area
 * is a {@link MemorySegment} at its offset within the region; parts of the region outside every
 * area stay trapped (use {@link VfioUserClient#regionRead} for them). After {@link #close()} the
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
