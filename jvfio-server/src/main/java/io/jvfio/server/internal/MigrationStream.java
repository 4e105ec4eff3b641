package io.jvfio.server.internal;

import io.jvfio.server.StateSection;
import io.jvfio.server.VfioException;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.zip.CRC32C;

/**
 * The bytes a device's state travels as between MIG_DATA_READ on the source and MIG_DATA_WRITE
 * on the destination. Self-describing, so a destination refuses what it cannot trust:
 * <pre>
 * header   magic "JVFIOMIG" (8), format u16, id_length u16, id (UTF-8: which kind of device)
 * section  'S' u8, name_length u8, name, version u16, length u32, data[length]     (any number)
 * end      'E' u8, sections u32, crc32c u32 of every byte of the stream before this field
 * </pre>
 * All little-endian. A section may appear more than once (pre-copy re-sends what changed); the
 * last one counts. A corrupt stream fails the CRC, a truncated one lacks the end, a foreign one
 * has another magic or id.
 */
public final class MigrationStream {
    static final byte[] MAGIC = "JVFIOMIG".getBytes(StandardCharsets.US_ASCII);
    static final int FORMAT = 1;
    private static final int SECTION = 'S', END = 'E';
    private static final int HEADER_FIXED = MAGIC.length + 2 + 2;
    private static final int SECTION_FIXED = 1 + 1 + 2 + 4;
    private static final int END_SIZE = 1 + 4 + 4;

    private MigrationStream() {}

    /** Produces one stream piece by piece, keeping the running checksum and section count. */
    public static final class Encoder {
        private final CRC32C crc = new CRC32C();
        private int sections;

        public byte[] header(String deviceId) {
            byte[] id = deviceId.getBytes(StandardCharsets.UTF_8);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            out.writeBytes(MAGIC);
            le(out, FORMAT, 2);
            le(out, id.length, 2);
            out.writeBytes(id);
            return emit(out.toByteArray());
        }

        public byte[] section(StateSection s) {
            byte[] name = s.name().getBytes(StandardCharsets.UTF_8);
            byte[] data = s.data();
            ByteArrayOutputStream out = new ByteArrayOutputStream(SECTION_FIXED + name.length + data.length);
            out.write(SECTION);
            out.write(name.length);
            out.writeBytes(name);
            le(out, s.version(), 2);
            le(out, data.length, 4);
            out.writeBytes(data);
            sections++;
            return emit(out.toByteArray());
        }

        public byte[] end() {
            ByteArrayOutputStream out = new ByteArrayOutputStream(END_SIZE);
            out.write(END);
            le(out, sections, 4);
            crc.update(out.toByteArray());
            le(out, (int) crc.getValue(), 4);
            return out.toByteArray();
        }

        /** Bytes a section adds to the stream, without emitting it. */
        public static long sizeOf(StateSection s) {
            return SECTION_FIXED + s.name().getBytes(StandardCharsets.UTF_8).length + (long) s.dataLength();
        }

        public static long endSize() {
            return END_SIZE;
        }

        private byte[] emit(byte[] bytes) {
            crc.update(bytes);
            return bytes;
        }
    }

    /**
     * Checks a whole stream and returns its sections (the last of each name). EINVAL, with the
     * reason, for anything but a complete, intact stream written for {@code expectedId}.
     */
    public static Map<String, StateSection> decode(byte[] stream, String expectedId) throws VfioException {
        Cursor c = new Cursor(stream);
        for (int i = 0; i < MAGIC.length; i++) {
            if (c.remaining() < 1 || c.u8() != (MAGIC[i] & 0xff)) {
                throw VfioException.invalid("not a jvfio migration stream (no JVFIOMIG header)");
            }
        }
        int format = c.need(HEADER_FIXED - MAGIC.length, "header").u(2);
        if (format != FORMAT) {
            throw VfioException.invalid("migration stream format %d; this server reads format %d".formatted(format, FORMAT));
        }
        int idLength = c.u(2);
        String id = new String(c.need(idLength, "device id").take(idLength), StandardCharsets.UTF_8);
        if (!id.equals(expectedId)) {
            throw VfioException.invalid("migration stream is for device '%s', this is '%s'".formatted(id, expectedId));
        }
        Map<String, StateSection> sections = new LinkedHashMap<>();
        int count = 0;
        while (true) {
            int kind = c.need(1, "section or end").u8();
            if (kind == END) {
                int declared = c.need(4, "end").u(4);
                int crcEnd = c.position;
                CRC32C crc = new CRC32C();
                crc.update(stream, 0, crcEnd);
                int sum = c.need(4, "end").u(4);
                if (sum != (int) crc.getValue()) {
                    throw VfioException.invalid("migration stream is corrupt (checksum mismatch)");
                }
                if (declared != count) {
                    throw VfioException.invalid("migration stream has %d sections, its end says %d".formatted(count, declared));
                }
                if (c.remaining() != 0) {
                    throw VfioException.invalid("migration stream has %d bytes after its end".formatted(c.remaining()));
                }
                return sections;
            }
            if (kind != SECTION) {
                throw VfioException.invalid("migration stream: unknown record 0x%02x at %d".formatted(kind, c.position - 1));
            }
            int nameLength = c.need(1, "section").u8();
            String name = new String(c.need(nameLength, "section name").take(nameLength), StandardCharsets.UTF_8);
            int version = c.need(2, "section " + name).u(2);
            long length = c.need(4, "section " + name).u(4) & 0xffffffffL;
            byte[] data = c.need(length, "section " + name).take((int) length);
            sections.put(name, new StateSection(name, version, data));
            count++;
        }
    }

    private static void le(ByteArrayOutputStream out, long value, int size) {
        for (int i = 0; i < size; i++) {
            out.write((int) (value >>> (8 * i)));
        }
    }

    private static final class Cursor {
        private final byte[] bytes;
        private int position;

        Cursor(byte[] bytes) {
            this.bytes = bytes;
        }

        int remaining() {
            return bytes.length - position;
        }

        Cursor need(long n, String what) throws VfioException {
            if (remaining() < n) {
                throw VfioException.invalid("migration stream is truncated (in its %s)".formatted(what));
            }
            return this;
        }

        int u8() {
            return bytes[position++] & 0xff;
        }

        int u(int size) {
            int v = 0;
            for (int i = 0; i < size; i++) {
                v |= (bytes[position++] & 0xff) << (8 * i);
            }
            return v;
        }

        byte[] take(int n) {
            byte[] out = java.util.Arrays.copyOfRange(bytes, position, position + n);
            position += n;
            return out;
        }
    }
}
