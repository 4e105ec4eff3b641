package io.jvfio.protocol;

import static io.jvfio.protocol.TestSupport.rejects;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import io.jvfio.linux.Errno;
import org.junit.jupiter.api.Test;

class VersionCapabilitiesTest {

    @Test
    void defaults() throws Exception {
        for (VersionCapabilities c : new VersionCapabilities[] {VersionCapabilities.DEFAULTS, VersionCapabilities.parse("{}"),
                VersionCapabilities.parse("{\"capabilities\":{}}")}) {
            assertThat(c.maxMsgFds()).isEqualTo(1);
            assertThat(c.maxDataXferSize()).isEqualTo(1048576);
            assertThat(c.maxDmaMaps()).isEqualTo(65535);
            assertThat(c.pgsizes()).isEqualTo(4096);
            assertThat(c.twinSocketSupported()).isFalse();
            assertThat(c.twinSocketFdIndex()).isEmpty();
            assertThat(c.writeMultiple()).isFalse();
            assertThat(c.hasMigration()).isFalse();
            assertThat(c.migrationPgsize()).isEqualTo(4096);
            assertThat(c.migrationMaxBitmapSize()).isEqualTo(256L << 20);
            assertThat(c.has(VersionCapabilities.MAX_MSG_FDS)).isFalse();
        }
        assertThat(VersionCapabilities.DEFAULTS.toJson()).isEqualTo("{\"capabilities\":{}}");
    }

    @Test
    void qemuClientCapabilities() throws Exception {
        String qemu = "{\"capabilities\":{\"max_msg_fds\":16,\"max_data_xfer_size\":1048576,\"pgsizes\":4096,"
                + "\"max_dma_maps\":65535,\"write_multiple\":true,\"migration\":{\"pgsize\":4096,\"max_bitmap_size\":268435456}}}";
        VersionCapabilities c = VersionCapabilities.parse(qemu);
        assertThat(c.maxMsgFds()).isEqualTo(16);
        assertThat(c.writeMultiple()).isTrue();
        assertThat(c.hasMigration()).isTrue();
        assertThat(c.migrationMaxBitmapSize()).isEqualTo(268435456L);
        assertThat(c.toJson()).isEqualTo(qemu);
    }

    @Test
    void buildersAndCompactJson() {
        VersionCapabilities c = VersionCapabilities.DEFAULTS.withMaxMsgFds(8).withMaxDataXferSize(1 << 20).withTwinSocket(0)
                .withWriteMultiple(true).withMigrationPgsize(4096);
        assertThat(c.toJson()).isEqualTo("{\"capabilities\":{\"max_msg_fds\":8,\"max_data_xfer_size\":1048576,"
                + "\"twin_socket\":{\"supported\":true,\"fd_index\":0},\"write_multiple\":true,\"migration\":{\"pgsize\":4096}}}");
        assertThat(c.twinSocketSupported()).isTrue();
        assertThat(c.twinSocketFdIndex()).hasValue(0);
        assertThat(VersionCapabilities.DEFAULTS.maxMsgFds()).as("immutable").isEqualTo(1);
        assertThat(c.without(VersionCapabilities.TWIN_SOCKET).twinSocketSupported()).isFalse();
        assertThatThrownBy(() -> VersionCapabilities.DEFAULTS.with("max_msg_fds", JsonNodeFactory.instance.textNode("x")))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("max_msg_fds must be an integer");
    }

    @Test
    void unknownKeysAreKeptAndReencoded() throws Exception {
        String json = "{\"capabilities\":{\"max_msg_fds\":4,\"future_thing\":{\"a\":[1,2]},\"x\":\"y\"},\"top\":1}";
        VersionCapabilities c = VersionCapabilities.parse(json);
        assertThat(c.unknownKeys()).containsExactly("future_thing", "x");
        assertThat(c.toJson()).isEqualTo(json);
        assertThat(c.withMaxMsgFds(2).toJson())
                .isEqualTo("{\"capabilities\":{\"max_msg_fds\":2,\"future_thing\":{\"a\":[1,2]},\"x\":\"y\"},\"top\":1}");
    }

    @Test
    void malformedJson() {
        rejects(() -> VersionCapabilities.parse("{"), Errno.EINVAL, "VERSION: malformed capabilities JSON");
        rejects(() -> VersionCapabilities.parse("{} {}"), Errno.EINVAL, "malformed capabilities JSON");
        rejects(() -> VersionCapabilities.parse(""), Errno.EINVAL, "empty capabilities JSON");
        rejects(() -> VersionCapabilities.parse("42"), Errno.EINVAL, "is a NUMBER, not an object");
        rejects(() -> VersionCapabilities.parse("{\"capabilities\":[]}"), Errno.EINVAL, "capability capabilities must be an object");
        rejects(() -> VersionCapabilities.parse("{\"capabilities\":{\"max_msg_fds\":\"8\"}}"), Errno.EINVAL,
                "capability capabilities.max_msg_fds must be an integer in [0, 2147483647], got \"8\"");
        rejects(() -> VersionCapabilities.parse("{\"capabilities\":{\"max_data_xfer_size\":-1}}"), Errno.EINVAL, "max_data_xfer_size must be an integer");
        rejects(() -> VersionCapabilities.parse("{\"capabilities\":{\"pgsizes\":4096.5}}"), Errno.EINVAL, "pgsizes must be an integer");
        rejects(() -> VersionCapabilities.parse("{\"capabilities\":{\"write_multiple\":1}}"), Errno.EINVAL, "write_multiple must be a boolean");
        rejects(() -> VersionCapabilities.parse("{\"capabilities\":{\"twin_socket\":true}}"), Errno.EINVAL, "twin_socket must be an object");
        rejects(() -> VersionCapabilities.parse("{\"capabilities\":{\"twin_socket\":{\"supported\":\"yes\"}}}"), Errno.EINVAL,
                "twin_socket.supported must be a boolean");
        rejects(() -> VersionCapabilities.parse("{\"capabilities\":{\"migration\":{\"pgsize\":1e40}}}"), Errno.EINVAL, "migration.pgsize");
        rejects(() -> VersionCapabilities.parse("{\"capabilities\":{\"max_msg_fds\":1,\"max_msg_fds\":2}}"), Errno.EINVAL, "malformed");
    }

    @Test
    void absentJsonInVersion() throws Exception {
        Version v = Version.decode(TestSupport.hex("0000 0000"));
        assertThat(v.capabilities()).isNull();
        assertThat(v.capabilitiesOrDefaults()).isEqualTo(VersionCapabilities.DEFAULTS);
        assertThat(Version.decode(TestSupport.hex("0000 0000 00")).capabilities()).isNull();
        // trailing bytes after the NUL are ignored
        assertThat(Version.decode(TestSupport.hex("0000 0000 7b7d 00 ffff")).capabilities()).isEqualTo(VersionCapabilities.parse("{}"));
    }
}
