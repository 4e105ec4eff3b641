package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What SocketInfo tells of listening, connected, unconnected and datagram sockets, and of a file. */
class SocketInfoTest extends FdLeakCheck {
    @TempDir
    Path dir;

    @Test
    void aListeningUnixSocketListensAndHasNoPeer() throws Exception {
        try (UnixServerSocket server = UnixServerSocket.bind(dir.resolve("s.sock"), 0600, 4)) {
            SocketInfo info = SocketInfo.of(server.fd());
            assertThat(info).isEqualTo(new SocketInfo(SocketInfo.AF_UNIX, SocketInfo.SOCK_STREAM, true, false));
            assertThat(info.isUnixStream()).isTrue();
            assertThat(info.kind()).isEqualTo("AF_UNIX SOCK_STREAM");
        }
    }

    @Test
    void eachEndOfAPairIsConnected() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (UnixSocket a = pair[0]; UnixSocket b = pair[1]) {
            assertThat(SocketInfo.of(a.fd())).isEqualTo(new SocketInfo(SocketInfo.AF_UNIX, SocketInfo.SOCK_STREAM, false, true));
        }
    }

    @Test
    void aFreshDatagramSocketIsNeitherListeningNorConnected() throws Exception {
        int number = Syscalls.check(Syscalls.socket(Libc.scratch().captureState, SocketInfo.AF_UNIX,
                SocketInfo.SOCK_DGRAM | Libc.SOCK_CLOEXEC, 0), "socket");
        try (Fd fd = Fd.adopt(number)) {
            SocketInfo info = SocketInfo.of(fd);
            assertThat(info).isEqualTo(new SocketInfo(SocketInfo.AF_UNIX, SocketInfo.SOCK_DGRAM, false, false));
            assertThat(info.isUnixStream()).isFalse();
            assertThat(info.kind()).isEqualTo("AF_UNIX SOCK_DGRAM");
        }
    }

    @Test
    void aFileIsNoSocket() throws Exception {
        try (Fd memfd = Memfd.create("not-a-socket", 4096)) {
            assertThatThrownBy(() -> SocketInfo.of(memfd)).isInstanceOf(LinuxException.class)
                    .hasMessageContaining("is not a socket").hasMessageContaining("ENOTSOCK");
        }
    }
}
