package io.jvfio.server;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.logging.Handler;
import java.util.logging.Level;
import java.util.logging.LogRecord;
import java.util.logging.Logger;

/** The server's log lines (java.util.logging, which System.Logger uses here) while it is open. */
final class LogLines implements AutoCloseable {
    private final Logger logger = Logger.getLogger("io.jvfio.server");   // held: loggers are weakly referenced
    private final List<String> lines = new CopyOnWriteArrayList<>();
    private final Handler handler = new Handler() {
        @Override
        public void publish(LogRecord r) {
            String message = r.getParameters() == null ? r.getMessage() : java.text.MessageFormat.format(r.getMessage(), r.getParameters());
            synchronized (lines) {
                lines.add(r.getLevel() + " " + message);
                lines.notifyAll();
            }
        }

        @Override
        public void flush() {}

        @Override
        public void close() {}
    };

    LogLines() {
        handler.setLevel(Level.ALL);
        logger.addHandler(handler);
    }

    /** The first line containing all of {@code parts}, waiting for it (bounded like every wait of the tests). */
    String await(String... parts) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(TestPeer.WAIT_MILLIS);
        synchronized (lines) {
            while (true) {
                for (String line : lines) {
                    if (containsAll(line, parts)) {
                        return line;
                    }
                }
                long left = end - System.nanoTime();
                if (left <= 0) {
                    throw new AssertionError("no log line with " + List.of(parts) + " within " + TestPeer.WAIT_MILLIS + " ms; lines: " + lines);
                }
                lines.wait(Math.max(1, left / 1_000_000));
            }
        }
    }

    long count(String... parts) {
        return lines.stream().filter(l -> containsAll(l, parts)).count();
    }

    private static boolean containsAll(String line, String[] parts) {
        for (String p : parts) {
            if (!line.contains(p)) {
                return false;
            }
        }
        return true;
    }

    @Override
    public void close() {
        logger.removeHandler(handler);
    }
}
