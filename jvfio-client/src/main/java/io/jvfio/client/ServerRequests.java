package io.jvfio.client;

import io.jvfio.linux.Errno;
import io.jvfio.linux.Fd;
import io.jvfio.linux.Linux;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaReadReply;
import io.jvfio.protocol.DmaReadRequest;
import io.jvfio.protocol.DmaWriteReply;
import io.jvfio.protocol.DmaWriteRequest;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.Vfio;
import java.io.EOFException;
import java.io.IOException;
import java.lang.System.Logger.Level;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * The server's requests to a {@link VfioUserClient}: DMA_READ and DMA_WRITE of the memory registered
 * without an fd ({@link DmaMemory}), answered straight between the receive buffer and that memory.
 *
 * <p>Requests on the main socket are served by whichever thread read them (see {@link CallChannel}).
 * That thread never waits on a send: it sends an answer only if the socket takes it at once, else
 * it hands the answer to the DMA thread, which sends it. In twin-socket mode the requests arrive on
 * their own socket and its thread serves and answers them in order.
 */
final class ServerRequests {
    private static final System.Logger LOG = System.getLogger(VfioUserClient.class.getName());
    private static final Answer POISON = new Answer(null, -1, -1, 0, 0, 0, null);

    private final CallChannel channel;
    private final UnixSocket socket;
    private final long maxDataXferSize;
    private final DmaMemory memory = new DmaMemory();
    private final LinkedBlockingQueue<Answer> answers = new LinkedBlockingQueue<>();
    private final Thread dmaThread;
    /** The answer buffer of whoever reads the main socket (it holds the channel's read lock). */
    private final AnswerBuffer readerAnswer = new AnswerBuffer();
    private volatile UnixSocket twin;
    private Thread twinReader;

    /** How an answer goes out. */
    private enum Sending {
        /** By the thread that read the main socket: now if the socket takes it at once, else by the DMA thread. */
        AT_ONCE_OR_DEFER,
        /** By the DMA thread (the reading thread is absorbing and may send nothing). */
        DEFER,
        /** Now, waiting for the socket (the DMA thread, the twin socket's thread). */
        WAIT
    }

    /**
     * The answer to a server command: an error, a DMA_WRITE's (address, count), or a DMA_READ's data
     * from registered memory ({@code snapshot}: taken when the answer was deferred, so it shows the
     * memory as it was when the request was read).
     */
    private record Answer(UnixSocket replyTo, int id, int code, int errno, long address, long count, MemorySegment snapshot) {}

    /** A thread's 32-byte buffer for the header of an answer (and a DMA reply's address and count), and its 16-byte view. */
    private static final class AnswerBuffer {
        final MemorySegment full = Arena.ofAuto().allocate(Header.SIZE + DmaWriteReply.SIZE, 8);
        final MemorySegment header = full.asSlice(0, Header.SIZE);
        final MemorySegment body = full.asSlice(Header.SIZE);
    }

    ServerRequests(CallChannel channel, ClientOptions options) {
        this.channel = channel;
        this.socket = channel.socket();
        this.maxDataXferSize = options.maxDataXferSize();
        this.dmaThread = Thread.ofPlatform().name("jvfio-client-dma").daemon().unstarted(this::serveDmaLoop);
    }

    void start() {
        dmaThread.start();
    }

    /** The memory the server reaches by DMA_READ/DMA_WRITE. */
    DmaMemory memory() {
        return memory;
    }

    /** A request read from the main socket by a thread that may send (absorbing through {@code whileFull}). */
    void serveRead(MemorySegment header, MemorySegment payload, UnixSocket.WhileFull whileFull) throws IOException {
        serve(socket, header, payload, readerAnswer, Sending.AT_ONCE_OR_DEFER, whileFull);
    }

    /** A request read from the main socket by a thread that may not send now: the DMA thread answers it. */
    void serveLater(MemorySegment header, MemorySegment payload) throws IOException {
        serve(socket, header, payload, null, Sending.DEFER, null);
    }

    /**
     * Serves a server→client command: a DMA_WRITE's data goes from the receive buffer straight into
     * the registered memory, a DMA_READ's reply is sent straight from it (no copies on the heap);
     * anything else gets EINVAL.
     */
    private void serve(UnixSocket replyTo, MemorySegment header, MemorySegment payload, AnswerBuffer tx, Sending sending,
            UnixSocket.WhileFull whileFull) throws IOException {
        int id = Header.msgId(header);
        int code = Header.command(header);
        int errno = 0;
        long address = 0, count = 0;
        try {
            if (code == Command.DMA_READ.code()) {
                DmaReadRequest r = DmaReadRequest.decode(payload, maxDataXferSize);
                address = r.address();
                count = r.count();
            } else if (code == Command.DMA_WRITE.code()) {
                count = DmaWriteRequest.validate(payload, maxDataXferSize);
                address = DmaWriteRequest.address(payload);
                memory.write(address, payload.asSlice(DmaWriteRequest.SIZE, count));
            } else {
                throw new ProtocolException(Errno.EINVAL, "command " + code + " is not one a server may send");
            }
        } catch (ProtocolException e) {
            LOG.log(Level.DEBUG, "server request %d refused: %s".formatted(code, e.getMessage()));
            errno = e.errno();
        }
        if (!Header.isNoReply(header)) {
            answer(new Answer(replyTo, id, code, errno, address, count, null), tx, sending, whileFull);
        }
    }

    /** Sends {@code a} as {@code sending} says; a deferred answer goes to the DMA thread. */
    private void answer(Answer a, AnswerBuffer tx, Sending sending, UnixSocket.WhileFull whileFull) throws IOException {
        int errno = a.errno();
        MemorySegment data = MemorySegment.NULL;
        boolean held = errno == 0 && a.code() == Command.DMA_READ.code() && a.snapshot() == null;
        try {
            if (held) {
                try {
                    data = memory.acquire(a.address(), a.count(), Vfio.DMA_MAP_FLAG_READ);
                } catch (ProtocolException e) {
                    LOG.log(Level.DEBUG, "server request %d refused: %s".formatted(a.code(), e.getMessage()));
                    errno = e.errno();
                }
            } else if (a.snapshot() != null) {
                data = a.snapshot();
            }
            if (sending != Sending.DEFER) {
                MemorySegment head;
                if (errno != 0) {
                    Header.writeErrorReply(tx.header, a.id(), a.code(), errno);
                    head = tx.header;
                    data = MemorySegment.NULL;
                } else {
                    Header.writeReply(tx.full, a.id(), a.code(), Header.SIZE + DmaWriteReply.SIZE + data.byteSize());
                    if (a.code() == Command.DMA_READ.code()) {
                        DmaReadReply.encodeHeader(tx.body, a.address(), a.count());
                    } else {
                        DmaWriteReply.encode(tx.body, a.address(), a.count());
                    }
                    head = tx.full;
                }
                if (sending == Sending.WAIT) {
                    a.replyTo().send(head, data, List.of());
                    return;
                }
                if (a.replyTo().trySend(head, data, whileFull)) {
                    return;
                }
            }
            MemorySegment snapshot = null;
            if (errno == 0 && a.code() == Command.DMA_READ.code()) {
                try {
                    snapshot = MemorySegment.ofArray(data.toArray(ValueLayout.JAVA_BYTE));
                } catch (IllegalStateException released) {
                    errno = Errno.EFAULT;
                }
            }
            answers.add(new Answer(a.replyTo(), a.id(), a.code(), errno, a.address(), a.count(), snapshot));
        } finally {
            if (held) {
                memory.release();
            }
        }
    }

    /** The DMA thread: sends the answers the reading thread could not send at once. */
    private void serveDmaLoop() {
        AnswerBuffer tx = new AnswerBuffer();
        try {
            while (true) {
                Answer a = answers.take();
                if (a == POISON) {
                    return;
                }
                answer(a, tx, Sending.WAIT, null);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable t) {
            channel.markDead(channel.closing() ? new VfioUserException(Errno.ENOTCONN, "the client was closed", t)
                    : new VfioUserException(Errno.ENOTCONN, "cannot answer the server's DMA request: " + t.getMessage(), t));
        }
    }

    // ---------------------------------------------------------------- twin socket

    /** Twin-socket mode: from now on the server's requests arrive on {@code fd}, which this takes over. */
    void startTwin(Fd fd) throws IOException {
        if (!Linux.isSocket(fd)) {
            fd.close();
            throw new VfioUserException(Errno.EPROTO, "twin_socket fd is not a socket");
        }
        UnixSocket s = UnixSocket.adopt(fd);
        s.setMaxReceiveFds(1);
        twin = s;
        twinReader = Thread.ofPlatform().name("jvfio-client-twin").daemon().unstarted(() -> twinLoop(s));
        twinReader.start();
    }

    boolean twinActive() {
        return twin != null;
    }

    /** Twin-socket mode: server→client commands arrive here and are answered here, in order. */
    private void twinLoop(UnixSocket s) {
        MemorySegment header = MemorySegment.ofArray(new byte[Header.SIZE]);
        AnswerBuffer tx = new AnswerBuffer();
        List<Fd> fds = new ArrayList<>();
        try {
            while (true) {
                MemorySegment payload = receiveMessage(s, header, fds);
                if (payload == null) {
                    if (!channel.closing() && !channel.isDead()) {
                        channel.markDead(new VfioUserException(Errno.ENOTCONN, "the server closed the twin socket"));
                    }
                    return;
                }
                CallChannel.closeUnexpected(fds, "twin-socket message");
                if (Header.isReply(header)) {
                    throw new ProtocolException(Errno.EINVAL, "a reply (id " + Header.msgId(header) + ") arrived on the twin socket");
                }
                serve(s, header, payload, tx, Sending.WAIT, null);
            }
        } catch (Throwable t) {
            if (!channel.isDead()) {
                channel.markDead(channel.deathCause(t));
            }
        } finally {
            fds.forEach(Fd::close);
        }
    }

    /** One whole message: the header into {@code header}, the payload returned; null at a clean end of stream. */
    private MemorySegment receiveMessage(UnixSocket from, MemorySegment header, List<Fd> fds) throws IOException, ProtocolException {
        if (!from.receiveFully(header, fds)) {
            return null;
        }
        Header.validate(header, channel.maxIncoming());
        long payloadSize = Header.payloadSize(header);
        MemorySegment payload = MemorySegment.ofArray(new byte[(int) payloadSize]);
        if (payloadSize > 0 && !from.receiveFully(payload, fds)) {
            throw new EOFException("end of stream before a " + payloadSize + "-byte payload");
        }
        return payload;
    }

    // ---------------------------------------------------------------- the end

    /** The connection died: the DMA thread ends, the twin socket is shut down. */
    void connectionDied() {
        answers.offer(POISON);
        UnixSocket t = twin;
        if (t != null) {
            t.shutdown();
        }
    }

    /** After {@link #connectionDied}: waits for the threads, closes the twin socket. */
    void stop() {
        join(dmaThread);
        if (twinReader != null) {
            join(twinReader);
        }
        UnixSocket t = twin;
        if (t != null) {
            t.close();
        }
    }

    static void join(Thread t) {
        if (t == Thread.currentThread()) {
            return;
        }
        try {
            t.join(5000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
