package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.jvfio.linux.Errno;
import io.jvfio.linux.EventFd;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.IrqSet;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.faults.FaultControl;
import io.jvfio.server.faults.FaultControlClient;
import io.jvfio.testing.Await;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The fault control socket of a running server, driven as {@code jvfio fault} drives it, while a
 * vfio-user client does region accesses: injected rules fire, show in the list and the log, and go
 * when removed or cleared; a client that sends garbage, too much or nothing cannot upset it.
 */
class FaultControlTest extends ServerTestBase {
    private static final int BAR0 = Vfio.PCI_BAR0_REGION_INDEX;
    private static final ObjectMapper JSON = new ObjectMapper();

    static {
        // The JDK keeps a socket of its own open once a channel is first closed (for closing
        // channels safely): open it before the base class counts fds.
        try {
            SocketChannel.open(StandardProtocolFamily.UNIX).close();
        } catch (IOException e) {
            throw new ExceptionInInitializerError(e);
        }
    }

    private Path controlPath() {
        return dir.resolve("faults.sock");
    }

    private void startWithFaultControl() throws IOException {
        start();
        server.openFaultControl(controlPath());
    }

    private FaultControlClient control() throws IOException {
        return closeLater(FaultControlClient.connect(controlPath()));
    }

    private static int readError(TestPeer c, long offset) throws Exception {
        return c.callError(Command.REGION_READ, TestPeer.regionRead(BAR0, offset, 4), List.of());
    }

    @Test
    void aRuleInjectedOverTheSocketFiresIsListedAndLoggedAndClearStopsIt() throws Exception {
        startWithFaultControl();
        TestPeer c = client();
        FaultControlClient control = control();

        String id = control.inject("{id: eio, on: region, region: bar0, at: 0x10-0x13, direction: read, action: fail, errno: EIO}");
        assertThat(id).isEqualTo("eio");
        assertThat(readError(c, 0x10)).isEqualTo(Errno.EIO);
        assertThat(c.read(BAR0, 0x20, 4)).as("outside the range").containsExactly(0, 0, 0, 0);
        assertThat(readError(c, 0x12)).isEqualTo(Errno.EIO);

        JsonNode list = control.list();
        assertThat(list.path("rules")).hasSize(1);
        JsonNode rule = list.path("rules").get(0);
        assertThat(rule.path("id").asText()).isEqualTo("eio");
        assertThat(rule.path("rule").asText())
                .isEqualTo("{id: eio, on: region, region: bar0, at: 0x10-0x13, direction: read, action: fail, errno: EIO}");
        assertThat(rule.path("matches").asLong()).isEqualTo(2);
        assertThat(rule.path("firings").asLong()).isEqualTo(2);
        assertThat(list.path("fired").asLong()).isEqualTo(2);

        JsonNode log = control.log(0);
        assertThat(log.path("next").asLong()).isEqualTo(2);
        assertThat(log.path("firings")).hasSize(2);
        JsonNode first = log.path("firings").get(0);
        assertThat(first.path("n").asLong()).isZero();
        assertThat(first.path("rule").asText()).isEqualTo("eio");
        assertThat(first.path("action").asText()).isEqualTo("fail, errno: EIO");
        assertThat(first.path("matched").asText()).isEqualTo("region 0 read 0x10+4");
        assertThat(java.time.Instant.parse(first.path("time").asText())).isBeforeOrEqualTo(java.time.Instant.now());
        assertThat(control.log(1).path("firings")).extracting(f -> f.path("matched").asText())
                .containsExactly("region 0 read 0x12+4");
        assertThat(control.log(2).path("firings")).isEmpty();

        assertThat(control.clear()).isEqualTo(1);
        assertThat(c.read(BAR0, 0x10, 4)).as("cleared: the read reaches the device").containsExactly(0, 0, 0, 0);
        assertThat(control.list().path("rules")).isEmpty();
        assertThat(server.faults().firedTotal()).isEqualTo(2);
    }

    @Test
    void aRuleWithoutAnIdGetsOneAndRemoveDisarmsIt() throws Exception {
        startWithFaultControl();
        TestPeer c = client();
        FaultControlClient control = control();

        String id = control.inject("{\"on\": \"region\", \"region\": \"bar0\", \"action\": \"all-ones\"}");
        assertThat(id).isEqualTo("injected-1");
        assertThat(c.read(BAR0, 0, 4)).containsOnly((byte) 0xff);
        control.remove(id);
        assertThat(c.read(BAR0, 0, 4)).containsExactly(0, 0, 0, 0);
        assertThatThrownBy(() -> control.remove(id)).hasMessage("no rule named 'injected-1' is armed");
    }

    @Test
    void aRuleMayComeAsAJsonObjectAndANowRuleActsAtOnce() throws Exception {
        startWithFaultControl();
        TestPeer c = client();
        EventFd vector3 = closeLater(EventFd.create());
        c.call(Command.DEVICE_SET_IRQS, IrqSet.eventfds(Vfio.PCI_MSIX_IRQ_INDEX, Vfio.IRQ_SET_ACTION_TRIGGER, 3, 1),
                vector3.fd()).close();
        FaultControlClient control = control();

        JsonNode reply = control.request(JSON.readTree(
                "{\"op\": \"inject\", \"rule\": {\"id\": \"kick\", \"on\": \"now\", \"action\": \"raise\", \"irq\": \"msix\", \"vector\": 3}}"));
        assertThat(reply.path("ok").asBoolean()).as(reply.toString()).isTrue();
        assertThat(vector3.await(Duration.ofSeconds(5))).isTrue();
        assertThat(vector3.read()).isEqualTo(1);
        assertThat(control.log(0).path("firings").get(0).path("matched").asText()).isEqualTo("now");
    }

    @Test
    void aBadRequestIsAnsweredWithAnErrorAndTheConnectionGoesOn() throws Exception {
        startWithFaultControl();
        FaultControlClient control = control();

        assertThat(error(control, "this is not json")).startsWith("a request is one line of JSON");
        assertThat(error(control, "[1]")).startsWith("a request is a JSON object with \"op\"");
        assertThat(error(control, "{\"op\": \"explode\"}")).isEqualTo("unknown op 'explode'; ops: list, inject, remove, clear, log");
        assertThat(error(control, "{\"op\": \"inject\"}")).startsWith("inject needs \"rule\"");
        assertThat(error(control, "{\"op\": \"remove\"}")).isEqualTo("remove needs \"id\"");
        assertThatThrownBy(() -> control.inject("{on: region, region: bar0, action: fail, errno: EWHAT}"))
                .hasMessageStartingWith("rule injected-1: errno: expected one of EPERM");
        assertThatThrownBy(() -> control.inject("{on: irq, index: msix, action: drop-irq, lbas: 3}"))
                .hasMessageStartingWith("rule injected-2: unknown field 'lbas'");
        control.inject("{id: twice, on: irq, index: msix, action: drop-irq}");
        assertThatThrownBy(() -> control.inject("{id: twice, on: irq, index: msi, action: drop-irq}"))
                .hasMessage("a rule named twice is already armed");
        assertThat(control.list().path("rules")).hasSize(1);
    }

    @Test
    void aRequestTooLongIsRefusedAndTheNextClientIsServed() throws Exception {
        startWithFaultControl();
        try (SocketChannel raw = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            raw.connect(UnixDomainSocketAddress.of(controlPath()));
            ByteBuffer flood = ByteBuffer.wrap(new byte[FaultControl.MAX_REQUEST_BYTES]);
            while (flood.hasRemaining()) {
                raw.write(flood);
            }
            String reply = readAll(raw);
            assertThat(reply).contains("request longer than " + FaultControl.MAX_REQUEST_BYTES + " bytes").endsWith("\n");
        }
        assertThat(control().list().path("ok").asBoolean()).isTrue();
    }

    @Test
    void clientsBeyondTheLimitWaitUntilAPlaceIsFree() throws Exception {
        startWithFaultControl();
        List<FaultControlClient> silent = new ArrayList<>();
        for (int i = 0; i < FaultControl.MAX_CLIENTS; i++) {
            FaultControlClient client = control();
            client.list(); // connected and served: its place is taken
            silent.add(client);
        }
        FaultControlClient extra = control();
        CompletableFuture<JsonNode> answered = CompletableFuture.supplyAsync(() -> {
            try {
                return extra.list();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        });
        assertThat(answered).as("every place is taken").isNotDone();
        silent.getFirst().close();
        assertThat(answered.get(10, TimeUnit.SECONDS).path("ok").asBoolean()).isTrue();
        assertThat(silent.getLast().list().path("ok").asBoolean()).as("the others are still served").isTrue();
    }

    @Test
    void aLongLogComesInPages() throws Exception {
        startWithFaultControl();
        TestPeer c = client();
        FaultControlClient control = control();
        control.inject("{on: region, region: bar0, action: fail}");
        int reads = FaultControl.LOG_PAGE + 5;
        for (int i = 0; i < reads; i++) {
            assertThat(readError(c, 0)).isEqualTo(Errno.EIO);
        }
        JsonNode page = control.log(0);
        assertThat(page.path("firings")).hasSize(FaultControl.LOG_PAGE);
        assertThat(page.path("next").asLong()).isEqualTo(FaultControl.LOG_PAGE);
        JsonNode rest = control.log(page.path("next").asLong());
        assertThat(rest.path("firings")).hasSize(5);
        assertThat(rest.path("firings").get(4).path("n").asLong()).isEqualTo(reads - 1);
        assertThat(rest.path("next").asLong()).isEqualTo(reads);
    }

    @Test
    void theSocketIsTheOwnersAloneAndGoesWithTheServer() throws Exception {
        start();
        FaultControl control = server.openFaultControl(controlPath());
        assertThat(control.path()).isEqualTo(controlPath());
        assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(controlPath()))).isEqualTo("rw-------");
        assertThatThrownBy(() -> server.openFaultControl(dir.resolve("other.sock"))).isInstanceOf(IllegalStateException.class);
        server.close();
        assertThat(controlPath()).doesNotExist();
        assertThatThrownBy(() -> FaultControlClient.connect(controlPath())).isInstanceOf(IOException.class)
                .hasMessageContaining("cannot connect to the fault control socket");
    }

    private static String error(FaultControlClient control, String request) throws IOException {
        JsonNode reply = request(control, request);
        assertThat(reply.path("ok").asBoolean()).as(reply.toString()).isFalse();
        return reply.path("error").asText();
    }

    /** Sends {@code line} as it is (the client's request() would send valid JSON only). */
    private static JsonNode request(FaultControlClient control, String line) throws IOException {
        return control.requestLine(line);
    }

    private static String readAll(SocketChannel channel) throws IOException {
        ByteBuffer in = ByteBuffer.allocate(1024);
        StringBuilder text = new StringBuilder();
        while (channel.read(in) >= 0) {
            in.flip();
            text.append(StandardCharsets.UTF_8.decode(in));
            in.clear();
        }
        return text.toString();
    }
}
