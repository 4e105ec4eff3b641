package io.jvfio.pci;

import io.jvfio.pci.PciRegisters.BaseAddress;
import io.jvfio.pci.PciRegisters.Command;
import io.jvfio.pci.PciRegisters.Msi;
import io.jvfio.pci.PciRegisters.Msix;
import io.jvfio.pci.PciRegisters.Rom;
import io.jvfio.pci.PciRegisters.Status;
import io.jvfio.pci.RegisterImage.RegisterFixup;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.Arrays;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;

/**
 * A PCI function's configuration space: a type-0 header, BARs and capabilities, with guest writes
 * obeying per-bit write masks, write-1-to-clear bits and BAR sizing. Offsets may be unaligned;
 * values are little-endian. Safe for one writer and concurrent readers: every access is atomic.
 * Build one with {@link #builder(Size)}.
 */
public final class ConfigSpace {

    private static final Watch[] NO_WATCHES = new Watch[0];

    private final Size size;
    private final byte[] current;
    private final byte[] powerOn;
    private final byte[] writable;
    private final byte[] writeOneToClear;
    private final byte[] selfClearing;
    private final RegisterFixup[] fixups;
    /** Scratch for the fixups' registers before a write; guarded by {@link #lock}. */
    private final int[] fixupBefore;
    private final Bar[] barsBySlot;
    private final List<Bar> bars;
    private final long romSize;
    private final List<CapabilityInfo> capabilities;
    private final List<CapabilityInfo> extendedCapabilities;
    private final int msiOffset;
    private final int msixOffset;
    private final ReentrantLock lock = new ReentrantLock();
    private final Object watchesLock = new Object();
    private volatile Watch[] watches = NO_WATCHES;

    /** How large the space is. */
    public enum Size {
        /** Conventional PCI: 256 bytes, no extended capabilities. */
        PCI(256),
        /** PCI Express: 4096 bytes, extended capabilities from 0x100. */
        PCIE(4096);

        private final int bytes;

        Size(int bytes) {
            this.bytes = bytes;
        }

        public int bytes() {
            return bytes;
        }
    }

    /** Stops a write listener; closing twice is harmless. */
    public interface Subscription extends AutoCloseable {
        @Override
        void close();
    }

    private record Watch(int offset, int length, ConfigWriteListener listener) {}

    /** Called by {@link ConfigSpaceBuilder#build()} once the layout is validated. */
    ConfigSpace(Size size, RegisterImage image, Bar[] barsBySlot, long romSize, List<CapabilityInfo> capabilities,
            List<CapabilityInfo> extendedCapabilities) {
        this.size = size;
        this.powerOn = image.values;
        this.current = image.values.clone();
        this.writable = image.writable;
        this.writeOneToClear = image.writeOneToClear;
        this.selfClearing = image.selfClearing;
        this.fixups = image.fixups.toArray(RegisterFixup[]::new);
        this.fixupBefore = new int[fixups.length];
        this.barsBySlot = barsBySlot.clone();
        this.bars = Arrays.stream(barsBySlot).filter(Objects::nonNull).toList();
        this.romSize = romSize;
        this.capabilities = List.copyOf(capabilities);
        this.extendedCapabilities = List.copyOf(extendedCapabilities);
        this.msiOffset = capabilities.stream().filter(c -> c.id() == PciCapabilityIds.MSI)
                .mapToInt(CapabilityInfo::offset).findFirst().orElse(-1);
        this.msixOffset = capabilities.stream().filter(c -> c.id() == PciCapabilityIds.MSIX)
                .mapToInt(CapabilityInfo::offset).findFirst().orElse(-1);
    }

    public static ConfigSpaceBuilder builder(Size size) {
        return new ConfigSpaceBuilder(size);
    }

    /** Bytes in the space: 256 or 4096. */
    public int size() {
        return size.bytes();
    }

    public Size sizeKind() {
        return size;
    }

    // ---- guest accesses ----

    /** Reads {@code size} (1, 2 or 4) bytes at {@code offset}, zero-extended. */
    public int read(int offset, int size) {
        checkScalar(offset, size);
        lock.lock();
        try {
            return RegisterImage.get(current, offset, size);
        } finally {
            lock.unlock();
        }
    }

    /** Writes the low {@code size} (1, 2 or 4) bytes of {@code value} as a guest would, then tells listeners. */
    public void write(int offset, int size, int value) {
        checkScalar(offset, size);
        writePiece(offset, size, value);
    }

    /** Copies {@code length} bytes from {@code offset} into {@code dst}. */
    public void read(int offset, byte[] dst, int dstOffset, int length) {
        Objects.checkFromIndexSize(dstOffset, length, dst.length);
        checkRange(offset, length);
        lock.lock();
        try {
            System.arraycopy(current, offset, dst, dstOffset, length);
        } finally {
            lock.unlock();
        }
    }

    /** Copies {@code dst.byteSize()} bytes from {@code offset} into {@code dst}. */
    public void read(int offset, MemorySegment dst) {
        int length = segmentLength(dst);
        checkRange(offset, length);
        lock.lock();
        try {
            MemorySegment.copy(current, offset, dst, ValueLayout.JAVA_BYTE, 0, length);
        } finally {
            lock.unlock();
        }
    }

    /**
     * Writes {@code length} bytes as a guest would, byte-wise masks applied. Each dword-aligned piece
     * is one atomic write, as on a real bus.
     */
    public void write(int offset, byte[] src, int srcOffset, int length) {
        Objects.checkFromIndexSize(srcOffset, length, src.length);
        checkRange(offset, length);
        int end = offset + length;
        for (int position = offset; position < end; ) {
            int pieceEnd = Math.min(end, (position & ~3) + 4);
            int pieceSize = pieceEnd - position;
            writePiece(position, pieceSize, RegisterImage.get(src, srcOffset + position - offset, pieceSize));
            position = pieceEnd;
        }
    }

    /** Writes {@code src.byteSize()} bytes at {@code offset}, like {@link #write(int, byte[], int, int)}. */
    public void write(int offset, MemorySegment src) {
        int length = segmentLength(src);
        checkRange(offset, length);
        int end = offset + length;
        for (int position = offset; position < end; ) {
            int pieceEnd = Math.min(end, (position & ~3) + 4);
            int value = 0;
            for (int i = position; i < pieceEnd; i++) {
                value |= (src.get(ValueLayout.JAVA_BYTE, i - offset) & 0xFF) << (8 * (i - position));
            }
            writePiece(position, pieceEnd - position, value);
            position = pieceEnd;
        }
    }

    /** One atomic guest write of 1 to 4 bytes within a dword-sized window. */
    private void writePiece(int offset, int size, int value) {
        int before;
        int after;
        lock.lock();
        try {
            before = RegisterImage.get(current, offset, size);
            for (int i = 0; i < fixups.length; i++) {
                RegisterFixup fixup = fixups[i];
                if (fixup.overlaps(offset, size)) {
                    fixupBefore[i] = RegisterImage.get(current, fixup.offset(), fixup.size());
                }
            }
            for (int i = 0; i < size; i++) {
                int position = offset + i;
                int written = (value >>> (8 * i)) & 0xFF;
                int mask = writable[position];
                int stored = (current[position] & ~mask) | (written & mask);
                stored &= ~(written & writeOneToClear[position]);
                current[position] = (byte) stored;
            }
            for (int i = 0; i < fixups.length; i++) {
                RegisterFixup fixup = fixups[i];
                if (fixup.overlaps(offset, size)) {
                    int corrected = fixup.correction().applyAsInt(
                            fixupBefore[i], RegisterImage.get(current, fixup.offset(), fixup.size()));
                    RegisterImage.put(current, fixup.offset(), fixup.size(), corrected);
                }
            }
            after = RegisterImage.get(current, offset, size);
            for (int i = 0; i < size; i++) {
                current[offset + i] &= (byte) ~selfClearing[offset + i];
            }
        } finally {
            lock.unlock();
        }
        notifyWatches(offset, size, before, after);
    }

    private void notifyWatches(int offset, int size, int before, int after) {
        Watch[] snapshot = watches;
        for (Watch watch : snapshot) {
            int start = Math.max(offset, watch.offset());
            int end = Math.min(offset + size, watch.offset() + watch.length());
            if (start >= end) {
                continue;
            }
            int shift = 8 * (start - offset);
            int clippedSize = end - start;
            int mask = clippedSize == 4 ? -1 : (1 << (8 * clippedSize)) - 1;
            watch.listener().configWritten(start, clippedSize, (before >>> shift) & mask, (after >>> shift) & mask);
        }
    }

    /**
     * Calls {@code listener} after every guest write touching {@code [offset, offset + length)}.
     * Device-side changes ({@link #deviceWrite}, {@link #setInterruptStatus}, {@link #reset}) are not reported.
     */
    public Subscription addWriteListener(int offset, int length, ConfigWriteListener listener) {
        Objects.requireNonNull(listener, "listener");
        checkRange(offset, length);
        Watch watch = new Watch(offset, length, listener);
        synchronized (watchesLock) {
            Watch[] grown = Arrays.copyOf(watches, watches.length + 1);
            grown[grown.length - 1] = watch;
            watches = grown;
        }
        return () -> {
            synchronized (watchesLock) {
                watches = Arrays.stream(watches).filter(w -> w != watch).toArray(Watch[]::new);
            }
        };
    }

    // ---- device-side changes ----

    /** Stores bytes as the device itself would: no masks, no listeners. For status bits the guest can only clear. */
    public void deviceWrite(int offset, int size, int value) {
        checkScalar(offset, size);
        lock.lock();
        try {
            RegisterImage.put(current, offset, size, value);
        } finally {
            lock.unlock();
        }
    }

    /** Sets or clears the Status register's Interrupt Status bit: INTx pending. */
    public void setInterruptStatus(boolean pending) {
        updateBit(PciRegisters.STATUS, Integer.numberOfTrailingZeros(Status.INTERRUPT), pending);
    }

    /** Sets or clears MSI pending bit {@code vector}; needs MSI with per-vector masking. */
    public void setMsiPending(int vector, boolean pending) {
        MsiState msi = msi().orElseThrow(() -> new IllegalStateException("no MSI capability"));
        if (!msi.perVectorMasking()) {
            throw new IllegalStateException("MSI capability has no per-vector masking, so no pending bits");
        }
        if (vector < 0 || vector >= msi.vectorsCapable()) {
            throw new IllegalArgumentException("MSI vector " + vector + " is outside 0-" + (msi.vectorsCapable() - 1));
        }
        int pendingOffset = msiOffset + (msi.is64Bit() ? Msi.PENDING_64 : Msi.PENDING_32);
        updateBit(pendingOffset + vector / 8, vector % 8, pending);
    }

    /** Sets or clears bit {@code bit} (0-7) of the byte at {@code offset}, device-side. */
    private void updateBit(int offset, int bit, boolean set) {
        lock.lock();
        try {
            current[offset] = (byte) (set ? current[offset] | (1 << bit) : current[offset] & ~(1 << bit));
        } finally {
            lock.unlock();
        }
    }

    /** Back to power-on values; the declared layout and listeners stay. */
    public void reset() {
        lock.lock();
        try {
            System.arraycopy(powerOn, 0, current, 0, current.length);
        } finally {
            lock.unlock();
        }
    }

    // ---- decoded views ----

    public int commandRegister() {
        return read(PciRegisters.COMMAND, 2);
    }

    public int statusRegister() {
        return read(PciRegisters.STATUS, 2);
    }

    public boolean isIoEnabled() {
        return (commandRegister() & Command.IO_SPACE) != 0;
    }

    public boolean isMemoryEnabled() {
        return (commandRegister() & Command.MEMORY_SPACE) != 0;
    }

    public boolean isBusMasterEnabled() {
        return (commandRegister() & Command.BUS_MASTER) != 0;
    }

    public boolean isIntxDisabled() {
        return (commandRegister() & Command.INTX_DISABLE) != 0;
    }

    public boolean interruptStatus() {
        return (statusRegister() & Status.INTERRUPT) != 0;
    }

    /** The declared BARs by index (the upper half of a 64-bit BAR is not listed). */
    public List<Bar> bars() {
        return bars;
    }

    public Optional<Bar> bar(int index) {
        return index >= 0 && index < barsBySlot.length ? Optional.ofNullable(barsBySlot[index]) : Optional.empty();
    }

    /**
     * The address the guest programmed into BAR {@code index}, flag bits removed. While the guest
     * sizes the BAR this is the sizing pattern, so consult it with decoding enabled.
     */
    public long barAddress(int index) {
        Bar bar = bar(index).orElseThrow(() -> new IllegalArgumentException("no BAR declared at index " + index));
        int offset = PciRegisters.barOffset(index);
        lock.lock();
        try {
            long low = RegisterImage.get(current, offset, 4) & 0xFFFF_FFFFL;
            if (bar.isIo()) {
                return low & BaseAddress.IO_ADDRESS_MASK;
            }
            long high = bar.is64Bit() ? RegisterImage.get(current, offset + 4, 4) & 0xFFFF_FFFFL : 0;
            return (high << 32) | (low & BaseAddress.MEMORY_ADDRESS_MASK);
        } finally {
            lock.unlock();
        }
    }

    /** Declared expansion ROM size, 0 if none. */
    public long romSize() {
        return romSize;
    }

    public long romAddress() {
        return (read(PciRegisters.ROM_ADDRESS, 4) & 0xFFFF_FFFFL) & Rom.ADDRESS_MASK;
    }

    public boolean isRomEnabled() {
        return romSize != 0 && (read(PciRegisters.ROM_ADDRESS, 4) & Rom.ENABLE) != 0;
    }

    /** Standard capabilities in list order. */
    public List<CapabilityInfo> capabilities() {
        return capabilities;
    }

    /** Extended capabilities in chain order. */
    public List<CapabilityInfo> extendedCapabilities() {
        return extendedCapabilities;
    }

    /** Where the first standard capability with {@code capId} landed. */
    public Optional<CapabilityInfo> capability(int capId) {
        return capabilities.stream().filter(c -> c.id() == capId).findFirst();
    }

    /** Where the first extended capability with {@code capId} landed. */
    public Optional<CapabilityInfo> extendedCapability(int capId) {
        return extendedCapabilities.stream().filter(c -> c.id() == capId).findFirst();
    }

    /** The MSI registers as programmed now. */
    public Optional<MsiState> msi() {
        if (msiOffset < 0) {
            return Optional.empty();
        }
        lock.lock();
        try {
            int flags = RegisterImage.get(current, msiOffset + Msi.FLAGS, 2);
            boolean is64Bit = (flags & Msi.FLAGS_64BIT) != 0;
            boolean masking = (flags & Msi.FLAGS_PER_VECTOR_MASK) != 0;
            long address = RegisterImage.get(current, msiOffset + Msi.ADDRESS_LO, 4) & 0xFFFF_FFFFL;
            if (is64Bit) {
                address |= (RegisterImage.get(current, msiOffset + Msi.ADDRESS_HI, 4) & 0xFFFF_FFFFL) << 32;
            }
            int data = RegisterImage.get(current, msiOffset + (is64Bit ? Msi.DATA_64 : Msi.DATA_32), Msi.DATA_SIZE);
            int mask = masking ? RegisterImage.get(current, msiOffset + (is64Bit ? Msi.MASK_64 : Msi.MASK_32), 4) : 0;
            int pending = masking
                    ? RegisterImage.get(current, msiOffset + (is64Bit ? Msi.PENDING_64 : Msi.PENDING_32), 4) : 0;
            return Optional.of(new MsiState(
                    msiOffset,
                    (flags & Msi.FLAGS_ENABLE) != 0,
                    1 << ((flags & Msi.FLAGS_MULTIPLE_CAPABLE_MASK) >>> Msi.FLAGS_MULTIPLE_CAPABLE_SHIFT),
                    1 << ((flags & Msi.FLAGS_MULTIPLE_ENABLE_MASK) >>> Msi.FLAGS_MULTIPLE_ENABLE_SHIFT),
                    is64Bit, masking, address, data, mask, pending));
        } finally {
            lock.unlock();
        }
    }

    /** The MSI-X registers as programmed now. */
    public Optional<MsixCapability> msix() {
        if (msixOffset < 0) {
            return Optional.empty();
        }
        lock.lock();
        try {
            return Optional.of(decodeMsix(current, msixOffset));
        } finally {
            lock.unlock();
        }
    }

    static MsixCapability decodeMsix(byte[] space, int offset) {
        int flags = RegisterImage.get(space, offset + Msix.FLAGS, 2);
        int table = RegisterImage.get(space, offset + Msix.TABLE, 4);
        int pba = RegisterImage.get(space, offset + Msix.PBA, 4);
        return new MsixCapability(
                offset,
                (flags & Msix.FLAGS_TABLE_SIZE_MASK) + 1,
                table & Msix.BIR_MASK,
                table & Msix.OFFSET_MASK & 0xFFFF_FFFFL,
                pba & Msix.BIR_MASK,
                pba & Msix.OFFSET_MASK & 0xFFFF_FFFFL,
                (flags & Msix.FLAGS_ENABLE) != 0,
                (flags & Msix.FLAGS_FUNCTION_MASK) != 0);
    }

    // ---- checks ----

    private void checkScalar(int offset, int size) {
        if (size != 1 && size != 2 && size != 4) {
            throw new IllegalArgumentException("config access size " + size + " is not 1, 2 or 4");
        }
        checkRange(offset, size);
    }

    private void checkRange(int offset, int length) {
        if (offset < 0 || length < 0 || offset > size() - length) {
            throw new IllegalArgumentException("config access of " + length + " bytes at 0x" + Integer.toHexString(offset)
                    + " exceeds the " + size() + "-byte config space");
        }
    }

    private int segmentLength(MemorySegment segment) {
        long length = segment.byteSize();
        if (length > size()) {
            throw new IllegalArgumentException(
                    "config access of " + length + " bytes exceeds the " + size() + "-byte config space");
        }
        return (int) length;
    }

    @Override
    public String toString() {
        return String.format("ConfigSpace[%04x:%04x, %d bytes, %d BARs, %d capabilities, %d extended]",
                read(PciRegisters.VENDOR_ID, 2), read(PciRegisters.DEVICE_ID, 2), size(), bars.size(),
                capabilities.size(), extendedCapabilities.size());
    }
}
