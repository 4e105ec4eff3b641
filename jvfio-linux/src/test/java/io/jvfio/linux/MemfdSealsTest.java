package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

class MemfdSealsTest extends FdLeakCheck {
    @Test
    void aNewMemfdHasNoSealsAndAddedOnesAreReported() throws Exception {
        try (Fd fd = Memfd.create("seals", 0x2000)) {
            assertThat(Linux.seals(fd)).isZero();
            Linux.addSeals(fd, Linux.F_SEAL_SHRINK | Linux.F_SEAL_GROW);
            assertThat(Linux.seals(fd)).isEqualTo(Linux.F_SEAL_SHRINK | Linux.F_SEAL_GROW);
            assertThatThrownBy(() -> Linux.ftruncate(fd, 0x1000)).isInstanceOfSatisfying(LinuxException.class,
                    e -> assertThat(e.errno()).isEqualTo(Errno.EPERM));
        }
    }

    @Test
    void aFileThatCannotBeSealedFailsWithEinval() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try {
            assertThatThrownBy(() -> Linux.seals(pair[0].fd())).isInstanceOfSatisfying(LinuxException.class,
                    e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }

    @Test
    void aHalfClosedSocketStillReceives() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try {
            Linux.shutdownOutput(pair[0].fd());
            assertThat(pair[1].receiveFully(MemorySegment.ofArray(new byte[1]), new java.util.ArrayList<>())).isFalse();
            pair[1].send(MemorySegment.ofArray(new byte[] {42}));
            byte[] got = new byte[1];
            assertThat(pair[0].receiveFully(MemorySegment.ofArray(got), new java.util.ArrayList<>())).isTrue();
            assertThat(got[0]).isEqualTo((byte) 42);
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }
}
