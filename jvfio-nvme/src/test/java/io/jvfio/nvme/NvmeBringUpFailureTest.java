package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.DeviceHandle;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Path;
import java.util.function.LongUnaryOperator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A bring-up that fails as the specification foresees: a controller that reports a fatal status
 * while enabling, and one that never becomes ready within CAP.TO. The controller is jvfio's, seen
 * through a handle that alters what CAP and CSTS read; the driver leaves it disabled and releases
 * all it took (the served test checks the fds).
 */
class NvmeBringUpFailureTest {
    private static final long CAP = 0x00, CC = 0x14, CSTS = 0x1c;

    @TempDir
    Path dir;

    /** {@code device} with each 4- and 8-byte read of BAR 0 at {@code register} passed through {@code alter}. */
    private static DeviceHandle altering(DeviceHandle device, long register, LongUnaryOperator alter) {
        return (DeviceHandle) Proxy.newProxyInstance(DeviceHandle.class.getClassLoader(), new Class<?>[] {DeviceHandle.class},
                (proxy, method, args) -> {
                    Object value;
                    try {
                        value = method.invoke(device, args);
                    } catch (InvocationTargetException e) {
                        throw e.getCause();
                    }
                    boolean readsRegister = method.getName().startsWith("read") && args != null && args.length == 2
                            && (int) args[0] == 0 && (long) args[1] == register;
                    if (readsRegister && value instanceof Integer i) {
                        return (int) alter.applyAsLong(i);
                    }
                    if (readsRegister && value instanceof Long l) {
                        return alter.applyAsLong(l);
                    }
                    return value;
                });
    }

    @Test
    void aFatalStatusWhileEnablingFailsTheBringUp() throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            DeviceHandle fatal = altering(served.client, CSTS, csts -> csts | 2);
            assertThatThrownBy(() -> NvmeDriver.open(fatal, NvmeDriver.Options.defaults()))
                    .hasMessageContaining("fatal status");
            assertThat(served.client.read32(0, CC) & 1).as("CC.EN after the failure").isZero();
        }
    }

    @Test
    void aControllerThatNeverBecomesReadyFailsWithinCapTo() throws Exception {
        try (ServedNvme served = new ServedNvme(dir)) {
            DeviceHandle neverReady = altering(altering(served.client, CSTS, csts -> csts & ~1L),
                    CAP, cap -> cap & ~(0xffL << 24) | 1L << 24);   // CAP.TO = 1: 500 ms
            assertThatThrownBy(() -> NvmeDriver.open(neverReady, NvmeDriver.Options.defaults()))
                    .hasMessageContaining("CSTS.RDY did not become 1 within CAP.TO (500 ms");
            assertThat(served.client.read32(0, CC) & 1).as("CC.EN after the failure").isZero();
        }
    }
}
