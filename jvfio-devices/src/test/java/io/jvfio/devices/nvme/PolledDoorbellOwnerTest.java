package io.jvfio.devices.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.nvme.spec.Nvme;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A queue worker's own look at its doorbell slots ({@link PolledDoorbellPage.Owner}): while it
 * owns a slot the poller skips it; whoever looks first hands a store on, once; a released slot is
 * the poller's again, with what was stored meanwhile; a migration's scan takes owned slots too;
 * a slot two workers own (a shared completion queue) is skipped until both let go.
 */
class PolledDoorbellOwnerTest {
    private final List<String> rung = new ArrayList<>();
    private final PolledDoorbellPage page = new PolledDoorbellPage(4, (slot, value) -> rung.add(slot + "=" + value),
            e -> { throw e; });

    @AfterEach
    void close() {
        page.close();
    }

    private void store(int slot, int value) {
        page.segment().set(ValueLayout.JAVA_INT, (long) slot * Nvme.DOORBELL_STRIDE, value);
    }

    @Test
    void anOwnedSlotIsTheOwnersUntilReleased() {
        PolledDoorbellPage.Owner tail = page.owner(2);
        tail.own();
        store(2, 5);
        store(0, 1);   // the admin queue's tail stays the poller's
        assertThat(page.scanUnowned()).isEqualTo(1);
        assertThat(rung).containsExactly("0=1");
        assertThat(tail.take()).isTrue();
        assertThat(tail.take()).as("handed on once").isFalse();
        assertThat(rung).containsExactly("0=1", "2=5");

        store(2, 7);
        tail.release();
        assertThat(page.scanUnowned()).isEqualTo(1);
        assertThat(tail.take()).as("the poller took it").isFalse();
        assertThat(rung).containsExactly("0=1", "2=5", "2=7");
        assertThat(page.doorbells()).as("taken by the worker (no poller runs here)").isEqualTo(1);
    }

    @Test
    void aMigrationsScanTakesOwnedSlotsToo() {
        PolledDoorbellPage.Owner tail = page.owner(4);
        tail.own();
        store(4, 9);
        assertThat(page.scan()).isEqualTo(1);
        assertThat(tail.take()).isFalse();
        assertThat(rung).containsExactly("4=9");
    }

    @Test
    void aSlotOwnedTwiceIsSkippedUntilBothLetGo() {
        PolledDoorbellPage.Owner first = page.owner(3), second = page.owner(3);
        first.own();
        first.own();   // idempotent
        second.own();
        store(3, 2);
        first.release();
        assertThat(page.scanUnowned()).isZero();
        second.release();
        assertThat(page.scanUnowned()).isEqualTo(1);
        assertThat(rung).containsExactly("3=2");
    }

    @Test
    void aResetValueIsNoNews() {
        PolledDoorbellPage.Owner head = page.owner(5);
        head.own();
        page.reset(5, 3);   // a migration's destination restores the head
        assertThat(head.take()).isFalse();
        store(5, 4);
        assertThat(head.take()).isTrue();
        assertThat(rung).containsExactly("5=4");
    }
}
