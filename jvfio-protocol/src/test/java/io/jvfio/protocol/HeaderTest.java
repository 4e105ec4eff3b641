package io.jvfio.protocol;

import static io.jvfio.protocol.TestSupport.hex;
import static io.jvfio.protocol.TestSupport.rejects;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class HeaderTest {
    private static final long MAX = 1048576 + 32;

    @Test
    void goldenCommandHeader() throws Exception {
        MemorySegment h = hex("34 12 | 09 00 | 20 00 00 00 | 00 00 00 00 | 00 00 00 00");
        Header.validate(h, MAX);
        assertThat(Header.msgId(h)).isEqualTo(0x1234);
        assertThat(Header.command(h)).isEqualTo(9);
        assertThat(Header.messageSize(h)).isEqualTo(32);
        assertThat(Header.payloadSize(h)).isEqualTo(16);
        assertThat(Header.isReply(h)).isFalse();
        assertThat(Header.isNoReply(h)).isFalse();
        assertThat(HeaderRecord.decode(h, MAX)).isEqualTo(new HeaderRecord(0x1234, Command.REGION_READ, 32, 0, 0));
    }

    @Test
    void writesMatchGoldenBytes() {
        MemorySegment h = MemorySegment.ofArray(new byte[16]);
        Header.writeErrorReply(h, 0xfffe, 9, Errno.EINVAL);
        assertThat(TestSupport.hexOf(h)).isEqualTo(TestSupport.clean("feff 0900 10000000 21000000 16000000"));
        assertThat(Header.isError(h)).isTrue();
        assertThat(Header.isReply(h)).isTrue();
        assertThat(Header.error(h)).isEqualTo(Errno.EINVAL);
        Header.writeReply(h, 7, 1, 0xFFFF_FFF0L);
        assertThat(TestSupport.hexOf(h)).isEqualTo(TestSupport.clean("0700 0100 f0ffffff 01000000 00000000"));
        assertThat(Header.messageSize(h)).isEqualTo(0xFFFF_FFF0L);
        Header.writeCommand(h, 3, 10, 40, true);
        assertThat(Header.isNoReply(h)).isTrue();
        assertThat(Header.flags(h)).isEqualTo(Header.FLAG_NO_REPLY);
    }

    @Test
    void headerShorterThan16() {
        rejects(() -> Header.validate(hex("01 00 01 00 10 00 00 00 00 00 00 00 00 00 00"), MAX), Errno.EINVAL,
                "header: 15 bytes, needs 16");
    }

    @Test
    void msgSizeBelowHeader() {
        rejects(() -> Header.validate(hex("01 00 01 00 0f 00 00 00 00 00 00 00 00 00 00 00"), MAX), Errno.EINVAL,
                "msg_size 15 is smaller than the header");
    }

    @Test
    void msgSizeAboveLimit() {
        MemorySegment h = MemorySegment.ofArray(new byte[16]);
        Header.write(h, 1, 10, MAX + 1, 0, 0);
        rejects(() -> Header.validate(h, MAX), Errno.E2BIG, "msg_size 1048609 exceeds the limit of 1048608");
        Header.write(h, 1, 10, 0xFFFF_FFFFL, 0, 0);
        rejects(() -> Header.validate(h, MAX), Errno.E2BIG, "msg_size 4294967295");
    }

    @Test
    void badTypeUnknownFlagsAndErrorInCommand() {
        MemorySegment h = MemorySegment.ofArray(new byte[16]);
        Header.write(h, 1, 1, 16, 2, 0);
        rejects(() -> Header.validate(h, MAX), Errno.EINVAL, "message type 2");
        Header.write(h, 1, 1, 16, 0x40, 0);
        rejects(() -> Header.validate(h, MAX), Errno.EINVAL, "unknown flags 0x40");
        Header.write(h, 1, 1, 16, 0, 5);
        rejects(() -> Header.validate(h, MAX), Errno.EINVAL, "error field 5 in a command");
        Header.write(h, 1, 1, 16, Header.FLAG_ERROR, 0);
        rejects(() -> Header.validate(h, MAX), Errno.EINVAL, "ERROR flag set in a command");
    }

    @Test
    void errorReplyIsValid() throws Exception {
        MemorySegment h = MemorySegment.ofArray(new byte[16]);
        Header.writeErrorReply(h, 1, 2, Errno.EEXIST);
        Header.validate(h, MAX);
        HeaderRecord r = HeaderRecord.decode(h);
        assertThat(r.isError()).isTrue();
        assertThat(r.error()).isEqualTo(Errno.EEXIST);
        assertThat(r).isEqualTo(HeaderRecord.errorReply(1, Command.DMA_MAP, Errno.EEXIST));
    }

    @Test
    void unknownCommandIsEnosys() {
        for (int code : new int[] {0, 14, 20, 0xffff}) {
            MemorySegment h = MemorySegment.ofArray(new byte[16]);
            Header.write(h, 1, code, 16, 0, 0);
            rejects(() -> HeaderRecord.decode(h, MAX), Errno.ENOSYS, "unknown command " + code);
        }
    }

    @Test
    void commandTable() throws Exception {
        for (Command c : Command.values()) {
            assertThat(Command.fromCode(c.code())).isSameAs(c);
        }
        assertThat(Command.values()).hasSize(18);
        assertThat(Command.DMA_MAP.maxRequestFds()).isEqualTo(1);
        assertThat(Command.DEVICE_SET_IRQS.maxRequestFds()).isEqualTo(Integer.MAX_VALUE);
        assertThat(Command.REGION_WRITE.maxRequestFds()).isZero();
        assertThat(Command.DMA_READ.sentByServer()).isTrue();
        assertThat(Command.DMA_WRITE.sentByServer()).isTrue();
        assertThat(Command.REGION_READ.sentByServer()).isFalse();
        assertThat(Command.GET_PRECOPY_INFO.code()).isEqualTo(19);
        rejects(() -> Command.fromCode(14), Errno.ENOSYS, "unknown command 14");
        rejects(() -> Command.fromCode(-1), Errno.ENOSYS, "unknown command -1");
    }

    @Test
    void fdCounts() throws Exception {
        Command.checkFdCount(Command.DMA_MAP, 0);
        Command.checkFdCount(Command.DMA_MAP, 1);
        Command.checkFdCount(Command.DEVICE_SET_IRQS, 64);
        Command.checkFdCount(Command.VERSION, 0);
        rejects(() -> Command.checkFdCount(Command.DMA_MAP, 2), Errno.EINVAL, "DMA_MAP: 2 file descriptors attached, at most 1");
        rejects(() -> Command.checkFdCount(Command.REGION_WRITE, 1), Errno.EINVAL, "REGION_WRITE: 1 file descriptors");
        rejects(() -> Command.checkFdCount(Command.VERSION, 1), Errno.EINVAL, "at most 0 allowed");
    }
}
