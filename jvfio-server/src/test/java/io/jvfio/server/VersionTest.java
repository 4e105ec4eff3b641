package io.jvfio.server;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.linux.Errno;
import io.jvfio.protocol.VersionCapabilities;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.DeviceInfo;
import io.jvfio.protocol.Header;
import io.jvfio.protocol.Version;
import java.lang.foreign.MemorySegment;
import java.util.List;
import org.junit.jupiter.api.Test;

class VersionTest extends ServerTestBase {

    @Test
    void qemusRequestGetsMajor0Minor0AndShortNulTerminatedJson() throws Exception {
        start();
        TestPeer c = connect();
        byte[] request = TestPeer.versionPayload(0, 0, TestPeer.QEMU_JSON);
        try (TestPeer.Msg reply = c.call(Command.VERSION, request)) {
            assertThat(reply.size()).as("reply never longer than the request").isLessThanOrEqualTo(Header.SIZE + request.length);
            byte[] p = reply.payload();
            assertThat(p.length).isGreaterThan(Version.FIXED_SIZE + 1);
            assertThat(p[p.length - 1]).as("JSON ends in NUL").isZero();
            Version v = Version.decode(MemorySegment.ofArray(p));
            assertThat(v.major()).isZero();
            assertThat(v.minor()).isZero();
            assertThat(v.capabilities()).isNotNull();
            assertThat(v.capabilities().has(VersionCapabilities.MAX_MSG_FDS)).isTrue();
            assertThat(v.capabilities().has(VersionCapabilities.MAX_DATA_XFER_SIZE)).isTrue();
            assertThat(v.capabilities().maxMsgFds()).isBetween(1, 16);
            assertThat(v.capabilities().maxDataXferSize()).isEqualTo(ServerOptions.DEFAULT_MAX_DATA_XFER_SIZE);
        }
    }

    @Test
    void aHigherMinorIsAnsweredWithOurs() throws Exception {
        start();
        try (TestPeer.Msg reply = connect().call(Command.VERSION, TestPeer.versionPayload(0, 7, TestPeer.QEMU_JSON))) {
            assertThat(Version.decode(MemorySegment.ofArray(reply.payload())).minor()).isZero();
        }
    }

    /**
     * A request with no JSON at all (SPDK's test client, 4 bytes of payload) is answered with no JSON
     * either: the reply stays within the request's size, the client (which parses none) assumes the
     * spec defaults, and those are within this server's limits.
     */
    @Test
    void aRequestWithoutJsonGetsAReplyWithoutJson() throws Exception {
        start();
        TestPeer c = connect();
        try (TestPeer.Msg reply = c.call(Command.VERSION, TestPeer.versionPayload(0, 0, null))) {
            assertThat(reply.payload()).hasSize(Version.FIXED_SIZE).containsExactly(0, 0, 0, 0);
        }
        assertThat(c.read(7, 0, 2)).containsExactly(0x34, 0x12); // and the session works
    }

    @Test
    void aShortJsonRequestStillGetsAReplyNoLongerThanIt() throws Exception {
        start();
        byte[] request = TestPeer.versionPayload(0, 0, "{}");
        try (TestPeer.Msg reply = connect().call(Command.VERSION, request)) {
            assertThat(reply.payload().length).isLessThanOrEqualTo(request.length);
            Version.decode(MemorySegment.ofArray(reply.payload())); // well-formed
        }
    }

    @Test
    void anotherMajorIsRefused() throws Exception {
        start();
        TestPeer c = connect();
        assertThat(c.callError(Command.VERSION, TestPeer.versionPayload(1, 0, TestPeer.QEMU_JSON), List.of())).isNotZero();
        // Not negotiated: a proper VERSION still works afterwards.
        c.negotiate();
    }

    @Test
    void aSecondVersionIsRefused() throws Exception {
        start();
        TestPeer c = client();
        assertThat(c.callError(Command.VERSION, TestPeer.versionPayload(0, 0, TestPeer.QEMU_JSON), List.of()))
                .isEqualTo(Errno.EINVAL);
        assertThat(device.opens).hasSize(1);
    }

    @Test
    void commandsBeforeVersionGetAnErrorReply() throws Exception {
        start();
        TestPeer c = connect();
        assertThat(c.callError(Command.REGION_READ, TestPeer.regionRead(7, 0, 4), List.of())).isEqualTo(Errno.EINVAL);
        assertThat(c.callError(Command.DEVICE_GET_INFO, DeviceInfo.request(16))).isEqualTo(Errno.EINVAL);
        assertThat(device.opens).isEmpty();
        c.negotiate();
        assertThat(c.read(7, 0, 2)).containsExactly(0x34, 0x12);
    }

    @Test
    void malformedJsonIsRefused() throws Exception {
        start();
        TestPeer c = connect();
        assertThat(c.callError(Command.VERSION, TestPeer.versionPayload(0, 0, "{\"capabilities\":"), List.of()))
                .isEqualTo(Errno.EINVAL);
        c.negotiate();
    }
}
