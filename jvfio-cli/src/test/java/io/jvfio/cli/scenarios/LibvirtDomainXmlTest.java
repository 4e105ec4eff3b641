package io.jvfio.cli.scenarios;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.cli.scenarios.LibvirtDomainXml.Ran;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.testing.GuestTests;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * libvirt's own schema accepts the domain XML jvfio ships ({@code virt-xml-validate}, from the libvirt-clients that
 * scripts/provision-guest.sh installs into the guest toolchain's chroot), and rejects copies broken where the XML
 * matters to jvfio: the shared memfd RAM and the {@code qemu:commandline} that adds the device.
 */
class LibvirtDomainXmlTest {
    private GuestToolchain toolchain;
    private Path dir;

    @BeforeEach
    void locate() throws Exception {
        GuestTests.requireToolchain(GuestToolchain.unavailableReason(), GuestToolchain.defaultCacheDir());
        toolchain = GuestToolchain.locate();
        dir = Files.createDirectories(toolchain.runRoot())
                .resolve("libvirt-xml-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
        Files.createDirectories(dir);
    }

    @AfterEach
    void clean() throws Exception {
        if (dir != null) {
            try (var files = Files.list(dir)) {
                for (Path file : files.toList()) {
                    Files.delete(file);
                }
            }
            Files.delete(dir);
        }
    }

    @Test
    void libvirtsSchemaAcceptsTheShippedDomain() throws Exception {
        Ran ran = validate(LibvirtDomainXml.text());
        assertThat(ran.succeeded()).as(ran.output()).isTrue();
        assertThat(ran.output()).contains("validates");
    }

    @Test
    void theDomainAsTheGuestTestPlacesItIsValidToo() throws Exception {
        String chrootDir = toolchain.toChrootPath(dir);
        String placed = LibvirtDomainXml.placedIn(chrootDir);
        assertThat(placed).contains("\"path\":\"" + chrootDir + "/gpio.sock\"", "<kernel>" + chrootDir + "/vmlinuz<",
                "<initrd>" + chrootDir + "/initramfs.img<", "'" + chrootDir + "/" + LibvirtDomainXml.CONSOLE_LOG + "'")
                .doesNotContain(LibvirtDomainXml.IMAGE_DIRECTORY);
        Ran ran = validate(placed);
        assertThat(ran.succeeded()).as(ran.output()).isTrue();
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource(delimiter = '|', value = {
        "<source type='memfd'/>|<source type='shm'/>",
        "<access mode='shared'/>|<access mode='public'/>",
        "<qemu:arg value='-device'/>|<qemu:arg name='-device'/>",
        "<qemu:commandline>|<qemu:cmdline>",
        "<vcpu>1</vcpu>|<vcpu>one</vcpu>",
    })
    void libvirtsSchemaRejectsABrokenCopy(String shipped, String broken) throws Exception {
        String xml = LibvirtDomainXml.text();
        assertThat(xml).contains(shipped);
        Ran ran = validate(xml.replace(shipped, broken).replace(shipped.replace("<", "</"), broken.replace("<", "</")));
        assertThat(ran.succeeded()).as(ran.output()).isFalse();
        assertThat(ran.output()).contains("fails to validate");
    }

    @Test
    void anXmlErrorIsNoValidDomainEither() throws Exception {
        Ran ran = validate(LibvirtDomainXml.text().replace("xmlns:qemu=", "xmlns:kvm="));
        assertThat(ran.succeeded()).as(ran.output()).isFalse();
        assertThat(ran.output()).containsIgnoringCase("namespace");
    }

    private Ran validate(String xml) throws Exception {
        Path file = Files.writeString(dir.resolve("domain-" + System.nanoTime() + ".xml"), xml);
        return LibvirtDomainXml.validate(toolchain, file);
    }
}
