package io.jvfio.server;

import java.util.Arrays;

/** One named, versioned section of device state as it travels in the migration stream. */
public record StateSection(String name, int version, byte[] data) {
    public StateSection {
        data = data.clone();
    }

    @Override
    public byte[] data() {
        return data.clone();
    }

    boolean sameAs(StateSection other) {
        return other != null && other.name.equals(name) && other.version == version && Arrays.equals(other.data, data);
    }

    public int dataLength() {
        return data.length;
    }

    public byte dataAt(int i) {
        return data[i];
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof StateSection s && sameAs(s);
    }

    @Override
    public int hashCode() {
        return name.hashCode() * 31 + version * 17 + Arrays.hashCode(data);
    }
}
