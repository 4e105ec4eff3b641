package io.jvfio.cli.scenarios;

import io.jvfio.qemu.GuestToolchain;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The domain XML jvfio ships for libvirt, {@code dist/libvirt/jvfio-gpio-domain.xml}, and the libvirt programs of the
 * guest toolchain's chroot that the tests run on it.
 */
final class LibvirtDomainXml {
    /** The domain's name in the shipped XML. */
    static final String DOMAIN_NAME = "jvfio-gpio";
    /** Where the shipped XML has the device's socket and the console log. */
    static final String SOCKET_DIRECTORY = "/run/jvfio/";
    /** Where the shipped XML has the guest kernel and initramfs. */
    static final String IMAGE_DIRECTORY = "/var/lib/jvfio/";
    /** The console log's file name in the shipped XML (in {@link #SOCKET_DIRECTORY}). */
    static final String CONSOLE_LOG = "gpio-console.log";
    private static final Duration COMMAND_TIMEOUT = Duration.ofMinutes(3);

    private LibvirtDomainXml() {}

    /** What a command printed (stdout and stderr together) and its exit status. */
    record Ran(int exitCode, String output) {
        boolean succeeded() {
            return exitCode == 0;
        }
    }

    /** The shipped XML, found from the module's directory (Maven) or the checkout's root (an IDE). */
    static Path file() {
        Path repository = Path.of("").toAbsolutePath();
        while (!Files.exists(repository.resolve("README.md"))) {
            repository = repository.getParent();
        }
        return repository.resolve("dist/libvirt/jvfio-gpio-domain.xml");
    }

    static String text() throws IOException {
        return Files.readString(file(), StandardCharsets.UTF_8);
    }

    /**
     * The shipped XML with its socket, console log, kernel and initramfs all in {@code chrootDirectory} (a path as
     * the chroot sees it).
     */
    static String placedIn(String chrootDirectory) throws IOException {
        String xml = text();
        for (String shipped : List.of(SOCKET_DIRECTORY, IMAGE_DIRECTORY)) {
            if (!xml.contains(shipped)) {
                throw new IllegalStateException(file() + " no longer names " + shipped);
            }
            xml = xml.replace(shipped, chrootDirectory + "/");
        }
        return xml;
    }

    /** {@code virt-xml-validate <file> domain} in the chroot; the file must be inside it. */
    static Ran validate(GuestToolchain toolchain, Path hostFile) throws IOException, InterruptedException {
        requireInChroot(toolchain, "usr/bin/virt-xml-validate");
        return runInChroot(toolchain, List.of("virt-xml-validate", toolchain.toChrootPath(hostFile), "domain"));
    }

    /** Fails, naming the provisioning script, where a cache provisioned before libvirt lacks {@code program}. */
    static void requireInChroot(GuestToolchain toolchain, String program) throws IOException {
        if (!Files.isExecutable(toolchain.rootfs().resolve(program))) {
            throw new IOException("no /" + program + " in " + toolchain.rootfs()
                    + ": run scripts/provision-guest.sh (as root), whose tool set 4 installs libvirt into the chroot");
        }
    }

    /** Runs a program of the chroot and collects its output; one that hangs is killed after a few minutes. */
    static Ran runInChroot(GuestToolchain toolchain, List<String> command) throws IOException, InterruptedException {
        Process process = new ProcessBuilder(toolchain.chrootCommand(new ArrayList<>(command)))
                .redirectErrorStream(true).start();
        var output = new ByteArrayOutputStream();
        Thread reader = Thread.ofVirtual().start(() -> {
            try (var in = process.getInputStream()) {
                in.transferTo(output);
            } catch (IOException e) {
                // the process is gone: keep what it printed
            }
        });
        if (!process.waitFor(COMMAND_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            process.destroyForcibly();
            reader.join();
            throw new IOException(String.join(" ", command) + " did not finish: "
                    + output.toString(StandardCharsets.UTF_8));
        }
        reader.join();
        return new Ran(process.exitValue(), output.toString(StandardCharsets.UTF_8));
    }
}
