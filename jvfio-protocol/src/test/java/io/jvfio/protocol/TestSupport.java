package io.jvfio.protocol;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.catchThrowableOfType;

import java.lang.foreign.MemorySegment;
import java.util.HexFormat;

final class TestSupport {
    private TestSupport() {}

    interface Call {
        void run() throws Exception;
    }

    interface Decoder<T> {
        T decode(MemorySegment s) throws ProtocolException;
    }

    /** Hex with any whitespace or '|' separators → heap segment. */
    static MemorySegment hex(String s) {
        return MemorySegment.ofArray(HexFormat.of().parseHex(s.replaceAll("[\\s|]", "")));
    }

    static String hexOf(MemorySegment s) {
        return HexFormat.of().formatHex(s.toArray(java.lang.foreign.ValueLayout.JAVA_BYTE));
    }

    static String hexOf(Payload p) {
        return HexFormat.of().formatHex(p.toBytes());
    }

    static String clean(String s) {
        return s.replaceAll("[\\s|]", "").toLowerCase();
    }

    static ProtocolException rejects(Call call, int errno, String messagePart) {
        ProtocolException e = catchThrowableOfType(ProtocolException.class, call::run);
        assertThat(e).as("expected a ProtocolException").isNotNull();
        assertThat(e.errno()).as("errno of: " + e.getMessage()).isEqualTo(errno);
        assertThat(e.getMessage()).contains(messagePart);
        return e;
    }

    /** Encodes into an exactly-sized segment (so encodedSize must be right), decodes, and compares. */
    static <T extends Payload> T roundTrip(T value, Decoder<T> decoder) throws ProtocolException {
        byte[] b = new byte[Math.toIntExact(value.encodedSize())];
        value.encode(MemorySegment.ofArray(b));
        T back = decoder.decode(MemorySegment.ofArray(b));
        assertThat(back).isEqualTo(value);
        assertThat(back.toBytes()).isEqualTo(b);
        return back;
    }

    static MemorySegment seg(byte[] b) {
        return MemorySegment.ofArray(b);
    }
}
