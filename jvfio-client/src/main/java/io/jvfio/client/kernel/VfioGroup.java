package io.jvfio.client.kernel;

import static java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED;

import io.jvfio.linux.Fd;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * A VFIO group, {@code /dev/vfio/N} (or {@code /dev/vfio/noiommu-N}): the devices one IOMMU cannot
 * tell apart. It is usable (viable) only when every device in it is bound to vfio-pci or to no
 * driver; it joins a {@link VfioContainer}, and then hands out device fds by device name.
 */
public final class VfioGroup implements AutoCloseable {
    /** struct vfio_group_status: argsz, flags. */
    static final int STATUS_SIZE = 8, STATUS_FLAGS = 4;

    private final Fd fd;
    private final int number;
    private final String what;

    private VfioGroup(Fd fd, int number, Path node) {
        this.fd = fd;
        this.number = number;
        this.what = "group " + node;
    }

    /** Opens group {@code number} at {@code node}; EBUSY when another process has it. */
    public static VfioGroup open(Path node, int number) throws KernelVfioException {
        return new VfioGroup(Nodes.open(node, "no such VFIO group node (is the device bound to vfio-pci?)"), number, node);
    }

    public int number() {
        return number;
    }

    /** VFIO_GROUP_GET_STATUS flags (VIABLE, CONTAINER_SET). */
    public int status() throws KernelVfioException {
        MemorySegment status = MemorySegment.ofArray(new byte[STATUS_SIZE]);
        status.set(JAVA_INT_UNALIGNED, 0, STATUS_SIZE);
        Ioctls.call(fd, KernelUapi.VFIO_GROUP_GET_STATUS, status, "VFIO_GROUP_GET_STATUS", what);
        return status.get(JAVA_INT_UNALIGNED, STATUS_FLAGS);
    }

    public boolean viable() throws KernelVfioException {
        return (status() & KernelUapi.VFIO_GROUP_FLAGS_VIABLE) != 0;
    }

    /** Joins {@code container} (VFIO_GROUP_SET_CONTAINER takes a pointer to the container's fd). */
    public void setContainer(VfioContainer container) throws KernelVfioException {
        MemorySegment containerFd = MemorySegment.ofArray(new byte[4]);
        containerFd.set(JAVA_INT_UNALIGNED, 0, container.fd().value());
        Ioctls.call(fd, KernelUapi.VFIO_GROUP_SET_CONTAINER, containerFd, "VFIO_GROUP_SET_CONTAINER", what);
    }

    /** The fd of device {@code name} ("0000:00:04.0"); the caller owns it. */
    public Fd deviceFd(String name) throws KernelVfioException {
        byte[] bytes = name.getBytes(StandardCharsets.US_ASCII);
        MemorySegment cName = MemorySegment.ofArray(new byte[bytes.length + 1]);
        MemorySegment.copy(MemorySegment.ofArray(bytes), 0, cName, 0, bytes.length);
        return Fd.adopt(Ioctls.call(fd, KernelUapi.VFIO_GROUP_GET_DEVICE_FD, cName, "VFIO_GROUP_GET_DEVICE_FD", what + " device " + name));
    }

    @Override
    public void close() {
        fd.close();
    }

    @Override
    public String toString() {
        return what;
    }
}
