package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.protocol.MigrationState;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * What a live upgrade asks of a device's migration besides the client's transitions: a stop for a
 * successor on this host ({@link DeviceMigration#stopCopyForSuccessor}), and the rehearsals that run
 * the save and load paths before the device is stopped for real ({@link DeviceMigration#rehearse}).
 */
class MigrationForSuccessorTest {

    @Test
    void aStopForASuccessorQuiescesForOneAndAMigrationsStopDoesNot() throws Exception {
        MigratableTestDevice device = new MigratableTestDevice();
        DeviceMigration migration = device.migration().orElseThrow();

        migration.stopCopyForSuccessor();
        assertThat(migration.state()).isEqualTo(MigrationState.STOP_COPY);
        assertThat(device.hooks).containsExactly("quiesceForSuccessor", "save");

        migration.transition(MigrationState.RUNNING);
        device.hooks.clear();
        migration.transition(MigrationState.STOP_COPY);
        assertThat(device.hooks).as("a migration's stop, after one for a successor").containsExactly("quiesce", "save");
    }

    @Test
    void aRehearsedSaveLeavesTheDeviceRunningUntouched() throws Exception {
        MigratableTestDevice device = new MigratableTestDevice();
        DeviceMigration migration = device.migration().orElseThrow();

        migration.rehearse(false);

        assertThat(device.hooks).containsExactly("save");
        assertThat(migration.state()).isEqualTo(MigrationState.RUNNING);
        assertThat(device.running()).isTrue();
    }

    @Test
    void aRehearsedLoadLoadsTheDevicesOwnStateAndRunsItAgain() throws Exception {
        MigratableTestDevice device = new MigratableTestDevice();
        device.setTag(0x1234);
        DeviceMigration migration = device.migration().orElseThrow();

        migration.rehearse(true);

        // The second save is the core's, before a load: what it restores if the stream is refused.
        assertThat(device.hooks).containsExactly("save", "quiesce", "save", "load", "resume");
        assertThat(device.tag()).as("its own state, loaded back").isEqualTo(0x1234);
        assertThat(migration.state()).isEqualTo(MigrationState.RUNNING);
        assertThat(device.running()).isTrue();
    }

    @Test
    void aRefusedRehearsalLeavesTheDeviceRunningAndSays() throws Exception {
        MigratableTestDevice device = new MigratableTestDevice();
        device.setTag(MigratableTestDevice.POISON); // refused on load, after the memory was overwritten
        DeviceMigration migration = device.migration().orElseThrow();

        assertThatThrownBy(() -> migration.rehearse(true)).isInstanceOf(VfioException.class);

        assertThat(migration.state()).isEqualTo(MigrationState.RUNNING);
        assertThat(device.running()).isTrue();
    }

    @Test
    void noRehearsalWhileAClientMigratesTheDevice() throws Exception {
        MigratableTestDevice device = new MigratableTestDevice();
        DeviceMigration migration = device.migration().orElseThrow();
        migration.transition(MigrationState.STOP);
        device.hooks.clear();

        migration.rehearse(true);

        assertThat(device.hooks).isEqualTo(List.of());
        assertThat(migration.state()).isEqualTo(MigrationState.STOP);
    }
}
