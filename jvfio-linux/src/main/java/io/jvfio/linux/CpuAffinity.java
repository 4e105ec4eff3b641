package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.MemorySegment;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.BitSet;
import java.util.stream.Stream;

/**
 * sched_setaffinity(2) / sched_getaffinity(2): which CPUs a thread may run on. Used by benchmarks
 * to place a client and a server on one CPU or on two.
 */
public final class CpuAffinity {
    private CpuAffinity() {}

    /** cpu_set_t of glibc: 1024 bits. */
    private static final long SET_BYTES = 128;

    /** Restricts thread (or single-threaded process) {@code tid} to {@code cpus}; tid 0 is the calling thread. */
    public static void set(int tid, BitSet cpus) throws LinuxException {
        if (cpus.isEmpty() || cpus.length() > SET_BYTES * 8) {
            throw new IllegalArgumentException("cpu set must name 1.." + SET_BYTES * 8 + " cpus: " + cpus);
        }
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment set = scratch.bytes.asSlice(0, SET_BYTES);
        set.fill((byte) 0);
        long[] words = cpus.toLongArray();
        for (int i = 0; i < words.length; i++) {
            set.setAtIndex(JAVA_LONG, i, words[i]);
        }
        int result = Syscalls.schedAffinity(scratch.captureState, true, tid, set);
        if (result < 0) throw new LinuxException("sched_setaffinity", "tid " + tid, -result);
    }

    /** The CPUs thread {@code tid} (0: the calling thread) may run on. */
    public static BitSet get(int tid) throws LinuxException {
        Libc.Scratch scratch = Libc.scratch();
        MemorySegment set = scratch.bytes.asSlice(0, SET_BYTES);
        int result = Syscalls.schedAffinity(scratch.captureState, false, tid, set);
        if (result < 0) throw new LinuxException("sched_getaffinity", "tid " + tid, -result);
        long[] words = new long[(int) (SET_BYTES / 8)];
        for (int i = 0; i < words.length; i++) {
            words[i] = set.getAtIndex(JAVA_LONG, i);
        }
        return BitSet.valueOf(words);
    }

    /** Pins the calling thread to {@code cpu}. */
    public static void pinCurrentThread(int cpu) throws LinuxException {
        set(0, single(cpu));
    }

    /**
     * Pins every thread of this process (those running now, read from /proc/self/task, and, through
     * the calling thread's mask, the ones it creates later) to {@code cpus}. Threads that end while
     * this runs are skipped.
     */
    public static void pinProcess(BitSet cpus) throws LinuxException {
        set(0, cpus);
        try {
            pinTasks(Path.of("/proc/self/task"), cpus);
        } catch (IOException e) {
            throw LinuxException.explained("sched_setaffinity", "cannot list /proc/self/task: " + e.getMessage(), Errno.EIO);
        }
    }

    /** Pins another process (all its threads if it is single-threaded, else its main thread) to {@code cpus}. */
    public static void pinPid(long pid, BitSet cpus) throws LinuxException {
        try {
            pinTasks(Path.of("/proc", Long.toString(pid), "task"), cpus);
        } catch (IOException e) {
            set((int) pid, cpus);
        }
    }

    /** Pins each thread of a /proc/.../task directory; threads that end meanwhile are skipped. */
    private static void pinTasks(Path tasks, BitSet cpus) throws IOException {
        try (Stream<Path> list = Files.list(tasks)) {
            for (Path task : (Iterable<Path>) list::iterator) {
                try {
                    set(Integer.parseInt(task.getFileName().toString()), cpus);
                } catch (LinuxException e) {
                    if (e.errno() != Errno.ESRCH) throw e;
                }
            }
        }
    }

    public static BitSet single(int cpu) {
        BitSet s = new BitSet();
        s.set(cpu);
        return s;
    }

    /** CPUs this process may use right now. */
    public static int availableCount() {
        try {
            return get(0).cardinality();
        } catch (LinuxException e) {
            return Runtime.getRuntime().availableProcessors();
        }
    }
}
