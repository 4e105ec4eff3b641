package io.jvfio.server;

/**
 * What DEVICE_GET_IRQ_INFO reports for one irq index.
 *
 * @param count      vectors of this type (0 = not supported)
 * @param maskable   MASK/UNMASK actions are honoured
 * @param automasked the line masks itself when it fires (INTx) until the client unmasks it
 * @param noResize   vectors cannot be enabled one by one
 */
public record IrqSpec(int count, boolean maskable, boolean automasked, boolean noResize) {
    public static IrqSpec none() {
        return new IrqSpec(0, false, false, false);
    }
}
