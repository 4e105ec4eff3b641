package io.jvfio.client.kernel;

import io.jvfio.linux.Fd;
import io.jvfio.linux.Ioctl;
import io.jvfio.linux.LinuxException;
import io.jvfio.protocol.Payload;
import java.lang.foreign.Arena;
import java.lang.foreign.MemoryLayout;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.StructLayout;

/**
 * The kernel backend's ioctls: an argument (the kernel's struct, in any memory) copied to native
 * memory for the call and back afterwards, and a failure turned into a {@link KernelVfioException}
 * that keeps the kernel's errno and says which object refused. These are setup calls; they allocate.
 */
final class Ioctls {
    private Ioctls() {}

    /** ioctl with {@code argument} in and out; {@code what} names the object ("container /dev/vfio/vfio"). */
    static int call(Fd fd, long request, MemorySegment argument, String name, String what) throws KernelVfioException {
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment copy = arena.allocate(Math.max(1, argument.byteSize()), 8);
            copy.copyFrom(argument);
            int result = Ioctl.call(fd, request, copy, name);
            argument.copyFrom(copy);
            return result;
        } catch (LinuxException e) {
            throw failed(what, e);
        }
    }

    /** ioctl with a plain value as its argument. */
    static int call(Fd fd, long request, long value, String name, String what) throws KernelVfioException {
        try {
            return Ioctl.call(fd, request, value, name);
        } catch (LinuxException e) {
            throw failed(what, e);
        }
    }

    /** {@code request} encoded into a buffer of at least {@code size} bytes (the rest zero), for the kernel to fill. */
    static MemorySegment buffer(Payload request, long size) {
        MemorySegment buffer = MemorySegment.ofArray(new byte[Math.toIntExact(Math.max(size, request.encodedSize()))]);
        request.encode(buffer);
        return buffer;
    }

    static KernelVfioException failed(String what, LinuxException e) {
        return new KernelVfioException(e.errno(), what + ": " + e.getMessage(), e);
    }

    static long offset(StructLayout layout, String field) {
        return layout.byteOffset(MemoryLayout.PathElement.groupElement(field));
    }
}
