package io.jvfio.client;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.linux.Fd;
import io.jvfio.linux.UnixSocket;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DmaReadReply;
import io.jvfio.protocol.DmaReadRequest;
import io.jvfio.protocol.DmaWriteReply;
import io.jvfio.protocol.DmaWriteRequest;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.IrqInfo;
import io.jvfio.protocol.Vfio;
import java.lang.foreign.Arena;
import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import io.jvfio.protocol.RegionInfo;
import io.jvfio.protocol.Version;

/**
 * A scripted server that misbehaves: the client must never hang, leak an fd, or die silently,
 * and must check every DMA request against the memory it registered.
 */
class HostileServerTest extends ClientTestSupport {
    private static final VersionCapabilities CAPS = VersionCapabilities.DEFAULTS.withMaxMsgFds(8);

    private FakeServer fake(ClientOptions options) throws Exception {
        return later(FakeServer.start(options, CAPS, List.of()));
    }

    private FakeServer fake() throws Exception {
        return fake(ClientOptions.defaults());
    }

    @Test
    void aMalformedMessageKillsTheConnectionWithAClearErrorForEveryCall() throws Exception {
        FakeServer fake = fake();
        CompletableFuture<IrqInfo> pending = FakeServer.async(() -> fake.client.irqInfo(0));
        FakeServer.Message m = fake.receive();
        assertThat(m.command()).isEqualTo(Command.DEVICE_GET_IRQ_INFO.code());
        fake.send(m.id(), m.command(), 0x7, 0, new byte[0], List.of()); // message type 7 does not exist
        assertThatThrownBy(() -> pending.get(BOUND.toSeconds(), TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(VfioUserException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.ENOTCONN);
                    assertThat(e.getMessage()).contains("malformed message from the server").contains("type 7");
                });
        assertThat(fake.client.isConnected()).isFalse();
        assertThatThrownBy(() -> fake.client.deviceInfo()).isInstanceOfSatisfying(VfioUserException.class,
                e -> assertThat(e.getMessage()).contains("malformed message"));
    }

    @Test
    void aMessageOverTheClientsLimitIsRefused() throws Exception {
        FakeServer fake = fake(ClientOptions.defaults().withMaxDataXferSize(4096));
        CompletableFuture<IrqInfo> pending = FakeServer.async(() -> fake.client.irqInfo(0));
        FakeServer.Message m = fake.receive();
        MemorySegment header = MemorySegment.ofArray(new byte[Header.SIZE]);
        Header.writeReply(header, m.id(), m.command(), 64L << 20); // claims 64 MiB follow
        fake.sendRaw(header.toArray(ValueLayout.JAVA_BYTE));
        assertThatThrownBy(() -> pending.get(BOUND.toSeconds(), TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(VfioUserException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.ENOTCONN);
                    assertThat(e.getMessage()).contains("exceeds the limit");
                });
    }

    @Test
    void aReplyLargerThanItsCallCanTakeFailsOnlyThatCall() throws Exception {
        FakeServer fake = fake();
        CompletableFuture<IrqInfo> first = FakeServer.async(() -> fake.client.irqInfo(2));
        FakeServer.Message m = fake.receive();
        fake.reply(m, new byte[IrqInfo.SIZE + 48], List.of());
        assertThatThrownBy(() -> first.get(BOUND.toSeconds(), TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(VfioUserException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.EPROTO);
                    assertThat(e.getMessage()).contains("larger than");
                });
        CompletableFuture<IrqInfo> second = FakeServer.async(() -> fake.client.irqInfo(2));
        m = fake.receive();
        fake.reply(m, IrqInfo.reply(2, Vfio.IRQ_INFO_EVENTFD, 3).toBytes(), List.of());
        assertThat(second.get(BOUND.toSeconds(), TimeUnit.SECONDS).count()).isEqualTo(3);
        assertThat(fake.client.isConnected()).isTrue();
    }

    @Test
    void unexpectedFdsAndRepliesToNobodyAreDropped() throws Exception {
        FakeServer fake = fake();
        CompletableFuture<IrqInfo> call = FakeServer.async(() -> fake.client.irqInfo(1));
        FakeServer.Message m = fake.receive();
        fake.send(m.id() ^ 0x5555, m.command(), Header.TYPE_REPLY, 0, new byte[16], List.of()); // an id nobody waits for
        fake.send(m.id(), Command.DEVICE_GET_INFO.code(), Header.TYPE_REPLY, 0, new byte[16], List.of()); // right id, wrong command
        try (EventFd stray = EventFd.create()) {
            fake.reply(m, IrqInfo.reply(1, Vfio.IRQ_INFO_EVENTFD, 1).toBytes(), List.of(stray.fd(), stray.fd()));
            // The test's fd count at the end proves the client closed its copies.
        }
        assertThat(call.get(BOUND.toSeconds(), TimeUnit.SECONDS).count()).isEqualTo(1);
        assertThat(fake.client.isConnected()).isTrue();
    }

    @Test
    void aRegionInfoReplyWithTooManyFdsIsRefused() throws Exception {
        FakeServer fake = fake();
        CompletableFuture<RegionDescription> call = FakeServer.async(() -> fake.client.regionInfo(0));
        FakeServer.Message m = fake.receive();
        try (EventFd a = EventFd.create(); EventFd b = EventFd.create()) {
            fake.reply(m, RegionInfo.reply(32, 0, Vfio.REGION_INFO_FLAG_MMAP, 4096, 0, List.of()).toBytes(),
                    List.of(a.fd(), b.fd()));
        }
        assertThatThrownBy(() -> call.get(BOUND.toSeconds(), TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(Errno.EPROTO));
    }

    @Test
    void dmaRequestsAreCheckedAgainstTheRegisteredMemory() throws Exception {
        FakeServer fake = fake(ClientOptions.defaults().withMaxDataXferSize(8192));
        try (Arena arena = Arena.ofShared()) {
            MemorySegment readable = arena.allocate(0x1000);
            for (int i = 0; i < 0x1000; i++) {
                readable.set(ValueLayout.JAVA_BYTE, i, (byte) i);
            }
            MemorySegment writable = arena.allocate(0x1000);
            CompletableFuture<Void> maps = FakeServer.async(() -> {
                fake.client.registerMemory(0x10000, readable, Vfio.DMA_MAP_FLAG_READ);
                fake.client.registerMemory(0x20000, writable, Vfio.DMA_MAP_FLAG_WRITE);
                return null;
            });
            fake.reply(fake.receive(), new byte[0], List.of());
            fake.reply(fake.receive(), new byte[0], List.of());
            maps.get(BOUND.toSeconds(), TimeUnit.SECONDS);

            fake.command(1, Command.DMA_READ, new DmaReadRequest(0x10ff0, 16).toBytes(), List.of());
            FakeServer.Message r = fake.receive();
            assertThat(r.id()).isEqualTo(1);
            assertThat(r.flags() & Header.FLAG_ERROR).isZero();
            DmaReadReply data = DmaReadReply.decode(r.data());
            assertThat(data.data()).startsWith((byte) 0xf0, (byte) 0xf1);

            expectError(fake, 2, Command.DMA_READ, new DmaReadRequest(0x10ff8, 16).toBytes(), Errno.EFAULT);   // runs past the end
            expectError(fake, 3, Command.DMA_READ, new DmaReadRequest(0x0fff0, 8).toBytes(), Errno.EFAULT);    // below the window
            expectError(fake, 4, Command.DMA_READ, new DmaReadRequest(0x20000, 8).toBytes(), Errno.EPERM);     // write-only memory
            expectError(fake, 5, Command.DMA_WRITE, new DmaWriteRequest(0x10000, new byte[8]).toBytes(), Errno.EPERM); // read-only
            expectError(fake, 6, Command.DMA_READ, new DmaReadRequest(0x10000, 16384).toBytes(), Errno.E2BIG); // over our limit
            expectError(fake, 7, Command.REGION_READ, new byte[16], Errno.EINVAL);                              // not a server command

            try (EventFd stray = EventFd.create()) {
                fake.command(8, Command.DMA_WRITE, new DmaWriteRequest(0x20010, new byte[] {7, 7, 7}).toBytes(), List.of(stray.fd()));
            }
            FakeServer.Message w = fake.receive();
            assertThat(w.flags() & Header.FLAG_ERROR).isZero();
            assertThat(DmaWriteReply.decode(w.data())).isEqualTo(new DmaWriteReply(0x20010, 3));
            assertThat(writable.get(ValueLayout.JAVA_BYTE, 0x12)).isEqualTo((byte) 7);
            assertThat(fake.client.isConnected()).isTrue();
        }
    }

    private static void expectError(FakeServer fake, int id, Command command, byte[] payload, int errno) throws Exception {
        fake.command(id, command, payload, List.of());
        FakeServer.Message r = fake.receive();
        assertThat(r.id()).isEqualTo(id);
        assertThat(r.flags() & Header.FLAG_ERROR).as("error reply to %s %d", command, id).isNotZero();
        assertThat(r.error()).isEqualTo(errno);
    }

    @Test
    void twinSocketModeCarriesTheServersDmaRequestsOnTheirOwnSocket() throws Exception {
        UnixSocket[] twin = UnixSocket.pair();
        later(twin[1]);
        FakeServer fake;
        try {
            fake = later(FakeServer.start(ClientOptions.defaults(), CAPS.withTwinSocket(0), List.of(twin[0].fd())));
        } finally {
            // The client has its own copy now. Only our descriptor goes: UnixSocket.close() would shut the
            // shared connection down for the client too (the wrapper's small native buffers are left to the test JVM).
            twin[0].fd().close();
        }
        assertThat(fake.client.twinSocketActive()).isTrue();
        try (Arena arena = Arena.ofShared()) {
            MemorySegment memory = arena.allocate(64);
            memory.fill((byte) 0x3c);
            CompletableFuture<Void> map = FakeServer.async(() -> {
                fake.client.registerMemory(0x9000, memory, Vfio.DMA_MAP_FLAG_READ | Vfio.DMA_MAP_FLAG_WRITE);
                return null;
            });
            FakeServer.Message dmaMap = fake.receive();
            // Before answering the client's DMA_MAP the server does DMA on the twin socket: no interleaving.
            MemorySegment header = MemorySegment.ofArray(new byte[Header.SIZE + DmaReadRequest.SIZE]);
            Header.writeCommand(header, 77, Command.DMA_READ.code(), header.byteSize(), false);
            new DmaReadRequest(0x9000, 8).encode(header.asSlice(Header.SIZE));
            twin[1].send(header);
            MemorySegment replyHeader = MemorySegment.ofArray(new byte[Header.SIZE]);
            List<Fd> none = new java.util.ArrayList<>();
            assertThat(twin[1].receiveFully(replyHeader, none)).isTrue();
            assertThat(Header.msgId(replyHeader)).isEqualTo(77);
            assertThat(Header.isReply(replyHeader)).isTrue();
            MemorySegment body = MemorySegment.ofArray(new byte[(int) Header.payloadSize(replyHeader)]);
            twin[1].receiveFully(body, none);
            assertThat(DmaReadReply.decode(body).data()).containsOnly((byte) 0x3c);
            fake.reply(dmaMap, new byte[0], List.of());
            map.get(BOUND.toSeconds(), TimeUnit.SECONDS);
        }
    }

    @Test
    void aTwinSocketReplyWithoutItsFdIsRefused() throws Exception {
        assertThatThrownBy(() -> FakeServer.start(ClientOptions.defaults(), CAPS.withTwinSocket(3), List.of()))
                .isInstanceOfSatisfying(VfioUserException.class, e -> {
                    assertThat(e.errno()).isEqualTo(Errno.EPROTO);
                    assertThat(e.getMessage()).contains("fd_index 3");
                });
        assertThatThrownBy(() -> FakeServer.start(ClientOptions.defaults().withTwinSocket(false), CAPS.withTwinSocket(0), List.of()))
                .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.getMessage()).contains("did not offer"));
    }

    @Test
    void theClientOffersOnlyWhatItDoes() throws Exception {
        UnixSocket[] pair = UnixSocket.pair();
        later(pair[1]);
        CompletableFuture<VfioUserClient> opening = FakeServer.async(() ->
                VfioUserClient.open(pair[0], ClientOptions.defaults().withTwinSocket(false).withMaxMsgFds(4)));
        MemorySegment header = MemorySegment.ofArray(new byte[Header.SIZE]);
        List<Fd> fds = new java.util.ArrayList<>();
        pair[1].receiveFully(header, fds);
        MemorySegment payload = MemorySegment.ofArray(new byte[(int) Header.payloadSize(header)]);
        pair[1].receiveFully(payload, fds);
        VersionCapabilities offered = Version.decode(payload).capabilities();
        assertThat(offered.twinSocketSupported()).isFalse();
        assertThat(offered.has(VersionCapabilities.TWIN_SOCKET)).isFalse();
        assertThat(offered.maxMsgFds()).isEqualTo(4);
        assertThat(offered.writeMultiple()).as("the client never receives WRITE_MULTI").isFalse();
        pair[1].shutdown();
        assertThatThrownBy(() -> opening.get(BOUND.toSeconds(), TimeUnit.SECONDS)).cause()
                .isInstanceOfSatisfying(VfioUserException.class, e -> assertThat(e.errno()).isEqualTo(Errno.ENOTCONN));
    }
}
