package io.jvfio.server.internal;

import io.jvfio.protocol.Command;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The counters behind a server's {@link io.jvfio.server.ServerStats}: the server and its sessions
 * count here, applications read them through the stats.
 */
public final class StatsCounters {
    private final AtomicLongArray commands = new AtomicLongArray(Command.values().length);
    private final AtomicLong connections = new AtomicLong();
    private final AtomicLong errors = new AtomicLong();
    private final AtomicLong mappedWindows = new AtomicLong();
    private final AtomicLong messageWindows = new AtomicLong();

    public void countCommand(Command command) {
        commands.incrementAndGet(command.ordinal());
    }

    public void countConnection() {
        connections.incrementAndGet();
    }

    public void countError() {
        errors.incrementAndGet();
    }

    public void countDmaWindow(boolean mapped) {
        (mapped ? mappedWindows : messageWindows).incrementAndGet();
    }

    /** DMA windows the clients gave with an fd (mapped into this process). */
    public long mappedDmaWindows() {
        return mappedWindows.get();
    }

    /** DMA windows without an fd (reached through DMA_READ/DMA_WRITE messages). */
    public long messageDmaWindows() {
        return messageWindows.get();
    }

    public long connections() {
        return connections.get();
    }

    /** Commands answered with an error (or dropped as malformed). */
    public long errors() {
        return errors.get();
    }

    public long count(Command command) {
        return commands.get(command.ordinal());
    }

    /** Every command received at least once, with its count. */
    public Map<Command, Long> commandCounts() {
        Map<Command, Long> map = new EnumMap<>(Command.class);
        for (Command c : Command.values()) {
            long n = commands.get(c.ordinal());
            if (n > 0) {
                map.put(c, n);
            }
        }
        return map;
    }
}
