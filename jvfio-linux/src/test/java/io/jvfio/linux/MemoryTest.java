package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** Memfd, Mapping, Fd and the plain file calls of {@link Linux}. */
class MemoryTest extends FdLeakCheck {
    @Test
    void twoMappingsOfOneMemfdShareTheirBytes() throws Exception {
        try (Fd memfd = Memfd.create("shared", 2 * Linux.PAGE_SIZE);
                Mapping writer = Mapping.map(memfd, 0, 2 * Linux.PAGE_SIZE, true);
                Mapping reader = Mapping.map(memfd, 0, 2 * Linux.PAGE_SIZE, false)) {
            writer.segment().set(JAVA_INT, Linux.PAGE_SIZE + 8, 0xCAFEBABE);
            assertThat(reader.segment().get(JAVA_INT, Linux.PAGE_SIZE + 8)).isEqualTo(0xCAFEBABE);
            assertThat(reader.length()).isEqualTo(2 * Linux.PAGE_SIZE);
        }
    }

    @Test
    void anUnalignedOffsetStartsTheSegmentExactlyThere() throws Exception {
        long offset = Linux.PAGE_SIZE + 5;
        try (Fd memfd = Memfd.create("unaligned", 3 * Linux.PAGE_SIZE)) {
            Linux.pwrite(memfd, MemorySegment.ofArray(new byte[] {1, 2, 3}), offset);
            try (Mapping mapping = Mapping.map(memfd, offset, 100, true)) {
                assertThat(mapping.length()).isEqualTo(100);
                assertThat(mapping.segment().asSlice(0, 3).toArray(JAVA_BYTE)).containsExactly(1, 2, 3);
                mapping.segment().set(JAVA_BYTE, 99, (byte) 77);
            }
            MemorySegment back = MemorySegment.ofArray(new byte[1]);
            Linux.pread(memfd, back, offset + 99);
            assertThat(back.get(JAVA_BYTE, 0)).isEqualTo((byte) 77);
        }
    }

    @Test
    void accessAfterCloseIsAnExceptionNotACrash() throws Exception {
        Mapping mapping;
        try (Fd memfd = Memfd.create("gone", Linux.PAGE_SIZE)) {
            mapping = Mapping.map(memfd, 0, Linux.PAGE_SIZE, true);
        }
        mapping.segment().set(JAVA_BYTE, 0, (byte) 1); // the mapping outlives the fd
        mapping.close();
        mapping.close();
        assertThatThrownBy(() -> mapping.segment().get(JAVA_BYTE, 0)).isInstanceOf(IllegalStateException.class);
    }

    @Test
    void aReadOnlyMappingRefusesWrites() throws Exception {
        try (Fd memfd = Memfd.create("read-only", Linux.PAGE_SIZE);
                Mapping mapping = Mapping.map(memfd, 0, Linux.PAGE_SIZE, false)) {
            assertThat(mapping.segment().isReadOnly()).isTrue();
            assertThatThrownBy(() -> mapping.segment().set(JAVA_BYTE, 0, (byte) 1))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void mappingAClosedFdIsEbadf() throws Exception {
        Fd closed = Memfd.create("closed", Linux.PAGE_SIZE);
        closed.close();
        assertThatThrownBy(() -> Mapping.map(closed, 0, 10, false))
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBADF));
    }

    @Test
    void mmapErrorsCarryTheKernelErrno() throws Exception {
        // An eventfd has no mmap at all, so the kernel answers ENODEV.
        try (EventFd event = EventFd.create()) {
            assertThatThrownBy(() -> Mapping.map(event.fd(), 0, 10, true))
                    .isInstanceOfSatisfying(LinuxException.class, e -> {
                        assertThat(e.errno()).isEqualTo(Errno.ENODEV);
                        assertThat(e.call()).isEqualTo("mmap");
                    });
        }
    }

    @Test
    void memfdHasItsSizeAndCanGrow() throws Exception {
        try (Fd memfd = Memfd.create("sized", 12345)) {
            assertThat(Linux.fileSize(memfd)).isEqualTo(12345);
            assertThat(Linux.isRegularFileOrMemfd(memfd)).isTrue();
            assertThat(Linux.isSocket(memfd)).isFalse();
            Linux.ftruncate(memfd, 1 << 20);
            assertThat(Linux.fileSize(memfd)).isEqualTo(1 << 20);
            assertThat(Linux.fcntlGetFlags(memfd) & 3).as("O_RDWR").isEqualTo(2);
            assertThat(openFlags(memfd) & O_CLOEXEC).isNotZero();
        }
    }

    @Test
    void preadStopsAtTheEndOfTheFile() throws Exception {
        try (Fd memfd = Memfd.create("short", 10)) {
            Linux.pwrite(memfd, MemorySegment.ofArray(new byte[] {9, 8, 7}), 7);
            byte[] buffer = new byte[8];
            assertThat(Linux.pread(memfd, MemorySegment.ofArray(buffer), 5)).isEqualTo(5);
            assertThat(buffer).startsWith(0, 0, 9, 8, 7);
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment nativeBuffer = arena.allocate(8);
                assertThat(Linux.pread(memfd, nativeBuffer, 6)).as("native memory, read in place").isEqualTo(4);
                assertThat(nativeBuffer.toArray(JAVA_BYTE)).startsWith(0, 9, 8, 7);
            }
        }
    }

    @Test
    void largeHeapTransfersThroughPreadAndPwriteAreExact() throws Exception {
        byte[] data = new byte[(3 << 20) + 17];
        new java.util.Random(1).nextBytes(data);
        try (Fd memfd = Memfd.create("big", 0)) {
            assertThat(Linux.pwrite(memfd, MemorySegment.ofArray(data), 100)).isEqualTo(data.length);
            byte[] back = new byte[data.length];
            assertThat(Linux.pread(memfd, MemorySegment.ofArray(back), 100)).isEqualTo(data.length);
            assertThat(back).isEqualTo(data);
        }
    }

    @Test
    void fdClosesOnceAndSaysSo() throws Exception {
        Fd memfd = Memfd.create("once", 0);
        int number = memfd.value();
        assertThat(memfd).hasToString("Fd[" + number + "]");
        Fd duplicate = memfd.duplicate();
        assertThat(duplicate.value()).isNotEqualTo(number);
        assertThat(openFlags(duplicate) & O_CLOEXEC).isNotZero();
        memfd.close();
        memfd.close();
        assertThat(memfd.isOpen()).isFalse();
        assertThat(memfd).hasToString("Fd[closed]");
        assertThatThrownBy(memfd::value).isInstanceOf(IllegalStateException.class).hasMessage("fd closed");
        assertThat(Linux.fileSize(duplicate)).isZero(); // the duplicate is untouched
        duplicate.close();
        assertThatThrownBy(() -> Fd.adopt(-1)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void closingAnFdClosesTheDescriptor() throws Exception {
        int before = Fd.openFdCountOfProcess();
        Fd memfd = Memfd.create("counted", 0);
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(before + 1);
        memfd.close();
        assertThat(Fd.openFdCountOfProcess()).isEqualTo(before);
    }
}
