package io.jvfio.server.internal;

import io.jvfio.linux.Errno;
import io.jvfio.linux.LinuxException;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.server.Deadlines;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.util.List;
import java.util.concurrent.Semaphore;

/**
 * When the command a session handles began, for the {@link CallbackWatchdog}: the session thread
 * stamps each command's start and end (a release store and a compare-and-set: nothing allocated);
 * the watchdog thread reads the stamps and, for a command past the bound, logs the stack of the
 * thread running its device callback and, with {@link Deadlines.OnStuckCallback#ERROR}, answers
 * the client ETIMEDOUT itself. Exactly one of the two answers a command: whichever moves its stamp
 * first.
 */
final class CallbackClock {
    private static final System.Logger LOG = System.getLogger(CallbackClock.class.getName());
    private static final VarHandle STAMP, STARTED_AT;
    /** Low two bits of the stamp (0: no command under way); the rest counts commands, so a stamp names one command. */
    private static final int RUNNING = 1, REPORTED = 2, ANSWERED = 3, STATE = 3;

    static {
        try {
            MethodHandles.Lookup lookup = MethodHandles.lookup();
            STAMP = lookup.findVarHandle(CallbackClock.class, "stamp", int.class);
            STARTED_AT = lookup.findVarHandle(CallbackClock.class, "startedAt", long.class);
        } catch (ReflectiveOperationException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private final String deviceName;
    private final long boundNanos;
    private final boolean answerStuck;
    private final SessionTransport transport;
    private final Thread sessionThread;
    /** The error reply the watchdog sends: its own buffer, since the session's may be in use. */
    private final MemorySegment errorReply = Arena.ofAuto().allocate(Header.SIZE, 8);
    /** A permit once the watchdog's ETIMEDOUT reply is out: the session's next reply must not overtake it. */
    private final Semaphore answerSent = new Semaphore(0);
    private volatile int stamp;
    // Written by the session thread before the release store of the stamp that publishes them.
    private long startedAt;
    private int command, msgId;
    private boolean noReply;
    /** The thread running the command's device callback: the session thread, or its helper for an off-thread call. */
    private volatile Thread runner;
    /** When the watchdog answered the command, for the log line when it returns. */
    private volatile long answeredAt;

    CallbackClock(String deviceName, Deadlines deadlines, SessionTransport transport, Thread sessionThread) {
        this.deviceName = deviceName;
        this.boundNanos = deadlines.stuckCallback().toNanos();
        this.answerStuck = deadlines.onStuck() == Deadlines.OnStuckCallback.ERROR;
        this.transport = transport;
        this.sessionThread = sessionThread;
        this.runner = sessionThread;
    }

    long boundNanos() {
        return boundNanos;
    }

    /** The session thread begins handling a command. */
    void started(int id, int code, boolean noReplyWanted) {
        STARTED_AT.setOpaque(this, System.nanoTime());
        command = code;
        msgId = id;
        noReply = noReplyWanted;
        STAMP.setRelease(this, (stamp & ~STATE) + 4 | RUNNING);
    }

    /** The command's device call moves to {@code thread} (and back to the session thread with null). */
    void runningOn(Thread thread) {
        runner = thread != null ? thread : sessionThread;
    }

    /**
     * The session thread is done with the command: true if it is to answer it, false if the
     * watchdog already did (the result is then dropped).
     */
    boolean finished() {
        int s = stamp;
        if ((s & STATE) == RUNNING && STAMP.compareAndSet(this, s, s & ~STATE)) {
            return true;
        }
        return finishedLate();
    }

    /** {@link #finished()} once the watchdog has had a look: the stamp moves under both threads. */
    private boolean finishedLate() {
        long took = System.nanoTime() - (long) STARTED_AT.getOpaque(this);
        while (true) {
            int s = stamp;
            switch (s & STATE) {
                case RUNNING -> {
                    if (STAMP.compareAndSet(this, s, s & ~STATE)) {
                        return true;
                    }
                }
                case REPORTED -> {
                    if (STAMP.compareAndSet(this, s, s & ~STATE)) {
                        LOG.log(Level.WARNING, "%s: %s (message %d) returned after %s; it is answered now"
                                .formatted(deviceName, commandName(command), msgId, LogFormat.duration(took)));
                        return true;
                    }
                }
                case ANSWERED -> {
                    answerSent.acquireUninterruptibly();
                    stamp = s & ~STATE;
                    LOG.log(Level.WARNING, ("%s: %s (message %d) returned after %s, %s after the client was answered ETIMEDOUT; "
                            + "its result is dropped").formatted(deviceName, commandName(command), msgId, LogFormat.duration(took),
                            LogFormat.duration(System.nanoTime() - answeredAt)));
                    return false;
                }
                default -> throw new IllegalStateException("no command under way");
            }
        }
    }

    /** Called by the watchdog: reports a command running past the bound, once, and answers it if so configured. */
    void check(long now) {
        int s = (int) STAMP.getAcquire(this);
        int state = s & STATE;
        if (state != RUNNING && state != REPORTED) {
            return;
        }
        long started = (long) STARTED_AT.getOpaque(this);
        if (now - started <= boundNanos) {
            return;
        }
        // Read before the compare-and-set: if it succeeds, they were this command's (the next one starts only after it).
        int code = command, id = msgId;
        boolean answerable = answerStuck && !noReply;
        if (state == RUNNING) {
            Thread thread = runner;
            StackTraceElement[] stack = thread.getStackTrace();
            if (!STAMP.compareAndSet(this, s, s & ~STATE | REPORTED)) {
                return; // it finished meanwhile: the stack may be another command's
            }
            LOG.log(Level.WARNING, "%s: the device callback for %s (message %d) has run for %s (bound %s) on thread %s%s"
                    .formatted(deviceName, commandName(code), id, LogFormat.duration(now - started),
                            LogFormat.duration(boundNanos), thread.getName(), format(stack)));
            s = s & ~STATE | REPORTED;
        }
        if (answerable) {
            answer(s, code, id);
        }
    }

    /**
     * Takes the command's answer from the session, then sends ETIMEDOUT on a thread of its own: a
     * client that reads nothing (its socket full) must not hold up the one watchdog of every session.
     */
    private void answer(int reported, int code, int id) {
        if (!STAMP.compareAndSet(this, reported, reported & ~STATE | ANSWERED)) {
            return; // it returned meanwhile and is answered the usual way
        }
        answeredAt = System.nanoTime();
        Thread.ofPlatform().daemon().name("jvfio-" + deviceName + "-timeout-answer").start(() -> {
            try {
                Header.writeErrorReply(errorReply, id, code, Errno.ETIMEDOUT);
                transport.send(errorReply, List.of());
                LOG.log(Level.WARNING, "%s: answered %s (message %d) with ETIMEDOUT while its device callback still runs"
                        .formatted(deviceName, commandName(code), id));
            } catch (LinuxException e) {
                LOG.log(Level.WARNING, "%s: could not answer %s (message %d): %s".formatted(deviceName, commandName(code),
                        id, e.getMessage()));
            } finally {
                answerSent.release();
            }
        });
    }

    /**
     * Whether the client may go on after {@code code} was answered ETIMEDOUT and then done by the
     * device anyway: yes after queries, region accesses and a reset (the guest saw an access fail or
     * a reset report failure); no where the client now believes in a state the server does not have
     * (a DMA window, an eventfd, the device open, a migration state or stream position).
     */
    static boolean harmlessWhenLate(int code) {
        Command c = Command.orNull(code);
        return c == null || switch (c) {
            case VERSION, DMA_MAP, DMA_UNMAP, DEVICE_SET_IRQS, DEVICE_FEATURE, MIG_DATA_READ, MIG_DATA_WRITE -> false;
            default -> true;
        };
    }

    private static String commandName(int code) {
        Command c = Command.orNull(code);
        return c != null ? c.toString() : "command " + code;
    }

    private static String format(StackTraceElement[] stack) {
        StringBuilder b = new StringBuilder();
        for (StackTraceElement e : stack) {
            b.append("\n\tat ").append(e);
        }
        return b.toString();
    }
}
