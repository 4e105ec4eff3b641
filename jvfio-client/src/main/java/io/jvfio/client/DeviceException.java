package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.ProtocolException;
import java.io.IOException;

/**
 * A call on a {@link DeviceHandle} failed with an errno: the device refused it (its errno), or it
 * could not be made (ETIMEDOUT, ENOTCONN once the device is gone, EPROTO for an answer that makes no
 * sense). Each backend throws its own subclass; code written against {@link DeviceHandle} catches
 * this one.
 */
public class DeviceException extends IOException {
    private static final long serialVersionUID = 1L;
    private final int errno;

    /** How a backend makes its own exception for an errno (EPROTO for an answer that does not decode, ...). */
    @FunctionalInterface
    public interface Factory {
        DeviceException of(int errno, String message, Throwable cause);
    }

    /** A decoding of the device's answer, which may find it malformed. */
    @FunctionalInterface
    public interface Decoder<T> {
        T decode() throws ProtocolException;
    }

    /** What {@code decoder} decodes, or the backend's EPROTO naming {@code what} when the answer makes no sense. */
    public static <T> T decoded(Decoder<T> decoder, String what, Factory errors) throws DeviceException {
        try {
            return decoder.decode();
        } catch (ProtocolException e) {
            throw errors.of(Errno.EPROTO, what + ": " + e.getMessage(), e);
        } catch (RuntimeException e) { // a decoder that trips over hostile bytes must not escape unchecked
            throw errors.of(Errno.EPROTO, what + ": " + e, e);
        }
    }

    public DeviceException(int errno, String message) {
        super(message);
        this.errno = errno;
    }

    public DeviceException(int errno, String message, Throwable cause) {
        super(message, cause);
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }
}
