package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceFeature;
import io.jvfio.protocol.FeatureMigDeviceState;
import io.jvfio.protocol.MigData;
import io.jvfio.protocol.MigDataReadRequest;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Vfio;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Arrays;
import java.util.List;

/** Migration exchanges over a raw {@link TestPeer}. */
final class MigrationTestSupport {
    static final int CHUNK = 64;

    private MigrationTestSupport() {}

    static DeviceFeature setStateRequest(MigrationState state) {
        return DeviceFeature.of(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE | Vfio.DEVICE_FEATURE_SET, FeatureMigDeviceState.of(state));
    }

    static void setState(TestPeer c, MigrationState state) throws IOException {
        c.call(Command.DEVICE_FEATURE, setStateRequest(state)).close();
    }

    static int setStateError(TestPeer c, MigrationState state) throws IOException {
        return c.callError(Command.DEVICE_FEATURE, setStateRequest(state));
    }

    static MigrationState state(TestPeer c) throws IOException {
        try (TestPeer.Msg m = c.call(Command.DEVICE_FEATURE,
                DeviceFeature.get(Vfio.DEVICE_FEATURE_MIG_DEVICE_STATE, FeatureMigDeviceState.SIZE, null))) {
            return MigrationState.values()[m.u32(DeviceFeature.SIZE)];
        }
    }

    static byte[] read(TestPeer c, int size) throws IOException {
        try (TestPeer.Msg m = c.call(Command.MIG_DATA_READ, MigDataReadRequest.of(size))) {
            int got = m.u32(4);
            assertThat(m.payload().length).isEqualTo(8 + got);
            return Arrays.copyOfRange(m.payload(), 8, 8 + got);
        }
    }

    /** MIG_DATA_READ in small chunks until a short read. */
    static byte[] readUntilShort(TestPeer c) throws IOException {
        ByteArrayOutputStream all = new ByteArrayOutputStream();
        while (true) {
            byte[] part = read(c, CHUNK);
            all.writeBytes(part);
            if (part.length < CHUNK) {
                return all.toByteArray();
            }
        }
    }

    static void write(TestPeer c, byte[] stream) throws IOException {
        for (int done = 0; done < stream.length; done += CHUNK) {
            byte[] part = Arrays.copyOfRange(stream, done, Math.min(stream.length, done + CHUNK));
            c.call(Command.MIG_DATA_WRITE, MigData.of(part)).close();
        }
    }

    /** The whole device state as a STOP_COPY stream, leaving the device RUNNING again. */
    static byte[] snapshot(TestPeer c) throws IOException {
        MigrationState before = state(c);
        setState(c, MigrationState.STOP_COPY);
        byte[] stream = readUntilShort(c);
        setState(c, before == MigrationState.STOP ? MigrationState.STOP : MigrationState.RUNNING);
        return stream;
    }

    /** The migration hooks a walk calls on the device, arc by arc. */
    static List<String> hooksOf(MigrationState from, List<MigrationState> walk) {
        List<String> hooks = new java.util.ArrayList<>();
        MigrationState at = from;
        for (MigrationState next : walk) {
            switch (at + ">" + next) {
                case "RUNNING>STOP" -> hooks.add("quiesce");
                case "STOP>RUNNING" -> hooks.add("resume");
                case "STOP>STOP_COPY", "RUNNING>PRE_COPY" -> hooks.add("save");
                case "PRE_COPY>STOP_COPY" -> hooks.addAll(List.of("quiesce", "save"));
                case "RESUMING>STOP" -> hooks.addAll(List.of("save", "load")); // the core's backup, then the load
                default -> { }
            }
            at = next;
        }
        return hooks;
    }
}
