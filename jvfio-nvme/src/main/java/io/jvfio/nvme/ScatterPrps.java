package io.jvfio.nvme;

import static io.jvfio.nvme.NvmeSpec.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;

/**
 * PRPs for a {@link ScatterList} (§4.3.1), for controllers without SGLs: PRP entries name whole
 * memory pages, so only the first piece may start inside a page (at a dword) and only the last may
 * end inside one; every other boundary lies on a page. PRP1 is the first piece's start; PRP2 the
 * second page, or a PRP list of every page after the first in the command slot's page (the
 * transfer limit keeps it within one page of entries). Nothing is allocated.
 */
final class ScatterPrps {
    private static final long PAGE_MASK = PAGE_SIZE - 1;

    private ScatterPrps() {}

    /** Throws IllegalArgumentException naming the first piece PRPs cannot describe. */
    static void check(ScatterList data) {
        int last = data.size() - 1;
        for (int i = 0; i <= last; i++) {
            long start = data.iova(i), end = start + data.length(i);
            String broken = i == 0 && (start & 3) != 0 ? "start at a dword"
                    : i > 0 && (start & PAGE_MASK) != 0 ? "start on a page boundary"
                    : i < last && (end & PAGE_MASK) != 0 ? "end on a page boundary" : null;
            if (broken != null) {
                throw new IllegalArgumentException(("piece %d of the scatter list (%d bytes at IOVA 0x%x) does not %s, as PRPs"
                        + " need (SGLs take any pieces: Options.withSgls)").formatted(i, data.length(i), start, broken));
            }
        }
    }

    /** PRP2 for {@code data} checked by {@link #check}; a PRP list goes into {@code slot}'s page of {@code queue}. */
    static long prp2(QueuePair queue, int slot, ScatterList data) {
        MemorySegment list = queue.slotPages();
        long at = QueuePair.slotPageOffset(slot);
        int pages = 0;
        for (int i = 0; i < data.size(); i++) {
            long start = data.iova(i), end = start + data.length(i);
            long page = i == 0 ? (start & ~PAGE_MASK) + PAGE_SIZE : start;   // the first piece's first page is PRP1's
            for (; page < end; page += PAGE_SIZE, pages++) {
                list.set(ValueLayout.JAVA_LONG, at + (long) pages * Long.BYTES, page);
            }
        }
        return switch (pages) {
            case 0 -> 0;
            case 1 -> list.get(ValueLayout.JAVA_LONG, at);
            default -> queue.slotPageIova(slot);
        };
    }
}
