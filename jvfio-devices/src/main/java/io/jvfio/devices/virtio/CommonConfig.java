package io.jvfio.devices.virtio;

import static io.jvfio.devices.virtio.Virtio.*;

import io.jvfio.server.StateReader;
import io.jvfio.server.StateWriter;
import io.jvfio.server.VfioException;

/**
 * A virtio device's common configuration structure (§4.1.4.3): the registers the driver programs —
 * feature select and negotiation, device status, the configuration MSI-X vector, queue select and
 * the selected queue's size, vector, enable and ring addresses — decoded from accesses of any size
 * at any offset. Queue registers are written straight into the {@link Virtqueue}s.
 *
 * <p>Not locked on its own: the device calls every method that changes state under its lock, and
 * reads {@link #status()} and {@link #configMsixVector()} (both volatile) without it.
 */
final class CommonConfig {

    private final long deviceFeatures;
    private final Virtqueue[] queues;
    private final Lifecycle lifecycle;
    private int deviceFeatureSelect, driverFeatureSelect, queueSelect;
    private long driverFeatures;
    private volatile int status;
    private int configGeneration;
    private volatile int configMsixVector = NO_VECTOR;

    /** What a status write asks of the device; called under the device's lock. */
    interface Lifecycle {
        /** The driver wrote status 0: reset the device (including this structure, through {@link #reset()}). */
        void resetRequested();

        /** The driver set DRIVER_OK with FEATURES_OK: the enabled queues go live. */
        void driverOk();

        /** Whether a worker still runs a request of before the last reset. */
        boolean requestInProgress();
    }

    /** The common configuration as a migration stream carries it, checked against this device. */
    record Saved(long driverFeatures, int status, int deviceFeatureSelect, int driverFeatureSelect, int queueSelect,
                 int configGeneration, int configMsixVector) {}

    CommonConfig(long deviceFeatures, Virtqueue[] queues, Lifecycle lifecycle) {
        this.deviceFeatures = deviceFeatures;
        this.queues = queues;
        this.lifecycle = lifecycle;
    }

    long deviceFeatures() {
        return deviceFeatures;
    }

    /** Whether the driver accepted feature {@code bit}. */
    boolean negotiated(int bit) {
        return (driverFeatures & featureBit(bit)) != 0;
    }

    /** The device status as the driver last set it (plus DEVICE_NEEDS_RESET). */
    int status() {
        return status;
    }

    int configMsixVector() {
        return configMsixVector;
    }

    /** Device-side trouble: DEVICE_NEEDS_RESET is set and the configuration generation moves on. */
    void markNeedsReset() {
        status |= STATUS_DEVICE_NEEDS_RESET;
        configGeneration++;
    }

    /** Power-on values: nothing negotiated, nothing selected. The generation keeps counting. */
    void reset() {
        status = 0;
        driverFeatures = 0;
        deviceFeatureSelect = driverFeatureSelect = queueSelect = 0;
        configMsixVector = NO_VECTOR;
    }

    /** A vector the MSI-X table has; anything else reads back as NO_VECTOR (the driver's check). */
    int validVector(int vector) {
        vector &= 0xffff;
        return vector < queues.length + 1 ? vector : NO_VECTOR;
    }

    // ------------------------------------------------------------------ driver accesses

    /** Reads {@code size} bytes at {@code offset}, from the fields they overlap. */
    long read(int offset, int size) {
        long value = 0;
        for (int i = size - 1; i >= 0; i--) {
            value = value << 8 | readByte(offset + i);
        }
        return value;
    }

    private int readByte(int at) {
        Virtqueue q = selectedQueue();
        int field = fieldStart(at);
        long v = switch (field) {
            case COMMON_DEVICE_FEATURE_SELECT -> deviceFeatureSelect;
            case COMMON_DEVICE_FEATURE -> deviceFeatureSelect < 2 ? deviceFeatures >>> (32 * deviceFeatureSelect) : 0;
            case COMMON_DRIVER_FEATURE_SELECT -> driverFeatureSelect;
            case COMMON_DRIVER_FEATURE -> driverFeatureSelect < 2 ? driverFeatures >>> (32 * driverFeatureSelect) : 0;
            case COMMON_CONFIG_MSIX_VECTOR -> configMsixVector;
            case COMMON_NUM_QUEUES -> queues.length;
            case COMMON_DEVICE_STATUS -> visibleStatus();
            case COMMON_CONFIG_GENERATION -> configGeneration;
            case COMMON_QUEUE_SELECT -> queueSelect;
            case COMMON_QUEUE_SIZE -> q == null ? 0 : q.size;
            case COMMON_QUEUE_MSIX_VECTOR -> q == null ? NO_VECTOR : q.msixVector;
            case COMMON_QUEUE_ENABLE -> q != null && q.enabled ? 1 : 0;
            case COMMON_QUEUE_NOTIFY_OFF -> q == null ? 0 : q.index;
            case COMMON_QUEUE_DESC -> q == null ? 0 : q.descAddress;
            case COMMON_QUEUE_DRIVER -> q == null ? 0 : q.driverAddress;
            case COMMON_QUEUE_DEVICE -> q == null ? 0 : q.deviceAddress;
            default -> 0;
        };
        return (int) (v >>> (8 * (at - field))) & 0xff;
    }

    /** The offset of the field holding byte {@code at}. */
    private static int fieldStart(int at) {
        if (at >= COMMON_QUEUE_DESC) {
            return at & ~7;
        }
        if (at < COMMON_CONFIG_MSIX_VECTOR) {
            return at & ~3;
        }
        if (at == COMMON_DEVICE_STATUS || at == COMMON_CONFIG_GENERATION) {
            return at;
        }
        return at & ~1;
    }

    /** Reset completes only when no worker still runs a request of the old epoch (§4.1.4.3.2). */
    private int visibleStatus() {
        return status == 0 && lifecycle.requestInProgress() ? STATUS_ACKNOWLEDGE : status;
    }

    private Virtqueue selectedQueue() {
        return queueSelect < queues.length ? queues[queueSelect] : null;
    }

    /** Writes the low {@code size} bytes of {@code value} at {@code offset}; read-only fields drop it. */
    void write(int offset, int size, long value) {
        Virtqueue q = selectedQueue();
        boolean queueLive = q != null && !q.enabled;   // queue registers are frozen once enabled
        switch (offset) {
            case COMMON_DEVICE_FEATURE_SELECT -> deviceFeatureSelect = (int) value;
            case COMMON_DRIVER_FEATURE_SELECT -> driverFeatureSelect = (int) value;
            case COMMON_DRIVER_FEATURE -> {
                if ((status & STATUS_FEATURES_OK) == 0 && driverFeatureSelect < 2 && size == 4) {
                    int shift = 32 * driverFeatureSelect;
                    driverFeatures = (driverFeatures & ~(0xffff_ffffL << shift)) | ((value & 0xffff_ffffL) << shift);
                }
            }
            case COMMON_CONFIG_MSIX_VECTOR -> configMsixVector = validVector((int) value);
            case COMMON_DEVICE_STATUS -> writeStatus((int) value & 0xff);
            case COMMON_QUEUE_SELECT -> queueSelect = (int) value & 0xffff;
            case COMMON_QUEUE_SIZE -> {
                int n = (int) value & 0xffff;
                if (queueLive && n > 0 && n <= q.maxSize && Integer.bitCount(n) == 1) {
                    q.size = n;
                }
            }
            case COMMON_QUEUE_MSIX_VECTOR -> {
                if (q != null) {
                    q.msixVector = validVector((int) value);
                }
            }
            case COMMON_QUEUE_ENABLE -> {
                if (queueLive && value == 1) {
                    q.enabled = true;
                }
            }
            case COMMON_QUEUE_DESC, COMMON_QUEUE_DESC + 4, COMMON_QUEUE_DRIVER, COMMON_QUEUE_DRIVER + 4,
                 COMMON_QUEUE_DEVICE, COMMON_QUEUE_DEVICE + 4 -> {
                if (queueLive) {
                    int field = offset & ~7;
                    long current = field == COMMON_QUEUE_DESC ? q.descAddress
                            : field == COMMON_QUEUE_DRIVER ? q.driverAddress : q.deviceAddress;
                    long updated = merge(current, offset - field, size, value);
                    switch (field) {
                        case COMMON_QUEUE_DESC -> q.descAddress = updated;
                        case COMMON_QUEUE_DRIVER -> q.driverAddress = updated;
                        default -> q.deviceAddress = updated;
                    }
                }
            }
            default -> { } // read-only or reserved
        }
    }

    private static long merge(long current, int byteOffset, int size, long value) {
        long mask = size == 8 ? -1L : ((1L << (8 * size)) - 1) << (8 * byteOffset);
        return (current & ~mask) | ((value << (8 * byteOffset)) & mask);
    }

    private void writeStatus(int value) {
        if (value == 0) {
            lifecycle.resetRequested();
            return;
        }
        int added = value & ~status;
        if ((added & STATUS_FEATURES_OK) != 0 && !featuresAcceptable()) {
            value &= ~STATUS_FEATURES_OK;   // the driver reads it back and gives up (§3.1.1)
        }
        status = value | (status & STATUS_DEVICE_NEEDS_RESET);
        if ((added & STATUS_DRIVER_OK) != 0 && (status & STATUS_FEATURES_OK) != 0) {
            lifecycle.driverOk();
        }
    }

    private boolean featuresAcceptable() {
        return (driverFeatures & ~deviceFeatures) == 0 && (driverFeatures & featureBit(F_VERSION_1)) != 0;
    }

    // ------------------------------------------------------------------ migration

    /** Writes this structure's fields into {@code section}, which the device goes on filling. */
    StateWriter.Section save(StateWriter.Section section) {
        return section.u64(deviceFeatures).u64(driverFeatures).u8(status)
                .u32(deviceFeatureSelect).u32(driverFeatureSelect).u16(queueSelect)
                .u8(configGeneration).u16(configMsixVector);
    }

    /** Reads what {@link #save} wrote and checks it against this device, changing nothing yet. */
    Saved load(StateReader.Section section) throws VfioException {
        long offered = section.u64(), accepted = section.u64();
        if ((accepted & ~deviceFeatures) != 0) {
            throw VfioException.invalid("the driver negotiated features 0x%x that this device does not offer (offers 0x%x; the source offered 0x%x)"
                    .formatted(accepted & ~deviceFeatures, deviceFeatures, offered));
        }
        int loadedStatus = section.u8();
        int loadedDeviceSelect = section.u32(), loadedDriverSelect = section.u32(), loadedQueueSelect = section.u16();
        int loadedGeneration = section.u8(), loadedConfigVector = section.u16();
        if (loadedConfigVector != NO_VECTOR && validVector(loadedConfigVector) != loadedConfigVector) {
            throw VfioException.invalid("configuration MSI-X vector %d is beyond this device's %d".formatted(loadedConfigVector, queues.length + 1));
        }
        return new Saved(accepted, loadedStatus, loadedDeviceSelect, loadedDriverSelect, loadedQueueSelect,
                loadedGeneration, loadedConfigVector);
    }

    /** Applies what {@link #load} checked. */
    void restore(Saved saved) {
        driverFeatures = saved.driverFeatures();
        status = saved.status();
        deviceFeatureSelect = saved.deviceFeatureSelect();
        driverFeatureSelect = saved.driverFeatureSelect();
        queueSelect = saved.queueSelect();
        configGeneration = saved.configGeneration();
        configMsixVector = saved.configMsixVector();
    }
}
