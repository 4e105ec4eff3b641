package io.jvfio.server.internal;

import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One daemon thread for the whole JVM that looks at every session's {@link CallbackClock} a few
 * times per bound (a quarter of the shortest bound, between 1 ms and 1 s) and lets each report or
 * answer a command stuck in its device. Sessions add their clock when they start and remove it
 * when they end; nothing happens per message. The thread sleeps while no clock is watched.
 */
final class CallbackWatchdog {
    private static final long MIN_PERIOD_NANOS = 1_000_000, MAX_PERIOD_NANOS = 1_000_000_000;
    private static final Set<CallbackClock> CLOCKS = ConcurrentHashMap.newKeySet();
    private static final Object CHANGED = new Object();
    private static Thread thread;   // guarded by CHANGED

    private CallbackWatchdog() {}

    static void watch(CallbackClock clock) {
        CLOCKS.add(clock);
        synchronized (CHANGED) {
            if (thread == null) {
                thread = Thread.ofPlatform().daemon().name("jvfio-callback-watchdog").start(CallbackWatchdog::run);
            }
            CHANGED.notifyAll();
        }
    }

    static void unwatch(CallbackClock clock) {
        CLOCKS.remove(clock);
    }

    private static void run() {
        while (true) {
            long period = MAX_PERIOD_NANOS;
            long now = System.nanoTime();
            for (CallbackClock clock : CLOCKS) {
                period = Math.min(period, clock.boundNanos() / 4);
                try {
                    clock.check(now);
                } catch (RuntimeException e) {
                    // One session's trouble (a failed log backend, a dead thread's stack) must not end the watch over the others.
                    System.getLogger(CallbackWatchdog.class.getName()).log(System.Logger.Level.ERROR, "watchdog check failed", e);
                }
            }
            period = Math.max(MIN_PERIOD_NANOS, period);
            synchronized (CHANGED) {
                try {
                    if (CLOCKS.isEmpty()) {
                        CHANGED.wait();
                    } else {
                        CHANGED.wait(period / 1_000_000);
                    }
                } catch (InterruptedException e) {
                    thread = null; // the next watch() starts another
                    return;
                }
            }
        }
    }
}
