package io.jvfio.client.kernel;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.LinuxException;
import java.nio.file.Path;
import java.util.List;

/** Opening the VFIO and iommufd device nodes, with errors that say what is missing. */
final class Nodes {
    private Nodes() {}

    /** Opens {@code node} read-write; ENOENT says {@code whenMissing}, EACCES/EPERM that root (or the node's group) is needed. */
    static Fd open(Path node, String whenMissing) throws KernelVfioException {
        try {
            return Linux.open(node, true);
        } catch (LinuxException e) {
            String hint = switch (e.errno()) {
                case Errno.ENOENT, Errno.ENODEV, Errno.ENXIO -> whenMissing;
                case Errno.EACCES, Errno.EPERM -> "run as root, or give this user access to " + node
                        + " (no-IOMMU groups also need CAP_SYS_RAWIO)";
                case Errno.EBUSY -> "another process (a VMM?) has it open";
                default -> null;
            };
            throw new KernelVfioException(e.errno(), e.getMessage() + (hint == null ? "" : ": " + hint), e);
        }
    }

    /** Closes what was opened so far, last first, after a failure (which keeps its own exception). */
    static void closeAll(List<? extends AutoCloseable> opened, Throwable failure) {
        for (int i = opened.size() - 1; i >= 0; i--) {
            try {
                opened.get(i).close();
            } catch (Exception e) {
                failure.addSuppressed(e);
            }
        }
    }
}
