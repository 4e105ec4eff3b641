package io.jvfio.qemu.vfio;

import static java.lang.foreign.ValueLayout.ADDRESS;
import static java.lang.foreign.ValueLayout.JAVA_INT;
import static java.lang.foreign.ValueLayout.JAVA_LONG;

import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.FunctionDescriptor;
import java.lang.foreign.Linker;
import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandle;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Objects;
import java.util.stream.Stream;

/**
 * A main run inside a guest by {@link KernelVfioGuestTest}: prints (as {@code JVFIO-RESULT:} lines) the Java version,
 * how long the JVM took to reach main (when {@code -Djvfio.launched=} gives the guest's uptime at launch) and to make
 * its downcalls, and what the kernel's legacy VFIO interface says about the PCI device named by
 * the argument: its IOMMU group and the group's devices, the container's API version and Type1v2 support, and whether
 * the group is viable. Only the ioctls that need no setup; the kernel backend proper is jvfio-linux's.
 */
public final class VfioGroupProbe {
    private static final int O_RDWR = 2;
    /** _IO(VFIO_TYPE ';', VFIO_BASE 100 + n) from linux/vfio.h. */
    private static final long VFIO_GET_API_VERSION = 0x3B64, VFIO_CHECK_EXTENSION = 0x3B65, VFIO_GROUP_GET_STATUS = 0x3B67;
    private static final long VFIO_TYPE1v2_IOMMU = 3;
    private static final int VFIO_GROUP_FLAGS_VIABLE = 1;

    private VfioGroupProbe() {}

    /** The downcalls, made when first used, so that main can time the JVM's start apart from the FFM's set-up. */
    private static final class Libc {
        static final Linker LINKER = Linker.nativeLinker();
        static final MethodHandle OPEN = downcall("open", FunctionDescriptor.of(JAVA_INT, ADDRESS, JAVA_INT));
        static final MethodHandle CLOSE = downcall("close", FunctionDescriptor.of(JAVA_INT, JAVA_INT));
        static final MethodHandle IOCTL_VALUE = downcall("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, JAVA_LONG),
                Linker.Option.firstVariadicArg(2));
        static final MethodHandle IOCTL_POINTER = downcall("ioctl", FunctionDescriptor.of(JAVA_INT, JAVA_INT, JAVA_LONG, ADDRESS),
                Linker.Option.firstVariadicArg(2));

        private static MethodHandle downcall(String name, FunctionDescriptor descriptor, Linker.Option... options) {
            return LINKER.downcallHandle(LINKER.defaultLookup().findOrThrow(name), descriptor, options);
        }
    }

    public static void main(String[] args) throws Throwable {
        double mainReached = uptimeSeconds();
        String launched = System.getProperty("jvfio.launched");
        if (launched != null) result(String.format("main reached %.2f s after launch", mainReached - Double.parseDouble(launched)));
        Objects.requireNonNull(Libc.OPEN);
        result(String.format("downcalls ready %.2f s later", uptimeSeconds() - mainReached));
        result("java " + System.getProperty("java.version") + " " + System.getProperty("java.vm.name"));
        Path device = Path.of("/sys/bus/pci/devices", args[0]);
        String group = Files.readSymbolicLink(device.resolve("iommu_group")).getFileName().toString();
        result("iommu group " + group + " devices " + list(Path.of("/sys/kernel/iommu_groups", group, "devices")));
        result("driver " + Files.readSymbolicLink(device.resolve("driver")).getFileName());
        try (Arena arena = Arena.ofConfined()) {
            int container = open(arena, "/dev/vfio/vfio");
            result("container api " + (int) Libc.IOCTL_VALUE.invokeExact(container, VFIO_GET_API_VERSION, 0L)
                    + " type1v2 " + (int) Libc.IOCTL_VALUE.invokeExact(container, VFIO_CHECK_EXTENSION, VFIO_TYPE1v2_IOMMU));
            int groupFd = open(arena, "/dev/vfio/" + group);
            MemorySegment status = arena.allocate(8);
            status.set(JAVA_INT, 0, 8); // argsz
            if ((int) Libc.IOCTL_POINTER.invokeExact(groupFd, VFIO_GROUP_GET_STATUS, status) != 0) {
                throw new IOException("VFIO_GROUP_GET_STATUS failed");
            }
            result("group viable " + ((status.get(JAVA_INT, 4) & VFIO_GROUP_FLAGS_VIABLE) != 0));
            int closed = (int) Libc.CLOSE.invokeExact(groupFd) | (int) Libc.CLOSE.invokeExact(container);
            if (closed != 0) throw new IOException("close failed");
        }
    }

    private static int open(Arena arena, String path) throws Throwable {
        int fd = (int) Libc.OPEN.invokeExact(arena.allocateFrom(path), O_RDWR);
        if (fd < 0) throw new IOException("cannot open " + path);
        result("opened " + path);
        return fd;
    }

    /** Seconds since boot, from /proc/uptime: a clock the guest's shell can read too. */
    private static double uptimeSeconds() throws IOException {
        return Double.parseDouble(Files.readString(Path.of("/proc/uptime")).split(" ")[0]);
    }

    private static String list(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return String.join(" ", s.map(p -> p.getFileName().toString()).sorted().toList());
        }
    }

    private static void result(String text) {
        System.out.println("JVFIO-RESULT: " + text);
    }
}
