package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.util.Arrays;

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
     * CAP_ZPCI_BASE, version 2: {@code start_dma u64, end_dma u64, pchid u16, vfn u16,
     * fmb_length u16, pft u8, gid u8, fh u32}.
     */
    public record Base(long startDma, long endDma, int pchid, int vfn, int fmbLength, int pft, int gid, int fh)
            implements Capability {
        public static final int VERSION = 2;
        static final int SIZE = 28;

        @Override
        public int id() {
            return Vfio.DEVICE_INFO_CAP_ZPCI_BASE;
        }

        @Override
        public int version() {
            return VERSION;
        }

        @Override
        public long bodySize() {
            return SIZE;
        }

        @Override
        public void encodeBody(MemorySegment b) {
            Wire.put64(b, 0, startDma);
            Wire.put64(b, 8, endDma);
            Wire.put16(b, 16, pchid);
            Wire.put16(b, 18, vfn);
            Wire.put16(b, 20, fmbLength);
            b.set(Wire.U8, 22, (byte) pft);
            b.set(Wire.U8, 23, (byte) gid);
            Wire.put32(b, 24, fh);
        }

        @Override
        public String toString() {
            return "zPCI BASE: dma 0x%x-0x%x pchid 0x%04x vfn %d fmb_length %d pft 0x%02x gid %d fh 0x%08x%s"
                    .formatted(startDma, endDma, pchid, vfn, fmbLength, pft, gid, fh, fh == 0 ? " (no interpretation)" : "");
        }

        static Base decodeBody(MemorySegment b, int version) throws ProtocolException {
            Wire.need(b, version >= 2 ? SIZE : 24, "zPCI BASE capability");
            return new Base(Wire.i64(b, 0), Wire.i64(b, 8), Wire.u16(b, 16), Wire.u16(b, 18), Wire.u16(b, 20),
                    Byte.toUnsignedInt(b.get(Wire.U8, 22)), Byte.toUnsignedInt(b.get(Wire.U8, 23)),
                    version >= 2 ? Wire.i32(b, 24) : 0);
        }
    }

    /**
     * CAP_ZPCI_GROUP, version 2: {@code dasm u64, msi_addr u64, flags u64, mui u16, noi u16,
     * maxstbl u16, version u8, reserved u8, imaxstbl u16}.
     */
    public record Group(long dasm, long msiAddress, long flags, int mui, int noi, int maxstbl, int pciVersion, int imaxstbl)
            implements Capability {
        public static final int VERSION = 2;
        static final int SIZE = 34;

        @Override
        public int id() {
            return Vfio.DEVICE_INFO_CAP_ZPCI_GROUP;
        }

        @Override
        public int version() {
            return VERSION;
        }

        @Override
        public long bodySize() {
            return SIZE;
        }

        @Override
        public void encodeBody(MemorySegment b) {
            Wire.put64(b, 0, dasm);
            Wire.put64(b, 8, msiAddress);
            Wire.put64(b, 16, flags);
            Wire.put16(b, 24, mui);
            Wire.put16(b, 26, noi);
            Wire.put16(b, 28, maxstbl);
            b.set(Wire.U8, 30, (byte) pciVersion);
            b.set(Wire.U8, 31, (byte) 0);
            Wire.put16(b, 32, imaxstbl);
        }

        @Override
        public String toString() {
            return "zPCI GROUP: dasm 0x%x msi_addr 0x%x flags 0x%x%s mui %d noi %d maxstbl %d version %d imaxstbl %d%s"
                    .formatted(dasm, msiAddress, flags, (flags & FLAG_REFRESH) != 0 ? " (refresh)" : "", mui, noi, maxstbl,
                            pciVersion, imaxstbl, imaxstbl == 0 ? " (no interpretation)" : "");
        }

        static Group decodeBody(MemorySegment b, int version) throws ProtocolException {
            Wire.need(b, version >= 2 ? SIZE : 31, "zPCI GROUP capability");
            return new Group(Wire.i64(b, 0), Wire.i64(b, 8), Wire.i64(b, 16), Wire.u16(b, 24), Wire.u16(b, 26),
                    Wire.u16(b, 28), Byte.toUnsignedInt(b.get(Wire.U8, 30)), version >= 2 ? Wire.u16(b, 32) : 0);
        }
    }

    /** CAP_ZPCI_UTIL (utility string, EBCDIC) and CAP_ZPCI_PFIP (function path): {@code size u32, bytes[size]}. */
    public record Text(int id, byte[] bytes) implements Capability {
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

        @Override
        public byte[] bytes() {
            return bytes.clone();
        }

        @Override
        public int version() {
            return 1;
        }

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

        @Override
        public boolean equals(Object o) {
            return o instanceof Text t && t.id == id && Arrays.equals(t.bytes, bytes);
        }

        @Override
        public int hashCode() {
            return 31 * id + Arrays.hashCode(bytes);
        }

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
    public static Capability decode(Capability entry) throws ProtocolException {
        if (!(entry instanceof RawCapability raw)) {
            return entry;
        }
        MemorySegment body = MemorySegment.ofArray(raw.body());
        return switch (raw.id()) {
            case Vfio.DEVICE_INFO_CAP_ZPCI_BASE -> Base.decodeBody(body, raw.version());
            case Vfio.DEVICE_INFO_CAP_ZPCI_GROUP -> Group.decodeBody(body, raw.version());
            case Vfio.DEVICE_INFO_CAP_ZPCI_UTIL, Vfio.DEVICE_INFO_CAP_ZPCI_PFIP -> Text.decodeBody(raw.id(), body);
            default -> raw;
        };
    }
}
