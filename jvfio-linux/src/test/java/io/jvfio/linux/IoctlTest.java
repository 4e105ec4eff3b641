package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import org.junit.jupiter.api.Test;

/** The request encoding against numbers from the kernel's headers, and the call's two argument forms. */
class IoctlTest extends FdLeakCheck {
    /** FIONREAD, FIOCLEX and FIONCLEX of asm-generic/ioctls.h (plain numbers, not _IOC-encoded). */
    private static final long FIONREAD = 0x541B, FIOCLEX = 0x5451;

    @Test
    void requestsEncodeAsTheKernelsMacros() {
        // Values as gcc prints them from linux/vfio.h and linux/fs.h.
        assertThat(Ioctl.io(';', 100)).isEqualTo(0x3B64);           // VFIO_GET_API_VERSION
        assertThat(Ioctl.io(';', 100 + 17)).isEqualTo(0x3B75);      // VFIO_DEVICE_FEATURE
        assertThat(Ioctl.ior('f', 1, 8)).isEqualTo(0x8008_6601L);   // FS_IOC_GETFLAGS
        assertThat(Ioctl.iow('f', 2, 8)).isEqualTo(0x4008_6602L);   // FS_IOC_SETFLAGS
        assertThat(Ioctl.ior(0x12, 114, 8)).isEqualTo(0x8008_1272L); // BLKGETSIZE64
        assertThat(Ioctl.iowr('d', 0x20, 16)).isEqualTo(0xC010_6420L);
        assertThatThrownBy(() -> Ioctl.io(';', 256)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> Ioctl.ior(';', 1, 1 << 14)).isInstanceOf(IllegalArgumentException.class);
    }

    @Test
    void aPointerArgumentIsFilledByTheKernel() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]; Arena arena = Arena.ofConfined()) {
            a.send(MemorySegment.ofArray(new byte[5]), java.util.List.of());
            MemorySegment count = arena.allocate(ValueLayout.JAVA_INT);
            assertThat(Ioctl.call(b.fd(), FIONREAD, count, "FIONREAD")).isZero();
            assertThat(count.get(ValueLayout.JAVA_INT, 0)).isEqualTo(5);
        }
    }

    @Test
    void aValueArgumentAndAFailureThatNamesTheRequest() throws Exception {
        try (Fd memfd = Memfd.create("ioctl", 4096)) {
            assertThat(Ioctl.call(memfd, FIOCLEX, 0, "FIOCLEX")).isZero();
            assertThatThrownBy(() -> Ioctl.call(memfd, Ioctl.io(';', 100), 0, "VFIO_GET_API_VERSION"))
                    .isInstanceOfSatisfying(LinuxException.class, e -> {
                        assertThat(e.errno()).isEqualTo(Errno.ENOTTY);
                        assertThat(e).hasMessage("ioctl VFIO_GET_API_VERSION: ENOTTY (Inappropriate ioctl for device)");
                    });
            assertThatThrownBy(() -> Ioctl.call(memfd, FIONREAD, MemorySegment.ofArray(new int[1]), "FIONREAD"))
                    .isInstanceOf(IllegalArgumentException.class);
        }
    }

    @Test
    void aClosedFdIsRefusedBeforeTheCall() throws Exception {
        Fd memfd = Memfd.create("ioctl", 4096);
        memfd.close();
        assertThatThrownBy(() -> Ioctl.call(memfd, FIOCLEX, 0, "FIOCLEX"))
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBADF));
    }
}
