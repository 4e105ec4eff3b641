package io.jvfio.protocol;

import io.jvfio.linux.Errno;

/** The vfio-user command numbers (spec §2). Number 14 (migration-v1 DIRTY_PAGES) was removed and is unknown here. */
public enum Command {
    VERSION(1, 0),
    DMA_MAP(2, 1),
    DMA_UNMAP(3, 0),
    DEVICE_GET_INFO(4, 0),
    DEVICE_GET_REGION_INFO(5, 0),
    DEVICE_GET_REGION_IO_FDS(6, 0),
    DEVICE_GET_IRQ_INFO(7, 0),
    /** Carries {@code count} eventfds with DATA_EVENTFD; the exact number is checked by {@link IrqSet#checkFds}. */
    DEVICE_SET_IRQS(8, Integer.MAX_VALUE),
    REGION_READ(9, 0),
    REGION_WRITE(10, 0),
    DMA_READ(11, 0),
    DMA_WRITE(12, 0),
    DEVICE_RESET(13, 0),
    REGION_WRITE_MULTI(15, 0),
    DEVICE_FEATURE(16, 0),
    MIG_DATA_READ(17, 0),
    MIG_DATA_WRITE(18, 0),
    /** Pending in the spec (SPEC+): mirrors VFIO_MIG_GET_PRECOPY_INFO. */
    GET_PRECOPY_INFO(19, 0);

    private static final Command[] BY_CODE = new Command[20];

    static {
        for (Command c : values()) {
            BY_CODE[c.code] = c;
        }
    }

    private final int code;
    private final int maxRequestFds;

    Command(int code, int maxRequestFds) {
        this.code = code;
        this.maxRequestFds = maxRequestFds;
    }

    /** The command number on the wire. */
    public int code() {
        return code;
    }

    /** Most fds a request of this command may carry (Integer.MAX_VALUE = bounded by the message itself). */
    public int maxRequestFds() {
        return maxRequestFds;
    }

    /** True for the server→client commands (DMA_READ, DMA_WRITE). */
    public boolean sentByServer() {
        return this == DMA_READ || this == DMA_WRITE;
    }

    /** The command for a wire number; ENOSYS for unknown numbers (including 14). Allocation-free when known. */
    public static Command fromCode(int code) throws ProtocolException {
        Command c = orNull(code);
        if (c == null) {
            throw new ProtocolException(Errno.ENOSYS, "unknown command " + code);
        }
        return c;
    }

    /** The command for a wire number, or null. */
    public static Command orNull(int code) {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }

    /** EINVAL when a request of {@code command} arrived with more fds than it allows. */
    public static void checkFdCount(Command command, int fds) throws ProtocolException {
        if (fds < 0 || fds > command.maxRequestFds) {
            throw ProtocolException.invalid(command + ": " + fds + " file descriptors attached, at most "
                    + command.maxRequestFds + " allowed");
        }
    }
}
