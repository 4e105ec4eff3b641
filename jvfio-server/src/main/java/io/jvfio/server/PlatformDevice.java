package io.jvfio.server;

import io.jvfio.protocol.InfoCapability;
import io.jvfio.server.faults.FaultVocabulary;
import io.jvfio.server.faults.Faults;
import java.lang.foreign.MemorySegment;
import java.util.ArrayList;
import java.util.List;

/**
 * A device with the platform's extensions around it: every operation goes to the device; open,
 * close and device info also go through the extensions. This is the one place extensions meet
 * devices, so no device repeats them.
 */
final class PlatformDevice implements VfioDevice {
    private final VfioDevice device;
    private final List<PlatformExtension> extensions;
    private volatile SessionContext context;

    PlatformDevice(VfioDevice device, List<PlatformExtension> extensions) {
        this.device = device;
        this.extensions = extensions;
    }

    @Override
    public String name() {
        return device.name();
    }

    @Override
    public Faults faults() {
        return device.faults();
    }

    @Override
    public FaultVocabulary faultVocabulary() {
        return device.faultVocabulary();
    }

    @Override
    public void open(SessionContext context) throws VfioException {
        device.open(context);
        int opened = 0;
        try {
            for (PlatformExtension e : extensions) {
                e.open(device, context);
                opened++;
            }
        } catch (VfioException | RuntimeException failure) {
            for (int i = opened - 1; i >= 0; i--) {
                extensions.get(i).close(device);
            }
            device.close();
            throw failure;
        }
        this.context = context;
    }

    @Override
    public void close() {
        context = null;
        for (int i = extensions.size() - 1; i >= 0; i--) {
            extensions.get(i).close(device);
        }
        device.close();
    }

    @Override
    public DeviceSpec info() {
        DeviceSpec info = device.info();
        SessionContext c = context;
        if (c == null) {
            return info;
        }
        List<InfoCapability> caps = new ArrayList<>();
        for (PlatformExtension e : extensions) {
            caps.addAll(e.deviceInfoCapabilities(device, c));
        }
        return caps.isEmpty() ? info : info.withCapabilities(caps);
    }

    @Override
    public RegionSpec regionInfo(int index) throws VfioException {
        return device.regionInfo(index);
    }

    @Override
    public IrqSpec irqInfo(int index) throws VfioException {
        return device.irqInfo(index);
    }

    @Override
    public void setIrqs(IrqSetting request) throws VfioException {
        device.setIrqs(request);
    }

    @Override
    public void regionRead(int index, long offset, MemorySegment dst) throws VfioException {
        device.regionRead(index, offset, dst);
    }

    @Override
    public void regionWrite(int index, long offset, MemorySegment src) throws VfioException {
        device.regionWrite(index, offset, src);
    }

    @Override
    public void reset() throws VfioException {
        device.reset();
    }

    @Override
    public byte[] feature(int flags, byte[] data) throws VfioException {
        return device.feature(flags, data);
    }

    @Override
    public java.util.Optional<DeviceMigration> migration() {
        return device.migration();
    }
}
