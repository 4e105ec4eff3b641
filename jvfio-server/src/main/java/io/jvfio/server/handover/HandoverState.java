package io.jvfio.server.handover;

import io.jvfio.linux.Fd;
import io.jvfio.protocol.ProtocolException;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.server.Access;
import io.jvfio.server.InterruptLines;
import io.jvfio.server.internal.DmaSpace;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Everything a running server hands its successor, and its encoding as a {@link HandoverWire#STATE}
 * frame: a body (big-endian, DataOutput) and the fds in a fixed order — the listening socket, the
 * client's socket, the DMA windows' fds, the interrupt eventfds (each only if present).
 *
 * @param device         {@link DeviceIdentity} of the device served: the successor's must be the same
 * @param socketPath     where the listening socket is bound, if the server bound it
 * @param listener       the listening socket; null when the server served one pre-connected client
 * @param client         the connected client's socket; null when no client was connected
 * @param clientCaps     what the client proposed at VERSION (with a client)
 * @param windows        the client's DMA windows (with a client)
 * @param wiring         the client's interrupt eventfds, masks and pending bits
 * @param deviceState    the device's migration stream, saved in STOP_COPY
 * @param unhandledInput the client's bytes the old server read and did not handle (whole commands, the last maybe
 *                       partial): the successor handles them before reading the connection
 * @param lastHandledNanos System.nanoTime() when the old server had handled its last command (CLOCK_MONOTONIC: one clock for
 *                       every process), for the pause; 0 if none
 * @param deviceStoppedNanos System.nanoTime() when the old server began to stop its device: the successor, once its device
 *                       runs, logs how long no I/O was processed
 */
record HandoverState(String device, Optional<Path> socketPath, Fd listener, Fd client, VersionCapabilities clientCaps,
                     List<DmaSpace.ExportedWindow> windows, InterruptLines.Wiring wiring, byte[] deviceState,
                     byte[] unhandledInput, long lastHandledNanos, long deviceStoppedNanos) {
    private static final int FORMAT = 3;
    /** More than any device has (MSI-X allows 2048 vectors per index, QEMU maps far fewer windows). */
    private static final int MAX_ENTRIES = 1 << 16;

    /** The fds in wire order; the state keeps owning them. */
    List<Fd> fds() {
        List<Fd> fds = new ArrayList<>();
        if (listener != null) {
            fds.add(listener);
        }
        if (client != null) {
            fds.add(client);
        }
        windows.stream().map(DmaSpace.ExportedWindow::fd).filter(f -> f != null).forEach(fds::add);
        wiring.vectors().stream().map(InterruptLines.WiredVector::eventfd).filter(f -> f != null).forEach(fds::add);
        return fds;
    }

    /** Closes {@code fd} if there is one. */
    static void close(Fd fd) {
        if (fd != null) {
            fd.close();
        }
    }

    /** Closes every fd of the state (the sockets too: for duplicates only, never for a socket still served). */
    void closeFds() {
        fds().forEach(Fd::close);
    }

    byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeInt(FORMAT);
            out.writeUTF(device);
            out.writeUTF(socketPath.map(Path::toString).orElse(""));
            out.writeBoolean(listener != null);
            out.writeBoolean(client != null);
            out.writeLong(lastHandledNanos);
            out.writeLong(deviceStoppedNanos);
            if (client != null) {
                writeLongString(out, clientCaps.toJson());
            }
            out.writeInt(windows.size());
            for (DmaSpace.ExportedWindow w : windows) {
                out.writeLong(w.iova());
                out.writeLong(w.size());
                out.writeByte((w.access().contains(Access.READ) ? 1 : 0) | (w.access().contains(Access.WRITE) ? 2 : 0));
                out.writeBoolean(w.fd() != null);
                out.writeLong(w.fileOffset());
            }
            out.writeInt(wiring.vectors().size());
            for (InterruptLines.WiredVector v : wiring.vectors()) {
                out.writeInt(v.index());
                out.writeInt(v.vector());
                out.writeBoolean(v.eventfd() != null);
                out.writeBoolean(v.masked());
                out.writeBoolean(v.pending());
            }
            out.writeBoolean(wiring.intxAsserted());
            out.writeInt(deviceState.length);
            out.write(deviceState);
            out.writeInt(unhandledInput.length);
            out.write(unhandledInput);
        } catch (IOException e) {
            throw new UncheckedIOException(e); // a byte array does not fail
        }
        return bytes.toByteArray();
    }

    /** Decodes a STATE frame, taking its fds (all closed if it is malformed). */
    static HandoverState decode(byte[] body, List<Fd> fds) throws IOException {
        int next = 0;
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(body))) {
            int format = in.readInt();
            if (format != FORMAT) {
                throw new IOException("hand-over state of format %d; this server reads %d".formatted(format, FORMAT));
            }
            String device = in.readUTF();
            String path = in.readUTF();
            boolean hasListener = in.readBoolean(), hasClient = in.readBoolean();
            long lastReply = in.readLong(), deviceStopped = in.readLong();
            Fd listener = hasListener ? fd(fds, next++) : null;
            Fd client = hasClient ? fd(fds, next++) : null;
            VersionCapabilities caps = hasClient ? VersionCapabilities.parse(readLongString(in)) : VersionCapabilities.DEFAULTS;
            int windowCount = count(in.readInt(), "DMA windows");
            List<DmaSpace.ExportedWindow> windows = new ArrayList<>(windowCount);
            for (int i = 0; i < windowCount; i++) {
                long iova = in.readLong(), size = in.readLong();
                int bits = in.readByte();
                Set<Access> access = EnumSet.noneOf(Access.class);
                if ((bits & 1) != 0) {
                    access.add(Access.READ);
                }
                if ((bits & 2) != 0) {
                    access.add(Access.WRITE);
                }
                Fd fd = in.readBoolean() ? fd(fds, next++) : null;
                windows.add(new DmaSpace.ExportedWindow(iova, size, access, fd, in.readLong()));
            }
            int vectorCount = count(in.readInt(), "interrupt vectors");
            List<InterruptLines.WiredVector> vectors = new ArrayList<>(vectorCount);
            for (int i = 0; i < vectorCount; i++) {
                int index = in.readInt(), vector = in.readInt();
                Fd fd = in.readBoolean() ? fd(fds, next++) : null;
                vectors.add(new InterruptLines.WiredVector(index, vector, fd, in.readBoolean(), in.readBoolean()));
            }
            boolean intx = in.readBoolean();
            byte[] deviceState = readBytes(in, "device state");
            byte[] unhandledInput = readBytes(in, "unhandled client input");
            if (in.available() != 0 || next != fds.size()) {
                throw new IOException("hand-over state: %d bytes after its end, %d fds for %d".formatted(in.available(), fds.size(), next));
            }
            return new HandoverState(device, path.isEmpty() ? Optional.empty() : Optional.of(Path.of(path)), listener, client,
                    caps, windows, new InterruptLines.Wiring(vectors, intx), deviceState, unhandledInput, lastReply,
                    deviceStopped);
        } catch (IOException | ProtocolException | RuntimeException e) {
            fds.forEach(Fd::close);
            throw e instanceof IOException io ? io : new IOException("malformed hand-over state: " + e.getMessage(), e);
        }
    }

    private static Fd fd(List<Fd> fds, int index) throws IOException {
        if (index >= fds.size()) {
            throw new IOException("hand-over state names more fds than the %d that came".formatted(fds.size()));
        }
        return fds.get(index);
    }

    private static byte[] readBytes(DataInputStream in, String what) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > in.available()) {
            throw new IOException("hand-over state announces %d bytes of %s, %d follow".formatted(length, what, in.available()));
        }
        return in.readNBytes(length);
    }

    private static int count(int n, String what) throws IOException {
        if (n < 0 || n > MAX_ENTRIES) {
            throw new IOException("hand-over state with %d %s".formatted(n & 0xffffffffL, what));
        }
        return n;
    }

    /** writeUTF stops at 64 KiB; the capabilities JSON is the client's and may be longer. */
    private static void writeLongString(DataOutputStream out, String s) throws IOException {
        byte[] bytes = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        out.writeInt(bytes.length);
        out.write(bytes);
    }

    private static String readLongString(DataInputStream in) throws IOException {
        int length = in.readInt();
        if (length < 0 || length > in.available()) {
            throw new IOException("hand-over state: a string of %d bytes".formatted(length));
        }
        return new String(in.readNBytes(length), java.nio.charset.StandardCharsets.UTF_8);
    }
}
