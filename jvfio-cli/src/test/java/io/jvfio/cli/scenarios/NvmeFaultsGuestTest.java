package io.jvfio.cli.scenarios;

import static io.jvfio.nvme.spec.Nvme.IO_READ;
import static io.jvfio.nvme.spec.Nvme.SC_UNRECOVERED_READ_ERROR;
import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.nvme.CommandDrops;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.nvme.NvmeFaults;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.devices.storage.BlockStore;
import io.jvfio.nvme.spec.Nvme;
import io.jvfio.qemu.GuestOptions;
import io.jvfio.qemu.GuestResult;
import io.jvfio.qemu.GuestToolchain;
import io.jvfio.qemu.Initramfs;
import io.jvfio.qemu.QemuGuest;
import io.jvfio.server.faults.FaultRule;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Linux's own nvme driver (Debian's nvme and nvme-core, {@code nvme_core.io_timeout} shortened,
 * {@code max_retries} at its default) meets the faults the Java controller injects, in one boot of
 * one QEMU with shared guest memory; each step is checked on the guest's outcome and on the
 * kernel's own log lines, which are printed ("[nvme-faults] dmesg STEP ..."):
 * <ul>
 * <li>media: an Unrecovered Read Error (DNR) on a range of namespace 1: reads of exactly that range
 *     fail — with ENODATA, not EIO: Linux maps a media error to BLK_STS_MEDIUM, "critical medium
 *     error" — and the blocks either side read;
 * <li>abort: reads never completed, now and then (a seeded probability) during fio's verify: the
 *     driver times out, aborts them, the controller honours the Aborts, the reads are retried and
 *     fio's verify passes;
 * <li>reset: a read never completed while the controller refuses Aborts: the second timeout resets
 *     the controller and the read returns its data after the reset;
 * <li>fatal: a read that sets CSTS.CFS: the timeout finds the controller down, the driver resets it
 *     and the read returns the data written before;
 * <li>attach: namespace 2 attached at run time: the Namespace Attribute Changed event makes the
 *     driver rescan and nvme0n2 appears with what the host put there; detached, it goes away.
 * </ul>
 * The rules are armed before the boot on ranges nothing else reads; what must happen at a given moment
 * (Aborts refused, the attachment) is done when the script asks for it on the console, and where the
 * script must wait for the host, the host answers through a mailbox block of namespace 1.
 */
class NvmeFaultsGuestTest {
    static final long IMAGE_BYTES = 64L << 20, SECOND_IMAGE_BYTES = 8L << 20;
    /** Seconds Linux waits for an I/O command before it aborts it (the default is 30). */
    static final int IO_TIMEOUT_SECONDS = 4;
    /** Where on namespace 1 each fault lies: ranges nothing reads at boot (the partition scan reads the ends). */
    static final long MEDIA_FIRST = 20483, MEDIA_LAST = 20498, ABORT_FIRST = 16384, ABORT_LAST = 18431,
            RESET_LBA = 28672, FATAL_LBA = 36864, MAILBOX_LBA = 122880;
    /** The reads of the abort step that are never completed: a seeded few of fio's verifying reads. */
    static final int ABORTED_READS = 3;
    static final String SECOND_NAMESPACE_TEXT = "jvfio namespace attached at run time";

    private ServedGuestNvme served;
    private GuestToolchain toolchain;
    private Path dir;
    private NvmeController nvme;

    @BeforeEach
    void serve() throws Exception {
        served = ServedGuestNvme.start("nvme-faults", in -> NvmeController.builder().serial("JVFAULTS0001").maxNamespaces(2)
                .namespace(BlockImage.open(in.resolve("disk.img"), IMAGE_BYTES, false))
                .build());
        toolchain = served.toolchain();
        dir = served.dir();
        nvme = served.controller();
    }

    @AfterEach
    void stop() throws Exception {
        if (served != null) {
            served.close();
        }
    }

    @Test
    void linuxNvmeDriverRecoversFromTheControllersFaults() throws Exception {
        NvmeFaults faults = nvme.faults();
        FaultRule media = NvmeFaults.when(IO_READ).id("media").namespace(1).lbas(MEDIA_FIRST, MEDIA_LAST)
                .complete(SC_UNRECOVERED_READ_ERROR, true);
        FaultRule abort = NvmeFaults.when(IO_READ).id("abort").namespace(1).lbas(ABORT_FIRST, ABORT_LAST)
                .probability(0.05, 18).times(ABORTED_READS).neverComplete();
        FaultRule reset = NvmeFaults.when(IO_READ).id("reset").namespace(1).lbas(RESET_LBA, RESET_LBA).times(1).neverComplete();
        FaultRule fatal = NvmeFaults.when(IO_READ).id("fatal").namespace(1).lbas(FATAL_LBA, FATAL_LBA).times(1).controllerFatal();
        for (FaultRule rule : List.of(media, abort, reset, fatal)) {
            faults.add(rule);
        }
        Initramfs initramfs = Initramfs.builder(toolchain)
                .modules("nvme")
                .moduleParameters("nvme_core", "io_timeout=" + IO_TIMEOUT_SECONDS)
                .program("/usr/bin/fio")
                .script("media_first=%d media_last=%d abort_first=%d abort_last=%d reset_lba=%d fatal_lba=%d mailbox_lba=%d\n"
                        .formatted(MEDIA_FIRST, MEDIA_LAST, ABORT_FIRST, ABORT_LAST, RESET_LBA, FATAL_LBA, MAILBOX_LBA) + script())
                .build(dir.resolve("initramfs.img"));
        GuestOptions options = QemuGuest.options().initramfs(initramfs.path()).sharedMemory(true)
                .vfioUserDevice(served.server().socketPath().orElseThrow()).timeout(Duration.ofSeconds(600));
        Duration step = Duration.ofSeconds(400);
        int attached = 0;
        GuestResult result;
        try (QemuGuest guest = QemuGuest.prepare(toolchain, options)) {
            guest.launch();
            if (guest.awaitConsoleLine(line -> line.contains("JVFIO-RESULT: refuse aborts please"), step)) {
                faults.commandDrops().aborts(CommandDrops.Aborts.REFUSED);
                mail("aborts refused");
            }
            if (guest.awaitConsoleLine(line -> line.contains("JVFIO-RESULT: waiting for namespace 2"), step)) {
                BlockStore second = BlockImage.open(dir.resolve("second.img"), SECOND_IMAGE_BYTES, false);
                second.write(0, ByteBuffer.wrap((SECOND_NAMESPACE_TEXT + "\n").getBytes(StandardCharsets.US_ASCII)));
                attached = nvme.attachNamespace(second);
                if (guest.awaitConsoleLine(line -> line.contains("JVFIO-RESULT: namespace 2 done"), step)) {
                    nvme.detachNamespace(attached).close();
                }
            }
            result = guest.awaitExit();
        }
        System.out.println(result.console());
        result.results().stream().filter(r -> r.startsWith("dmesg ") && !r.startsWith("dmesg boot ") || r.startsWith("step "))
                .forEach(r -> System.out.println("[nvme-faults] " + r));
        faults.log().forEach(f -> System.out.println("[nvme-faults] fired " + f));
        assertThat(result.passed()).as(result.describe()).isTrue();
        assertThat(result.results()).contains("io_timeout " + IO_TIMEOUT_SECONDS + " max_retries 5");

        // media: exactly the range fails, with the kernel's medium error (BLK_STS_MEDIUM: ENODATA).
        assertThat(result.results()).contains("media range: No data available", "media first block: No data available",
                "media last block: No data available", "media block before reads", "media block after reads",
                "media 16 blocks before read", "media 16 blocks after read").doesNotContain("media range read");
        assertThat(dmesg(result, "media"))
                .anyMatch(l -> l.endsWith("nvme0n1: I/O Cmd(0x2) @ LBA %d, %d blocks, I/O Error (sct 0x2 / sc 0x81) DNR"
                        .formatted(MEDIA_FIRST, MEDIA_LAST - MEDIA_FIRST + 1)))
                .anyMatch(l -> l.contains("critical medium error, dev nvme0n1, sector " + MEDIA_FIRST))
                .anyMatch(l -> l.contains("critical medium error, dev nvme0n1, sector " + MEDIA_LAST))
                .noneMatch(l -> l.contains("timeout"));

        // abort: the timeouts abort the reads, which are retried; fio's verify passes.
        assertThat(result.results()).contains("abort fio verify passed", "abort state live");
        assertThat(firings(abort)).as("reads never completed in the abort step").isEqualTo(ABORTED_READS);
        assertThat(dmesg(result, "abort")).as("dmesg abort").filteredOn(l -> l.contains("timeout, aborting")).hasSize(ABORTED_READS);
        assertThat(dmesg(result, "abort")).anyMatch(l -> l.contains("Abort status: 0x0")).noneMatch(l -> l.contains("reset"));

        // reset: the Abort does not help, the driver resets the controller and the read is retried.
        assertThat(firings(reset)).isEqualTo(1);
        assertThat(result.results()).contains("reset read returned the data", "reset state live");
        assertThat(dmesg(result, "reset")).anyMatch(l -> l.contains("timeout, aborting"))
                .anyMatch(l -> l.contains("timeout, reset controller"));

        // fatal: CSTS.CFS found at the timeout, the controller reset, the read retried.
        assertThat(firings(fatal)).isEqualTo(1);
        assertThat(result.results()).contains("fatal read returned the data", "fatal state live");
        assertThat(dmesg(result, "fatal")).anyMatch(l -> l.contains("controller is down; will reset: CSTS=0x3"));
        assertThat(nvme.status() & Nvme.CSTS_CFS).as("CSTS.CFS after the reset").isZero();

        // attach: the event, the rescan, nvme0n2 with the host's data; then gone again.
        assertThat(attached).isEqualTo(2);
        assertThat(result.results()).contains("namespace 2 appeared sectors " + SECOND_IMAGE_BYTES / 512,
                "namespace 2 reads " + SECOND_NAMESPACE_TEXT, "namespace 2 gone, namespaces 1");
        assertThat(dmesg(result, "attach")).anyMatch(l -> l.contains("rescanning namespaces"));
    }

    /** Writes {@code text} into the mailbox block of namespace 1's image file, where the script polls for it. */
    private void mail(String text) throws Exception {
        try (FileChannel image = FileChannel.open(dir.resolve("disk.img"), StandardOpenOption.WRITE)) {
            image.write(ByteBuffer.wrap((text + "\n").getBytes(StandardCharsets.US_ASCII)), MAILBOX_LBA * 512);
        }
    }

    private long firings(FaultRule rule) {
        return nvme.faults().log().stream().filter(f -> f.ruleId().equals(rule.id())).count();
    }

    /** The kernel's log lines the script printed after step {@code step}. */
    private static List<String> dmesg(GuestResult result, String step) {
        String prefix = "dmesg " + step + " ";
        return result.results().stream().filter(r -> r.startsWith(prefix)).map(r -> r.substring(prefix.length())).toList();
    }

    private static String script() throws Exception {
        try (InputStream in = NvmeFaultsGuestTest.class.getResourceAsStream("nvme-faults-guest.sh")) {
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
