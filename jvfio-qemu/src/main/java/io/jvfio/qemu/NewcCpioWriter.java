package io.jvfio.qemu;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.HashSet;
import java.util.Set;

/**
 * Writes a "newc" (SVR4, no CRC) cpio archive, the format the kernel unpacks as an initramfs.
 * Each entry: a 110-byte ASCII header ({@code 070701} and 13 eight-digit hex fields), the name with its NUL,
 * padded to 4 bytes, then the data, padded to 4 bytes. The archive ends with {@code TRAILER!!!}.
 * Owner is root, mtime 0 (reproducible archives). Not thread-safe.
 */
final class NewcCpioWriter implements AutoCloseable {

    static final int S_IFDIR = 0040000;
    static final int S_IFREG = 0100000;
    static final int S_IFLNK = 0120000;
    static final int S_IFCHR = 0020000;

    private final OutputStream out;
    private final Set<String> names = new HashSet<>();
    private long written;
    private int ino = 1;
    private boolean finished;

    NewcCpioWriter(OutputStream out) {
        this.out = out;
    }

    void directory(String name, int perm) throws IOException {
        entry(name, S_IFDIR | (perm & 07777), 2, 0, 0, new byte[0]);
    }

    void file(String name, byte[] content, int perm) throws IOException {
        entry(name, S_IFREG | (perm & 07777), 1, 0, 0, content);
    }

    void symlink(String name, String target) throws IOException {
        entry(name, S_IFLNK | 0777, 1, 0, 0, target.getBytes(StandardCharsets.UTF_8));
    }

    void charDevice(String name, int perm, int major, int minor) throws IOException {
        entry(name, S_IFCHR | (perm & 07777), 1, major, minor, new byte[0]);
    }

    /** Whether an entry of this name (without leading slash) was written. */
    boolean contains(String name) {
        return names.contains(normalize(name));
    }

    static String normalize(String name) {
        String n = name;
        while (n.startsWith("/")) n = n.substring(1);
        while (n.endsWith("/") && n.length() > 1) n = n.substring(0, n.length() - 1);
        if (n.isEmpty()) n = ".";
        return n;
    }

    private void entry(String rawName, int mode, int nlink, int rdevMajor, int rdevMinor, byte[] data)
            throws IOException {
        if (finished) throw new IllegalStateException("archive already finished");
        String name = normalize(rawName);
        if (!names.add(name)) throw new IllegalArgumentException("duplicate cpio entry: " + name);
        header(name, mode, nlink, data.length, rdevMajor, rdevMinor, ino++);
        write(data);
        pad();
    }

    private void header(String name, int mode, int nlink, int size, int rdevMajor, int rdevMinor, int inode)
            throws IOException {
        byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
        StringBuilder h = new StringBuilder(110);
        h.append("070701");
        hex(h, inode);
        hex(h, mode);
        hex(h, 0); // uid
        hex(h, 0); // gid
        hex(h, nlink);
        hex(h, 0); // mtime
        hex(h, size);
        hex(h, 0); // devmajor
        hex(h, 0); // devminor
        hex(h, rdevMajor);
        hex(h, rdevMinor);
        hex(h, nameBytes.length + 1);
        hex(h, 0); // check
        write(h.toString().getBytes(StandardCharsets.US_ASCII));
        write(nameBytes);
        write(new byte[] {0});
        pad();
    }

    private static void hex(StringBuilder sb, long v) {
        String s = Long.toHexString(v & 0xffffffffL);
        sb.append("0".repeat(8 - s.length())).append(s);
    }

    private void write(byte[] b) throws IOException {
        out.write(b);
        written += b.length;
    }

    private void pad() throws IOException {
        int rem = (int) (written % 4);
        if (rem != 0) write(new byte[4 - rem]);
    }

    /** Writes the trailer (once); does not close the stream. */
    void finish() throws IOException {
        if (finished) return;
        header("TRAILER!!!", 0, 1, 0, 0, 0, 0);
        finished = true;
        out.flush();
    }

    @Override
    public void close() throws IOException {
        finish();
        out.close();
    }
}
