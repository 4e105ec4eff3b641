package io.jvfio.protocol;

import com.code_intelligence.jazzer.junit.FuzzTest;
import java.lang.foreign.MemorySegment;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Every decoder of the wire format fed arbitrary bytes. The first byte picks the decoder
 * ({@link #TARGETS}), the rest is its input. A decoder may refuse its input only with a
 * {@link ProtocolException}; anything else (an index out of bounds, a negative array size, an
 * allocation sized from the input) is a finding. A payload a decoder accepts must encode again.
 *
 * <p>Without {@code JAZZER_FUZZ} this is a regression test over the seeds and past findings in
 * {@code src/test/resources/io/jvfio/protocol/FuzzDecodersTestInputs/decode}; {@code scripts/fuzz.sh}
 * fuzzes it.
 */
class FuzzDecodersTest {
    /** Large enough for any count a decoder may accept, small enough that a bogus one cannot allocate much. */
    static final long MAX_DATA_XFER = 1 << 16;

    /** Decoders by selector: one per command request and reply, then headers, chains, capabilities and features. */
    static final List<String> TARGETS;

    static {
        List<String> t = new java.util.ArrayList<>();
        for (Command c : Command.values()) {
            t.add("request:" + c);
        }
        for (Command c : Command.values()) {
            t.add("reply:" + c);
        }
        t.addAll(List.of("Header.validate", "HeaderRecord.decode", "RegionAccess.validate", "DmaReadReply.decode(addr,count)",
                "DmaWriteReply.decode(addr,count)", "CapabilityChain.read", "VersionCapabilities.parse", "ZpciCaps.decode",
                "SparseMmapCap.decodeBody", "SparseMmapFdsCap.decodeBody", "RegionTypeCap.decodeBody",
                "FeatureDmaLoggingControl.decode", "FeatureDmaLoggingReport.decode", "FeatureMigDeviceState.decode",
                "FeatureMigration.decode"));
        TARGETS = List.copyOf(t);
    }

    @FuzzTest(maxDuration = "30s")
    void decode(byte[] input) throws Exception {
        if (input.length == 0) {
            return;
        }
        int selector = Byte.toUnsignedInt(input[0]) % TARGETS.size();
        byte[] rest = Arrays.copyOfRange(input, 1, input.length);
        try {
            Object decoded = run(selector, rest);
            if (decoded instanceof Payload p) {
                reencode(p);
            }
        } catch (ProtocolException expected) {
            // the one way to refuse bytes
        }
    }

    static Object run(int selector, byte[] bytes) throws ProtocolException {
        MemorySegment p = MemorySegment.ofArray(bytes);
        int commands = Command.values().length;
        if (selector < commands) {
            return Message.decodeRequest(Command.values()[selector], p, MAX_DATA_XFER);
        }
        if (selector < 2 * commands) {
            return Message.decodeReply(Command.values()[selector - commands], p, MAX_DATA_XFER);
        }
        // The remaining decoders take a few parameters first: read them from the input's front.
        long a = bytes.length >= 8 ? Wire.i64(p, 0) : 0;
        long b = bytes.length >= 16 ? Wire.i64(p, 8) : 0;
        MemorySegment afterA = bytes.length >= 8 ? p.asSlice(8) : p;
        MemorySegment afterAB = bytes.length >= 16 ? p.asSlice(16) : p;
        return switch (TARGETS.get(selector)) {
            case "Header.validate" -> {
                Header.validate(p, 4096 + (a & 0xffff));
                yield null;
            }
            case "HeaderRecord.decode" -> HeaderRecord.decode(p);
            case "RegionAccess.validate" -> {
                RegionAccess.validate(afterA, a & 0x1ffff, (a & 0x100000) != 0);
                yield null;
            }
            case "DmaReadReply.decode(addr,count)" -> DmaReadReply.decode(afterAB, a, b);
            case "DmaWriteReply.decode(addr,count)" -> DmaWriteReply.decode(afterAB, a, b);
            case "CapabilityChain.read" -> {
                List<CapabilityChain.Entry> entries = CapabilityChain.read(afterA, a & 0xffff_ffffL, (a >>> 32) & 0xff, "fuzz");
                for (CapabilityChain.Entry e : entries) {
                    if (e.body().byteSize() < 0 || e.body().byteSize() > bytes.length) {
                        throw new AssertionError("capability body outside the struct: " + e);
                    }
                }
                yield entries;
            }
            case "VersionCapabilities.parse" -> VersionCapabilities.parse(new String(bytes, StandardCharsets.UTF_8));
            case "ZpciCaps.decode" -> {
                int id = 1 + (int) ((a & 0xff) % 4);
                InfoCapability c = ZpciCaps.decode(new RawCapability(id, (int) ((a >>> 8) & 0xffff), afterA.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE)));
                byte[] body = new byte[Math.toIntExact(c.bodySize())];
                c.encodeBody(MemorySegment.ofArray(body));
                yield c;
            }
            case "SparseMmapCap.decodeBody" -> SparseMmapCap.decodeBody(p);
            case "SparseMmapFdsCap.decodeBody" -> SparseMmapFdsCap.decodeBody(p);
            case "RegionTypeCap.decodeBody" -> RegionTypeCap.decodeBody(p);
            case "FeatureDmaLoggingControl.decode" -> FeatureDmaLoggingControl.decode(p);
            case "FeatureDmaLoggingReport.decode" -> FeatureDmaLoggingReport.decode(p);
            case "FeatureMigDeviceState.decode" -> FeatureMigDeviceState.decode(p);
            case "FeatureMigration.decode" -> FeatureMigration.decode(p);
            default -> throw new AssertionError(TARGETS.get(selector));
        };
    }

    /** A decoded payload must encode into exactly its encoded size. */
    private static void reencode(Payload p) {
        long size = p.encodedSize();
        if (size < 0 || size > (64L << 20)) {
            throw new AssertionError("encodedSize " + size + " of " + p);
        }
        byte[] out = new byte[(int) size];
        p.encode(MemorySegment.ofArray(out));
    }
}
