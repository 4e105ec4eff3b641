package io.jvfio.server;

import io.jvfio.protocol.Vfio;
import java.util.EnumSet;
import java.util.Set;

/**
 * What DEVICE_GET_IRQ_INFO reports for one irq index.
 *
 * @param count vectors of this type (0 = not supported)
 * @param flags how the vectors behave
 */
public record IrqSpec(int count, Set<Flag> flags) {
    /** How an index's vectors behave. */
    public enum Flag {
        /** MASK/UNMASK actions are honoured. */
        MASKABLE,
        /** The line masks itself when it fires (INTx) until the client unmasks it. */
        AUTOMASKED,
        /** Vectors cannot be enabled one by one. */
        NO_RESIZE
    }

    public IrqSpec {
        flags = flags.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(flags));
    }

    public static IrqSpec none() {
        return new IrqSpec(0, Set.of());
    }

    public boolean maskable() {
        return flags.contains(Flag.MASKABLE);
    }

    public boolean automasked() {
        return flags.contains(Flag.AUTOMASKED);
    }

    public boolean noResize() {
        return flags.contains(Flag.NO_RESIZE);
    }

    /** The VFIO irq info flags: EVENTFD (every index of a vfio-user device signals through eventfds) and the flags above. */
    public int vfioFlags() {
        return Vfio.IRQ_INFO_EVENTFD | (maskable() ? Vfio.IRQ_INFO_MASKABLE : 0) | (automasked() ? Vfio.IRQ_INFO_AUTOMASKED : 0)
                | (noResize() ? Vfio.IRQ_INFO_NORESIZE : 0);
    }
}
