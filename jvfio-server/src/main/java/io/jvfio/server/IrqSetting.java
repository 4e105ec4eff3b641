package io.jvfio.server;

import io.jvfio.linux.Fd;
import java.util.List;

/**
 * A decoded DEVICE_SET_IRQS request, in device terms.
 *
 * @param index    irq index (INTx, MSI, MSI-X, ERR, REQ)
 * @param start    first vector
 * @param count    number of vectors (0 with {@link Data#NONE} and {@link Action#TRIGGER}: disable all)
 * @param action   what to do
 * @param data     how the vectors are named
 * @param bools    for {@link Data#BOOL}: one flag per vector; empty otherwise
 * @param eventfds for {@link Data#EVENTFD}: one fd per vector, or none to de-assign them; the
 *                 receiver takes ownership
 */
public record IrqSetting(int index, int start, int count, Action action, Data data, byte[] bools, List<Fd> eventfds) {
    public IrqSetting {
        eventfds = List.copyOf(eventfds);
    }

    public enum Action { MASK, UNMASK, TRIGGER }

    public enum Data { NONE, BOOL, EVENTFD }

    /** Whether vector {@code start + i} is addressed by this request. */
    public boolean selects(int i) {
        return data != Data.BOOL || bools[i] != 0;
    }
}
