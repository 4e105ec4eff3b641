package io.jvfio.server;

import io.jvfio.protocol.Command;
import io.jvfio.server.internal.StatsCounters;
import java.util.Map;

/** What a server has counted: connections, errors, DMA windows, and commands received by type. */
public final class ServerStats {
    private final StatsCounters counters;

    ServerStats(StatsCounters counters) {
        this.counters = counters;
    }

    /** DMA windows the clients gave with an fd (mapped into this process). */
    public long mappedDmaWindows() {
        return counters.mappedDmaWindows();
    }

    /** DMA windows without an fd (reached through DMA_READ/DMA_WRITE messages). */
    public long messageDmaWindows() {
        return counters.messageDmaWindows();
    }

    public long connections() {
        return counters.connections();
    }

    /** Commands answered with an error (or dropped as malformed). */
    public long errors() {
        return counters.errors();
    }

    public long count(Command command) {
        return counters.count(command);
    }

    /** Every command received at least once, with its count. */
    public Map<Command, Long> commandCounts() {
        return counters.commandCounts();
    }
}
