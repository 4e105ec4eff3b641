package io.jvfio.devices.nvme;

import io.jvfio.devices.storage.BlockStore;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * The controller's namespace ids 1..NN and the namespaces active on them, attached and detached at
 * run time (as Namespace Attachment would, but by the application serving the controller, not by a
 * command of the host).
 * The table is an array replaced whole on every change (copy on write), so the command sets look
 * a namespace up with one volatile read and no lock; attach and detach are serialized.
 */
final class Namespaces {
    /** NN at most: the migration state counts the namespace ids in a byte. */
    static final int MAX_NAMESPACES = 255;

    private final int lbaShift;
    private final String controllerSerial;
    /** By nsid - 1; null where the id is inactive. Never modified once published. */
    private volatile Namespace[] slots;

    Namespaces(int max, List<BlockStore> stores, int lbaShift, String controllerSerial) {
        if (max < stores.size() || max > MAX_NAMESPACES) {
            throw new IllegalArgumentException("%d namespace ids for %d namespaces (at most %d)".formatted(max, stores.size(),
                    MAX_NAMESPACES));
        }
        this.lbaShift = lbaShift;
        this.controllerSerial = controllerSerial;
        Namespace[] initial = new Namespace[max];
        for (int i = 0; i < stores.size(); i++) {
            initial[i] = Namespace.of(i + 1, stores.get(i), lbaShift, controllerSerial);
        }
        this.slots = initial;
    }

    /** NN: the highest namespace id. */
    int max() {
        return slots.length;
    }

    /** The active namespace with {@code nsid}, or null (inactive, or not a namespace id of this controller). */
    Namespace get(int nsid) {
        Namespace[] now = slots;
        return nsid >= 1 && nsid <= now.length ? now[nsid - 1] : null;
    }

    /** The table now, by nsid - 1, null where inactive; the caller must not modify it. */
    Namespace[] snapshot() {
        return slots;
    }

    /** The active namespaces, by ascending nsid. */
    List<Namespace> active() {
        List<Namespace> list = new ArrayList<>();
        for (Namespace ns : slots) {
            if (ns != null) {
                list.add(ns);
            }
        }
        return list;
    }

    /** Makes {@code store} a namespace on the lowest inactive id; returns it. */
    synchronized Namespace attach(BlockStore store) {
        if (store.size() >>> lbaShift == 0) {
            throw new IllegalArgumentException("a namespace of %d bytes holds no %d-byte block".formatted(store.size(), 1 << lbaShift));
        }
        Namespace[] now = slots;
        for (int i = 0; i < now.length; i++) {
            if (now[i] == null) {
                Namespace ns = Namespace.of(i + 1, store, lbaShift, controllerSerial);
                Namespace[] next = Arrays.copyOf(now, now.length);
                next[i] = ns;
                slots = next;
                return ns;
            }
        }
        throw new IllegalStateException("all %d namespace ids of the controller are active (see Builder.maxNamespaces)".formatted(now.length));
    }

    /** Makes namespace {@code nsid} inactive; returns what it was. */
    synchronized Namespace detach(int nsid) {
        Namespace ns = get(nsid);
        if (ns == null) {
            throw new IllegalArgumentException("namespace %d is not active".formatted(nsid));
        }
        Namespace[] next = Arrays.copyOf(slots, slots.length);
        next[nsid - 1] = null;
        slots = next;
        return ns;
    }
}
