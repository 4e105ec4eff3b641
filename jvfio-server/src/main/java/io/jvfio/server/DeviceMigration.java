package io.jvfio.server;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.MigrationState;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.internal.MigrationStateMachine;
import io.jvfio.server.internal.MigrationStream;
import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One device's migration: its place in the VFIO device-state machine ({@link MigrationStateMachine}),
 * the saving data session (read by MIG_DATA_READ in PRE_COPY and STOP_COPY) and the loading one
 * (written by MIG_DATA_WRITE in RESUMING). It belongs to the device, not to a connection: a device
 * left in STOP by a migration stays stopped for whichever client connects next.
 */
public final class DeviceMigration {
    /** Most bytes a destination accepts in RESUMING before the load (a device's state is far smaller). */
    public static final long MAX_STREAM_BYTES = 256L << 20;
    /** What every migratable device offers (DEVICE_FEATURE MIGRATION): STOP_COPY and PRE_COPY. */
    public static final long FLAGS = Vfio.MIGRATION_STOP_COPY | Vfio.MIGRATION_PRE_COPY;

    /** What the state machine drives: the device's state as sections, and its stop and start. */
    interface Target {
        /** Which kind of device: a stream written for another kind is refused. */
        String migrationId();

        List<StateSection> save();

        /** Loads all sections or, on failure, leaves the device exactly as it was. */
        void load(Map<String, StateSection> sections) throws VfioException;

        /** {@code forSuccessor}: {@link Migratable#quiesceForSuccessor} rather than {@link Migratable#quiesce}. */
        void stop(boolean forSuccessor) throws VfioException;

        void start() throws VfioException;
    }

    private final Target target;
    private volatile MigrationState state = MigrationState.RUNNING;
    private SaveSession saving;                // while PRE_COPY or STOP_COPY
    private ByteArrayOutputStream resuming;    // while RESUMING
    /** While {@link #stopCopyForSuccessor} walks to STOP_COPY. */
    private boolean forSuccessor;

    DeviceMigration(Target target) {
        this.target = target;
    }

    public MigrationState state() {
        return state;
    }

    /**
     * Whether the device executes {@code command} now. As libvfio-user does: in STOP only region
     * accesses, DEVICE_FEATURE and MIG_DATA_READ; in STOP_COPY not even region accesses. VERSION
     * is always answered, so a client can connect to a stopped device. Allocation-free.
     */
    public boolean executes(Command command) {
        MigrationState s = state;
        if (s != MigrationState.STOP && s != MigrationState.STOP_COPY) {
            return true;
        }
        return switch (command) {
            case VERSION, DEVICE_FEATURE, MIG_DATA_READ -> true;
            case REGION_READ, REGION_WRITE, REGION_WRITE_MULTI -> s == MigrationState.STOP;
            default -> false;
        };
    }

    /**
     * MIG_DEVICE_STATE SET: walks every arc to {@code to} before returning. A failing arc stops the
     * walk in the last state reached; a failed load stays in RESUMING with the device untouched
     * (and the data written so far dropped, so the client may write a stream again); a device that
     * fails to stop, start or save ends in ERROR, which only DEVICE_RESET leaves.
     */
    public synchronized void transition(MigrationState to) throws VfioException {
        for (MigrationState next : MigrationStateMachine.path(state, to)) {
            step(next);
        }
    }

    /**
     * STOP_COPY for a successor process on this host (a live upgrade) rather than for another host:
     * the device stops without making what it wrote durable ({@link Migratable#quiesceForSuccessor}).
     */
    public synchronized void stopCopyForSuccessor() throws VfioException {
        forSuccessor = true;
        try {
            transition(MigrationState.STOP_COPY);
        } finally {
            forSuccessor = false;
        }
    }

    /**
     * Runs what a live upgrade's stop runs — the device's save into a stream — and drops the stream,
     * the state machine left as it was; with {@code load}, for a successor's device that serves no
     * client yet, the device also loads its own stream back (RUNNING → RESUMING → STOP → RUNNING) as
     * the successor will load the old server's. A process's first save and load would otherwise load
     * classes and run interpreted while the device is stopped. Does nothing unless RUNNING; a failed
     * load leaves the device running (as {@link #reset}) and throws.
     */
    public synchronized void rehearse(boolean load) throws VfioException {
        if (state != MigrationState.RUNNING) {
            return;
        }
        SaveSession save = new SaveSession(target.migrationId(), saveOrError());
        save.finish(List.of());
        byte[] stream = save.take(Integer.MAX_VALUE);
        if (!load) {
            return;
        }
        try {
            transition(MigrationState.RESUMING);
            write(stream);
            transition(MigrationState.STOP);
            transition(MigrationState.RUNNING);
        } catch (VfioException | RuntimeException e) {
            reset();
            throw e;
        }
    }

    private void step(MigrationState next) throws VfioException {
        MigrationState from = state;
        try {
            switch (next) {
                case STOP -> {
                    if (from == MigrationState.RUNNING) {
                        target.stop(forSuccessor);
                    } else if (from == MigrationState.RESUMING) {
                        load();
                    }
                    saving = null;
                }
                case RUNNING -> {
                    if (from == MigrationState.STOP) {
                        target.start();
                    }
                    saving = null; // PRE_COPY -> RUNNING ends the data session
                }
                case PRE_COPY -> saving = new SaveSession(target.migrationId(), target.save());
                case STOP_COPY -> {
                    if (from == MigrationState.PRE_COPY) {
                        target.stop(forSuccessor);
                        saving.finish(target.save()); // what changed since the last read, then the end
                    } else {
                        saving = new SaveSession(target.migrationId(), target.save());
                        saving.finish(List.of());
                    }
                }
                case RESUMING -> resuming = new ByteArrayOutputStream();
                default -> throw VfioException.invalid("no arc into " + next);
            }
        } catch (LoadRefused refused) {
            resuming = new ByteArrayOutputStream();
            throw refused.cause;
        } catch (VfioException | RuntimeException e) {
            state = MigrationState.ERROR;
            saving = null;
            resuming = null;
            throw e instanceof VfioException v ? v
                    : new VfioException(Errno.EIO, "%s -> %s failed: %s".formatted(from, next, e), e);
        }
        if (next != MigrationState.RESUMING) {
            resuming = null;
        }
        state = next;
    }

    /** A refused stream: not a device failure, so the state machine stays in RESUMING. */
    private static final class LoadRefused extends Exception {
        private static final long serialVersionUID = 1L;
        final transient VfioException cause;

        LoadRefused(VfioException cause) {
            super(cause.getMessage(), null, false, false);
            this.cause = cause;
        }
    }

    private void load() throws LoadRefused {
        try {
            target.load(MigrationStream.decode(resuming.toByteArray(), target.migrationId()));
        } catch (VfioException e) {
            throw new LoadRefused(e);
        }
    }

    /** MIG_DATA_READ: up to {@code max} bytes of the stream; fewer means no more for now (STOP_COPY: the end). */
    public synchronized byte[] read(int max) throws VfioException {
        MigrationState s = state;
        if (!s.isSaving() || saving == null) {
            throw VfioException.invalid("MIG_DATA_READ in " + s + " (only in PRE_COPY or STOP_COPY)");
        }
        if (s == MigrationState.PRE_COPY && saving.pendingBytes() == 0) {
            saving.appendChanges(saveOrError());
        }
        return saving.take(max);
    }

    /** MIG_DATA_WRITE: appends to the stream being received; only in RESUMING. */
    public synchronized void write(byte[] data) throws VfioException {
        if (state != MigrationState.RESUMING || resuming == null) {
            throw VfioException.invalid("MIG_DATA_WRITE in " + state + " (only in RESUMING)");
        }
        if (resuming.size() + (long) data.length > MAX_STREAM_BYTES) {
            throw new VfioException(Errno.EFBIG, "migration stream exceeds " + MAX_STREAM_BYTES + " bytes");
        }
        resuming.writeBytes(data);
    }

    /** GET_PRECOPY_INFO: {initial bytes not yet read, other bytes ready or changed since the last read}; only in PRE_COPY. */
    public synchronized long[] precopyInfo() throws VfioException {
        if (state != MigrationState.PRE_COPY || saving == null) {
            throw VfioException.invalid("GET_PRECOPY_INFO in " + state + " (only in PRE_COPY)");
        }
        return new long[] {saving.initialLeft(), saving.pendingBytes() - saving.initialLeft() + saving.changedBytes(saveOrError())};
    }

    private List<StateSection> saveOrError() throws VfioException {
        try {
            return target.save();
        } catch (RuntimeException e) {
            state = MigrationState.ERROR;
            saving = null;
            throw new VfioException(Errno.EIO, "saving device state failed: " + e, e);
        }
    }

    /** DEVICE_RESET: the device is at power-on and running again; any data session ends (ERROR is left only this way). */
    public synchronized void reset() throws VfioException {
        MigrationState before = state;
        saving = null;
        resuming = null;
        state = MigrationState.RUNNING;
        if (before != MigrationState.RUNNING && before != MigrationState.PRE_COPY) {
            target.start();
        }
    }

    /** The saving side of one migration: the stream produced so far and what the reader has taken. */
    private static final class SaveSession {
        private final MigrationStream.Encoder encoder = new MigrationStream.Encoder();
        private final Map<String, StateSection> sent = new HashMap<>();
        private byte[] pending = new byte[0];
        private int readPosition;
        private long initialLeft;
        private boolean ended;

        SaveSession(String deviceId, List<StateSection> snapshot) {
            append(encoder.header(deviceId));
            appendChanges(snapshot);
            initialLeft = pendingBytes();
        }

        long pendingBytes() {
            return pending.length - readPosition;
        }

        long initialLeft() {
            return initialLeft;
        }

        /** Stream bytes the sections that differ from what was sent would take. */
        long changedBytes(List<StateSection> snapshot) {
            long bytes = 0;
            for (StateSection s : snapshot) {
                if (!s.sameAs(sent.get(s.name()))) {
                    bytes += MigrationStream.Encoder.sizeOf(s);
                }
            }
            return bytes;
        }

        void appendChanges(List<StateSection> snapshot) {
            if (ended) {
                return;
            }
            for (StateSection s : snapshot) {
                if (!s.sameAs(sent.get(s.name()))) {
                    append(encoder.section(s));
                    sent.put(s.name(), s);
                }
            }
        }

        /** After the device stopped: its last changes, then the end of the stream. */
        void finish(List<StateSection> snapshot) {
            appendChanges(snapshot);
            if (!ended) {
                append(encoder.end());
                ended = true;
            }
        }

        byte[] take(int max) {
            int n = (int) Math.min(max, pendingBytes());
            byte[] out = Arrays.copyOfRange(pending, readPosition, readPosition + n);
            readPosition += n;
            initialLeft = Math.max(0, initialLeft - n);
            return out;
        }

        private void append(byte[] bytes) {
            byte[] grown = Arrays.copyOf(Arrays.copyOfRange(pending, readPosition, pending.length),
                    (pending.length - readPosition) + bytes.length);
            System.arraycopy(bytes, 0, grown, pending.length - readPosition, bytes.length);
            pending = grown;
            readPosition = 0;
        }
    }
}
