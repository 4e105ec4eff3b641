package io.jvfio.pci;

import static org.assertj.core.api.Assertions.assertThat;

import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class ConcurrencyTest {

    @Test
    void readersNeverSeeATornBarWrite() throws InterruptedException {
        ConfigSpace cfg = Devices.minimal(ConfigSpace.Size.PCI).bar(Bar.memory32(0, 0x100)).build();
        int bar = PciRegisters.barOffset(0);
        int first = 0x1111_1100;
        int second = 0xeeee_ee00;
        AtomicBoolean done = new AtomicBoolean();
        AtomicInteger torn = new AtomicInteger();
        Thread[] readers = new Thread[3];
        for (int i = 0; i < readers.length; i++) {
            readers[i] = Thread.ofPlatform().start(() -> {
                while (!done.get()) {
                    int value = cfg.read(bar, 4);
                    if (value != 0 && value != first && value != second) {
                        torn.incrementAndGet();
                    }
                }
            });
        }
        for (int i = 0; i < 200_000; i++) {
            cfg.write(bar, 4, (i & 1) == 0 ? first : second);
        }
        done.set(true);
        for (Thread reader : readers) {
            reader.join();
        }
        assertThat(torn).hasValue(0);
    }
}
