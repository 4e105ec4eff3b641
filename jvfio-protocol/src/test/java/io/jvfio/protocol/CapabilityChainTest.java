package io.jvfio.protocol;

import static io.jvfio.protocol.TestSupport.hex;
import static io.jvfio.protocol.TestSupport.rejects;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

class CapabilityChainTest {
    private static final String STRUCT = "60000000 0f000000 00000000 %s 0010000000000000 0000000000000000";

    @Test
    void loopIsRejected() {
        // cap at 32 -> next 40 -> next 32 (loop)
        MemorySegment s = hex(String.format(STRUCT, "20000000") + "0300 0100 28000000" + "0300 0100 20000000" + "00".repeat(48));
        rejects(() -> RegionInfo.decode(s), Errno.EINVAL, "capability chain loops back to offset 32");
    }

    @Test
    void selfLoopIsRejected() {
        MemorySegment s = hex(String.format(STRUCT, "20000000") + "0200 0100 20000000" + "00".repeat(56));
        rejects(() -> RegionInfo.decode(s), Errno.EINVAL, "loops back to offset 32");
    }

    @Test
    void nextOutOfRange() {
        MemorySegment s = hex(String.format(STRUCT, "20000000") + "0200 0100 00100000" + "00".repeat(56));
        rejects(() -> RegionInfo.decode(s), Errno.EINVAL, "capability header at offset 4096 runs past the end of the 96-byte struct");
    }

    @Test
    void capOffsetIntoFixedStruct() {
        MemorySegment s = hex(String.format(STRUCT, "08000000") + "00".repeat(64));
        rejects(() -> RegionInfo.decode(s), Errno.EINVAL, "capability offset 8 points into the fixed 32-byte struct");
    }

    @Test
    void headerRunningPastEnd() {
        MemorySegment s = hex(String.format(STRUCT, "24000000") + "0200 0100 0000");
        rejects(() -> RegionInfo.decode(s), Errno.EINVAL, "capability header at offset 36 runs past the end of the 38-byte struct");
    }

    @Test
    void overlappingCaps() {
        MemorySegment s = hex(String.format(STRUCT, "20000000") + "0300 0100 24000000 0000 0000" + "00".repeat(52));
        rejects(() -> RegionInfo.decode(s), Errno.EINVAL, "capabilities at offsets 32 and 36 overlap");
    }

    @Test
    void typedCapBodyTooShort() {
        // TYPE cap needs 8 body bytes, only 4 before the end.
        MemorySegment s = hex(String.format(STRUCT, "20000000") + "0200 0100 00000000 01000000");
        rejects(() -> RegionInfo.decode(s), Errno.EINVAL, "region TYPE capability: payload is 4 bytes, needs 8");
    }

    @Test
    void backwardsChainIsFineAndBodiesAreBounded() throws Exception {
        // cap A at 48 (TYPE, next 32), cap B at 32 (MSIX_MAPPABLE, no body, next 0)
        MemorySegment s = hex(String.format(STRUCT, "30000000") + "0300 0100 00000000 0000000000000000"
                + "0200 0100 20000000 0100000002000000");
        RegionInfo r = RegionInfo.decode(s);
        assertThat(r.caps()).containsExactly(new RegionTypeCap(1, 2), new RawCapability(3, 1, new byte[8]));
    }

    @Test
    void writerChainsAndPads() {
        List<InfoCapability> caps = List.of(new RawCapability(9, 2, new byte[] {1, 2, 3}), new RegionTypeCap(5, 6));
        assertThat(CapabilityChain.size(caps)).isEqualTo(16 + 16);
        MemorySegment s = MemorySegment.ofArray(new byte[64]);
        s.fill((byte) 0x55);
        long end = CapabilityChain.write(s, 32, caps);
        assertThat(end).isEqualTo(64);
        assertThat(TestSupport.hexOf(s.asSlice(32))).isEqualTo(TestSupport.clean(
                "0900 0200 30000000 0102030000000000 0200 0100 00000000 05000000 06000000"));
    }

    @Test
    void unknownVersionOfKnownCapIsRaw() throws Exception {
        MemorySegment s = hex(String.format(STRUCT, "20000000") + "0100 0200 00000000 0000000000000000");
        assertThat(RegionInfo.decode(s).caps()).containsExactly(new RawCapability(1, 2, new byte[8]));
    }
}
