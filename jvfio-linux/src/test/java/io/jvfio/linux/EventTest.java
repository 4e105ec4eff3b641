package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.time.Duration;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** EventFd and Epoll. */
class EventTest extends FdLeakCheck {
    private final ExecutorService threads = Executors.newCachedThreadPool();

    @AfterEach
    void stopThreads() throws InterruptedException {
        threads.shutdownNow();
        assertThat(threads.awaitTermination(30, TimeUnit.SECONDS)).as("helper threads ended").isTrue();
    }

    @Test
    void aSignalWakesAThreadBlockedInRead() throws Exception {
        try (EventFd event = EventFd.create()) {
            BlockedThread<Long> reader = BlockedThread.start(threads, event::read).awaitBlockedIn(BlockedThread.READ);
            event.signal();
            assertThat(reader.result.get()).isEqualTo(1L);
        }
    }

    @Test
    void aSignalWakesAThreadBlockedInAwaitWithoutConsumingIt() throws Exception {
        try (EventFd event = EventFd.create()) {
            BlockedThread<Boolean> waiter = BlockedThread.start(threads, () -> event.await(Duration.ofMinutes(5)))
                    .awaitBlockedIn(BlockedThread.POLL, BlockedThread.PPOLL);
            event.signal();
            assertThat(waiter.result.get()).isTrue();
            assertThat(event.read()).isEqualTo(1L);
        }
    }

    @Test
    void theCounterAddsUpAndReadResetsIt() throws Exception {
        try (EventFd event = EventFd.create()) {
            assertThat(event.await(Duration.ZERO)).isFalse();
            event.add(5);
            event.add(3);
            assertThat(event.await(Duration.ofMillis(1))).isTrue();
            assertThat(event.read()).isEqualTo(8L);
            assertThat(event.await(Duration.ZERO)).isFalse();
            assertThat(openFlags(event.fd()) & O_CLOEXEC).isNotZero();
        }
    }

    @Test
    void anAdoptedEventFdSharesTheCounter() throws Exception {
        try (EventFd event = EventFd.create(); EventFd other = EventFd.adopt(event.fd().duplicate())) {
            other.signal();
            assertThat(event.read()).isEqualTo(1L);
        }
    }

    @Test
    void aClosedEventFdFailsWithEbadf() throws Exception {
        EventFd event = EventFd.create();
        event.close();
        assertThatThrownBy(event::signal)
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EBADF));
    }

    @Test
    void epollReportsTheTokenOfTheSignalledFd() throws Exception {
        try (Epoll epoll = Epoll.create(); EventFd first = EventFd.create(); EventFd second = EventFd.create()) {
            epoll.add(first.fd(), Epoll.IN, 11);
            epoll.add(second.fd(), Epoll.IN, 22);
            long[] tokens = new long[4];
            int[] events = new int[4];

            assertThat(epoll.await(tokens, events, 0)).isZero();

            second.signal();
            assertThat(epoll.await(tokens, events, -1)).isEqualTo(1);
            assertThat(tokens[0]).isEqualTo(22);
            assertThat(events[0] & Epoll.IN).isNotZero();
            second.read();

            first.signal();
            assertThat(epoll.await(tokens, events, -1)).isEqualTo(1);
            assertThat(tokens[0]).isEqualTo(11);
            first.read();
        }
    }

    @Test
    void epollWakesAWaitingThread() throws Exception {
        try (Epoll epoll = Epoll.create(); EventFd event = EventFd.create()) {
            epoll.add(event.fd(), Epoll.IN, Long.MIN_VALUE);
            long[] tokens = new long[1];
            int[] events = new int[1];
            BlockedThread<Integer> waiter = BlockedThread.start(threads, () -> epoll.await(tokens, events, -1))
                    .awaitBlockedIn(BlockedThread.EPOLL_WAIT, BlockedThread.EPOLL_PWAIT, BlockedThread.EPOLL_PWAIT2);
            event.signal();
            assertThat(waiter.result.get()).isEqualTo(1);
            assertThat(tokens[0]).isEqualTo(Long.MIN_VALUE);
        }
    }

    @Test
    void modifyAndRemoveChangeWhatIsReported() throws Exception {
        try (Epoll epoll = Epoll.create(); EventFd event = EventFd.create()) {
            long[] tokens = new long[2];
            int[] events = new int[2];
            epoll.add(event.fd(), Epoll.IN, 1);
            event.signal();
            epoll.modify(event.fd(), Epoll.IN, 2);
            assertThat(epoll.await(tokens, events, 0)).isEqualTo(1);
            assertThat(tokens[0]).isEqualTo(2);

            epoll.remove(event.fd());
            assertThat(epoll.await(tokens, events, 0)).isZero();
            assertThatThrownBy(() -> epoll.remove(event.fd()))
                    .isInstanceOfSatisfying(LinuxException.class, e -> {
                        assertThat(e.errno()).isEqualTo(Errno.ENOENT);
                        assertThat(e.call()).isEqualTo("epoll_ctl");
                    });
        }
    }

    @Test
    void epollSeesAPeerHangUp() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        try (Epoll epoll = Epoll.create()) {
            epoll.add(pair[0].fd(), Epoll.IN | Epoll.RDHUP, 7);
            pair[1].close();
            long[] tokens = new long[1];
            int[] events = new int[1];
            assertThat(epoll.await(tokens, events, -1)).isEqualTo(1);
            assertThat(events[0] & Epoll.RDHUP).isNotZero();
        } finally {
            pair[0].close();
            pair[1].close();
        }
    }
}
