package io.jvfio.linux;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import org.junit.jupiter.api.Test;

/** Physical addresses from /proc/self/pagemap, and the entries that give none. */
class PagemapTest extends FdLeakCheck {
    @Test
    void lockedMemoryHasAPhysicalAddressPerPageOrNeedsCapSysAdmin() throws Exception {
        long page = Linux.PAGE_SIZE;
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment memory = arena.allocate(3 * page, page);
            memory.fill((byte) 1);
            Linux.lockMemory(memory);
            try {
                long[] addresses = Pagemap.physicalAddresses(memory.asSlice(100, 2 * page));
                assertThat(addresses).hasSize(3); // [100, 2 pages + 100) touches three pages
                assertThat(addresses[0] % page).isEqualTo(100);
                assertThat(addresses[1] % page).isZero();
                assertThat(addresses[2]).isNotZero();
                assertThat(Pagemap.physicalAddress(memory, 100)).isEqualTo(addresses[0]);
            } catch (LinuxException e) {
                assertThat(e.errno()).isEqualTo(Errno.EPERM); // without CAP_SYS_ADMIN the frames read as 0
                assertThat(e).hasMessageContaining("CAP_SYS_ADMIN");
            } finally {
                Linux.unlockMemory(memory);
            }
        }
    }

    @Test
    void anAbsentPageOrAHiddenFrameIsAnErrorNotAddressZero() throws Exception {
        assertThatThrownBy(() -> Pagemap.frame(0, 0x7000))
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EFAULT))
                .hasMessageContaining("0x7000 is not present");
        assertThatThrownBy(() -> Pagemap.frame(1L << 63, 0x7000))
                .isInstanceOfSatisfying(LinuxException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EPERM));
        assertThat(Pagemap.frame((1L << 63) | 0x1234, 0x7000)).isEqualTo(0x1234);
    }
}
