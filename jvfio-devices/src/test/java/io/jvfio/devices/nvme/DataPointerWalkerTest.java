package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.HeapDmaView.BASE;
import static io.jvfio.nvme.spec.Nvme.*;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.testing.Allocations;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Random;
import java.util.Set;
import org.junit.jupiter.api.Test;

/**
 * The PRP and SGL walkers on their own, over heap "host memory": how the descriptors Linux builds
 * map the data, the status every malformed descriptor gets, a seeded fuzz of random pointers and
 * descriptors (a defined status, never an exception), and no allocation per command.
 */
class DataPointerWalkerTest {
    static final int MEMORY = 1 << 20, MAX_BYTES = 128 << 10;
    static final Set<Integer> SGL_STATUSES = Set.of(SC_SUCCESS, SC_DATA_TRANSFER_ERROR, SC_INVALID_SGL_SEGMENT_DESCRIPTOR,
            SC_INVALID_SGL_DESCRIPTOR_COUNT, SC_DATA_SGL_LENGTH_INVALID, SC_SGL_DESCRIPTOR_TYPE_INVALID);
    static final Set<Integer> PRP_STATUSES = Set.of(SC_SUCCESS, SC_DATA_TRANSFER_ERROR, SC_PRP_OFFSET_INVALID);

    final HeapDmaView dma = new HeapDmaView(MEMORY);
    final DataRanges ranges = new DataRanges(Math.max(PrpWalker.rangesFor(MAX_BYTES), SglWalker.MAX_DATA_RANGES));
    final SglWalker sgls = new SglWalker(ranges);
    final PrpWalker prps = new PrpWalker(ranges);
    /** A queue's bounce buffer, larger than any one transfer as the real one is (MDTS). */
    final MemorySegment bounce = MemorySegment.ofArray(new byte[MAX_BYTES]);
    final Command command = new Command();

    /** SGL1 of the command. */
    void sgl1(long address, int length, int type) {
        UserspaceNvmeDriver.sglDescriptor(command.entry, SQE_PRP1, address, length, type);
    }

    /** A segment of descriptors at host offset {@code at}: {address, length, type} triples. */
    void segment(long at, long... fields) {
        for (int i = 0; i < fields.length / 3; i++) {
            UserspaceNvmeDriver.sglDescriptor(dma.memory, at + 16L * i, fields[3 * i], (int) fields[3 * i + 1],
                    (int) fields[3 * i + 2]);
        }
    }

    int walk(int length, boolean read) {
        return sgls.walk(dma, command.entry, SQE_PRP1, length, read);
    }

    byte[] pattern(int length, int seed) {
        byte[] b = new byte[length];
        new Random(seed).nextBytes(b);
        return b;
    }

    @Test
    void aDataBlockInTheEntryDescribesTheWholeTransfer() {
        byte[] data = pattern(4096, 1);
        MemorySegment.copy(MemorySegment.ofArray(data), 0, dma.memory, 0x3003, 4096);
        sgl1(BASE + 0x3003, 4096, SGL_DATA_BLOCK);
        assertThat(walk(4096, false)).isEqualTo(SC_SUCCESS);
        MemorySegment buffer = MemorySegment.ofArray(new byte[4096]);
        assertThat(ranges.copy(dma, 0, buffer, false)).isEqualTo(SC_SUCCESS);
        assertThat(buffer.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(data);
    }

    @Test
    void aLastSegmentScattersAndGathersByteGranularBlocks() {
        // Linux's shape: a Last Segment in the entry pointing to data blocks at any byte address.
        long[] addresses = {0x5001, 0x9000, 0x7777};
        int[] lengths = {1000, 3000, 96};
        segment(0x1000, BASE + addresses[0], lengths[0], SGL_DATA_BLOCK, BASE + addresses[1], lengths[1], SGL_DATA_BLOCK,
                BASE + addresses[2], lengths[2], SGL_DATA_BLOCK);
        sgl1(BASE + 0x1000, 48, SGL_LAST_SEGMENT);
        assertThat(walk(4096, true)).isEqualTo(SC_SUCCESS);
        byte[] data = pattern(4096, 2);
        assertThat(ranges.copy(dma, 0, MemorySegment.ofArray(data), true)).isEqualTo(SC_SUCCESS);
        int at = 0;
        for (int i = 0; i < 3; i++) {
            assertThat(dma.memory.asSlice(addresses[i], lengths[i]).toArray(ValueLayout.JAVA_BYTE))
                    .isEqualTo(java.util.Arrays.copyOfRange(data, at, at + lengths[i]));
            at += lengths[i];
        }
        // The same SGL for a write gathers them back, from any point of the transfer.
        assertThat(walk(4096, false)).isEqualTo(SC_SUCCESS);
        MemorySegment back = MemorySegment.ofArray(new byte[2000]);
        assertThat(ranges.copy(dma, 1500, back, false)).isEqualTo(SC_SUCCESS);
        assertThat(back.toArray(ValueLayout.JAVA_BYTE)).isEqualTo(java.util.Arrays.copyOfRange(data, 1500, 3500));
    }

    @Test
    void segmentsChainAndLongSegmentsAreReadAPageAtATime() {
        // Segment (2 blocks, then a Segment) -> Segment (1 block, then a Last Segment) -> 300 blocks of 16 bytes.
        segment(0x1000, BASE + 0x20000, 512, SGL_DATA_BLOCK, BASE + 0x21000, 0, SGL_DATA_BLOCK,
                BASE + 0x2000, 32, SGL_SEGMENT);
        segment(0x2000, BASE + 0x22000, 512, SGL_DATA_BLOCK, BASE + 0x4000, 300 * 16, SGL_LAST_SEGMENT);
        long[] blocks = new long[300 * 3];
        for (int i = 0; i < 300; i++) {
            blocks[3 * i] = BASE + 0x30000 + 32L * i;   // not contiguous: 300 ranges
            blocks[3 * i + 1] = 16;
            blocks[3 * i + 2] = SGL_DATA_BLOCK;
        }
        segment(0x4000, blocks);
        sgl1(BASE + 0x1000, 48, SGL_SEGMENT);
        int length = 1024 + 300 * 16;
        int reads = dma.accesses;
        assertThat(walk(length, true)).isEqualTo(SC_SUCCESS);
        assertThat(dma.accesses - reads).as("segment reads: one, one, two pages").isEqualTo(4);
        byte[] data = pattern(length, 3);
        assertThat(ranges.copy(dma, 0, MemorySegment.ofArray(data), true)).isEqualTo(SC_SUCCESS);
        assertThat(dma.memory.get(ValueLayout.JAVA_BYTE, 0x22000)).isEqualTo(data[512]);
        assertThat(dma.memory.asSlice(0x30000 + 32L * 299, 16).toArray(ValueLayout.JAVA_BYTE))
                .isEqualTo(java.util.Arrays.copyOfRange(data, length - 16, length));
    }

    @Test
    void contiguousBlocksMergeSoOnlyScatteredOnesCountAgainstTheLimit() {
        int blocks = SglWalker.MAX_DATA_RANGES + 1;
        long[] contiguous = new long[blocks * 3], scattered = new long[blocks * 3];
        for (int i = 0; i < blocks; i++) {
            contiguous[3 * i] = BASE + 0x40000 + 4L * i;
            scattered[3 * i] = BASE + 0x40000 + 8L * i;
            contiguous[3 * i + 1] = scattered[3 * i + 1] = 4;
        }
        segment(0x1000, contiguous);
        sgl1(BASE + 0x1000, blocks * 16, SGL_LAST_SEGMENT);
        assertThat(walk(blocks * 4, false)).isEqualTo(SC_SUCCESS);
        segment(0x1000, scattered);
        assertThat(walk(blocks * 4, false)).isEqualTo(SC_INVALID_SGL_DESCRIPTOR_COUNT);
    }

    @Test
    void bitBucketsDiscardReadDataAndAreRefusedForWrites() {
        dma.memory.asSlice(0x8000, 1024).fill((byte) 0x11);
        segment(0x1000, BASE + 0x8000, 100, SGL_DATA_BLOCK, 0, 200, SGL_BIT_BUCKET, BASE + 0x8000 + 300, 212, SGL_DATA_BLOCK);
        sgl1(BASE + 0x1000, 48, SGL_LAST_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_SUCCESS);
        byte[] data = pattern(512, 4);
        assertThat(ranges.copy(dma, 0, MemorySegment.ofArray(data), true)).isEqualTo(SC_SUCCESS);
        assertThat(dma.memory.get(ValueLayout.JAVA_BYTE, 0x8000 + 99)).isEqualTo(data[99]);
        assertThat(dma.memory.asSlice(0x8000 + 100, 200).toArray(ValueLayout.JAVA_BYTE)).containsOnly(0x11);
        assertThat(dma.memory.asSlice(0x8000 + 300, 212).toArray(ValueLayout.JAVA_BYTE))
                .isEqualTo(java.util.Arrays.copyOfRange(data, 300, 512));
        assertThat(walk(512, false)).isEqualTo(SC_SGL_DESCRIPTOR_TYPE_INVALID);
    }

    @Test
    void everyMalformedDescriptorGetsItsStatus() {
        // Types and subtypes not offered: keyed, transport, vendor, reserved; offsets.
        for (int type : new int[] {4, 5, 6, 0xe, 0xf}) {
            sgl1(BASE, 512, type);
            assertThat(walk(512, true)).as("type %d", type).isEqualTo(SC_SGL_DESCRIPTOR_TYPE_INVALID);
        }
        sgl1(BASE, 512, SGL_DATA_BLOCK);
        command.entry.set(ValueLayout.JAVA_BYTE, SQE_PRP1 + SGL_IDENTIFIER, (byte) (SGL_DATA_BLOCK << 4 | 1));
        assertThat(walk(512, true)).as("offset subtype").isEqualTo(SC_SGL_DESCRIPTOR_TYPE_INVALID);
        sgl1(BASE + 0x1000, 16, SGL_LAST_SEGMENT);
        command.entry.set(ValueLayout.JAVA_BYTE, SQE_PRP1 + SGL_IDENTIFIER, (byte) (SGL_LAST_SEGMENT << 4 | 1));
        assertThat(walk(512, true)).as("segment with an offset subtype").isEqualTo(SC_SGL_DESCRIPTOR_TYPE_INVALID);

        // Segment descriptors: empty, not whole descriptors, not qword aligned.
        segment(0x1000, BASE + 0x8000, 512, SGL_DATA_BLOCK);
        sgl1(BASE + 0x1000, 0, SGL_LAST_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_INVALID_SGL_SEGMENT_DESCRIPTOR);
        sgl1(BASE + 0x1000, 24, SGL_LAST_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_INVALID_SGL_SEGMENT_DESCRIPTOR);
        sgl1(BASE + 0x1004, 16, SGL_LAST_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_INVALID_SGL_SEGMENT_DESCRIPTOR);
        sgl1(-16, 32, SGL_LAST_SEGMENT);
        assertThat(walk(512, true)).as("a segment that wraps").isEqualTo(SC_INVALID_SGL_SEGMENT_DESCRIPTOR);

        // A segment descriptor before the end of its segment; a last segment that chains; a segment that does not.
        segment(0x1000, BASE + 0x2000, 16, SGL_LAST_SEGMENT, BASE + 0x8000, 512, SGL_DATA_BLOCK);
        sgl1(BASE + 0x1000, 32, SGL_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_INVALID_SGL_DESCRIPTOR_COUNT);
        sgl1(BASE + 0x1000, 32, SGL_LAST_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_INVALID_SGL_DESCRIPTOR_COUNT);
        segment(0x1000, BASE + 0x8000, 256, SGL_DATA_BLOCK, BASE + 0x2000, 16, SGL_LAST_SEGMENT);
        sgl1(BASE + 0x1000, 32, SGL_LAST_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_INVALID_SGL_SEGMENT_DESCRIPTOR);
        segment(0x1000, BASE + 0x8000, 512, SGL_DATA_BLOCK);
        sgl1(BASE + 0x1000, 16, SGL_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_INVALID_SGL_SEGMENT_DESCRIPTOR);

        // A chain that loops ends at the descriptor limit.
        segment(0x1000, BASE + 0x8000, 0, SGL_DATA_BLOCK, BASE + 0x1000, 32, SGL_SEGMENT);
        sgl1(BASE + 0x1000, 32, SGL_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_INVALID_SGL_DESCRIPTOR_COUNT);

        // Lengths: less than the transfer, more, a block after the transfer is complete, a block that wraps.
        sgl1(BASE, 511, SGL_DATA_BLOCK);
        assertThat(walk(512, true)).isEqualTo(SC_DATA_SGL_LENGTH_INVALID);
        sgl1(BASE, 513, SGL_DATA_BLOCK);
        assertThat(walk(512, true)).isEqualTo(SC_DATA_SGL_LENGTH_INVALID);
        segment(0x1000, BASE + 0x8000, 512, SGL_DATA_BLOCK, BASE + 0x9000, 1, SGL_DATA_BLOCK);
        sgl1(BASE + 0x1000, 32, SGL_LAST_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_DATA_SGL_LENGTH_INVALID);
        sgl1(-256, 512, SGL_DATA_BLOCK);
        assertThat(walk(512, true)).isEqualTo(SC_DATA_SGL_LENGTH_INVALID);
        sgl1(BASE, -1, SGL_DATA_BLOCK);
        assertThat(walk(512, true)).as("a length beyond 2^31").isEqualTo(SC_DATA_SGL_LENGTH_INVALID);

        // Host memory: a segment that cannot be read; a data block that cannot be written.
        sgl1(0x4000_0000L, 16, SGL_LAST_SEGMENT);
        assertThat(walk(512, true)).isEqualTo(SC_DATA_TRANSFER_ERROR);
        sgl1(0x4000_0000L, 512, SGL_DATA_BLOCK);
        assertThat(walk(512, true)).isEqualTo(SC_SUCCESS);
        assertThat(ranges.copy(dma, 0, MemorySegment.ofArray(new byte[512]), true)).isEqualTo(SC_DATA_TRANSFER_ERROR);
    }

    @Test
    void prpsMapOffsetsListsAndChains() {
        // PRP1 with an offset, a list starting 0x100 into its page whose data spans three pages.
        segmentOfPrps(0x2100, BASE + 0x10000, BASE + 0x11000, BASE + 0x12000);
        assertThat(prps.walk(dma, BASE + 0xf800, BASE + 0x2100, 2048 + 3 * 4096)).isEqualTo(SC_SUCCESS);
        byte[] data = pattern(2048 + 3 * 4096, 5);
        assertThat(ranges.copy(dma, 0, MemorySegment.ofArray(data), true)).isEqualTo(SC_SUCCESS);
        assertThat(dma.memory.asSlice(0xf800, data.length).toArray(ValueLayout.JAVA_BYTE)).isEqualTo(data);

        assertThat(prps.walk(dma, BASE + 2, 0, 512)).isEqualTo(SC_PRP_OFFSET_INVALID);
        assertThat(prps.walk(dma, BASE, BASE + 0x1008, 8192)).isEqualTo(SC_PRP_OFFSET_INVALID);
        assertThat(prps.walk(dma, BASE, BASE + 0x2104, 4 * 4096)).as("a list pointer not qword aligned")
                .isEqualTo(SC_PRP_OFFSET_INVALID);
        segmentOfPrps(0x2100, BASE + 0x10000, BASE + 0x11200, BASE + 0x12000);
        assertThat(prps.walk(dma, BASE, BASE + 0x2100, 4 * 4096)).isEqualTo(SC_PRP_OFFSET_INVALID);
        assertThat(prps.walk(dma, BASE, 0x4000_0000L, 4 * 4096)).as("a list out of memory").isEqualTo(SC_DATA_TRANSFER_ERROR);
        // A list whose last slot chains to a next list that is not page aligned.
        segmentOfPrps(0x3ff0, BASE + 0x10000, BASE + 0x5008);
        assertThat(prps.walk(dma, BASE, BASE + 0x3ff0, 4 * 4096)).isEqualTo(SC_PRP_OFFSET_INVALID);
        // ... or that chains to a page outside memory.
        segmentOfPrps(0x3ff0, BASE + 0x10000, 0x4000_0000L);
        assertThat(prps.walk(dma, BASE, BASE + 0x3ff0, 4 * 4096)).isEqualTo(SC_DATA_TRANSFER_ERROR);
    }

    private void segmentOfPrps(long at, long... entries) {
        for (int i = 0; i < entries.length; i++) {
            dma.memory.set(ValueLayout.JAVA_LONG_UNALIGNED, at + 8L * i, entries[i]);
        }
    }

    /** Random pointers, lists and descriptors: a defined status every time, and a successful walk copies exactly the transfer. */
    @Test
    void randomPointersAndDescriptorsGetADefinedStatus() {
        Random random = new Random(0x5a1);
        byte[] noise = new byte[MEMORY];
        int successes = 0;
        for (int round = 0; round < 20_000; round++) {
            if (round % 500 == 0) {
                random.nextBytes(noise);
                MemorySegment.copy(MemorySegment.ofArray(noise), 0, dma.memory, 0, MEMORY);
                sprinkleDescriptors(random);
            }
            int length = 1 + random.nextInt(random.nextBoolean() ? 4096 : MAX_BYTES);
            boolean read = random.nextBoolean();
            int status;
            if (random.nextBoolean()) {
                sgl1(address(random), random.nextInt(4) == 0 ? random.nextInt() : random.nextInt(length + 1) & ~0xf,
                        random.nextInt(5) == 0 ? random.nextInt(16) : SGL_SEGMENT + random.nextInt(2));
                status = walk(length, read);
                assertThat(SGL_STATUSES).as("SGL walk, round %d", round).contains(status);
            } else {
                status = prps.walk(dma, address(random), address(random), length);
                assertThat(PRP_STATUSES).as("PRP walk, round %d", round).contains(status);
            }
            if (status == SC_SUCCESS) {
                successes++;
                assertThat(ranges.copy(dma, 0, MemorySegment.ofArray(new byte[length]), read))
                        .isIn(SC_SUCCESS, SC_DATA_TRANSFER_ERROR);
            }
        }
        assertThat(successes).as("some random pointers were valid").isPositive();
    }

    /** Host addresses, mostly inside memory (often page or qword aligned), sometimes anywhere. */
    private static long address(Random random) {
        return switch (random.nextInt(4)) {
            case 0 -> BASE + (random.nextInt(MEMORY) & ~0xfff);
            case 1 -> BASE + (random.nextInt(MEMORY) & ~0xf);
            case 2 -> BASE + random.nextInt(MEMORY);
            default -> random.nextLong();
        };
    }

    /** Plausible descriptors and PRP entries here and there in the noise, so walks get deep. */
    private void sprinkleDescriptors(Random random) {
        for (int i = 0; i < 4096; i++) {
            long at = random.nextInt(MEMORY / 16) * 16L;
            int type = random.nextInt(8) == 0 ? random.nextInt(16) : random.nextInt(4);
            int length = type >= SGL_SEGMENT ? 16 * (1 + random.nextInt(64)) : random.nextInt(8192);
            long address = address(random) & (type >= SGL_SEGMENT ? ~0xfL : -1L);
            UserspaceNvmeDriver.sglDescriptor(dma.memory, at, address, length, type);
            long page = BASE + (random.nextInt(MEMORY) & ~0xfff);
            dma.memory.set(ValueLayout.JAVA_LONG_UNALIGNED, random.nextInt(MEMORY / 8) * 8L, page);
        }
    }

    /**
     * A worker's walks and copies allocate nothing: lists and segments are read into preallocated
     * buffers, and the data moves range by range without slices (DmaView's offset and length calls;
     * the server's DmaSpace does those allocation-free too: DmaSpaceAllocationTest).
     */
    @Test
    void walkingAllocatesNothing() {
        long[] blocks = new long[32 * 3];
        for (int i = 0; i < 32; i++) {
            blocks[3 * i] = BASE + 0x20000 + 8192L * i + i;
            blocks[3 * i + 1] = 4096;
        }
        segment(0x1000, blocks);
        for (int i = 1; i < 16; i++) {
            segmentOfPrps(0x2000 + 8L * (i - 1), BASE + 0x80000 + 4096L * 2 * i);
        }
        long sink = 0;
        for (int i = 0; i < 20_000; i++) {
            sink += step(i);
        }
        long before = Allocations.currentThread();
        for (int i = 0; i < 100_000; i++) {
            sink += step(i);
        }
        long allocated = Allocations.currentThread() - before;
        assertThat(sink).as("every walk succeeded").isEqualTo(120_000);
        assertThat(allocated).as("bytes allocated over 100k walks").isLessThan(4096);
    }

    /** A 128 KiB SGL read (Linux's shape: a Last Segment of 32 blocks) or a 64 KiB PRP-list write; 1 when it succeeds. */
    private int step(int i) {
        int status;
        if ((i & 1) == 0) {
            sgl1(BASE + 0x1000, 32 * 16, SGL_LAST_SEGMENT);
            status = walk(32 * 4096, true);
        } else {
            status = prps.walk(dma, BASE + 0x8000, BASE + 0x2000, 16 * 4096);
        }
        if (status == SC_SUCCESS) {
            int length = (i & 1) == 0 ? 32 * 4096 : 16 * 4096;
            status = ranges.copy(dma, 0, bounce, length, (i & 1) == 0);
        }
        return status == SC_SUCCESS ? 1 : 1 << 20;
    }
}
