package io.jvfio.linux;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Future;

/**
 * Runs a blocking call on another thread and lets the test wait until that thread really sits in
 * the kernel, by reading /proc/.../task/TID/syscall. This makes "X wakes a blocked thread" tests
 * exercise the blocked case every time instead of by luck, without sleeping for a guessed time.
 */
final class BlockedThread<T> {
    // x86-64 system call numbers.
    static final int READ = 0;
    static final int POLL = 7;
    static final int SENDMSG = 46;
    static final int RECVMSG = 47;
    static final int EPOLL_WAIT = 232;
    static final int PPOLL = 271;
    static final int EPOLL_PWAIT = 281;
    static final int ACCEPT4 = 288;
    static final int EPOLL_PWAIT2 = 441;

    interface Call<T> {
        T call() throws Exception;
    }

    private final CompletableFuture<Path> task = new CompletableFuture<>();
    final Future<T> result;

    private BlockedThread(ExecutorService threads, Call<T> call) {
        result = threads.submit(() -> {
            task.complete(Path.of("/proc/thread-self").toRealPath());
            return call.call();
        });
    }

    static <T> BlockedThread<T> start(ExecutorService threads, Call<T> call) {
        return new BlockedThread<>(threads, call);
    }

    /** Returns once the thread is asleep in one of {@code syscalls}; fails after a generous guard time. */
    BlockedThread<T> awaitBlockedIn(int... syscalls) throws Exception {
        Path taskDirectory = task.get();
        long giveUp = System.nanoTime() + 60_000_000_000L;
        while (System.nanoTime() < giveUp) {
            if (sleepingIn(taskDirectory, syscalls)) return this;
            if (result.isDone()) throw new AssertionError("the call returned without blocking: " + result.get());
            Thread.sleep(1);
        }
        throw new AssertionError("the thread never blocked in " + java.util.Arrays.toString(syscalls));
    }

    private static boolean sleepingIn(Path taskDirectory, int[] syscalls) throws IOException {
        String stat = Files.readString(taskDirectory.resolve("stat"));
        char state = stat.charAt(stat.lastIndexOf(')') + 2);
        String[] syscall = Files.readString(taskDirectory.resolve("syscall")).trim().split(" ");
        if (state != 'S' || syscall.length == 0 || !syscall[0].matches("\\d+")) return false;
        int number = Integer.parseInt(syscall[0]);
        for (int candidate : syscalls) {
            if (candidate == number) return true;
        }
        return false;
    }
}
