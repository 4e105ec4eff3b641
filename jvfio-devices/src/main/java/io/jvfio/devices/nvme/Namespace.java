package io.jvfio.devices.nvme;

import io.jvfio.devices.storage.BlockStore;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/**
 * One active namespace: a block store seen in logical blocks of {@code 1 << lbaShift} bytes
 * (512 or 4096). Its UUID (Identify CNS 03) is derived from the controller's serial and the
 * namespace id, so it is stable across restarts and unique per controller.
 */
record Namespace(int nsid, BlockStore store, int lbaShift, UUID uuid) {
    static Namespace of(int nsid, BlockStore store, int lbaShift, String controllerSerial) {
        UUID uuid = UUID.nameUUIDFromBytes((controllerSerial + "/" + nsid).getBytes(StandardCharsets.US_ASCII));
        return new Namespace(nsid, store, lbaShift, uuid);
    }

    /** NSZE: whole blocks of the store. */
    long blocks() {
        return store.size() >>> lbaShift;
    }

    /** Whether blocks [slba, slba + count) exist. */
    boolean contains(long slba, long count) {
        long blocks = blocks();
        return slba >= 0 && count >= 0 && slba <= blocks && count <= blocks - slba;
    }
}
