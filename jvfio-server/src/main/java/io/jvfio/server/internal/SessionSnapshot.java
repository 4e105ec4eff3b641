package io.jvfio.server.internal;

import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.VersionCapabilities;
import java.util.List;

/**
 * What a live upgrade takes from a session at a message boundary for a successor process: the
 * connection, what the client proposed at VERSION, its DMA windows (with duplicates of their fds,
 * owned by the holder), the client's bytes read and not yet handled (whole commands, the last maybe
 * partial: the successor handles them first), and when its last command had been handled.
 */
public record SessionSnapshot(UnixSocket client, VersionCapabilities clientCapabilities,
                              List<DmaSpace.ExportedWindow> windows, byte[] unhandledInput, long lastHandledNanos) {
    public SessionSnapshot {
        windows = List.copyOf(windows);
    }
}
