package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.RegionAccess;
import io.jvfio.protocol.RegionWriteMulti;
import io.jvfio.protocol.RegionWriteMultiReply;
import java.io.IOException;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.ByteOrder;
import java.util.List;

/**
 * A {@link VfioUserClient}'s region access over its {@link CallChannel}. REGION_READ and
 * REGION_WRITE are the client's hot path: each request is encoded into the calling thread's own
 * native buffer, and the caller reads its own reply, a read's data going from the receive buffer
 * straight to the caller's memory. In steady state nothing is allocated.
 */
final class RegionAccessCalls {
    private static final ValueLayout.OfShort LE_SHORT = ValueLayout.JAVA_SHORT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfInt LE_INT = ValueLayout.JAVA_INT_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);
    private static final ValueLayout.OfLong LE_LONG = ValueLayout.JAVA_LONG_UNALIGNED.withOrder(ByteOrder.LITTLE_ENDIAN);

    private final CallChannel channel;
    /** Per-thread request buffer and reusable call. */
    private final ThreadLocal<CallBuffers> callBuffers = ThreadLocal.withInitial(CallBuffers::new);

    /** A thread's request buffer (native, grown on demand) and the call object it reuses. */
    private static final class CallBuffers {
        private final Arena arena = Arena.ofAuto();
        MemorySegment tx = arena.allocate(256, 8);
        /** The payload part of {@link #tx}. */
        MemorySegment payload = tx.asSlice(Header.SIZE);
        /** The last slice handed out, reused while the size repeats (so a steady loop allocates nothing). */
        MemorySegment slice = tx.asSlice(0, 0);
        final MemorySegment scratch = arena.allocate(8, 8);
        PendingCall call;

        MemorySegment tx(long size) {
            if (size > tx.byteSize()) {
                tx = Arena.ofAuto().allocate(Math.max(size, 2 * tx.byteSize()), 8);
                payload = tx.asSlice(Header.SIZE);
                slice = tx.asSlice(0, 0);
            }
            return tx;
        }

        MemorySegment message(long size) {
            if (slice.byteSize() != size || slice.address() != tx.address()) {
                slice = tx.asSlice(0, size);
            }
            return slice;
        }

        PendingCall call(Command command, long maxReply) {
            PendingCall c = call;
            if (c == null) {
                c = call = new PendingCall(command, maxReply, 0);
            } else {
                c.reset(command, maxReply, 0);
            }
            return c;
        }
    }

    RegionAccessCalls(CallChannel channel) {
        this.channel = channel;
    }

    /** Reads {@code dst.byteSize()} bytes in pieces of at most {@code chunk}. */
    void read(int region, long offset, MemorySegment dst, long chunk) throws IOException {
        if (dst.isReadOnly()) {
            throw new IllegalArgumentException("cannot read into a read-only segment");
        }
        for (long done = 0; done < dst.byteSize(); ) {
            long n = Math.min(chunk, dst.byteSize() - done);
            access(Command.REGION_READ, region, offset + done, dst, done, n, false);
            done += n;
        }
    }

    /** Writes {@code src} in pieces of at most {@code chunk}; {@code posted}: with NO_REPLY. */
    void write(int region, long offset, MemorySegment src, boolean posted, long chunk) throws IOException {
        for (long done = 0; done < src.byteSize(); ) {
            long n = Math.min(chunk, src.byteSize() - done);
            access(Command.REGION_WRITE, region, offset + done, src, done, n, posted);
            done += n;
        }
    }

    /** REGION_WRITE_MULTI (not the fast path: rare, and its request is a record); returns how many writes were done. */
    long writeMulti(List<RegionWriteMulti.Entry> writes, boolean posted) throws IOException {
        RegionWriteMulti request = new RegionWriteMulti(writes);
        if (posted) {
            channel.post(Command.REGION_WRITE_MULTI, request);
            return writes.size();
        }
        VfioUserClient.Reply r = channel.call(Command.REGION_WRITE_MULTI, request, List.of(), channel.callTimeout(),
                RegionWriteMultiReply.SIZE, 0);
        return CallChannel.decode(() -> RegionWriteMultiReply.decode(r.payload()), "REGION_WRITE_MULTI reply").wrCnt();
    }

    int read8(int region, long offset) throws IOException {
        return Byte.toUnsignedInt(small(Command.REGION_READ, region, offset, 1).get(ValueLayout.JAVA_BYTE, 0));
    }

    int read16(int region, long offset) throws IOException {
        return Short.toUnsignedInt(small(Command.REGION_READ, region, offset, 2).get(LE_SHORT, 0));
    }

    int read32(int region, long offset) throws IOException {
        return small(Command.REGION_READ, region, offset, 4).get(LE_INT, 0);
    }

    long read64(int region, long offset) throws IOException {
        return small(Command.REGION_READ, region, offset, 8).get(LE_LONG, 0);
    }

    void write8(int region, long offset, int value) throws IOException {
        callBuffers.get().scratch.set(ValueLayout.JAVA_BYTE, 0, (byte) value);
        small(Command.REGION_WRITE, region, offset, 1);
    }

    void write16(int region, long offset, int value) throws IOException {
        callBuffers.get().scratch.set(LE_SHORT, 0, (short) value);
        small(Command.REGION_WRITE, region, offset, 2);
    }

    void write32(int region, long offset, int value) throws IOException {
        callBuffers.get().scratch.set(LE_INT, 0, value);
        small(Command.REGION_WRITE, region, offset, 4);
    }

    void write64(int region, long offset, long value) throws IOException {
        callBuffers.get().scratch.set(LE_LONG, 0, value);
        small(Command.REGION_WRITE, region, offset, 8);
    }

    /** One access of 1-8 bytes through this thread's scratch word (the value to write is already there). */
    private MemorySegment small(Command command, int region, long offset, int n) throws IOException {
        MemorySegment scratch = callBuffers.get().scratch;
        access(command, region, offset, scratch, 0, n, false);
        return scratch;
    }

    /** One REGION_READ/WRITE of {@code n} bytes (at most the transfer chunk) from or to {@code data} at {@code dataOffset}. */
    private void access(Command command, int region, long offset, MemorySegment data, long dataOffset, long n,
            boolean posted) throws IOException {
        channel.checkAlive();
        boolean write = command == Command.REGION_WRITE;
        long size = Header.SIZE + RegionAccess.SIZE + (write ? n : 0);
        CallBuffers b = callBuffers.get();
        MemorySegment tx = b.tx(size);
        RegionAccess.write(b.payload, offset, region, n);
        if (write) {
            MemorySegment.copy(data, dataOffset, b.payload, RegionAccess.DATA_OFFSET, n);
        }
        MemorySegment message = b.message(size);
        if (posted) {
            Header.writeCommand(tx, channel.postedId(), command.code(), size, true);
            channel.sendRaw(command, message);
            return;
        }
        long maxReply = Math.min(channel.maxIncoming(),
                Math.max(write ? RegionAccess.SIZE : RegionAccess.SIZE + n, size - Header.SIZE));
        PendingCall call = b.call(command, maxReply);
        call.direct = true;
        if (!write) {
            call.readDst = data;
            call.readDstOffset = dataOffset;
            call.readCount = n;
        }
        int id = channel.register(call);
        Header.writeCommand(tx, id, command.code(), size, false);
        VfioUserClient.Reply reply;
        try {
            if (channel.isDead()) {
                throw channel.connectionGone();
            }
            channel.sendRaw(command, message);
            reply = channel.awaitReply(call, id, channel.callTimeout());
        } catch (IOException | RuntimeException e) {
            if (call.state.get() == PendingCall.ABANDONED) {
                b.call = null; // still registered until its late reply: never reuse it
            }
            throw e;
        }
        if (reply == null) {
            if (call.directProblem != null) {
                throw new VfioUserException(Errno.EPROTO, call.directProblem);
            }
            return;
        }
        // Delivered by another thread (it read the socket at the time): the general form.
        MemorySegment p = reply.payload();
        if (!write) {
            String problem = PendingCall.readReplyProblem(p, n);
            if (problem != null) {
                throw new VfioUserException(Errno.EPROTO, problem);
            }
            MemorySegment.copy(p, RegionAccess.DATA_OFFSET, data, dataOffset, n);
        }
    }
}
