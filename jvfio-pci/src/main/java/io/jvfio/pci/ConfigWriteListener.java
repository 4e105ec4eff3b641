package io.jvfio.pci;

/**
 * Told about a guest write to a watched range of config space, after the write took effect.
 *
 * <p>The write is clipped to the watched range: {@code offset} and {@code size} (1 to 4 bytes)
 * cover only the watched bytes it touched, and the values are those bytes, little-endian, as
 * stored before and after (masks applied). Self-clearing bits such as Initiate FLR appear set in
 * {@code newValue} although they read back as 0. Bulk writes arrive one dword-aligned piece at a
 * time. Runs on the writer's thread with no lock held, so it may read or write the config space.
 */
@FunctionalInterface
public interface ConfigWriteListener {
    void configWritten(int offset, int size, int oldValue, int newValue);
}
