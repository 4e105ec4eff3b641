package io.jvfio.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.FeatureDmaLoggingControl;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.RawCapability;
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.DmaWindow;
import io.jvfio.server.VfioUserServer;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;
import io.jvfio.linux.Memfd;
import io.jvfio.server.VfioException;

/** Every client→server command against a jvfio server. */
class CommandsTest extends ClientTestSupport {

    @Test
    void negotiatesTheServersLimits() throws Exception {
        VfioUserServer server = serve(device(), serverOptions(64 * 1024, 4));
        VfioUserClient client = connect(server);
        assertThat(client.serverMinorVersion()).isZero();
        assertThat(client.serverCapabilities().maxMsgFds()).isEqualTo(4);
        assertThat(client.serverCapabilities().maxDataXferSize()).isEqualTo(64 * 1024);
        assertThat(client.serverCapabilities().writeMultiple()).isTrue();
        assertThat(client.twinSocketActive()).as("the jvfio server does not offer twin sockets").isFalse();
        assertThat(client.transferChunk()).isEqualTo(64 * 1024);
        assertThat(client.isConnected()).isTrue();
    }

    @Test
    void deviceRegionAndIrqInfo() throws Exception {
        VfioUserClient client = connect(serve(device()));
        DeviceInfo info = client.deviceInfo();
        assertThat(info.flags() & Vfio.DEVICE_FLAGS_PCI).isNotZero();
        assertThat(info.flags() & Vfio.DEVICE_FLAGS_RESET).isNotZero();
        assertThat(info.numRegions()).isEqualTo(Vfio.PCI_NUM_REGIONS);
        assertThat(info.numIrqs()).isEqualTo(Vfio.PCI_NUM_IRQS);
        try (RegionDescription ram = client.regionInfo(TestDevice.RAM);
             RegionDescription sparse = client.regionInfo(TestDevice.SPARSE);
             RegionDescription rom = client.regionInfo(Vfio.PCI_ROM_REGION_INDEX)) {
            assertThat(ram.size()).isEqualTo(TestDevice.RAM_SIZE);
            assertThat(ram.readable()).isTrue();
            assertThat(ram.writable()).isTrue();
            assertThat(ram.mmappable()).isFalse();
            assertThat(sparse.mmappable()).isTrue();
            assertThat(sparse.info().flags() & Vfio.REGION_INFO_FLAG_CAPS).as("sparse caps after the argsz retry").isNotZero();
            assertThat(rom.size()).isZero();
        }
        IrqInfo msix = client.irqInfo(Vfio.PCI_MSIX_IRQ_INDEX);
        assertThat(msix.count()).isEqualTo(TestDevice.MSIX_VECTORS);
        assertThat(msix.flags() & Vfio.IRQ_INFO_EVENTFD).isNotZero();
        assertThat(client.irqInfo(Vfio.PCI_INTX_IRQ_INDEX).flags() & Vfio.IRQ_INFO_AUTOMASKED).isNotZero();
        assertThatThrownBy(() -> client.regionInfo(42)).isInstanceOfSatisfying(VfioUserException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThatThrownBy(() -> client.irqInfo(9)).isInstanceOfSatisfying(VfioUserException.class,
                e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(client.isConnected()).as("errors leave the connection up").isTrue();
    }

    @Test
    void extendedDeviceInfoCarriesTheCapabilityChain() throws Exception {
        TestDevice device = device();
        RawCapability first = new RawCapability(Vfio.DEVICE_INFO_CAP_ZPCI_BASE, 1, new byte[] {1, 2, 3, 4, 5, 6, 7, 8});
        RawCapability second = new RawCapability(Vfio.DEVICE_INFO_CAP_PCI_ATOMIC_COMP, 1, new byte[] {9, 0, 0, 0, 0, 0, 0, 0});
        device.infoCaps = List.of(first, second);
        VfioUserClient client = connect(serve(device));

        DeviceInfo plain = client.deviceInfo();
        assertThat(plain.caps()).as("16-byte form has no room for caps").isEmpty();
        assertThat(plain.truncated()).isTrue();

        DeviceInfo extended = client.deviceInfo(DeviceInfo.SIZE_WITH_CAP_OFFSET); // too small: retried with the argsz asked for
        assertThat(extended.flags() & Vfio.DEVICE_FLAGS_CAPS).isNotZero();
        assertThat(extended.caps()).containsExactly(first, second);
        assertThat(client.deviceInfo(4096).caps()).containsExactly(first, second);
    }

    @Test
    void regionReadWriteOfAnySizeAndTheSizedHelpers() throws Exception {
        VfioUserClient client = connect(serve(device()));
        byte[] got = client.regionRead(TestDevice.RAM, 0x1234, 777);
        for (int i = 0; i < got.length; i++) {
            assertThat(got[i]).isEqualTo(TestDevice.pattern(0x1234 + i));
        }
        client.write8(TestDevice.RAM, 0, 0xab);
        client.write16(TestDevice.RAM, 2, 0xbeef);
        client.write32(TestDevice.RAM, 4, 0xcafe_f00d);
        client.write64(TestDevice.RAM, 8, 0x0123_4567_89ab_cdefL);
        assertThat(client.read8(TestDevice.RAM, 0)).isEqualTo(0xab);
        assertThat(client.read16(TestDevice.RAM, 2)).isEqualTo(0xbeef);
        assertThat(client.read32(TestDevice.RAM, 4)).isEqualTo(0xcafe_f00d);
        assertThat(client.read64(TestDevice.RAM, 8)).isEqualTo(0x0123_4567_89ab_cdefL);
        assertThat(client.read32(Vfio.PCI_CONFIG_REGION_INDEX, 0)).isEqualTo(0x10f0_1af4);
        assertThatThrownBy(() -> client.read32(TestDevice.RAM, TestDevice.RAM_SIZE - 2))
                .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
    }

    @Test
    void postedWritesAreDoneByTheTimeALaterCallIsAnswered() throws Exception {
        VfioUserServer server = serve(device());
        VfioUserClient client = connect(server);
        byte[] data = new byte[3000];
        for (int i = 0; i < data.length; i++) {
            data[i] = (byte) (i ^ 0x5a);
        }
        for (int i = 0; i < 50; i++) {
            client.regionWrite(TestDevice.RAM, 0x10000 + i * 8L, MemorySegment.ofArray(new byte[] {(byte) i}), true);
        }
        client.regionWrite(TestDevice.RAM, 0x20000, MemorySegment.ofArray(data), true);
        assertThat(client.regionRead(TestDevice.RAM, 0x20000, data.length)).isEqualTo(data);
        for (int i = 0; i < 50; i++) {
            assertThat(client.read8(TestDevice.RAM, 0x10000 + i * 8L)).isEqualTo(i);
        }
        assertThat(server.stats().count(Command.REGION_WRITE)).isEqualTo(51);
    }

    @Test
    void regionWriteMulti() throws Exception {
        VfioUserClient client = connect(serve(device()));
        long done = client.regionWriteMulti(List.of(
                new RegionWriteMulti.Entry(0x100, TestDevice.RAM, new byte[] {1, 2, 3, 4}),
                new RegionWriteMulti.Entry(0x200, TestDevice.RAM, new byte[] {9, 8, 7, 6, 5, 4, 3, 2})), false);
        assertThat(done).isEqualTo(2);
        assertThat(client.regionRead(TestDevice.RAM, 0x100, 4)).containsExactly(1, 2, 3, 4);
        assertThat(client.regionRead(TestDevice.RAM, 0x200, 8)).containsExactly(9, 8, 7, 6, 5, 4, 3, 2);
    }

    @Test
    void dmaMapUnmapAndUnmapAll() throws Exception {
        TestDevice device = device();
        VfioUserClient client = connect(serve(device));
        try (Arena arena = Arena.ofShared()) {
            client.registerMemory(0x1000_0000L, arena.allocate(0x2000), Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE);
            client.registerMemory(0x2000_0000L, arena.allocate(0x1000), Vfio.DMA_MAP_FLAG_READ);
            DmaBuffer buffer = client.allocateDma(0x3000_0000L, 0x4000);
            assertThat(device.dmaSpace().windows()).extracting(DmaWindow::iova, DmaWindow::mapped)
                    .containsExactlyInAnyOrder(
                            org.assertj.core.groups.Tuple.tuple(0x1000_0000L, false),
                            org.assertj.core.groups.Tuple.tuple(0x2000_0000L, false),
                            org.assertj.core.groups.Tuple.tuple(0x3000_0000L, true));
            assertThatThrownBy(() -> client.registerMemory(0x1000_1000L, arena.allocate(0x1000), Vfio.DMA_MAP_FLAG_READ))
                    .as("overlap refused locally").isInstanceOfSatisfying(VfioUserException.class,
                            e -> assertThat(e.errno()).isEqualTo(Errno.EEXIST));
            client.dmaUnmap(0x2000_0000L, 0x1000);
            assertThat(device.dmaSpace().windows()).hasSize(2);
            assertThatThrownBy(() -> client.dmaUnmap(0x1000_0000L, 0x1000)).as("part of a mapping")
                    .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
            buffer.close();
            assertThat(device.dmaSpace().windows()).hasSize(1);
            client.dmaUnmapAll();
            assertThat(device.dmaSpace().windows()).isEmpty();
        }
    }

    @Test
    void anUnmapOfARangeEndsEveryMappingInsideItHereAndOnTheServer() throws Exception {
        TestDevice device = device();
        VfioUserClient client = connect(serve(device));
        try (Arena arena = Arena.ofShared()) {
            client.registerMemory(0x1000_0000L, arena.allocate(0x2000), Vfio.DMA_MAP_FLAG_READ);
            client.registerMemory(0x1800_0000L, arena.allocate(0x1000), Vfio.DMA_MAP_FLAG_READ);
            client.dmaUnmap(0x1000_0000L, 0x1000_0000L);
            assertThat(device.dmaSpace().windows()).isEmpty();
            // Registering the same IOVAs again works only if the client dropped them too.
            client.registerMemory(0x1000_0000L, arena.allocate(0x2000), Vfio.DMA_MAP_FLAG_READ);
            client.registerMemory(0x1800_0000L, arena.allocate(0x1000), Vfio.DMA_MAP_FLAG_READ);
            assertThat(device.dmaSpace().windows()).hasSize(2);
            client.dmaUnmapAll();
        }
    }

    @Test
    void resetReachesTheDevice() throws Exception {
        TestDevice device = device();
        VfioUserClient client = connect(serve(device));
        client.write32(Vfio.PCI_CONFIG_REGION_INDEX, 0x04, 0x0006);
        client.reset();
        client.reset(BOUND);
        assertThat(device.resets.get()).isEqualTo(2);
        assertThat(client.read16(Vfio.PCI_CONFIG_REGION_INDEX, 0x04)).isZero();
    }

    @Test
    void unsupportedFeaturesAndCommandsSurfaceTheServersErrno() throws Exception {
        VfioUserClient client = connect(serve(device()));
        assertErrno(() -> client.migrationFeature(), Errno.EINVAL);
        assertErrno(() -> client.migrationState(), Errno.EINVAL);
        assertErrno(() -> client.setMigrationState(MigrationState.STOP), Errno.EINVAL);
        assertErrno(() -> client.startDmaLogging(4096, List.of()), Errno.EINVAL);
        assertErrno(() -> client.stopDmaLogging(), Errno.EINVAL);
        assertErrno(() -> client.dmaLoggingReport(0, 1 << 20, 4096), Errno.EINVAL);
        assertThat(client.probeFeature(Vfio.DEVICE_FEATURE_MIGRATION, Vfio.DEVICE_FEATURE_GET)).isFalse();
        assertErrno(() -> client.migDataRead(4096), Errno.ENOTSUP);
        assertErrno(() -> client.migDataWrite(new byte[16]), Errno.ENOTSUP);
        assertErrno(() -> client.precopyInfo(), Errno.ENOTSUP);
        assertErrno(() -> client.regionIoFds(TestDevice.DOORBELL, 256), Errno.ENOTSUP);
        assertThat(client.isConnected()).isTrue();
        assertThat(client.read8(TestDevice.RAM, 0)).isEqualTo(Byte.toUnsignedInt(TestDevice.pattern(0)));
    }

    @Test
    void typedFeatureCallsEncodeWhatTheDeviceExpects() throws Exception {
        TestDevice device = device();
        var seen = new java.util.concurrent.CopyOnWriteArrayList<String>();
        int[] state = {MigrationState.RUNNING.code()};
        device.featureHook = (flags, data) -> {
            int feature = flags & Vfio.DEVICE_FEATURE_MASK;
            MemorySegment d = MemorySegment.ofArray(data);
            var le = java.nio.ByteOrder.LITTLE_ENDIAN;
            seen.add(feature + ":" + Integer.toHexString(flags & ~Vfio.DEVICE_FEATURE_MASK) + ":" + data.length);
            if ((flags & Vfio.DEVICE_FEATURE_PROBE) != 0) {
                return data;
            }
            switch (feature) {
                case Vfio.DEVICE_FEATURE_MIGRATION -> {
                    MemorySegment r = MemorySegment.ofArray(new byte[8]);
                    r.set(java.lang.foreign.ValueLayout.JAVA_LONG_UNALIGNED.withOrder(le), 0,
                            Vfio.MIGRATION_STOP_COPY | Vfio.MIGRATION_PRE_COPY);
                    return r.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                }
                case Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE -> {
                    if ((flags & Vfio.DEVICE_FEATURE_SET) != 0) {
                        state[0] = d.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(le), 0);
                        return data;
                    }
                    MemorySegment r = MemorySegment.ofArray(new byte[8]);
                    r.set(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED.withOrder(le), 0, state[0]);
                    return r.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE);
                }
                case Vfio.DEVICE_FEATURE_DMA_LOGGING_START, Vfio.DEVICE_FEATURE_DMA_LOGGING_STOP -> {
                    return data;
                }
                case Vfio.DEVICE_FEATURE_DMA_LOGGING_REPORT -> {
                    byte[] reply = java.util.Arrays.copyOf(data, 24 + 8);
                    reply[24] = 0b101; // pages 0 and 2 dirty
                    return reply;
                }
                default -> throw new VfioException(Errno.EINVAL, "no feature " + feature);
            }
        };
        VfioUserClient client = connect(serve(device));
        assertThat(client.migrationFeature().preCopy()).isTrue();
        assertThat(client.migrationState()).isEqualTo(MigrationState.RUNNING);
        client.setMigrationState(MigrationState.STOP);
        assertThat(client.migrationState()).isEqualTo(MigrationState.STOP);
        assertThat(client.startDmaLogging(4096, List.of(new FeatureDmaLoggingControl.Range(0x10000, 0x40000)))).isEqualTo(4096);
        var report = client.dmaLoggingReport(0x10000, 64 * 4096, 4096);
        assertThat(report.bitmap()).hasSize(8);
        assertThat(report.bitmap()[0]).isEqualTo((byte) 0b101);
        client.stopDmaLogging();
        assertThat(client.probeFeature(Vfio.DEVICE_FEATURE_MIGRATION, Vfio.DEVICE_FEATURE_GET)).isTrue();
        assertErrno(() -> client.feature(DeviceFeature.of(Vfio.DEVICE_FEATURE_LOW_POWER_ENTRY | Vfio.DEVICE_FEATURE_SET, null)),
                Errno.EINVAL);
        assertThat(seen).contains("2:20000:8", "6:20000:32", "8:10000:24", "7:20000:0");
    }

    @Test
    void adoptsAnInheritedSocketFd() throws Exception {
        VfioUserServer server = serve(device());
        UnixSocket connected = UnixSocket.connect(server.socketPath().orElseThrow());
        // What a child process would inherit: another descriptor of the connected socket. The wrapper is
        // dropped without close() (which would shut the connection down); only its fd is closed.
        Fd inherited = connected.fd().duplicate();
        connected.fd().close();
        VfioUserClient client = later(VfioUserClient.adopt(inherited, ClientOptions.defaults()));
        assertThat(client.deviceInfo().numRegions()).isEqualTo(Vfio.PCI_NUM_REGIONS);

        Fd notASocket = Memfd.create("not-a-socket", 16);
        assertThatThrownBy(() -> VfioUserClient.adopt(notASocket, ClientOptions.defaults()))
                .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOTSOCK));
        assertThat(notASocket.isOpen()).as("adopt owns the fd even when it refuses it").isFalse();
    }

    interface Action {
        void run() throws Exception;
    }

    static void assertErrno(Action action, int errno) {
        assertThatThrownBy(action::run).isInstanceOfSatisfying(VfioUserException.class,
                e -> assertThat(e.errno()).as(e.getMessage()).isEqualTo(errno));
    }
}
