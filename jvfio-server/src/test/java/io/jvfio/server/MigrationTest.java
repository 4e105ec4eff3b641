package io.jvfio.server;

import static io.jvfio.server.MigrationTestSupport.readUntilShort;
import static io.jvfio.server.MigrationTestSupport.setState;
import static io.jvfio.server.MigrationTestSupport.setStateError;
import static io.jvfio.server.MigrationTestSupport.snapshot;
import static io.jvfio.server.MigrationTestSupport.state;
import static io.jvfio.server.MigrationTestSupport.write;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Linux;
import io.jvfio.pci.PciCapabilityIds;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.DmaMap;
import io.jvfio.protocol.DmaUnmap;
import io.jvfio.protocol.FeatureMigDeviceState;
import io.jvfio.protocol.FeatureMigration;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.MigData;
import io.jvfio.protocol.MigDataReadRequest;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Payload;
import io.jvfio.protocol.PrecopyInfo;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.Vfio;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/** Migration v2 over the wire: the state machine, what a stopped device executes, the state stream. */
class MigrationTest extends ServerTestBase {
    static final int BAR0 = 0, CONFIG = Vfio.PCI_CONFIG_REGION_INDEX, MSIX_BAR = 2;

    MigratableTestDevice migratable;

    MigratableTestDevice startMigratable() throws Exception {
        migratable = new MigratableTestDevice();
        device = migratable;
        server = VfioUserServer.bind(socketPath(), migratable, ServerOptions.defaults());
        server.start();
        return migratable;
    }

    /** A second, fresh server (the destination), cleaned up with the test. */
    record Destination(MigratableTestDevice device, VfioUserServer server, Path socket) {}

    Destination startDestination() throws Exception {
        MigratableTestDevice d = new MigratableTestDevice();
        Path socket = dir.resolve("destination.sock");
        VfioUserServer s = VfioUserServer.bind(socket, d, ServerOptions.defaults());
        closeLater(d::dispose);
        closeLater(s);
        s.start();
        return new Destination(d, s, socket);
    }

    TestPeer clientOf(Destination d) throws Exception {
        return closeLater(TestPeer.connect(d.socket())).negotiate();
    }

    /** Puts the device in {@code state} (ERROR by a failing quiesce); RESUMING gets a valid stream written. */
    void reach(TestPeer c, MigrationState state) throws Exception {
        byte[] valid = snapshot(c);
        switch (state) {
            case RUNNING -> { }
            case ERROR -> {
                migratable.failQuiesce = true;
                assertThat(setStateError(c, MigrationState.STOP)).isEqualTo(Errno.EIO);
                migratable.failQuiesce = false;
            }
            case RESUMING -> {
                setState(c, state);
                write(c, valid);
            }
            default -> setState(c, state);
        }
        assertThat(state(c)).isEqualTo(state);
    }

    // ---------------------------------------------------------------- the state machine

    static Stream<Arguments> transitions() {
        return MigrationStateMachineTest.transitions();
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("transitions")
    void everyArcAndEveryRefusalOverTheWire(MigrationState from, MigrationState to, List<MigrationState> walk) throws Exception {
        startMigratable();
        TestPeer c = client();
        reach(c, from);
        migratable.hooks.clear();
        if (walk == null) {
            assertThat(setStateError(c, to)).isEqualTo(Errno.EINVAL);
            assertThat(state(c)).as("a refused transition leaves the state").isEqualTo(from);
            assertThat(migratable.hooks).as("and the device untouched").isEmpty();
        } else {
            setState(c, to);
            assertThat(state(c)).isEqualTo(to);
            assertThat(migratable.hooks).as("hooks along %s", walk).isEqualTo(MigrationTestSupport.hooksOf(from, walk));
            assertThat(migratable.running()).isEqualTo(to == MigrationState.RUNNING || to == MigrationState.PRE_COPY);
        }
    }

    @Test
    void migrationFeatureOffersStopCopyAndPreCopyAndProbes() throws Exception {
        startMigratable();
        TestPeer c = client();
        try (TestPeer.Msg m = c.call(Command.DEVICE_FEATURE, DeviceFeature.get(Vfio.DEVICE_FEATURE_MIGRATION, FeatureMigration.SIZE, null))) {
            assertThat(m.u64(DeviceFeature.SIZE)).isEqualTo(Vfio.MIGRATION_STOP_COPY | Vfio.MIGRATION_PRE_COPY);
        }
        c.call(Command.DEVICE_FEATURE, DeviceFeature.of(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE | Vfio.DEVICE_FEATURE_PROBE
                | Vfio.DEVICE_FEATURE_GET | Vfio.DEVICE_FEATURE_SET, null)).close();
        assertThat(c.callError(Command.DEVICE_FEATURE, DeviceFeature.of(Vfio.DEVICE_FEATURE_MIGRATION
                | Vfio.DEVICE_FEATURE_PROBE | Vfio.DEVICE_FEATURE_SET, null))).as("MIGRATION has no SET").isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DEVICE_FEATURE, DeviceFeature.of(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE
                | Vfio.DEVICE_FEATURE_SET, new FeatureMigDeviceState(99, -1)))).isEqualTo(Errno.EINVAL);
        assertThat(state(c)).isEqualTo(MigrationState.RUNNING);
    }

    @Test
    void aDeviceThatIsNotMigratableAnswersAsBefore() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.DEVICE_FEATURE, DeviceFeature.get(Vfio.DEVICE_FEATURE_MIGRATION, 8, null))).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.MIG_DATA_READ, MigDataReadRequest.of(8))).isEqualTo(Errno.ENOTSUP);
    }

    @Test
    void errorIsLeftOnlyByDeviceReset() throws Exception {
        startMigratable();
        TestPeer c = client();
        reach(c, MigrationState.ERROR);
        for (MigrationState s : List.of(MigrationState.RUNNING, MigrationState.STOP, MigrationState.RESUMING)) {
            assertThat(setStateError(c, s)).isEqualTo(Errno.EINVAL);
        }
        c.call(Command.DEVICE_RESET, new byte[0]).close();
        assertThat(state(c)).isEqualTo(MigrationState.RUNNING);
        assertThat(migratable.running()).isTrue();
        setState(c, MigrationState.STOP_COPY);
        assertThat(readUntilShort(c)).isNotEmpty();
    }

    @Test
    void aStoppedDeviceStaysStoppedForTheNextClient() throws Exception {
        startMigratable();
        try (TestPeer first = connect().negotiate()) {
            setState(first, MigrationState.STOP);
        }
        TestPeer next = client();
        assertThat(state(next)).isEqualTo(MigrationState.STOP);
    }

    // ---------------------------------------------------------------- commands per state

    /** Outcome of each command in each state: ok, or the errno. Region accesses go to BAR 0. */
    static final String COMMANDS = """
            command                  RUNNING STOP    STOP_COPY RESUMING PRE_COPY ERROR
            DMA_MAP                  ok      EINVAL  EINVAL    ok       ok       ok
            DMA_UNMAP                ok      EINVAL  EINVAL    ok       ok       ok
            DEVICE_GET_INFO          ok      EINVAL  EINVAL    ok       ok       ok
            DEVICE_GET_REGION_INFO   ok      EINVAL  EINVAL    ok       ok       ok
            DEVICE_GET_IRQ_INFO      ok      EINVAL  EINVAL    ok       ok       ok
            DEVICE_SET_IRQS          ok      EINVAL  EINVAL    ok       ok       ok
            REGION_READ              ok      ok      EINVAL    ok       ok       ok
            REGION_WRITE             ok      ok      EINVAL    ok       ok       ok
            DEVICE_RESET             ok      EINVAL  EINVAL    ok       ok       ok
            DEVICE_FEATURE           ok      ok      ok        ok       ok       ok
            MIG_DATA_READ            EINVAL  EINVAL  ok        EINVAL   ok       EINVAL
            MIG_DATA_WRITE           EINVAL  EINVAL  EINVAL    ok       EINVAL   EINVAL
            GET_PRECOPY_INFO         EINVAL  EINVAL  EINVAL    EINVAL   ok       EINVAL
            """;

    static Stream<Arguments> commandsPerState() {
        String[] lines = COMMANDS.strip().split("\n");
        String[] states = lines[0].trim().split("\\s+");
        return Arrays.stream(lines, 1, lines.length).flatMap(line -> {
            String[] f = line.trim().split("\\s+");
            return Stream.iterate(1, i -> i < states.length, i -> i + 1)
                    .map(i -> Arguments.of(Command.valueOf(f[0]), MigrationState.valueOf(states[i]), f[i]));
        });
    }

    private static final long WINDOW = 0x100000;

    private Payload legalRequest(Command command) {
        return switch (command) {
            case DMA_MAP -> DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0, 0x900000, 0x1000);
            case DMA_UNMAP -> DmaUnmap.of(WINDOW, 0x1000);
            case DEVICE_GET_INFO -> DeviceInfo.request(DeviceInfo.SIZE);
            case DEVICE_GET_REGION_INFO -> RegionInfo.request(RegionInfo.SIZE, BAR0);
            case DEVICE_GET_IRQ_INFO -> IrqInfo.request(Vfio.PCI_MSIX_IRQ_INDEX);
            case DEVICE_SET_IRQS -> IrqSet.none(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 0);
            case DEVICE_FEATURE -> DeviceFeature.get(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE, FeatureMigDeviceState.SIZE, null);
            case MIG_DATA_READ -> MigDataReadRequest.of(16);
            case MIG_DATA_WRITE -> MigData.of(new byte[] {1, 2, 3});
            case GET_PRECOPY_INFO -> PrecopyInfo.request();
            default -> throw new IllegalArgumentException(command.toString());
        };
    }

    private byte[] legalPayload(Command command) {
        return switch (command) {
            case REGION_READ -> TestPeer.regionRead(BAR0, 0, 4);
            case REGION_WRITE -> TestPeer.regionWrite(BAR0, 0, new byte[] {1, 2, 3, 4});
            case DEVICE_RESET -> new byte[0];
            default -> TestPeer.bytes(legalRequest(command));
        };
    }

    @ParameterizedTest(name = "{0} in {1}: {2}")
    @MethodSource("commandsPerState")
    void aStoppedDeviceExecutesOnlyWhatLibvfioUserAndTheKernelAllow(Command command, MigrationState state, String outcome) throws Exception {
        startMigratable();
        TestPeer c = client();
        c.call(Command.DMA_MAP, DmaMap.of(Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE, 0, WINDOW, 0x1000)).close();
        reach(c, state);
        if (outcome.equals("ok")) {
            c.call(command, legalPayload(command)).close();
        } else {
            assertThat(c.callError(command, legalPayload(command), List.of())).isEqualTo(Errno.class.getField(outcome).getInt(null));
        }
    }

    // ---------------------------------------------------------------- the state stream

    /** Gives the device state in every part the core and the device save. */
    private void dirtyEverything(TestPeer c, MigratableTestDevice target, int seed) throws Exception {
        byte[] memory = new byte[TestDevice.REGION_SIZE];
        for (int i = 0; i < memory.length; i++) {
            memory[i] = (byte) (i * 7 + seed);
        }
        c.write(BAR0, 0, Arrays.copyOf(memory, 2048));
        c.write(BAR0, 2048, Arrays.copyOfRange(memory, 2048, 4096));
        c.write(CONFIG, 0x04, new byte[] {0x06, 0x00});                     // command: memory + bus master
        c.write(CONFIG, 0x10, new byte[] {0x00, 0x00, (byte) 0xfe, (byte) 0xfe}); // BAR 0 address
        c.write(MSIX_BAR, 0x10, new byte[] {0x00, 0x10, (byte) 0xe0, (byte) 0xfe, 0, 0, 0, 0, (byte) seed, 0x40, 0, 0, 0, 0, 0, 0});
        target.setTag(0x1234_0000 | seed);
    }

    private static byte[] regions(TestPeer c) throws Exception {
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        all.writeBytes(c.read(CONFIG, 0, 256));
        all.writeBytes(c.read(BAR0, 0, 2048));
        all.writeBytes(c.read(BAR0, 2048, 2048));
        all.writeBytes(c.read(MSIX_BAR, 0, 8 * 16));
        return all.toByteArray();
    }

    @Test
    void theStateRoundTripsByteForByte() throws Exception {
        startMigratable();
        TestPeer a = client();
        dirtyEverything(a, migratable, 5);
        byte[] regionsOfA = regions(a);
        setState(a, MigrationState.STOP_COPY);
        byte[] stream = readUntilShort(a);

        Destination d = startDestination();
        TestPeer b = clientOf(d);
        assertThat(regions(b)).isNotEqualTo(regionsOfA);
        setState(b, MigrationState.RESUMING);
        write(b, stream);
        setState(b, MigrationState.RUNNING);
        assertThat(regions(b)).isEqualTo(regionsOfA);
        assertThat(d.device().tag()).isEqualTo(migratable.tag());
        assertThat(snapshot(b)).as("B saves exactly the stream A sent").isEqualTo(stream);
    }

    static Stream<Arguments> badStreams() {
        return Stream.of(
                Arguments.of("corrupt: one byte flipped in the middle", (java.util.function.UnaryOperator<byte[]>) s -> {
                    byte[] t = s.clone();
                    t[t.length / 2] ^= 0x40;
                    return t;
                }),
                Arguments.of("truncated: the last byte missing", (java.util.function.UnaryOperator<byte[]>) s -> Arrays.copyOf(s, s.length - 1)),
                Arguments.of("truncated: the end record missing", (java.util.function.UnaryOperator<byte[]>) s -> Arrays.copyOf(s, s.length - 9)),
                Arguments.of("empty", (java.util.function.UnaryOperator<byte[]>) s -> new byte[0]),
                Arguments.of("foreign: not a jvfio stream", (java.util.function.UnaryOperator<byte[]>) s -> "QEMU VM state...".getBytes()),
                Arguments.of("trailing garbage", (java.util.function.UnaryOperator<byte[]>) s -> Arrays.copyOf(s, s.length + 3)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badStreams")
    void aBadStreamIsRefusedAndTheDeviceLeftAsItWas(String what, java.util.function.UnaryOperator<byte[]> spoil) throws Exception {
        startMigratable();
        TestPeer a = client();
        dirtyEverything(a, migratable, 9);
        byte[] good = snapshot(a);

        Destination d = startDestination();
        TestPeer b = clientOf(d);
        dirtyEverything(b, d.device(), 1);
        // the destination's own client wrote through the same regions: compare against what B holds now
        byte[] before = regions(b);
        int tagBefore = d.device().tag();
        setState(b, MigrationState.RESUMING);
        write(b, spoil.apply(good));
        assertThat(setStateError(b, MigrationState.RUNNING)).isEqualTo(Errno.EINVAL);
        assertThat(state(b)).as("the load failed: still RESUMING").isEqualTo(MigrationState.RESUMING);
        assertThat(regions(b)).as("config space, BAR 0, MSI-X table unchanged").isEqualTo(before);
        assertThat(d.device().tag()).isEqualTo(tagBefore);
        // The refused data is dropped: the same session takes a good stream now.
        write(b, good);
        setState(b, MigrationState.RUNNING);
        assertThat(snapshot(b)).isEqualTo(good);
    }

    @Test
    void aStreamFromAnotherKindOfDeviceIsRefused() throws Exception {
        startMigratable();
        TestPeer a = client();
        byte[] stream = snapshot(a);
        class OtherDevice extends MigratableTestDevice {
            OtherDevice() throws Exception {}
        }
        OtherDevice other = new OtherDevice();
        closeLater(other::dispose);
        Path socket = dir.resolve("other.sock");
        VfioUserServer s = closeLater(VfioUserServer.bind(socket, other, ServerOptions.defaults()));
        s.start();
        TestPeer b = closeLater(TestPeer.connect(socket)).negotiate();
        setState(b, MigrationState.RESUMING);
        write(b, stream);
        assertThat(setStateError(b, MigrationState.STOP)).isEqualTo(Errno.EINVAL);
        assertThat(other.hooks).doesNotContain("load");
    }

    @Test
    void aDeviceRefusingHalfWayThroughItsLoadIsPutBackAsItWas() throws Exception {
        startMigratable();
        TestPeer a = client();
        dirtyEverything(a, migratable, 3);
        migratable.setTag(MigratableTestDevice.POISON);
        byte[] poisoned = snapshot(a);

        Destination d = startDestination();
        TestPeer b = clientOf(d);
        dirtyEverything(b, d.device(), 4);
        byte[] before = regions(b);
        setState(b, MigrationState.RESUMING);
        write(b, poisoned);
        assertThat(setStateError(b, MigrationState.RUNNING)).isEqualTo(Errno.EINVAL);
        assertThat(d.device().hooks).contains("load");
        assertThat(regions(b)).as("BAR 0 was overwritten by the load, then restored").isEqualTo(before);
        assertThat(d.device().tag()).isEqualTo(0x1234_0004);
    }

    @Test
    void preCopySendsWhatChangedSinceTheLastRead() throws Exception {
        startMigratable();
        TestPeer a = client();
        dirtyEverything(a, migratable, 2);
        setState(a, MigrationState.PRE_COPY);
        long[] info = precopyInfo(a);
        assertThat(info[0]).as("initial bytes").isPositive();
        byte[] first = readUntilShort(a);
        assertThat(first.length).isEqualTo(info[0] + info[1]);
        assertThat(precopyInfo(a)).as("all read, nothing changed").containsExactly(0, 0);
        assertThat(MigrationTestSupport.read(a, 64)).as("no more for now").isEmpty();

        migratable.setTag(77);                       // the device changes while running
        long[] dirty = precopyInfo(a);
        assertThat(dirty[0]).isZero();
        assertThat(dirty[1]).as("only the tag section").isBetween(1L, 64L);
        byte[] second = readUntilShort(a);
        assertThat(second.length).isEqualTo(dirty[1]);

        a.write(BAR0, 0x10, new byte[] {9, 9, 9, 9});    // and once more, caught by stop-and-copy
        setState(a, MigrationState.STOP_COPY);
        byte[] last = readUntilShort(a);
        assertThat(last.length).as("the memory section and the end").isGreaterThan(TestDevice.REGION_SIZE);
        byte[] regionsOfA = regions2(a);

        Destination d = startDestination();
        TestPeer b = clientOf(d);
        setState(b, MigrationState.RESUMING);
        write(b, concat(first, second, last));
        setState(b, MigrationState.RUNNING);
        assertThat(regions(b)).isEqualTo(regionsOfA);
        assertThat(d.device().tag()).isEqualTo(77);
    }

    /** A's regions while A is in STOP_COPY (region access refused there): read after going to STOP. */
    private byte[] regions2(TestPeer a) throws Exception {
        setState(a, MigrationState.STOP);
        return regions(a);
    }

    private static long[] precopyInfo(TestPeer c) throws Exception {
        try (TestPeer.Msg m = c.call(Command.GET_PRECOPY_INFO, PrecopyInfo.request())) {
            return new long[] {m.u64(8), m.u64(16)};
        }
    }

    private static byte[] concat(byte[]... parts) {
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        for (byte[] p : parts) {
            all.writeBytes(p);
        }
        return all.toByteArray();
    }

    @Test
    void interruptsRaisedWhileStoppedAreHeldUntilTheDeviceRuns() throws Exception {
        startMigratable();
        TestPeer c = client();
        try (EventFd intx = EventFd.create()) {
            c.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(Vfio.PCI_INTX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 1), intx.fd()).close();
            setState(c, MigrationState.STOP);
            migratable.intx(true);
            assertThat(Linux.poll(intx.fd(), TestPeer.POLLIN, 100)).as("held while stopped").isZero();
            setState(c, MigrationState.RUNNING);
            assertThat(Linux.poll(intx.fd(), TestPeer.POLLIN, TestPeer.WAIT_MILLIS)).isNotZero();
        }
    }

    @Test
    void aVectorRaisedAfterTheStopTravelsToTheDestinationAndFiresWhenItRuns() throws Exception {
        startMigratable();
        TestPeer a = client();
        int msixCap = migratable.config().capability(PciCapabilityIds.MSIX).orElseThrow().offset();
        a.write(CONFIG, msixCap + 3, new byte[] {(byte) 0x80}); // MSI-X on: travels in the config space
        setState(a, MigrationState.STOP);
        migratable.raiseVector(1); // held: as a virtio device's last completion while it stops
        setState(a, MigrationState.STOP_COPY);
        byte[] stream = readUntilShort(a);

        Destination d = startDestination();
        TestPeer b = clientOf(d);
        try (EventFd vector0 = EventFd.create();
             EventFd vector1 = EventFd.create()) {
            b.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 0, 2),
                    vector0.fd(), vector1.fd()).close();
            setState(b, MigrationState.RESUMING);
            write(b, stream);
            assertThat(Linux.poll(vector1.fd(), TestPeer.POLLIN, 100)).as("held while resuming").isZero();
            setState(b, MigrationState.RUNNING);
            assertThat(Linux.poll(vector1.fd(), TestPeer.POLLIN, TestPeer.WAIT_MILLIS)).as("delivered by B").isNotZero();
            assertThat(Linux.poll(vector0.fd(), TestPeer.POLLIN, 0)).as("only the vector raised").isZero();
        }
    }
}
