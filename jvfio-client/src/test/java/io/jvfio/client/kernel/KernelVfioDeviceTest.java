package io.jvfio.client.kernel;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.client.DeviceException;
import io.jvfio.client.DmaBuffer;
import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Memfd;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.Vfio;
import io.jvfio.testing.OpenFds;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.assertj.core.api.ThrowableAssert.ThrowingCallable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The device's own bookkeeping around the kernel: DMA through a recording {@link DmaSpace}, a
 * memfd standing for the device fd (whose ioctls fail with ENOTTY), and what close releases.
 */
class KernelVfioDeviceTest {
    private static final long PAGE = io.jvfio.linux.Linux.PAGE_SIZE;

    /** A DMA space that records its calls and allows [0, 0xfedfffff]. */
    private static final class RecordingSpace implements DmaSpace {
        final List<String> calls = new ArrayList<>();
        boolean closed;

        public List<IovaRange> ranges() {
            return List.of(new IovaRange(0, 0xFEDF_FFFFL));
        }

        public void map(long vaddr, long iova, long size, int flags) {
            calls.add("map 0x%x+0x%x flags %d".formatted(iova, size, flags));
        }

        public void unmap(long iova, long size) {
            calls.add("unmap 0x%x+0x%x".formatted(iova, size));
        }

        public KernelOptions.Backend backend() {
            return KernelOptions.Backend.LEGACY;
        }

        public void close() {
            closed = true;
        }
    }

    private OpenFds fds;
    private RecordingSpace space;
    private Fd deviceFd;
    private KernelVfioDevice device;

    @BeforeEach
    void open() throws Exception {
        fds = OpenFds.snapshot();
        space = new RecordingSpace();
        deviceFd = Memfd.create("fake-vfio-device", 4096);
        device = new KernelVfioDevice("0000:00:04.0", deviceFd, space, List.of());
    }

    @AfterEach
    void close() throws Exception {
        device.close();
        fds.assertNoneLeaked(Duration.ofSeconds(5));
    }

    private static void assertErrno(ThrowingCallable call, int errno, String message) {
        assertThatThrownBy(call).isInstanceOfSatisfying(DeviceException.class, e -> assertThat(e.errno()).isEqualTo(errno))
                .hasMessageContaining(message);
    }

    @Test
    void allocatedDmaIsMappedAtItsIovaAndUnmappedWhenClosed() throws Exception {
        DmaBuffer buffer = device.allocateDma(0x10_0000, 2 * PAGE);
        assertThat(buffer.iova()).isEqualTo(0x10_0000);
        buffer.segment().fill((byte) 0x5a);
        assertThat(space.calls).containsExactly("map 0x100000+0x%x flags 3".formatted(2 * PAGE));
        assertErrno(() -> device.allocateDma(0x10_1000, PAGE), Errno.EEXIST, "overlaps");
        buffer.close();
        assertThat(space.calls).endsWith("unmap 0x100000+0x%x".formatted(2 * PAGE));
        assertThatThrownBy(() -> buffer.segment().get(java.lang.foreign.ValueLayout.JAVA_BYTE, 0))
                .isInstanceOf(IllegalStateException.class);
    }

    @Test
    void anIovaOutsideTheRangesOrPartPagesAreRefusedAndNothingIsMapped() {
        assertErrno(() -> device.allocateDma(0xFEE0_0000L, PAGE), Errno.EINVAL, "outside the ranges the IOMMU allows");
        assertErrno(() -> device.allocateDma(0x10_0000, 100), Errno.EINVAL, "whole pages");
        assertThat(space.calls).isEmpty();
    }

    @Test
    void unmappingMemoryNeverMappedIsRefused() {
        assertErrno(() -> device.dmaUnmap(0x20_0000, PAGE), Errno.ENOENT, "never mapped");
        assertThat(space.calls).isEmpty();
    }

    @Test
    void registeredMemoryMustBeNativeAndPageAligned() throws Exception {
        assertThatThrownBy(() -> device.registerMemory(0x10_0000, MemorySegment.ofArray(new byte[4096]), 3))
                .isInstanceOf(IllegalArgumentException.class);
        try (Arena arena = Arena.ofConfined()) {
            MemorySegment memory = arena.allocate(2 * PAGE, PAGE);
            assertErrno(() -> device.registerMemory(0x10_0000, memory.asSlice(8, PAGE), 3), Errno.EINVAL, "not page-aligned");
            device.registerMemory(0x10_0000, memory, Vfio.DMA_MAP_FLAG_READ);
            assertThat(space.calls).containsExactly("map 0x100000+0x%x flags 1".formatted(2 * PAGE));
            device.dmaUnmap(0x10_0000, 2 * PAGE);
        }
    }

    @Test
    void closeUnmapsEverythingClosesTheFdAndTheSpaceAndLaterCallsFail() throws Exception {
        device.allocateDma(0x10_0000, PAGE);
        try (Arena arena = Arena.ofConfined()) {
            device.registerMemory(0x20_0000, arena.allocate(PAGE, PAGE), 3);
            device.close();
        }
        assertThat(space.calls).contains("unmap 0x100000+0x%x".formatted(PAGE), "unmap 0x200000+0x%x".formatted(PAGE));
        assertThat(space.closed).isTrue();
        assertThat(deviceFd.isOpen()).isFalse();
        assertThat(device.isConnected()).isFalse();
        assertErrno(() -> device.allocateDma(0x30_0000, PAGE), Errno.ENOTCONN, "closed");
        assertErrno(() -> device.read32(0, 0), Errno.ENOTCONN, "closed");
    }

    @Test
    void regionAccessIsPreadAndPwriteAtTheRegionsOffsetInTheDeviceFd() throws Exception {
        long regionOffset = 2048;
        device.knowRegion(new RegionInfo(RegionInfo.SIZE, Vfio.REGION_INFO_FLAG_READ | Vfio.REGION_INFO_FLAG_WRITE, 0, 1024,
                regionOffset, List.of()));
        device.write32(0, 0x10, 0xCAFE_F00D);
        device.write8(0, 0x14, 0x7F);
        device.write16(0, 0x16, 0xBEEF);
        device.write64(0, 0x18, 0x0123_4567_89AB_CDEFL);
        MemorySegment file = MemorySegment.ofArray(new byte[32]);
        io.jvfio.linux.Linux.pread(deviceFd, file, regionOffset + 0x10);
        assertThat(file.get(java.lang.foreign.ValueLayout.JAVA_INT_UNALIGNED, 0)).isEqualTo(0xCAFE_F00D);
        assertThat(device.read8(0, 0x14)).isEqualTo(0x7F);
        assertThat(device.read16(0, 0x16)).isEqualTo(0xBEEF);
        assertThat(device.read32(0, 0x10)).isEqualTo(0xCAFE_F00D);
        assertThat(device.read64(0, 0x18)).isEqualTo(0x0123_4567_89AB_CDEFL);
        device.regionWrite(0, 0x100, MemorySegment.ofArray(new byte[] {1, 2, 3}));
        assertThat(device.regionRead(0, 0xFF, 5)).containsExactly(0, 1, 2, 3, 0);
        assertErrno(() -> device.read32(0, 1022), Errno.EINVAL, "outside region 0 of 0x400 bytes");
        assertErrno(() -> device.regionRead(0, -1, 4), Errno.EINVAL, "outside region 0");
    }

    @Test
    void theKernelsRefusalsKeepTheirErrnoAndAFeatureRefusedWithEnottyIsAbsent() throws Exception {
        assertErrno(() -> device.deviceInfo(), Errno.ENOTTY, "0000:00:04.0: ioctl VFIO_DEVICE_GET_INFO");
        assertErrno(() -> device.regionInfo(0), Errno.ENOTTY, "VFIO_DEVICE_GET_REGION_INFO");
        assertErrno(() -> device.read32(Vfio.PCI_CONFIG_REGION_INDEX, 0), Errno.ENOTTY, "VFIO_DEVICE_GET_REGION_INFO");
        assertErrno(() -> device.reset(), Errno.ENOTTY, "VFIO_DEVICE_RESET");
        assertThat(device.probeFeature(Vfio.DEVICE_FEATURE_MIGRATION, Vfio.DEVICE_FEATURE_GET)).isFalse();
        assertErrno(() -> device.migDataRead(16), Errno.EINVAL, "no migration data fd");
    }
}
