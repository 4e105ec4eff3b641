package io.jvfio.cli.trace;

import io.jvfio.cli.VfioNames;
import io.jvfio.linux.Errno;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaReadReply;
import io.jvfio.protocol.DmaReadRequest;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.DmaWriteReply;
import io.jvfio.protocol.DmaWriteRequest;
import io.jvfio.protocol.FeatureMigDeviceState;
import io.jvfio.protocol.FeatureMigration;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Message;
import io.jvfio.protocol.MigData;
import io.jvfio.protocol.MigDataReadRequest;
import io.jvfio.protocol.MigDataWriteReply;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.PrecopyInfo;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.RegionIoFds;
import io.jvfio.protocol.RegionReadRequest;
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.RegionWriteMultiReply;
import io.jvfio.protocol.RegionWriteReply;
import io.jvfio.protocol.RegionData;
import io.jvfio.protocol.Vfio;
import io.jvfio.protocol.Version;
import java.lang.foreign.MemorySegment;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.StringJoiner;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Turns one vfio-user message into the one-line description {@code jvfio trace} prints:
 * {@code C>S #3 DEVICE_GET_REGION_INFO cmd index=2(BAR2) argsz=32 fds=0}. Never throws: whatever
 * cannot be decoded is described as {@code undecodable: reason}. One instance per proxied
 * connection; it remembers the server's DMA_READ/DMA_WRITE requests so that their replies can be
 * decoded in either of the layouts clients use (spec and QEMU 10.1).
 */
final class TraceDecoder {
    /** Which way a message travels. */
    enum Direction {
        CLIENT_TO_SERVER("C>S"), SERVER_TO_CLIENT("S>C");

        private final String arrow;

        Direction(String arrow) {
            this.arrow = arrow;
        }

        String arrow() {
            return arrow;
        }
    }

    /** The proxy observes rather than enforces: any count the framing allows is decoded. */
    private static final long MAX_DECODE = Header.MAX_MESSAGE_SIZE;
    /** Data of at most this many bytes is shown as a little-endian value. */
    static final int MAX_VALUE_BYTES = 8;
    private static final int MAX_MULTI_SHOWN = 4;

    private record DmaRequest(long address, long count) {}

    /** Ids are u16, so at most this many requests can be outstanding; more means replies never came. */
    private static final int MAX_REMEMBERED = 1 << 16;

    private final Map<Integer, DmaRequest> dmaReads = new ConcurrentHashMap<>();
    private final Map<Integer, DmaRequest> dmaWrites = new ConcurrentHashMap<>();

    /**
     * Describes one whole message (without time stamp).
     *
     * @param header  the 16 header bytes
     * @param payload the payload, or null when it was forwarded unread (too large to buffer)
     * @param fds     how many fds came with the message
     */
    String describe(Direction direction, MemorySegment header, MemorySegment payload, int fds) {
        StringBuilder line = new StringBuilder();
        line.append(direction.arrow()).append(" #").append(Header.msgId(header)).append(' ');
        int code = Header.command(header);
        Command command = Command.orNull(code);
        line.append(command != null ? command.name() : "command " + code).append(' ');
        boolean reply = Header.isReply(header);
        if (reply) {
            line.append("reply");
            if (Header.isError(header)) {
                int errno = Header.error(header);
                line.append(" ERROR ").append(errno == 0 ? "(errno 0)" : Errno.name(errno));
            }
        } else {
            line.append(Header.isNoReply(header) ? "posted" : "cmd");
        }
        String fields;
        try {
            Header.validate(header, Header.MAX_MESSAGE_SIZE);
            if (payload == null) {
                fields = "undecodable: " + Header.payloadSize(header) + "-byte payload forwarded without buffering";
            } else if (command == null) {
                fields = "undecodable: unknown command " + code + ", " + payload.byteSize() + "-byte payload";
            } else if (reply && Header.isError(header)) {
                fields = payload.byteSize() == 0 ? "" : payload.byteSize() + "-byte payload";
            } else if (reply) {
                fields = replyFields(command, Header.msgId(header), payload);
            } else {
                fields = commandFields(command, Header.msgId(header), payload);
            }
        } catch (ProtocolException e) {
            fields = "undecodable: " + e.getMessage();
        } catch (RuntimeException e) {
            fields = "undecodable: " + e;
        }
        if (!fields.isEmpty()) {
            line.append(' ').append(fields);
        }
        return line.append(" fds=").append(fds).toString();
    }

    private String commandFields(Command command, int id, MemorySegment p) throws ProtocolException {
        return switch (command) {
            case DMA_READ -> {
                DmaReadRequest r = DmaReadRequest.decode(p, MAX_DECODE);
                if (dmaReads.size() >= MAX_REMEMBERED) {
                    dmaReads.clear();
                }
                dmaReads.put(id, new DmaRequest(r.address(), r.count()));
                yield "address=0x%x count=%d".formatted(r.address(), r.count());
            }
            case DMA_WRITE -> {
                DmaWriteRequest w = DmaWriteRequest.decode(p, MAX_DECODE);
                if (dmaWrites.size() >= MAX_REMEMBERED) {
                    dmaWrites.clear();
                }
                dmaWrites.put(id, new DmaRequest(w.address(), w.count()));
                yield "address=0x%x count=%d%s".formatted(w.address(), w.count(), value(w.data()));
            }
            case DEVICE_RESET -> p.byteSize() == 0 ? "" : p.byteSize() + "-byte payload";
            default -> fields(command, Message.decodeRequest(command, p, MAX_DECODE), false);
        };
    }

    private String replyFields(Command command, int id, MemorySegment p) throws ProtocolException {
        return switch (command) {
            case DMA_READ -> {
                DmaRequest r = dmaReads.remove(id);
                DmaReadReply d = r != null ? DmaReadReply.decode(p, r.address(), r.count()) : DmaReadReply.decode(p);
                yield "address=0x%x count=%d%s".formatted(d.address(), d.count(), value(d.data()));
            }
            case DMA_WRITE -> {
                DmaRequest r = dmaWrites.remove(id);
                DmaWriteReply d = r != null ? DmaWriteReply.decode(p, r.address(), r.count()) : DmaWriteReply.decode(p);
                yield "address=0x%x count=%d".formatted(d.address(), d.count());
            }
            case DMA_MAP, DEVICE_SET_IRQS, DEVICE_RESET -> p.byteSize() == 0 ? "" : p.byteSize() + "-byte payload";
            default -> fields(command, Message.decodeReply(command, p, MAX_DECODE), true);
        };
    }

    private static String fields(Command command, Payload payload, boolean reply) {
        return switch (payload) {
            case null -> "";
            case Version v -> "%d.%d %s".formatted(v.major(), v.minor(), v.capabilities() == null ? "(no JSON)" : json(v.capabilities()));
            case DmaMap m -> "iova=0x%x size=0x%x offset=0x%x flags=%s".formatted(m.address(), m.size(), m.offset(), dmaMapFlags(m.flags()));
            case DmaUnmap u -> (u.isAll() ? "ALL" : "iova=0x%x size=0x%x".formatted(u.address(), u.size()))
                    + (u.wantsDirtyBitmap() ? " GET_DIRTY_BITMAP" : "") + (u.argsz() != DmaUnmap.SIZE ? " argsz=" + Integer.toUnsignedString(u.argsz()) : "");
            case DeviceInfo d -> reply
                    ? "flags=%s num_regions=%s num_irqs=%s%s argsz=%s".formatted(VfioNames.deviceFlags(d.flags()),
                            Integer.toUnsignedString(d.numRegions()), Integer.toUnsignedString(d.numIrqs()),
                            d.caps().isEmpty() ? "" : " caps=" + d.caps().size(), Integer.toUnsignedString(d.argsz()))
                    : "argsz=" + Integer.toUnsignedString(d.argsz());
            case RegionInfo r -> reply
                    ? "index=%s size=0x%x flags=%s offset=0x%x%s argsz=%s".formatted(region(r.index()), r.size(),
                            VfioNames.regionFlags(r.flags()), r.offset(), r.caps().isEmpty() ? "" : " caps=" + r.caps().size(),
                            Integer.toUnsignedString(r.argsz()))
                    : "index=%s argsz=%s".formatted(region(r.index()), Integer.toUnsignedString(r.argsz()));
            case RegionIoFds r -> "index=%s count=%s argsz=%s".formatted(region(r.index()), Integer.toUnsignedString(r.count()),
                    Integer.toUnsignedString(r.argsz()));
            case IrqInfo i -> reply
                    ? "index=%s count=%s flags=%s".formatted(irq(i.index()), Integer.toUnsignedString(i.count()),
                            VfioNames.irqFlags(i.flags()))
                    : "index=" + irq(i.index());
            case IrqSet s -> "index=%s start=%s count=%s flags=%s%s".formatted(irq(s.index()), Integer.toUnsignedString(s.start()),
                    Integer.toUnsignedString(s.count()), irqSetFlags(s.flags()),
                    s.dataType() == Vfio.IRQ_SET_DATA_BOOL ? " data=" + HexFormat.of().formatHex(s.boolData()) : "");
            case RegionReadRequest r -> access(r.region(), r.offset(), Integer.toUnsignedLong(r.count()), null);
            case RegionData r -> access(r.region(), r.offset(), r.count(), r.data());
            case RegionWriteReply r -> access(r.region(), r.offset(), Integer.toUnsignedLong(r.count()), null);
            case RegionWriteMulti m -> {
                StringJoiner j = new StringJoiner(" ", "wr_cnt=" + m.entries().size() + " ", "");
                List<RegionWriteMulti.Entry> entries = m.entries();
                for (int i = 0; i < Math.min(entries.size(), MAX_MULTI_SHOWN); i++) {
                    RegionWriteMulti.Entry e = entries.get(i);
                    j.add("[" + access(e.region(), e.offset(), e.count(), e.data()) + "]");
                }
                if (entries.size() > MAX_MULTI_SHOWN) {
                    j.add("...");
                }
                yield j.toString();
            }
            case RegionWriteMultiReply r -> "wr_cnt=" + Long.toUnsignedString(r.wrCnt());
            case DeviceFeature f -> feature(f, reply);
            case MigDataReadRequest r -> "size=" + Integer.toUnsignedString(r.size());
            case MigData r -> "size=" + r.size();
            case MigDataWriteReply r -> r.equals(MigDataWriteReply.EMPTY) ? "" : "size=" + Integer.toUnsignedString(r.size());
            case PrecopyInfo i -> reply
                    ? "initial_bytes=%s dirty_bytes=%s".formatted(Long.toUnsignedString(i.initialBytes()), Long.toUnsignedString(i.dirtyBytes()))
                    : "argsz=" + Integer.toUnsignedString(i.argsz());
            default -> payload.toString();
        };
    }

    private static String json(VersionCapabilities caps) {
        return caps.toJson();
    }

    private static String access(int region, long offset, long count, byte[] data) {
        return "region=%s offset=0x%x count=%d%s".formatted(region(region), offset, count, data == null ? "" : value(data));
    }

    /** {@code value=0x5a} for up to 8 bytes (read as the little-endian number a driver sees), nothing for more. */
    static String value(byte[] data) {
        if (data.length == 0 || data.length > MAX_VALUE_BYTES) {
            return "";
        }
        long v = 0;
        for (int i = data.length - 1; i >= 0; i--) {
            v = v << 8 | Byte.toUnsignedLong(data[i]);
        }
        return (" value=0x%0" + data.length * 2 + "x").formatted(v);
    }

    private static String region(int index) {
        String name = VfioNames.regionName(index);
        return name.startsWith("region ") ? Integer.toUnsignedString(index) : index + "(" + name + ")";
    }

    private static String irq(int index) {
        String name = VfioNames.irqName(index);
        return name.startsWith("irq ") ? Integer.toUnsignedString(index) : index + "(" + name + ")";
    }

    private static String dmaMapFlags(int flags) {
        return VfioNames.names(flags, new int[] {Vfio.DMA_MAP_FLAG_READ, Vfio.DMA_MAP_FLAG_WRITE,
                Vfio.DMA_MAP_FLAG_ACCESS_MMAP, Vfio.DMA_MAP_FLAG_ACCESS_FILE_IO}, new String[] {"R", "W", "MMAP", "FILE_IO"});
    }

    private static String irqSetFlags(int flags) {
        return VfioNames.names(flags, new int[] {Vfio.IRQ_SET_DATA_NONE, Vfio.IRQ_SET_DATA_BOOL, Vfio.IRQ_SET_DATA_EVENTFD,
                        Vfio.IRQ_SET_ACTION_MASK, Vfio.IRQ_SET_ACTION_UNMASK, Vfio.IRQ_SET_ACTION_TRIGGER},
                new String[] {"NONE", "BOOL", "EVENTFD", "MASK", "UNMASK", "TRIGGER"}).replace(',', '|');
    }

    private static String featureName(int feature) {
        return switch (feature) {
            case Vfio.DEVICE_FEATURE_PCI_VF_TOKEN -> "PCI_VF_TOKEN";
            case Vfio.DEVICE_FEATURE_MIGRATION -> "MIGRATION";
            case Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE -> "MIG_DEVICE_STATE";
            case Vfio.DEVICE_FEATURE_LOW_POWER_ENTRY -> "LOW_POWER_ENTRY";
            case Vfio.DEVICE_FEATURE_LOW_POWER_ENTRY_WITH_WAKEUP -> "LOW_POWER_ENTRY_WITH_WAKEUP";
            case Vfio.DEVICE_FEATURE_LOW_POWER_EXIT -> "LOW_POWER_EXIT";
            case Vfio.DEVICE_FEATURE_DMA_LOGGING_START -> "DMA_LOGGING_START";
            case Vfio.DEVICE_FEATURE_DMA_LOGGING_STOP -> "DMA_LOGGING_STOP";
            case Vfio.DEVICE_FEATURE_DMA_LOGGING_REPORT -> "DMA_LOGGING_REPORT";
            case Vfio.DEVICE_FEATURE_MIG_DATA_SIZE -> "MIG_DATA_SIZE";
            default -> Integer.toString(feature);
        };
    }

    private static String feature(DeviceFeature f, boolean reply) {
        StringJoiner ops = new StringJoiner("|");
        if (f.isGet()) {
            ops.add("GET");
        }
        if (f.isSet()) {
            ops.add("SET");
        }
        if (f.isProbe()) {
            ops.add("PROBE");
        }
        StringBuilder s = new StringBuilder("feature=").append(featureName(f.feature()))
                .append(" op=").append(ops.length() == 0 ? "none" : ops.toString())
                .append(" argsz=").append(Integer.toUnsignedString(f.argsz()));
        MemorySegment data = f.dataSegment();
        try {
            if (f.feature() == Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE && data.byteSize() >= 4 && !f.isProbe()
                    && (f.isSet() || reply)) {
                FeatureMigDeviceState state = FeatureMigDeviceState.decode(data);
                s.append(" state=").append(MigrationState.fromCode(state.deviceState()));
            } else if (f.feature() == Vfio.DEVICE_FEATURE_MIGRATION && reply && f.isGet() && data.byteSize() >= 8) {
                s.append(" flags=0x").append(Long.toHexString(FeatureMigration.decode(data).flags()));
            } else if (data.byteSize() > 0) {
                s.append(" data=").append(data.byteSize()).append(" bytes");
            }
        } catch (ProtocolException e) {
            s.append(" data undecodable: ").append(e.getMessage());
        }
        return s.toString();
    }
}
