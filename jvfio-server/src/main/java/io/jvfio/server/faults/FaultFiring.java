package io.jvfio.server.faults;

import java.time.Instant;

/**
 * One time a rule fired: when, which rule, its action, and what it matched ("region 0 read
 * 0x10+4", "irq 2/3").
 */
public record FaultFiring(Instant time, String ruleId, FaultAction action, String matched) {}
