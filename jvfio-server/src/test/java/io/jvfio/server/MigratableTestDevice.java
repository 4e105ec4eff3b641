package io.jvfio.server;

import io.jvfio.linux.Errno;
import io.jvfio.linux.LinuxException;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * The {@link TestDevice}, migratable: its own state is BAR 0's memory (section {@code test.memory})
 * and a word set by {@link #setTag}. Records the migration hooks it sees, and can be told to fail
 * them (to reach ERROR) or to refuse a stream half-way through loading it (to see the rollback).
 */
class MigratableTestDevice extends TestDevice implements Migratable {
    /** A tag value the device refuses on load — after it already overwrote its memory. */
    static final int POISON = 0xdead;

    final List<String> hooks = new CopyOnWriteArrayList<>();
    volatile boolean failQuiesce;
    private int tag;

    MigratableTestDevice() throws LinuxException {}

    synchronized void setTag(int value) {
        tag = value;
    }

    synchronized int tag() {
        return tag;
    }

    @Override
    public void saveState(StateWriter out) {
        synchronized (memory) {
            out.section("test.memory", 1).bytes(memory.clone());
        }
        synchronized (this) {
            out.section("test.tag", 1).u32(tag);
        }
        hooks.add("save");
    }

    @Override
    public void loadState(StateReader in) throws VfioException {
        hooks.add("load");
        byte[] loaded = in.section("test.memory").requireVersion(1).bytes(REGION_SIZE);
        synchronized (memory) {
            System.arraycopy(loaded, 0, memory, 0, REGION_SIZE);
        }
        int loadedTag = in.section("test.tag").requireVersion(1).u32();
        if (loadedTag == POISON) {
            throw VfioException.invalid("poisoned tag"); // memory is already overwritten: the core must undo it
        }
        synchronized (this) {
            tag = loadedTag;
        }
    }

    @Override
    public void quiesce() throws VfioException {
        hooks.add("quiesce");
        if (failQuiesce) {
            throw new VfioException(Errno.EIO, "injected quiesce failure");
        }
    }

    @Override
    public void quiesceForSuccessor() {
        hooks.add("quiesceForSuccessor");
    }

    @Override
    public void resume() {
        hooks.add("resume");
    }

    boolean running() {
        return isRunning();
    }
}
