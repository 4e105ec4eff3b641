package io.jvfio.cli.serve;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assumptions.assumeThat;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The sample units in dist/ pass {@code systemd-analyze verify} (syntax, known settings, an
 * executable ExecStart), with jvfio's path pointed at a stand-in in the test's directory; and
 * they say what the socket-activated server expects.
 */
class SystemdUnitsTest {
    private static final Path DIST = Path.of("..", "dist");
    private static final String INSTALLED_JVFIO = "/usr/local/bin/jvfio";

    @TempDir
    Path dir;

    private static String unit(String name) throws Exception {
        return Files.readString(DIST.resolve(name));
    }

    @Test
    void theNvmeUnitsVerify() throws Exception {
        Optional<Path> analyze = Stream.of("/usr/bin/systemd-analyze", "/bin/systemd-analyze").map(Path::of)
                .filter(Files::isExecutable).findFirst();
        assumeThat(analyze).as("systemd-analyze (package systemd) is needed to verify the units").isPresent();
        Path jvfio = Files.writeString(dir.resolve("jvfio"), "#!/bin/sh\nexit 0\n");
        Files.setPosixFilePermissions(jvfio, PosixFilePermissions.fromString("rwxr-xr-x"));
        for (String name : List.of("jvfio-nvme@.service", "jvfio-nvme@.socket")) {
            Files.writeString(dir.resolve(name), unit(name).replace(INSTALLED_JVFIO, jvfio.toString()));
        }
        Process verify = new ProcessBuilder(analyze.get().toString(), "verify", "--man=no",
                "jvfio-nvme@disk0.service", "jvfio-nvme@disk0.socket").directory(dir.toFile()).redirectErrorStream(true).start();
        String out = new String(verify.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(verify.waitFor(120, TimeUnit.SECONDS)).isTrue();
        assertThat(verify.exitValue()).as(out).isZero();
        assertThat(out).as("no warning either").isEmpty();
    }

    @Test
    void theServiceIsHandedTheSocketAndKeepsTheJitWorking() throws Exception {
        String service = unit("jvfio-nvme@.service"), socket = unit("jvfio-nvme@.socket");
        assertThat(service).contains("ExecStart=" + INSTALLED_JVFIO + " serve nvme --namespace /var/lib/jvfio/%i.img")
                .doesNotContain("--socket").doesNotContain("--fd").contains("Requires=jvfio-nvme@%i.socket")
                .contains("NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes", "RestrictAddressFamilies=AF_UNIX");
        assertThat(service.lines().filter(l -> l.startsWith("MemoryDenyWriteExecute="))).as("the JIT writes code it runs").isEmpty();
        assertThat(socket).contains("ListenStream=/run/jvfio/%i.sock", "SocketMode=0660").doesNotContain("Accept=yes");
    }

    @Test
    void theSocketsGroupIsTheGroupTheServiceAllows() throws Exception {
        String socketGroup = setting(unit("jvfio-nvme@.socket"), "SocketGroup");
        String execStart = setting(unit("jvfio-nvme@.service"), "ExecStart");
        assertThat(execStart).endsWith(" --allow-group " + socketGroup);
        assertThat(setting(unit("jvfio-nvme@.socket"), "SocketUser")).isEqualTo(setting(unit("jvfio-nvme@.service"), "User"));
    }

    /** The value of a unit's one {@code KEY=} line. */
    private static String setting(String unit, String key) {
        List<String> values = unit.lines().filter(l -> l.startsWith(key + "=")).map(l -> l.substring(key.length() + 1)).toList();
        assertThat(values).as(key).hasSize(1);
        return values.getFirst();
    }
}
