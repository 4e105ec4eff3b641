package io.jvfio.protocol;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.testing.Allocations;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** Header + REGION_READ decode and reply encode allocate nothing per operation. */
class HotPathAllocationTest {

    @Test
    void regionReadRoundDoesNotAllocate() throws Exception {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment req = arena.allocate(32);
            Header.writeCommand(req, 1, Command.REGION_READ.code(), 32, false);
            RegionAccess.write(req.asSlice(16), 0x40, 7, 4);
            MemorySegment reqPayload = req.asSlice(16, 16);
            MemorySegment reply = arena.allocate(16 + 16 + 4096);
            MemorySegment replyPayload = reply.asSlice(16);
            long sink = 0;
            for (int i = 0; i < 20_000; i++) {
                sink += step(req, reqPayload, reply, replyPayload);
            }
            long before = Allocations.currentThread();
            for (int i = 0; i < 100_000; i++) {
                sink += step(req, reqPayload, reply, replyPayload);
            }
            long allocated = Allocations.currentThread() - before;
            assertThat(sink).isNotZero();
            // Zero per op; allow a little slack for the measurement itself.
            assertThat(allocated).as("bytes allocated over 100k ops").isLessThan(4096);
        }
    }

    private static long step(MemorySegment req, MemorySegment reqPayload, MemorySegment reply, MemorySegment replyPayload)
            throws ProtocolException {
        Header.validate(req, 1 << 20);
        int cmd = Header.command(req);
        Command c = Command.fromCode(cmd);
        RegionAccess.validate(reqPayload, 1 << 20, false);
        long off = RegionAccess.offset(reqPayload);
        int region = RegionAccess.region(reqPayload);
        long count = RegionAccess.count(reqPayload);
        Header.writeReply(reply, Header.msgId(req), c.code(), 32 + count);
        RegionAccess.write(replyPayload, off, region, count);
        return off + region + count;
    }
}
