package io.jvfio.server;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Where a device reads back its migration state. Every read is bounds-checked: a section that is
 * missing, too short, or not read to its end makes the load fail (EINVAL), and the core then puts
 * the device back as it was, so a device may assign fields as it reads them.
 */
public final class StateReader {
    private final Map<String, StateSection> sections;
    private final List<Section> opened = new ArrayList<>();

    StateReader(Map<String, StateSection> sections) {
        this.sections = new LinkedHashMap<>(sections);
    }

    /** Whether the stream carries section {@code name} (for optional sections added in later versions). */
    public boolean has(String name) {
        return sections.containsKey(name);
    }

    /** Section {@code name}; EINVAL if the stream lacks it. */
    public Section section(String name) throws VfioException {
        StateSection s = sections.get(name);
        if (s == null) {
            throw VfioException.invalid("migration stream has no section " + name);
        }
        Section reader = new Section(s);
        opened.add(reader);
        return reader;
    }

    /** After the device loaded: every section read, each to its end (else the stream is not what the device wrote). */
    void checkFullyRead() throws VfioException {
        for (String name : sections.keySet()) {
            if (opened.stream().noneMatch(r -> r.section.name().equals(name))) {
                throw VfioException.invalid("migration stream section " + name + " is unknown to this device");
            }
        }
        for (Section r : opened) {
            if (r.position != r.section.dataLength()) {
                throw VfioException.invalid("migration stream section %s has %d bytes, the device read %d"
                        .formatted(r.section.name(), r.section.dataLength(), r.position));
            }
        }
    }

    /** One section being read; fields are little-endian. */
    public static final class Section {
        private final StateSection section;
        private int position;

        private Section(StateSection section) {
            this.section = section;
        }

        /** The format version the section was written in. */
        public int version() {
            return section.version();
        }

        /** EINVAL unless the section is in one of {@code supported}. */
        public Section requireVersion(int... supported) throws VfioException {
            for (int v : supported) {
                if (v == section.version()) {
                    return this;
                }
            }
            throw VfioException.invalid("migration stream section %s is version %d, this device reads %s"
                    .formatted(section.name(), section.version(), java.util.Arrays.toString(supported)));
        }

        private long get(int size) throws VfioException {
            if (section.dataLength() - position < size) {
                throw VfioException.invalid("migration stream section %s ends at %d, reading %d bytes at %d"
                        .formatted(section.name(), section.dataLength(), size, position));
            }
            long value = 0;
            for (int i = 0; i < size; i++) {
                value |= (section.dataAt(position + i) & 0xffL) << (8 * i);
            }
            position += size;
            return value;
        }

        public int u8() throws VfioException {
            return (int) get(1);
        }

        public int u16() throws VfioException {
            return (int) get(2);
        }

        public int u32() throws VfioException {
            return (int) get(4);
        }

        public long u64() throws VfioException {
            return get(8);
        }

        /** A boolean: EINVAL for anything but 0 or 1. */
        public boolean bool() throws VfioException {
            int b = u8();
            if (b > 1) {
                throw VfioException.invalid("migration stream section %s: %d is not a boolean".formatted(section.name(), b));
            }
            return b == 1;
        }

        /** Bytes written by {@link StateWriter.Section#bytes}; EINVAL unless exactly {@code expectedLength} of them. */
        public byte[] bytes(int expectedLength) throws VfioException {
            long length = get(4) & 0xffffffffL;
            if (length != expectedLength) {
                throw VfioException.invalid("migration stream section %s: %d bytes where %d belong"
                        .formatted(section.name(), length, expectedLength));
            }
            if (section.dataLength() - position < length) {
                throw VfioException.invalid("migration stream section %s is truncated".formatted(section.name()));
            }
            byte[] out = new byte[expectedLength];
            for (int i = 0; i < expectedLength; i++) {
                out[i] = section.dataAt(position + i);
            }
            position += expectedLength;
            return out;
        }
    }
}
