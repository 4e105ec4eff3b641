package io.jvfio.client.kernel;

import io.jvfio.client.DeviceException;
import io.jvfio.linux.LinuxException;

/**
 * A kernel VFIO call failed, or a device could not be opened: the kernel's errno (from an ioctl, an
 * open, sysfs) or the backend's own refusal (a device not bound to vfio-pci, a group that is not
 * viable, an IOVA outside the allowed ranges), with a message that says what to do about it.
 */
public final class KernelVfioException extends DeviceException {
    private static final long serialVersionUID = 1L;

    public KernelVfioException(int errno, String message) {
        super(errno, message);
    }

    public KernelVfioException(int errno, String message, Throwable cause) {
        super(errno, message, cause);
    }

    /** {@code what}: the kernel's refusal, keeping its errno. */
    static KernelVfioException of(String what, LinuxException e) {
        return new KernelVfioException(e.errno(), what + ": " + e.getMessage(), e);
    }
}
