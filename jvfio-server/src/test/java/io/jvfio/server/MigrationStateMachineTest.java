package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.MigrationState;
import io.jvfio.server.internal.MigrationStateMachine;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every (from, to) pair of the device-state machine against the table linux/vfio.h implies for a
 * device without P2P: the states walked through, or refusal.
 */
class MigrationStateMachineTest {
    /** from -> to : the states walked through (after from), "-" for none, "refused" for EINVAL. */
    static final String TABLE = """
            STOP      STOP       -
            STOP      RUNNING    RUNNING
            STOP      STOP_COPY  STOP_COPY
            STOP      RESUMING   RESUMING
            STOP      PRE_COPY   RUNNING PRE_COPY
            RUNNING   STOP       STOP
            RUNNING   RUNNING    -
            RUNNING   STOP_COPY  STOP STOP_COPY
            RUNNING   RESUMING   STOP RESUMING
            RUNNING   PRE_COPY   PRE_COPY
            STOP_COPY STOP       STOP
            STOP_COPY RUNNING    STOP RUNNING
            STOP_COPY STOP_COPY  -
            STOP_COPY RESUMING   STOP RESUMING
            STOP_COPY PRE_COPY   refused
            RESUMING  STOP       STOP
            RESUMING  RUNNING    STOP RUNNING
            RESUMING  STOP_COPY  STOP STOP_COPY
            RESUMING  RESUMING   -
            RESUMING  PRE_COPY   STOP RUNNING PRE_COPY
            PRE_COPY  STOP       RUNNING STOP
            PRE_COPY  RUNNING    RUNNING
            PRE_COPY  STOP_COPY  STOP_COPY
            PRE_COPY  RESUMING   RUNNING STOP RESUMING
            PRE_COPY  PRE_COPY   -
            """;

    static final List<MigrationState> VFIO_USER_STATES = List.of(MigrationState.STOP, MigrationState.RUNNING,
            MigrationState.STOP_COPY, MigrationState.RESUMING, MigrationState.PRE_COPY, MigrationState.ERROR);

    /** The expected walk for every pair of states (all eight targets, ERROR and P2P included). */
    static Stream<Arguments> transitions() {
        return VFIO_USER_STATES.stream().flatMap(from -> Arrays.stream(MigrationState.values())
                .map(to -> Arguments.of(from, to, expected(from, to))));
    }

    /** The walk from the table, or null when the transition must be refused. */
    static List<MigrationState> expected(MigrationState from, MigrationState to) {
        for (String line : TABLE.strip().split("\n")) {
            String[] f = line.trim().split("\\s+");
            if (f[0].equals(from.name()) && f[1].equals(to.name())) {
                return f[2].equals("refused") ? null
                        : f[2].equals("-") ? List.of()
                        : Arrays.stream(f, 2, f.length).map(MigrationState::valueOf).toList();
            }
        }
        return null; // anything not in the table (out of ERROR, into ERROR or P2P) is refused
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @MethodSource("transitions")
    void walksTheShortestPathThroughNonSavingStatesOrRefuses(MigrationState from, MigrationState to,
                                                           List<MigrationState> walk) throws Exception {
        if (walk == null) {
            assertThatThrownBy(() -> MigrationStateMachine.path(from, to))
                    .isInstanceOfSatisfying(VfioException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EINVAL));
            return;
        }
        List<MigrationState> path = MigrationStateMachine.path(from, to);
        assertThat(path).isEqualTo(walk);
        MigrationState at = from;
        for (MigrationState next : path) {
            assertThat(MigrationStateMachine.isArc(at, next)).as("%s -> %s is one arc", at, next).isTrue();
            at = next;
        }
        for (MigrationState interior : path.subList(0, Math.max(0, path.size() - 1))) {
            assertThat(interior.isSaving()).as("interior state %s", interior).isFalse();
        }
    }
}
