package io.jvfio.protocol;

import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;

/**
 * VERSION (1) request and reply payload: {@code major u16, minor u16}, then optional NUL-terminated
 * UTF-8 JSON. {@code capabilities == null} means no JSON at all (SPDK's test client sends none); a JSON
 * that is present must end in NUL. A lone NUL (empty JSON text) decodes as absent.
 */
public record Version(int major, int minor, VersionCapabilities capabilities) implements Payload {
    static final Struct<Version> STRUCT = Struct.of(Version.class, "VERSION", Struct.u16("major"), Struct.u16("minor"));
    public static final int FIXED_SIZE = STRUCT.size();

    public Version {
        Wire.checkU16(major, "major");
        Wire.checkU16(minor, "minor");
    }

    /** The capabilities, or the spec defaults when the peer sent no JSON. */
    public VersionCapabilities capabilitiesOrDefaults() {
        return capabilities == null ? VersionCapabilities.DEFAULTS : capabilities;
    }

    private byte[] json() {
        return capabilities == null ? null : capabilities.toJson().getBytes(StandardCharsets.UTF_8);
    }

    @Override
    public long encodedSize() {
        byte[] j = json();
        return FIXED_SIZE + (j == null ? 0 : j.length + 1);
    }

    @Override
    public void encode(MemorySegment dst) {
        byte[] j = json();
        Wire.checkDst(dst, FIXED_SIZE + (j == null ? 0 : j.length + 1), this);
        STRUCT.encode(dst, this);
        if (j != null) {
            Wire.putBytes(dst, FIXED_SIZE, j);
            dst.set(Wire.U8, FIXED_SIZE + j.length, (byte) 0);
        }
    }

    public static Version decode(MemorySegment p) throws ProtocolException {
        Version v = STRUCT.decode(p, (Object) null);
        long len = p.byteSize() - FIXED_SIZE;
        if (len == 0) {
            return v;
        }
        long nul = -1;
        for (long i = 0; i < len; i++) {
            if (p.get(Wire.U8, FIXED_SIZE + i) == 0) {
                nul = i;
                break;
            }
        }
        if (nul < 0) {
            throw ProtocolException.invalid("VERSION: capabilities JSON (" + len + " bytes) is not NUL-terminated");
        }
        if (nul == 0) {
            return v;
        }
        String json = new String(Wire.bytes(p, FIXED_SIZE, nul), StandardCharsets.UTF_8);
        return new Version(v.major, v.minor, VersionCapabilities.parse(json));
    }
}
