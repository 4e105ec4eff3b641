package io.jvfio.qemu;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Comparator;
import java.util.stream.Stream;

/** Files put into the rootfs by hard link where the file system allows it (no space, no time), else by copy. */
final class FileTrees {

    private FileTrees() {}

    /** Hard-links {@code from} at {@code to}, or copies it (with its attributes), replacing what is there. */
    static void linkOrCopy(Path from, Path to) throws IOException {
        try {
            Files.deleteIfExists(to);
            Files.createLink(to, from);
        } catch (IOException | UnsupportedOperationException e) {
            Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.COPY_ATTRIBUTES);
        }
    }

    /** Recreates a file or a directory tree at {@code to}: files by {@link #linkOrCopy}, symbolic links as links. */
    static void linkOrCopyTree(Path from, Path to) throws IOException {
        try (Stream<Path> walk = Files.walk(from)) {
            walk.forEach(source -> {
                Path dest = to.resolve(from.relativize(source).toString());
                try {
                    if (Files.isSymbolicLink(source)) {
                        Files.createSymbolicLink(dest, Files.readSymbolicLink(source));
                    } else if (Files.isDirectory(source, LinkOption.NOFOLLOW_LINKS)) {
                        Files.createDirectories(dest);
                    } else {
                        linkOrCopy(source, dest);
                    }
                } catch (IOException e) {
                    throw new UncheckedIOException(e);
                }
            });
        } catch (UncheckedIOException e) {
            throw e.getCause();
        }
    }

    /** Deletes a tree (without following symbolic links); nothing if it is not there. */
    static void deleteTree(Path dir) throws IOException {
        if (!Files.exists(dir, LinkOption.NOFOLLOW_LINKS)) return;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
        }
    }
}
