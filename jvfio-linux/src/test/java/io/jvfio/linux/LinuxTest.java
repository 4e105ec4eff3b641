package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/** LinuxException messages and process-level calls. */
class LinuxTest extends FdLeakCheck {
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
}
