package io.jvfio.bench;

import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.RegionAccess;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The server's REGION_READ hot path over preallocated native segments: validate + decode the header and the
 * region-access struct of a request, then encode the reply header, struct and data. Expect 0 B/op with
 * {@code -prof gc}.
 *
 * <pre>java -cp ... org.openjdk.jmh.Main CodecBenchmark -f 1 -wi 2 -i 3 -prof gc</pre>
 */
@State(Scope.Thread)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class CodecBenchmark {
    private static final long MAX_MESSAGE = (1 << 20) + 32;
    private static final long MAX_XFER = 1 << 20;

    /** Bytes read per request (4 = a config-space dword, 4096 = a page). */
    @Param({"4", "4096"})
    public int count;

    private Arena arena;
    private MemorySegment request;
    private MemorySegment requestPayload;
    private MemorySegment reply;
    private MemorySegment replyPayload;
    private MemorySegment replyData;
    private MemorySegment region;

    @Setup(Level.Trial)
    public void setup() {
        arena = Arena.ofShared();
        request = arena.allocate(Header.SIZE + RegionAccess.SIZE, 8);
        Header.writeCommand(request, 0x42, Command.REGION_READ.code(), Header.SIZE + RegionAccess.SIZE, false);
        requestPayload = request.asSlice(Header.SIZE, RegionAccess.SIZE);
        RegionAccess.write(requestPayload, 0x100, 7, count);
        reply = arena.allocate(Header.SIZE + RegionAccess.SIZE + MAX_XFER, 8);
        replyPayload = reply.asSlice(Header.SIZE);
        replyData = replyPayload.asSlice(RegionAccess.DATA_OFFSET);
        region = arena.allocate(64 * 1024, 8);
        for (long i = 0; i < region.byteSize(); i++) {
            region.set(java.lang.foreign.ValueLayout.JAVA_BYTE, i, (byte) i);
        }
    }

    @TearDown(Level.Trial)
    public void tearDown() {
        arena.close();
    }

    /** Header validate + command lookup + REGION_READ request validate and field reads. */
    @Benchmark
    public long decodeRequest() throws ProtocolException {
        Header.validate(request, MAX_MESSAGE);
        Command c = Command.fromCode(Header.command(request));
        RegionAccess.validate(requestPayload, MAX_XFER, false);
        return Header.msgId(request) + c.code() + RegionAccess.offset(requestPayload)
                + RegionAccess.region(requestPayload) + RegionAccess.count(requestPayload);
    }

    /** Reply header + access struct + data copy from the "device" into the preallocated reply buffer. */
    @Benchmark
    public long encodeReply() {
        long n = count;
        Header.writeReply(reply, 0x42, Command.REGION_READ.code(), Header.SIZE + RegionAccess.SIZE + n);
        RegionAccess.write(replyPayload, 0x100, 7, n);
        MemorySegment.copy(region, 0x100, replyData, 0, n);
        return Header.messageSize(reply);
    }

    /** Both, as a server loop would do per message. */
    @Benchmark
    public long decodeAndReply() throws ProtocolException {
        Header.validate(request, MAX_MESSAGE);
        Command c = Command.fromCode(Header.command(request));
        RegionAccess.validate(requestPayload, MAX_XFER, false);
        long off = RegionAccess.offset(requestPayload);
        int idx = RegionAccess.region(requestPayload);
        long n = RegionAccess.count(requestPayload);
        Header.writeReply(reply, Header.msgId(request), c.code(), Header.SIZE + RegionAccess.SIZE + n);
        RegionAccess.write(replyPayload, off, idx, n);
        MemorySegment.copy(region, off, replyData, 0, n);
        return n + idx;
    }
}
