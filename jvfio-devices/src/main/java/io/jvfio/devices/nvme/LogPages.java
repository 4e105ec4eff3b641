package io.jvfio.devices.nvme;

import static io.jvfio.devices.nvme.Nvme.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.concurrent.atomic.LongAdder;

/**
 * Get Log Page's pages (§5.14.1): Error Information (one entry, empty: errors are reported in
 * completions only), SMART / Health Information with the controller's I/O counters, the
 * Firmware Slot Information, the Changed Namespace List (empty: namespaces do not change while
 * the controller runs) and Commands Supported and Effects. The counters are updated by the I/O
 * workers without locks.
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

    /** Fills {@code page} (at least {@link #size} bytes) with log {@code lid}. */
    void fill(MemorySegment page, int lid, Features features) {
        page.fill((byte) 0);
        switch (lid) {
            case LOG_SMART -> smart(page, features);
            case LOG_FIRMWARE_SLOT -> {
                page.set(ValueLayout.JAVA_BYTE, FW_LOG_AFI, (byte) 1);   // slot 1 active
                byte[] fr = (firmware + "        ").substring(0, FR_BYTES).getBytes(java.nio.charset.StandardCharsets.US_ASCII);
                MemorySegment.copy(MemorySegment.ofArray(fr), 0, page, FW_LOG_FRS1, FR_BYTES);
            }
            case LOG_COMMAND_EFFECTS -> commandEffects(page);
            default -> { }  // the error log and the changed namespace list: no entries
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
        boolean hot = TEMPERATURE >= features.overThreshold, cold = TEMPERATURE <= features.underThreshold;
        p.set(ValueLayout.JAVA_BYTE, SMART_CRITICAL_WARNING, (byte) (hot || cold ? SMART_WARNING_TEMPERATURE : 0));
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, SMART_TEMPERATURE, (short) TEMPERATURE);
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
