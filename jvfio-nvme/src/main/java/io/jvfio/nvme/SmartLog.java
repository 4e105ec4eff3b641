package io.jvfio.nvme;

import static io.jvfio.nvme.NvmeSpec.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * The SMART / Health Information log page (Get Log Page 02h, §5.16.1.3), decoded. The 128-bit
 * counters are read as their low 64 bits (unsigned; a real device needs centuries to pass them).
 *
 * @param criticalWarning       bits: 0 spare below threshold, 1 temperature, 2 reliability degraded, 3 read-only,
 *                              4 volatile memory backup failed
 * @param temperatureKelvin     the composite temperature
 * @param availableSparePercent normalised spare capacity left
 * @param spareThresholdPercent where the spare warning fires
 * @param percentageUsed        the vendor's estimate of the life used (may pass 100)
 * @param dataUnitsRead         thousands of 512-byte units read
 * @param dataUnitsWritten      thousands of 512-byte units written
 * @param controllerBusyMinutes minutes with commands outstanding
 * @param sensorsKelvin         temperature sensors 1-8 that report (0, not implemented, is left out)
 */
public record SmartLog(int criticalWarning, int temperatureKelvin, int availableSparePercent, int spareThresholdPercent,
        int percentageUsed, int enduranceGroupWarnings, long dataUnitsRead, long dataUnitsWritten, long hostReadCommands,
        long hostWriteCommands, long controllerBusyMinutes, long powerCycles, long powerOnHours, long unsafeShutdowns,
        long mediaErrors, long errorLogEntries, int warningTemperatureMinutes, int criticalTemperatureMinutes,
        List<Integer> sensorsKelvin) {

    public SmartLog {
        sensorsKelvin = List.copyOf(sensorsKelvin);
    }

    /** The page as the controller wrote it (at least 512 bytes). */
    static SmartLog decode(MemorySegment page) {
        List<Integer> sensors = new ArrayList<>();
        for (int i = 0; i < SMART_SENSOR_COUNT; i++) {
            int kelvin = u16(page, SMART_TEMPERATURE_SENSORS + 2L * i);
            if (kelvin != 0) {
                sensors.add(kelvin);
            }
        }
        return new SmartLog(u8(page, SMART_CRITICAL_WARNING), u16(page, SMART_TEMPERATURE), u8(page, SMART_AVAILABLE_SPARE),
                u8(page, SMART_SPARE_THRESHOLD), u8(page, SMART_PERCENTAGE_USED), u8(page, SMART_ENDURANCE_GROUP_WARNING),
                u64(page, SMART_DATA_UNITS_READ), u64(page, SMART_DATA_UNITS_WRITTEN), u64(page, SMART_HOST_READS),
                u64(page, SMART_HOST_WRITES), u64(page, SMART_BUSY_TIME), u64(page, SMART_POWER_CYCLES),
                u64(page, SMART_POWER_ON_HOURS), u64(page, SMART_UNSAFE_SHUTDOWNS), u64(page, SMART_MEDIA_ERRORS),
                u64(page, SMART_ERROR_LOG_ENTRIES), page.get(ValueLayout.JAVA_INT_UNALIGNED, SMART_WARNING_TEMPERATURE_TIME),
                page.get(ValueLayout.JAVA_INT_UNALIGNED, SMART_CRITICAL_TEMPERATURE_TIME), sensors);
    }

    /** The composite temperature in degrees Celsius. */
    public int temperatureCelsius() {
        return temperatureKelvin - 273;
    }

    private static int u8(MemorySegment s, long offset) {
        return Byte.toUnsignedInt(s.get(ValueLayout.JAVA_BYTE, offset));
    }

    private static int u16(MemorySegment s, long offset) {
        return Short.toUnsignedInt(s.get(ValueLayout.JAVA_SHORT_UNALIGNED, offset));
    }

    private static long u64(MemorySegment s, long offset) {
        return s.get(ValueLayout.JAVA_LONG_UNALIGNED, offset);
    }
}
