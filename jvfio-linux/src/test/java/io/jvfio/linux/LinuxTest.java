package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** LinuxException messages, process-level calls and file calls (open, fallocate, st_blocks). */
class LinuxTest extends FdLeakCheck {
    /** A field, not a parameter: made before the fd count is taken (its random name opens /dev/urandom). */
    @TempDir
    Path dir;

    @Test
    void exceptionMessagesNameCallDetailAndErrno() {
        LinuxException plain = new LinuxException("connect", Errno.ENOENT);
        assertThat(plain).hasMessage("connect: ENOENT (No such file or directory)");
        assertThat(plain.call()).isEqualTo("connect");
        assertThat(plain.errno()).isEqualTo(2);
        assertThat(plain.errnoName()).isEqualTo("ENOENT");

        LinuxException detailed = new LinuxException("connect", "/tmp/a.sock", Errno.ENOENT);
        assertThat(detailed).hasMessage("connect /tmp/a.sock: ENOENT (No such file or directory)");
        assertThat(detailed).isInstanceOf(java.io.IOException.class);
    }

    @Test
    void getpidIsThisProcess() {
        assertThat((long) Linux.getpid()).isEqualTo(ProcessHandle.current().pid());
    }

    @Test
    void pageSizeIsAPowerOfTwo() {
        assertThat(Linux.PAGE_SIZE).isGreaterThanOrEqualTo(4096);
        assertThat(Long.bitCount(Linux.PAGE_SIZE)).isEqualTo(1);
    }

    @Test
    void pollReportsReadinessAndTimesOut() throws Exception {
        try (EventFd event = EventFd.create()) {
            assertThat(Linux.poll(event.fd(), 1, 0)).isZero();
            event.signal();
            assertThat(Linux.poll(event.fd(), 1, -1) & 1).isEqualTo(1);
        }
    }

    @Test
    void punchHoleFreesTheBlocksWhichThenReadZeros() throws Exception {
        Path file = dir.resolve("image");
        byte[] data = new byte[1 << 20];
        Arrays.fill(data, (byte) 0x5a);
        Files.write(file, data);
        try (Fd fd = Linux.open(file, true); Arena arena = Arena.ofConfined()) {
            long before = Linux.allocatedBytes(fd);
            assertThat(before).isGreaterThanOrEqualTo(data.length);

            Linux.punchHole(fd, 256 << 10, 512 << 10);

            assertThat(Linux.allocatedBytes(fd)).isLessThanOrEqualTo(before - (512 << 10));
            assertThat(Linux.fileSize(fd)).isEqualTo(data.length);
            MemorySegment read = arena.allocate(data.length);
            assertThat(Linux.pread(fd, read, 0)).isEqualTo(data.length);
            for (long i = 0; i < data.length; i += 4096) {
                boolean punched = i >= 256 << 10 && i < 768 << 10;
                assertThat(read.get(ValueLayout.JAVA_BYTE, i)).as("byte %d", i).isEqualTo(punched ? (byte) 0 : (byte) 0x5a);
            }
        }
    }

    @Test
    void openNamesTheMissingFile() {
        Path missing = dir.resolve("missing");
        assertThatThrownBy(() -> Linux.open(missing, false))
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOENT))
                .hasMessageContaining(missing.toString());
    }
}
