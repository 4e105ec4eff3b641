package io.jvfio.devices;

import io.jvfio.server.faults.FaultPlan;
import io.jvfio.server.faults.FaultSpec;
import java.util.LinkedHashMap;
import java.util.Map;

/** Rule fields for the devices' vocabulary tests, read by the plan reader's own {@link FaultSpec}. */
public final class MapFaultSpec {
    private MapFaultSpec() {}

    /** Rule "r1" with the fields given as alternating names and values. */
    public static FaultSpec of(Object... namesAndValues) {
        Map<String, Object> fields = new LinkedHashMap<>();
        for (int i = 0; i < namesAndValues.length; i += 2) {
            fields.put((String) namesAndValues[i], namesAndValues[i + 1]);
        }
        return FaultPlan.spec("r1", fields);
    }

    /** Rule {@code ruleId} with {@code fields}. */
    public static FaultSpec of(String ruleId, Map<String, ?> fields) {
        return FaultPlan.spec(ruleId, fields);
    }
}
