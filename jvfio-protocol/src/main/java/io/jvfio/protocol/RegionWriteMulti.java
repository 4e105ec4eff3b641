package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * REGION_WRITE_MULTI (15) request: {@code wr_cnt u64}, then wr_cnt 24-byte entries: the {@link RegionAccess}
 * struct ({@code offset u64, region u32, count u32 (≤ 8)}) and {@code data[8]}. The reply is
 * {@link RegionWriteMultiReply}. Decode checks the payload is exactly 8 + 24 × wr_cnt bytes, wr_cnt ≤
 * {@link #MAX_ENTRIES} by default, and every count ≤ 8.
 */
public record RegionWriteMulti(List<Entry> entries) implements Payload {
    public static final int HEADER_SIZE = 8;
    public static final int MAX_DATA = 8;
    public static final int ENTRY_SIZE = RegionAccess.SIZE + MAX_DATA;
    /** QEMU's batch limit (VFIO_USER_MULTI_MAX). */
    public static final int MAX_ENTRIES = 200;

    /** One small write; {@code data.length} is its count (≤ 8). */
    public record Entry(long offset, int region, byte[] data) {
        public Entry {
            if (data.length > MAX_DATA) {
                throw new IllegalArgumentException("REGION_WRITE_MULTI entry carries at most 8 bytes, got " + data.length);
            }
            data = data.clone();
        }

        @Override public byte[] data() { return data.clone(); }
        public int count() { return data.length; }

        @Override public boolean equals(Object o) { return Records.equal(this, o); }
        @Override public int hashCode() { return Records.hash(this); }
        @Override public String toString() { return Records.text(this); }
    }

    public RegionWriteMulti {
        entries = List.copyOf(entries);
    }

    @Override
    public long encodedSize() {
        return HEADER_SIZE + (long) ENTRY_SIZE * entries.size();
    }

    @Override
    public void encode(MemorySegment d) {
        Wire.checkDst(d, encodedSize(), this);
        Wire.put64(d, 0, entries.size());
        long off = HEADER_SIZE;
        for (Entry e : entries) {
            MemorySegment slot = d.asSlice(off, ENTRY_SIZE);
            slot.fill((byte) 0);
            RegionAccess.write(slot, e.offset, e.region, e.data.length);
            Wire.putBytes(slot, RegionAccess.DATA_OFFSET, e.data);
            off += ENTRY_SIZE;
        }
    }

    public static RegionWriteMulti decode(MemorySegment p) throws ProtocolException {
        return decode(p, MAX_ENTRIES);
    }

    public static RegionWriteMulti decode(MemorySegment p, long maxEntries) throws ProtocolException {
        int n = checkedEntryCount(p, maxEntries);
        List<Entry> entries = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            MemorySegment slot = p.asSlice(entryOffset(i), ENTRY_SIZE);
            entries.add(new Entry(RegionAccess.offset(slot), RegionAccess.region(slot),
                    Wire.bytes(slot, RegionAccess.DATA_OFFSET, RegionAccess.count(slot))));
        }
        return new RegionWriteMulti(entries);
    }

    /**
     * wr_cnt of a request, after the checks {@link #decode} makes (so every entry's count is ≤ 8):
     * for a server that reads the entries in place, at {@link #entryOffset}, allocating nothing.
     */
    public static int checkedEntryCount(MemorySegment p, long maxEntries) throws ProtocolException {
        Wire.need(p, HEADER_SIZE, "REGION_WRITE_MULTI");
        long n = Wire.i64(p, 0);
        Wire.noOversize(n, maxEntries, "REGION_WRITE_MULTI wr_cnt");
        if (p.byteSize() != HEADER_SIZE + ENTRY_SIZE * n) {
            throw ProtocolException.invalid("REGION_WRITE_MULTI: payload is " + p.byteSize() + " bytes, wr_cnt " + n
                    + " needs " + (HEADER_SIZE + ENTRY_SIZE * n));
        }
        for (int i = 0; i < n; i++) {
            long count = Wire.u32(p, entryOffset(i) + RegionAccess.OFF_COUNT);
            if (count > MAX_DATA) {
                throw ProtocolException.invalid("REGION_WRITE_MULTI: entry " + i + " count " + count + " exceeds 8");
            }
        }
        return (int) n;
    }

    /** Where entry {@code i} starts in the payload: its {@link RegionAccess} struct, its data at {@link RegionAccess#DATA_OFFSET}. */
    public static long entryOffset(int i) {
        return HEADER_SIZE + (long) ENTRY_SIZE * i;
    }
}
