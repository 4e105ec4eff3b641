package io.jvfio.server.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.linux.PeerCredentials;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.RegionAccess;
import io.jvfio.protocol.Version;
import io.jvfio.server.RamTestDevice;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.SessionContext;
import io.jvfio.server.VfioException;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The command handlers called directly: a request payload in, a reply payload or an errno out, no socket. */
class CommandHandlersTest {
    private final ServerOptions options = ServerOptions.defaults();
    private final MemorySegment reply = MemorySegment.ofArray(new byte[64 << 10]);
    /** A RAM device that remembers its opens. */
    private static final class Device extends RamTestDevice {
        final List<SessionContext> opens = new CopyOnWriteArrayList<>();

        Device() {
            super(0x1000);
        }

        @Override
        public void open(SessionContext context) throws VfioException {
            super.open(context);
            opens.add(context);
        }
    }

    private Device device;
    private CommandHandlers handlers;

    @BeforeEach
    void setUp() throws Exception {
        device = new Device();
        CommandHandlers.OffSessionThread inPlace = new CommandHandlers.OffSessionThread() {
            @Override
            public <T> T run(CommandHandlers.DeviceCall<T> call) throws VfioException {
                return call.run();
            }
        };
        handlers = new CommandHandlers(device, options, new StatsCounters(), new DmaSpace(options.maxDmaWindows()), null,
                inPlace, () -> new PeerCredentials(1, 2, 3));
    }

    @AfterEach
    void tearDown() {
        device.close();
    }

    private long handle(Command command, MemorySegment request) throws Exception {
        return handlers.handle(command, request, reply, new ArrayList<>());
    }

    private static MemorySegment encoded(Payload payload) {
        MemorySegment p = MemorySegment.ofArray(new byte[(int) payload.encodedSize()]);
        payload.encode(p);
        return p;
    }

    private void negotiate() throws Exception {
        long size = handle(Command.VERSION, encoded(new Version(0, 0, VersionCapabilities.DEFAULTS)));
        assertThat(Version.decode(reply.asSlice(0, size)).major()).isZero();
    }

    @Test
    void commandsBeforeVersionAreRefused() {
        assertThatThrownBy(() -> handle(Command.DEVICE_GET_INFO, encoded(DeviceInfo.request(DeviceInfo.SIZE))))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
        assertThat(handlers.negotiated()).isFalse();
    }

    @Test
    void versionOpensTheDeviceOnceAndOnlyOnce() throws Exception {
        negotiate();
        assertThat(handlers.negotiated()).isTrue();
        assertThat(device.opens).hasSize(1);
        assertThat(device.opens.getFirst().peer()).isEqualTo(new PeerCredentials(1, 2, 3));
        assertThatThrownBy(this::negotiate)
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
    }

    @Test
    void deviceInfoReportsTheDevicesRegionsAndIrqs() throws Exception {
        negotiate();
        long size = handle(Command.DEVICE_GET_INFO, encoded(DeviceInfo.request(DeviceInfo.SIZE)));
        DeviceInfo info = DeviceInfo.decode(reply.asSlice(0, size));
        assertThat(info.numRegions()).isEqualTo(device.info().numRegions());
        assertThat(info.numIrqs()).isEqualTo(device.info().numIrqs());
    }

    @Test
    void regionWriteThenReadGoesThroughTheDevice() throws Exception {
        negotiate();
        MemorySegment write = MemorySegment.ofArray(new byte[RegionAccess.SIZE + 4]);
        RegionAccess.write(write, 0x10, 0, 4);
        write.set(ValueLayout.JAVA_INT_UNALIGNED, RegionAccess.DATA_OFFSET, 0xcafe_f00d);
        assertThat(handle(Command.REGION_WRITE, write)).isEqualTo(RegionAccess.SIZE);
        assertThat(device.ram.get(ValueLayout.JAVA_INT_UNALIGNED, 0x10)).isEqualTo(0xcafe_f00d);

        MemorySegment read = MemorySegment.ofArray(new byte[RegionAccess.SIZE]);
        RegionAccess.write(read, 0x10, 0, 4);
        assertThat(handle(Command.REGION_READ, read)).isEqualTo(RegionAccess.SIZE + 4);
        assertThat(reply.get(ValueLayout.JAVA_INT_UNALIGNED, RegionAccess.DATA_OFFSET)).isEqualTo(0xcafe_f00d);
    }

    @Test
    void anAccessToARegionTheDeviceLacksIsEinval() throws Exception {
        negotiate();
        MemorySegment read = MemorySegment.ofArray(new byte[RegionAccess.SIZE]);
        RegionAccess.write(read, 0, 99, 4);
        assertThatThrownBy(() -> handle(Command.REGION_READ, read))
                .isInstanceOfSatisfying(ProtocolException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
    }
}
