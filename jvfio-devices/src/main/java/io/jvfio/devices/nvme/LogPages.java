package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.TreeSet;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Get Log Page's pages (§5.14.1): Error Information (one entry, empty: errors are reported in
 * completions only), SMART / Health Information with the controller's I/O counters and critical
 * warnings, the Firmware Slot Information, the Changed Namespace List (the namespaces
 * {@link AsyncEvents#namespacesChanged} named since the host last read it) and Commands Supported
 * and Effects. The counters are updated by the I/O workers without locks.
 */
final class LogPages {
    /** A healthy device's composite temperature: 40 °C in kelvin. */
    static final int TEMPERATURE = 313;
    private static final int SPARE_PERCENT = 100, SPARE_THRESHOLD_PERCENT = 10;
    /** SMART data units are thousands of 512-byte units. */
    private static final long DATA_UNIT_BLOCKS = 1000;
    /** The opcodes the admin and I/O executors implement; those that change blocks also get LBCC. */
    private static final int[] ADMIN_OPCODES = {ADMIN_DELETE_SQ, ADMIN_CREATE_SQ, ADMIN_GET_LOG_PAGE, ADMIN_DELETE_CQ,
            ADMIN_CREATE_CQ, ADMIN_IDENTIFY, ADMIN_ABORT, ADMIN_SET_FEATURES, ADMIN_GET_FEATURES,
            ADMIN_ASYNC_EVENT_REQUEST, ADMIN_DOORBELL_BUFFER_CONFIG};
    private static final int[] IO_OPCODES = {IO_FLUSH, IO_READ};
    private static final int[] IO_BLOCK_CHANGING_OPCODES = {IO_WRITE, IO_WRITE_ZEROES, IO_DATASET_MANAGEMENT};

    final LongAdder blocksRead = new LongAdder(), blocksWritten = new LongAdder();
    final LongAdder readCommands = new LongAdder(), writeCommands = new LongAdder();
    private final long startNanos = System.nanoTime();
    private final String firmware;
    /** The composite temperature in kelvin: {@link #TEMPERATURE} unless a thermal fault changed it. */
    private volatile int temperature = TEMPERATURE;
    /** Critical warnings raised from outside (fault injection); the temperature bit is computed. */
    private final AtomicInteger criticalWarnings = new AtomicInteger();
    /** The Changed Namespace List, in ascending order; guarded by itself. */
    private final TreeSet<Integer> changedNamespaces = new TreeSet<>(Integer::compareUnsigned);

    LogPages(String firmware) {
        this.firmware = firmware;
    }

    /** The page's size in bytes, or -1 for a log page this controller does not have. */
    static int size(int lid) {
        return switch (lid) {
            case LOG_ERROR_INFORMATION -> (Identify.ELPE + 1) * ERROR_ENTRY_SIZE;
            case LOG_SMART -> SMART_LOG_SIZE;
            case LOG_FIRMWARE_SLOT -> FIRMWARE_LOG_SIZE;
            case LOG_CHANGED_NAMESPACES -> CHANGED_NAMESPACES_LOG_SIZE;
            case LOG_COMMAND_EFFECTS -> COMMAND_EFFECTS_LOG_SIZE;
            default -> -1;
        };
    }

    /**
     * Fills {@code page} (at least {@link #size} bytes) with log {@code lid}; {@code clear}: the
     * host acknowledges it (RAE clear), so the Changed Namespace List starts empty again.
     */
    void fill(MemorySegment page, int lid, Features features, boolean clear) {
        page.fill((byte) 0);
        switch (lid) {
            case LOG_CHANGED_NAMESPACES -> changedNamespaces(page, clear);
            case LOG_SMART -> smart(page, features);
            case LOG_FIRMWARE_SLOT -> {
                page.set(ValueLayout.JAVA_BYTE, FW_LOG_AFI, (byte) 1);   // slot 1 active
                byte[] fr = (firmware + "        ").substring(0, FR_BYTES).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                MemorySegment.copy(MemorySegment.ofArray(fr), 0, page, FW_LOG_FRS1, FR_BYTES);
            }
            case LOG_COMMAND_EFFECTS -> commandEffects(page);
            default -> { }  // the error log: no entries
        }
    }

    /** SMART critical warning bits now set; returns those that were not set before. */
    int addCriticalWarnings(int bits) {
        return bits & ~criticalWarnings.getAndUpdate(old -> old | bits);
    }

    /** Whether the composite temperature is at or beyond a threshold (critical warning bit 1). */
    boolean temperatureWarning(Features features) {
        int now = temperature;
        return now >= features.overThreshold || now <= features.underThreshold;
    }

    /** The composite temperature becomes {@code kelvin} (a thermal fault, or its end). */
    void temperature(int kelvin) {
        temperature = kelvin;
    }

    void namespacesChanged(int... nsids) {
        synchronized (changedNamespaces) {
            for (int nsid : nsids) {
                changedNamespaces.add(nsid);
            }
        }
    }

    /** Up to 1024 ids; more changed than fit: the first entry is FFFFFFFFh (§5.14.1.4). */
    private void changedNamespaces(MemorySegment page, boolean clear) {
        synchronized (changedNamespaces) {
            if (changedNamespaces.size() > CHANGED_NAMESPACES_LOG_SIZE / Integer.BYTES) {
                page.set(ValueLayout.JAVA_INT_UNALIGNED, 0, BROADCAST_NSID);
            } else {
                long at = 0;
                for (int nsid : changedNamespaces) {
                    page.set(ValueLayout.JAVA_INT_UNALIGNED, at, nsid);
                    at += Integer.BYTES;
                }
            }
            if (clear) {
                changedNamespaces.clear();
            }
        }
    }

    private static void commandEffects(MemorySegment p) {
        for (int opcode : ADMIN_OPCODES) {
            p.set(ValueLayout.JAVA_INT_UNALIGNED, 4L * opcode, EFFECT_CSUPP);
        }
        for (int opcode : IO_OPCODES) {
            p.set(ValueLayout.JAVA_INT_UNALIGNED, EFFECTS_IO_OFFSET + 4L * opcode, EFFECT_CSUPP);
        }
        for (int opcode : IO_BLOCK_CHANGING_OPCODES) {
            p.set(ValueLayout.JAVA_INT_UNALIGNED, EFFECTS_IO_OFFSET + 4L * opcode, EFFECT_CSUPP | EFFECT_LBCC);
        }
    }

    private void smart(MemorySegment p, Features features) {
        int warnings = criticalWarnings.get() | (temperatureWarning(features) ? SMART_WARNING_TEMPERATURE : 0);
        p.set(ValueLayout.JAVA_BYTE, SMART_CRITICAL_WARNING, (byte) warnings);
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, SMART_TEMPERATURE, (short) temperature);
        p.set(ValueLayout.JAVA_BYTE, SMART_AVAILABLE_SPARE, (byte) SPARE_PERCENT);
        p.set(ValueLayout.JAVA_BYTE, SMART_SPARE_THRESHOLD, (byte) SPARE_THRESHOLD_PERCENT);
        p.set(ValueLayout.JAVA_LONG_UNALIGNED, SMART_DATA_UNITS_READ, dataUnits(blocksRead.sum()));
        p.set(ValueLayout.JAVA_LONG_UNALIGNED, SMART_DATA_UNITS_WRITTEN, dataUnits(blocksWritten.sum()));
        p.set(ValueLayout.JAVA_LONG_UNALIGNED, SMART_HOST_READS, readCommands.sum());
        p.set(ValueLayout.JAVA_LONG_UNALIGNED, SMART_HOST_WRITES, writeCommands.sum());
        p.set(ValueLayout.JAVA_LONG_UNALIGNED, SMART_POWER_CYCLES, 1);
        p.set(ValueLayout.JAVA_LONG_UNALIGNED, SMART_POWER_ON_HOURS, (System.nanoTime() - startNanos) / 3_600_000_000_000L);
    }

    /** Thousands of 512-byte units, rounded up (§5.14.1.2). */
    private static long dataUnits(long blocks512) {
        return (blocks512 + DATA_UNIT_BLOCKS - 1) / DATA_UNIT_BLOCKS;
    }
}
