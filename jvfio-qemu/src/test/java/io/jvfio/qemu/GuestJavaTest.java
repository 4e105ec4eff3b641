package io.jvfio.qemu;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Putting a JDK and a class path into the rootfs for a guest's Java, with a stand-in JDK. No guest boots. */
class GuestJavaTest {

    @TempDir Path tmp;

    @Test
    void installsTheJdkOnceWithItsLinksAndStagesTheClasspath() throws Exception {
        GuestToolchain tc = GuestTestSupport.fakeToolchain(tmp.resolve("cache"));
        Path home = Files.createDirectories(tmp.resolve("jdk-fake"));
        Files.createDirectories(home.resolve("bin"));
        Files.createDirectories(home.resolve("legal"));
        Files.writeString(home.resolve("bin/java"), "#!java\n");
        Files.createSymbolicLink(home.resolve("legal/LICENSE"), Path.of("../bin/java"));

        Path jdk = GuestJava.installJdk(tc, home, "25.0.0+1");
        assertThat(jdk).isEqualTo(tc.rootfs().resolve("opt/jvfio/jdk/jdk-fake-25.0.0+1"));
        assertThat(jdk.resolve("bin/java")).hasContent("#!java");
        if (Files.getFileStore(home).equals(Files.getFileStore(tc.rootfs()))) {
            assertThat(Files.isSameFile(jdk.resolve("bin/java"), home.resolve("bin/java"))).as("hard-linked").isTrue();
        }
        assertThat(Files.readSymbolicLink(jdk.resolve("legal/LICENSE"))).isEqualTo(Path.of("../bin/java"));
        try (Stream<Path> installed = Files.list(jdk.getParent())) {
            assertThat(installed).as("no half-built JDK left").containsExactly(jdk);
        }
        // Installed once: a JDK of that name and version is not built again.
        Files.delete(home.resolve("bin/java"));
        assertThat(GuestJava.installJdk(tc, home, "25.0.0+1")).isEqualTo(jdk);
        assertThat(jdk.resolve("bin/java")).hasContent("#!java");

        Path classes = Files.createDirectories(tmp.resolve("classes/io/x"));
        Files.writeString(classes.resolve("Main.class"), "cafebabe");
        Path jar = Files.writeString(tmp.resolve("lib.jar"), "PK");
        Path run = Files.createDirectories(tc.runRoot().resolve("7-1-beef"));
        GuestJava.stage(tc, run, List.of(tmp.resolve("classes"), tmp.resolve("missing.jar"), jar), jdk);

        assertThat(run.resolve("java/classpath/0-classes/io/x/Main.class")).hasContent("cafebabe");
        assertThat(run.resolve("java/classpath/1-lib.jar")).hasContent("PK");
        assertThat(run.resolve("java/env")).hasContent("""
                JAVA_HOME='/opt/jvfio/jdk/jdk-fake-25.0.0+1'
                JVFIO_CLASSPATH='/run/jvfio/7-1-beef/java/classpath/0-classes:/run/jvfio/7-1-beef/java/classpath/1-lib.jar'
                """);
    }
}
