package io.jvfio.server;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Where a device writes its migration state: named, versioned sections of little-endian fields.
 * Each section travels separately, so pre-copy re-sends only the sections that changed; a device
 * with much state splits it (virtio-blk: one section per queue) to keep those re-sends small.
 */
public final class StateWriter {
    /** Longest section name (its length travels as one byte). */
    public static final int MAX_NAME_BYTES = 255;

    private final List<StateSection> sections = new ArrayList<>();

    StateWriter() {}

    /** Starts section {@code name} (unique within the device) in format {@code version}. */
    public Section section(String name, int version) {
        byte[] encoded = name.getBytes(StandardCharsets.UTF_8);
        if (encoded.length == 0 || encoded.length > MAX_NAME_BYTES) {
            throw new IllegalArgumentException("section name must be 1-" + MAX_NAME_BYTES + " bytes: " + name);
        }
        if (version < 0 || version > 0xffff) {
            throw new IllegalArgumentException("section version must be 0-65535: " + version);
        }
        for (StateSection s : sections) {
            if (s.name().equals(name)) {
                throw new IllegalArgumentException("section " + name + " written twice");
            }
        }
        Section s = new Section(name, version);
        sections.add(new StateSection(name, version, new byte[0])); // replaced as fields are written
        s.slot = sections.size() - 1;
        return s;
    }

    /** The sections written, in the device's order. */
    List<StateSection> sections() {
        return Collections.unmodifiableList(sections);
    }

    /** One section being written; fields are little-endian. */
    public final class Section {
        private final String name;
        private final int version;
        private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        private int slot;

        private Section(String name, int version) {
            this.name = name;
            this.version = version;
        }

        private Section put(long value, int size) {
            for (int i = 0; i < size; i++) {
                bytes.write((int) (value >>> (8 * i)));
            }
            sections.set(slot, new StateSection(name, version, bytes.toByteArray()));
            return this;
        }

        public Section u8(int value) {
            return put(value, 1);
        }

        public Section u16(int value) {
            return put(value, 2);
        }

        public Section u32(int value) {
            return put(value, 4);
        }

        public Section u64(long value) {
            return put(value, 8);
        }

        public Section bool(boolean value) {
            return put(value ? 1 : 0, 1);
        }

        /** Raw bytes, preceded by their length (u32), so the reader needs no outside knowledge. */
        public Section bytes(byte[] data) {
            put(data.length, 4);
            bytes.writeBytes(data);
            sections.set(slot, new StateSection(name, version, bytes.toByteArray()));
            return this;
        }
    }
}
