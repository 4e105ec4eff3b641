package io.jvfio.linux;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.Optional;

/**
 * Users and groups by name, as the system's name service knows them: getpwnam_r(3) and
 * getgrnam_r(3), so /etc/passwd and /etc/group and whatever else nsswitch.conf lists (LDAP, sssd,
 * systemd's dynamic users) answer — what {@code id} and {@code chown} see. The JDK resolves names
 * the same way (UserPrincipalLookupService) but does not tell the number it found.
 */
public final class UserDatabase {
    /** Where the entry's strings go; doubled while the call answers ERANGE (a group with many members). */
    private static final long FIRST_BUFFER = 1024, MAX_BUFFER = 1 << 20;

    private UserDatabase() {}

    /** A user: its name, uid and primary gid. */
    public record User(String name, int uid, int gid) {}

    /** A group: its name and gid. */
    public record Group(String name, int gid) {}

    /** The user called {@code name}, if there is one. */
    public static Optional<User> user(String name) throws LinuxException {
        return lookUp(name, false).map(entry -> new User(name,
                entry.get(JAVA_INT, Libc.PW_UID), entry.get(JAVA_INT, Libc.PW_GID)));
    }

    /** The group called {@code name}, if there is one. */
    public static Optional<Group> group(String name) throws LinuxException {
        return lookUp(name, true).map(entry -> new Group(name, entry.get(JAVA_INT, Libc.GR_GID)));
    }

    /** The struct passwd or struct group of {@code name} (read before its arena closes: only numbers are taken). */
    private static Optional<MemorySegment> lookUp(String name, boolean group) throws LinuxException {
        String call = group ? "getgrnam_r" : "getpwnam_r";
        if (name.isEmpty() || name.indexOf('\0') >= 0) {
            return Optional.empty();
        }
        for (long size = FIRST_BUFFER; ; size *= 2) {
            try (Arena arena = Arena.ofConfined()) {
                MemorySegment entry = arena.allocate(group ? Libc.GROUP : Libc.PASSWD);
                MemorySegment found = arena.allocate(ADDRESS);
                int result = Syscalls.getNamedEntry(Libc.scratch().captureState, group, arena.allocateFrom(name), entry,
                        arena.allocate(size), found);
                if (result == -Errno.ERANGE && size < MAX_BUFFER) {
                    continue;
                }
                // getpwnam_r(3): these, like 0 with no entry, mean "not found" for some name services.
                if (result == -Errno.ENOENT || result == -Errno.ESRCH || result == -Errno.EBADF || result == -Errno.EPERM) {
                    return Optional.empty();
                }
                Syscalls.check(result, call, name);
                if (found.get(ADDRESS, 0).equals(MemorySegment.NULL)) {
                    return Optional.empty();
                }
                // A copy on the heap, so the caller may read it once the arena is gone.
                return Optional.of(MemorySegment.ofArray(entry.toArray(JAVA_INT)));
            }
        }
    }
}
