package io.jvfio.server;

import io.jvfio.linux.PeerCredentials;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashSet;
import java.util.Set;
import java.util.TreeSet;

/**
 * Which peers a server serves, decided from the credentials the kernel recorded when the peer
 * connected (SO_PEERCRED) — before a single byte of theirs is read. A refused peer is logged and
 * disconnected; the server goes on to the next client.
 *
 * <p>The socket file's mode (0600 by default) is the first gate; this one still holds when the mode
 * is opened up, when the socket is inherited, or when it lives in a directory others can reach.
 */
@FunctionalInterface
public interface AccessPolicy {
    /** Whether {@code peer} may use the device. */
    boolean permits(PeerCredentials peer);

    /** The default: the user the server runs as, and root. */
    static AccessPolicy ownerAndRoot() {
        return Default.OWNER_AND_ROOT;
    }

    /** Peers whose uid is in {@code uids} or who are in a group of {@code gids} (primary or supplementary). */
    static AccessPolicy allowing(Set<Integer> uids, Set<Integer> gids) {
        Set<Integer> u = Set.copyOf(uids), g = Set.copyOf(gids);
        return new AccessPolicy() {
            @Override
            public boolean permits(PeerCredentials peer) {
                return u.contains(peer.uid()) || g.stream().anyMatch(peer::inGroup);
            }

            @Override
            public String toString() {
                return "uids " + new TreeSet<>(u) + ", gids " + new TreeSet<>(g);
            }
        };
    }

    /**
     * The default ({@link #ownerAndRoot()}) and also the users {@code uids} and the members of the
     * groups {@code gids}: a client running as a user of its own (QEMU under libvirt, say).
     */
    static AccessPolicy ownerRootAnd(Set<Integer> uids, Set<Integer> gids) {
        Set<Integer> users = new HashSet<>(uids);
        users.add(0);
        users.add(currentUid());
        return allowing(users, gids);
    }

    /** Every peer that can open the socket (leaves the decision to the socket file's mode). */
    static AccessPolicy anyone() {
        return new AccessPolicy() {
            @Override
            public boolean permits(PeerCredentials peer) {
                return true;
            }

            @Override
            public String toString() {
                return "anyone";
            }
        };
    }

    /** Holds the default policy, made once. */
    final class Default {
        private Default() {}

        static final AccessPolicy OWNER_AND_ROOT = ownerRootAnd(Set.of(), Set.of());
    }

    /** The effective uid of this process (the owner of /proc/self). */
    static int currentUid() {
        try {
            return (Integer) Files.getAttribute(Path.of("/proc/self"), "unix:uid");
        } catch (IOException e) {
            throw new UncheckedIOException("cannot tell this process's uid", e);
        }
    }
}
