package io.jvfio.linux;

import java.util.Set;

/**
 * The process at the other end of a Unix socket, as the kernel recorded it at connect time:
 * SO_PEERCRED, and SO_PEERGROUPS for its supplementary groups (empty where the kernel is older
 * than 4.13, or where nobody asked).
 */
public record PeerCredentials(int pid, int uid, int gid, Set<Integer> groups) {
    public PeerCredentials {
        groups = Set.copyOf(groups);
    }

    /** Credentials without supplementary groups. */
    public PeerCredentials(int pid, int uid, int gid) {
        this(pid, uid, gid, Set.of());
    }

    /** Whether {@code group} is the peer's primary group or one of its supplementary groups. */
    public boolean inGroup(int group) {
        return gid == group || groups.contains(group);
    }
}
