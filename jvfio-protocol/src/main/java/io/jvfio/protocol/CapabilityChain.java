package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;

/**
 * Generic reader/writer of VFIO capability chains: headers {@code {id u16, version u16, next u32}};
 * {@code cap_offset} and every {@code next} count from the start of the info struct; next = 0 ends the chain.
 * Written capabilities are laid out back to back, each padded to a multiple of 8 bytes (as the kernel does).
 */
public final class CapabilityChain {
    static final StructLayout HEADER = Struct.layout(Struct.u16("id"), Struct.u16("version"), Struct.u32("next"));
    public static final int HEADER_SIZE = (int) HEADER.byteSize();
    private static final long OFF_ID = Struct.offset(HEADER, "id");
    private static final long OFF_VERSION = Struct.offset(HEADER, "version");
    private static final long OFF_NEXT = Struct.offset(HEADER, "next");

    private CapabilityChain() {}

    /** A capability as found in a received chain: its header fields and a view of its body. */
    public record Entry(int id, int version, long offset, MemorySegment body) {}

    /** Bytes the chain occupies when written. */
    public static long size(List<? extends InfoCapability> caps) {
        long n = 0;
        for (InfoCapability c : caps) {
            n += entrySize(c);
        }
        return n;
    }

    static long entrySize(InfoCapability c) {
        return Wire.align8(HEADER_SIZE + c.bodySize());
    }

    /**
     * Writes {@code caps} into {@code info} starting at {@code firstOffset} (relative to the info struct);
     * returns the offset just past the chain. Padding bytes are zeroed.
     */
    public static long write(MemorySegment info, long firstOffset, List<? extends InfoCapability> caps) {
        long off = firstOffset;
        for (int i = 0; i < caps.size(); i++) {
            InfoCapability c = caps.get(i);
            long size = entrySize(c);
            long next = i + 1 < caps.size() ? off + size : 0;
            Wire.checkU32(next, "capability next offset");
            Wire.checkU16(c.id(), "capability id");
            Wire.checkU16(c.version(), "capability version");
            MemorySegment entry = info.asSlice(off, size);
            entry.fill((byte) 0);
            Wire.put16(entry, OFF_ID, c.id());
            Wire.put16(entry, OFF_VERSION, c.version());
            Wire.put32(entry, OFF_NEXT, (int) next);
            c.encodeBody(entry.asSlice(HEADER_SIZE, c.bodySize()));
            off += size;
        }
        return off;
    }

    /**
     * Walks the chain starting at {@code capOffset} (0 = no chain). Rejects (EINVAL) offsets that point into
     * the fixed struct (below {@code fixedSize}) or past the end, headers running past the end, loops, and
     * overlapping capabilities. Each entry's body extends to the next capability in memory or to the end.
     */
    public static List<Entry> read(MemorySegment info, long capOffset, long fixedSize, String what)
            throws ProtocolException {
        if (capOffset == 0) {
            return List.of();
        }
        long end = info.byteSize();
        long maxEntries = Math.max(0, (end - fixedSize) / HEADER_SIZE);
        List<Long> chain = new ArrayList<>();
        TreeSet<Long> sorted = new TreeSet<>();
        for (long off = capOffset; off != 0; off = Wire.u32(info, off + OFF_NEXT)) {
            if (off < fixedSize) {
                throw ProtocolException.invalid(what + ": capability offset " + off
                        + " points into the fixed " + fixedSize + "-byte struct");
            }
            if (off > end - HEADER_SIZE) {
                throw ProtocolException.invalid(what + ": capability header at offset " + off
                        + " runs past the end of the " + end + "-byte struct");
            }
            if (!sorted.add(off)) {
                throw ProtocolException.invalid(what + ": capability chain loops back to offset " + off);
            }
            if (sorted.size() > maxEntries) {
                throw ProtocolException.invalid(what + ": capability chain has more entries than fit");
            }
            chain.add(off);
        }
        for (long off : sorted) {
            Long next = sorted.higher(off);
            if (next != null && next - off < HEADER_SIZE) {
                throw ProtocolException.invalid(what + ": capabilities at offsets " + off + " and " + next + " overlap");
            }
        }
        List<Entry> out = new ArrayList<>(chain.size());
        for (long off : chain) {
            Long next = sorted.higher(off);
            long bodyStart = off + HEADER_SIZE;
            out.add(new Entry(Wire.u16(info, off + OFF_ID), Wire.u16(info, off + OFF_VERSION), off,
                    info.asSlice(bodyStart, (next == null ? end : next) - bodyStart)));
        }
        return out;
    }
}
