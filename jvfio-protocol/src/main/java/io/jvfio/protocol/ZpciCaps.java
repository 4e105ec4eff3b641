package io.jvfio.protocol;

import static io.jvfio.protocol.Struct.u16;
import static io.jvfio.protocol.Struct.u32;
import static io.jvfio.protocol.Struct.u64;
import static io.jvfio.protocol.Struct.u8;

import java.lang.foreign.MemorySegment;

/**
 * The s390 zPCI device-info capabilities of {@code linux/vfio_zdev.h}, as DEVICE_GET_INFO carries
 * them in its capability chain. Each record is one capability; {@link #decode} turns a raw chain
 * entry back into the typed one.
 */
public final class ZpciCaps {
    private ZpciCaps() {}

    /** VFIO_DEVICE_INFO_ZPCI_FLAG_REFRESH: the guest must refresh its TLB (program-specified). */
    public static final long FLAG_REFRESH = 1;

    /**
     * CAP_ZPCI_BASE, version 2: {@code start_dma u64, end_dma u64, pchid u16, vfn u16, fmb_length u16,
     * pft u8, gid u8, fh u32}; version 1 ends before fh.
     */
    public record Base(long startDma, long endDma, int pchid, int vfn, int fmbLength, int pft, int gid, int fh)
            implements StructCapability {
        static final Struct<Base> STRUCT = Struct.of(Base.class, "zPCI BASE capability", u64("startDma"),
                u64("endDma"), u16("pchid"), u16("vfn"), u16("fmbLength"), u8("pft"), u8("gid"), u32("fh"));
        public static final int VERSION = 2;

        @Override
        public int id() {
            return Vfio.DEVICE_INFO_CAP_ZPCI_BASE;
        }

        @Override
        public int version() {
            return VERSION;
        }

        @Override
        public String toString() {
            return "zPCI BASE: dma 0x%x-0x%x pchid 0x%04x vfn %d fmb_length %d pft 0x%02x gid %d fh 0x%08x%s"
                    .formatted(startDma, endDma, pchid, vfn, fmbLength, pft, gid, fh, fh == 0 ? " (no interpretation)" : "");
        }
    }

    /**
     * CAP_ZPCI_GROUP, version 2: {@code dasm u64, msi_addr u64, flags u64, mui u16, noi u16,
     * maxstbl u16, version u8, reserved u8, imaxstbl u16}; version 1 ends before the reserved byte.
     */
    public record Group(long dasm, long msiAddress, long flags, int mui, int noi, int maxstbl, int pciVersion, int imaxstbl)
            implements StructCapability {
        static final Struct<Group> STRUCT = Struct.of(Group.class, "zPCI GROUP capability", u64("dasm"),
                u64("msiAddress"), u64("flags"), u16("mui"), u16("noi"), u16("maxstbl"), u8("pciVersion"),
                Struct.reserved(1), u16("imaxstbl"));
        public static final int VERSION = 2;

        @Override
        public int id() {
            return Vfio.DEVICE_INFO_CAP_ZPCI_GROUP;
        }

        @Override
        public int version() {
            return VERSION;
        }

        @Override
        public String toString() {
            return "zPCI GROUP: dasm 0x%x msi_addr 0x%x flags 0x%x%s mui %d noi %d maxstbl %d version %d imaxstbl %d%s"
                    .formatted(dasm, msiAddress, flags, (flags & FLAG_REFRESH) != 0 ? " (refresh)" : "", mui, noi, maxstbl,
                            pciVersion, imaxstbl, imaxstbl == 0 ? " (no interpretation)" : "");
        }
    }

    /** CAP_ZPCI_UTIL (utility string, EBCDIC) and CAP_ZPCI_PFIP (function path): {@code size u32, bytes[size]}. */
    public record Text(int id, byte[] bytes) implements InfoCapability {
        public Text {
            if (id != Vfio.DEVICE_INFO_CAP_ZPCI_UTIL && id != Vfio.DEVICE_INFO_CAP_ZPCI_PFIP) {
                throw new IllegalArgumentException("not a zPCI UTIL or PFIP capability id: " + id);
            }
            bytes = bytes.clone();
        }

        public static Text util(byte[] ebcdic) {
            return new Text(Vfio.DEVICE_INFO_CAP_ZPCI_UTIL, ebcdic);
        }

        public static Text pfip(byte[] path) {
            return new Text(Vfio.DEVICE_INFO_CAP_ZPCI_PFIP, path);
        }

        @Override public byte[] bytes() { return bytes.clone(); }

        @Override
        public long bodySize() {
            return 4L + bytes.length;
        }

        @Override
        public void encodeBody(MemorySegment b) {
            Wire.put32(b, 0, bytes.length);
            Wire.putBytes(b, 4, bytes);
        }

        static Text decodeBody(int id, MemorySegment b) throws ProtocolException {
            Wire.need(b, 4, "zPCI text capability");
            long size = Wire.u32(b, 0);
            Wire.need(b, 4 + size, "zPCI text capability of " + size + " bytes");
            return new Text(id, Wire.bytes(b, 4, size));
        }

        @Override public boolean equals(Object o) { return Records.equal(this, o); }
        @Override public int hashCode() { return Records.hash(this); }

        /** UTIL is EBCDIC text; PFIP is shown as hex. */
        @Override
        public String toString() {
            return id == Vfio.DEVICE_INFO_CAP_ZPCI_UTIL
                    ? "zPCI UTIL: \"" + new String(bytes, java.nio.charset.Charset.forName("IBM037")) + "\""
                    : "zPCI PFIP: " + java.util.HexFormat.of().formatHex(bytes);
        }
    }

    /**
     * The typed zPCI capability for a device-info chain entry, or the entry itself when its id is
     * not a zPCI one. (Device-info and region-info capability ids overlap: call this only on
     * device-info chains.)
     */
    public static InfoCapability decode(InfoCapability entry) throws ProtocolException {
        if (!(entry instanceof RawCapability raw)) {
            return entry;
        }
        MemorySegment body = MemorySegment.ofArray(raw.body());
        return switch (raw.id()) {
            case Vfio.DEVICE_INFO_CAP_ZPCI_BASE -> decodeBody(Base.STRUCT, body, raw.version(), 24);
            case Vfio.DEVICE_INFO_CAP_ZPCI_GROUP -> decodeBody(Group.STRUCT, body, raw.version(), 31);
            case Vfio.DEVICE_INFO_CAP_ZPCI_UTIL, Vfio.DEVICE_INFO_CAP_ZPCI_PFIP -> Text.decodeBody(raw.id(), body);
            default -> raw;
        };
    }

    /** A version 2 body in full; an older one up to {@code v1Size}, the later fields 0. */
    private static <C extends Record> C decodeBody(Struct<C> struct, MemorySegment b, int version, int v1Size)
            throws ProtocolException {
        if (version >= 2) {
            return struct.decode(b);
        }
        Wire.need(b, v1Size, struct.what());
        return struct.read(b, v1Size);
    }
}
