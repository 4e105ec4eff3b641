package io.jvfio.devices.virtio;

/**
 * The driver gave the device something it cannot use — a malformed descriptor chain, an address
 * outside guest memory, a ring that vanished — so the device stops using the queue and asks for a
 * reset (DEVICE_NEEDS_RESET, §2.1.2) instead of guessing.
 */
public final class VirtioFault extends Exception {
    public VirtioFault(String message) {
        super(message);
    }

    public VirtioFault(String message, Throwable cause) {
        super(message, cause);
    }
}
