package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.client.VfioUserClient;
import io.jvfio.devices.PciIdio16;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.protocol.Command;
import io.jvfio.protocol.Vfio;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioUserServer;
import io.jvfio.server.faults.FaultPlan;
import io.jvfio.testing.OpenFds;
import java.io.RandomAccessFile;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Every Java snippet of docs/using-from-java.md, as the text has it: each block marked
 * {@code <!-- snippet: NAME -->} is compiled (with the doc's own imports block) into a method, its
 * socket paths swapped for this test's, and run against the GPIO card and the NVMe controller served
 * in this JVM; each test checks what its snippet printed and what the device saw. A Java block
 * without a marker, or a marker without a test here, fails {@link #everyJavaBlockOfTheDocIsOneOfTheScenariosHere}.
 */
class UsingFromJavaDocTest {
    private static final Path DOC = MarkdownJava.repository().resolve("docs/using-from-java.md");
    /** A marked Java block, and the text block right after it that shows what it prints, if there is one. */
    private static final Pattern MARKED_BLOCK = Pattern.compile(
            "<!-- snippet: ([a-z-]+) -->\n```java\n(.*?)```\n(?:```text\n(.*?)```\n)?", Pattern.DOTALL);
    private static final Pattern JAVA_BLOCK = Pattern.compile("^```java$", Pattern.MULTILINE);
    private static final Pattern XML_BLOCK = Pattern.compile("```xml\n(.*?)```", Pattern.DOTALL);
    private static final Pattern FAULT_PLAN = Pattern.compile("cat > media-error.yaml <<'EOF'\n(.*?)\nEOF\n", Pattern.DOTALL);
    private static final Pattern ARTIFACT = Pattern.compile("<artifactId>([^<]+)</artifactId>");
    private static final Pattern PROJECT_VERSION = Pattern.compile("<artifactId>jvfio-parent</artifactId>\\s*<version>([^<]+)</version>");
    private static final String BOM = "jvfio-bom";
    private static final String IMPORTS = "imports";
    /** The snippets of the doc in its order; each has its test below. */
    private static final List<String> SCENARIOS = List.of("open-socket", "open-by-name", "open-kernel", "config-space",
            "regions", "dma", "intx", "msix", "reset", "migration", "nvme", "errors");
    /** What the text names (as Java string literals) and the test replaces. */
    private static final String GPIO_IN_TEXT = "/tmp/gpio.sock", DESTINATION_IN_TEXT = "/tmp/gpio-destination.sock",
            NVME_IN_TEXT = "/tmp/nvme.sock", PCI_ADDRESS_IN_TEXT = "0000:00:04.0";
    /** A PCI address no machine has (domain ffff), so the kernel snippet runs to its refusal wherever the test runs. */
    private static final String ABSENT_PCI_ADDRESS = "ffff:ff:1f.7";
    private static final int CONFIG = Vfio.PCI_CONFIG_REGION_INDEX, GPIO_INPUTS = 0xa5c3, BLOCK = 512;
    private static final long DISK = 8 << 20;
    private static final Duration FDS_SETTLE = Duration.ofSeconds(10);

    @TempDir
    static Path dir;
    private static URLClassLoader snippets;
    private static Map<String, Snippet> doc;

    private final List<VfioUserServer> servers = new ArrayList<>();
    private PciIdio16 gpio;
    private VfioUserServer gpioServer;
    private NvmeController nvme;
    private Path image;

    @BeforeAll
    static void compileTheSnippets() throws Exception {
        doc = snippets(Files.readString(DOC));
        String imports = doc.containsKey(IMPORTS) ? doc.get(IMPORTS).code() : "";
        Map<String, String> sources = new LinkedHashMap<>();
        for (String name : SCENARIOS) {
            if (doc.containsKey(name)) {
                sources.put(className(name), imports + """
                        public class %s {
                            public static void run() throws Exception {
                        %s    }
                        }
                        """.formatted(className(name), withTheTestsNames(doc.get(name).code())));
            }
        }
        snippets = MarkdownJava.compile(dir.resolve("snippets"), sources);
    }

    @AfterAll
    static void closeTheLoader() throws Exception {
        snippets.close();
    }

    @BeforeEach
    void serveTheDevices() throws Exception {
        gpio = new PciIdio16();
        gpio.setInputs(GPIO_INPUTS);
        gpioServer = serve(GPIO_IN_TEXT, gpio);
        image = dir.resolve("disk.img");
        Files.deleteIfExists(image);
        nvme = NvmeController.builder().polledDoorbells(true).namespace(BlockImage.open(image, DISK, false)).build();
        serve(NVME_IN_TEXT, nvme);
    }

    @AfterEach
    void stopTheDevices() {
        servers.reversed().forEach(VfioUserServer::close);
        nvme.shutdown();
    }

    @Test
    void everyJavaBlockOfTheDocIsOneOfTheScenariosHere() throws Exception {
        String text = Files.readString(DOC);
        assertThat(JAVA_BLOCK.matcher(text).results().count()).as("Java blocks, each marked").isEqualTo(doc.size());
        List<String> expected = new ArrayList<>(List.of(IMPORTS));
        expected.addAll(SCENARIOS);
        assertThat(doc.keySet()).as("the doc's snippets, in order").containsExactlyElementsOf(expected);
    }

    @Test
    void theArtifactsTheDocNamesAreTheBuildsAtItsVersion() throws Exception {
        Matcher xml = XML_BLOCK.matcher(Files.readString(DOC));
        assertThat(xml.find()).as("the doc's pom fragment").isTrue();
        String fragment = xml.group(1);
        Path repository = MarkdownJava.repository();
        String rootPom = Files.readString(repository.resolve("pom.xml"));
        Matcher version = PROJECT_VERSION.matcher(rootPom);
        assertThat(version.find()).isTrue();
        assertThat(fragment).contains("<version>" + version.group(1) + "</version>");
        List<String> artifacts = ARTIFACT.matcher(fragment).results().map(m -> m.group(1)).toList();
        assertThat(artifacts).containsExactly(BOM, "jvfio-client", "jvfio-nvme");
        Path bom = repository.resolve(BOM).resolve("pom.xml");
        for (String artifact : artifacts.subList(1, artifacts.size())) {
            assertThat(rootPom).as("a module of the build").contains("<module>" + artifact + "</module>");
            // The BOM arrives with issue 20's artifacts work; from then on it must manage what the doc leaves to it.
            if (Files.exists(bom)) {
                assertThat(Files.readString(bom)).as("the BOM").contains("<artifactId>" + artifact + "</artifactId>");
            }
        }
    }

    @Test
    void openSocket() throws Exception {
        assertThat(run("open-socket")).containsExactly(
                "9 regions, 5 irqs, flags 0x%x".formatted(Vfio.DEVICE_FLAGS_RESET | Vfio.DEVICE_FLAGS_PCI),
                "the server takes %d fds a message, %d bytes a transfer".formatted(
                        ServerOptions.defaults().maxMsgFds(), ServerOptions.defaults().maxDataXferSize()));
    }

    @Test
    void openByName() throws Exception {
        assertThat(run("open-by-name")).containsExactly("VfioUserClient, connected: true");
    }

    @Test
    void openKernel() throws Exception {
        assertThat(run("open-kernel")).singleElement().asString().startsWith("ENODEV: no PCI device " + ABSENT_PCI_ADDRESS);
    }

    @Test
    void configSpace() throws Exception {
        List<String> printed = run("config-space");
        assertThat(printed.getFirst()).isEqualTo("%04x:%04x class 010802".formatted(NvmeController.VENDOR_ID, NvmeController.DEVICE_ID));
        String msixLine = "capability 0x11 at ";
        assertThat(printed).anyMatch(line -> line.startsWith(msixLine));
        try (VfioUserClient client = VfioUserClient.connect(socket(NVME_IN_TEXT))) {
            assertThat(client.read16(CONFIG, 0x04) & 0x6).as("memory space and bus master").isEqualTo(0x6);
            int msix = Integer.decode(printed.stream().filter(line -> line.startsWith(msixLine))
                    .findFirst().orElseThrow().substring(msixLine.length()));
            assertThat(client.read16(CONFIG, msix + 2) & 1 << 15).as("MSI-X Enable").isNotZero();
        }
    }

    @Test
    void regions() throws Exception {
        List<String> printed = run("regions");
        assertThat(printed).anyMatch(line -> line.matches("region 0: \\d+ bytes, writable, mmap-able"));
        assertThat(printed).anyMatch(line -> line.startsWith("region 7: "));
        assertThat(printed).anyMatch(line -> line.startsWith("CAP 0x") && line.endsWith(", VS 0x00010400"));
        assertThat(printed).anyMatch(line -> line.startsWith("mapped BAR 0 [0x"));
    }

    @Test
    void dma() throws Exception {
        long maps = gpioServer.stats().count(Command.DMA_MAP), unmaps = gpioServer.stats().count(Command.DMA_UNMAP);
        assertThat(run("dma")).containsExactly("buffer at IOVA 0x10000000, 65536 bytes");
        assertThat(gpioServer.stats().count(Command.DMA_MAP) - maps).as("DMA_MAPs").isEqualTo(2);
        assertThat(gpioServer.stats().count(Command.DMA_UNMAP) - unmaps).as("DMA_UNMAPs").isEqualTo(2);
        assertThat(gpioServer.stats().mappedDmaWindows()).as("windows with an fd").isEqualTo(1);
        assertThat(gpioServer.stats().messageDmaWindows()).as("windows reached by message").isEqualTo(1);
    }

    @Test
    void intx() throws Exception {
        // The outside world keeps flipping input 0 until the snippet has seen a change.
        Thread wire = Thread.ofPlatform().name("gpio-input-0").start(() -> {
            for (int lines = GPIO_INPUTS; !Thread.currentThread().isInterrupted(); lines ^= 1) {
                gpio.setInputs(lines);
                try {
                    Thread.sleep(2);
                } catch (InterruptedException e) {
                    return;
                }
            }
        });
        List<String> printed;
        try {
            printed = run("intx");
        } finally {
            wire.interrupt();
            wire.join();
        }
        assertThat(printed).singleElement().asString().matches("inputs a5c[23]");
        assertThat(gpio.outputs()).isEqualTo(0x81);
    }

    @Test
    void msix() throws Exception {
        List<String> printed = run("msix");
        assertThat(printed).hasSize(3);
        assertThat(printed.getFirst()).matches("MSI-X vectors: [1-9]\\d*");
        assertThat(printed.subList(1, 3)).containsExactly("vector 0 fired: true", "vector 1 fired: true");
    }

    @Test
    void reset() throws Exception {
        assertThat(run("reset")).containsExactly("before: outputs ff", "after:  outputs 00");
        assertThat(gpio.outputs()).isZero();
    }

    @Test
    void migration() throws Exception {
        PciIdio16 destination = new PciIdio16();
        serve(DESTINATION_IN_TEXT, destination);
        List<String> printed = run("migration");
        assertThat(printed).contains("DONE", "outputs on the destination: 5a");
        assertThat(printed).anyMatch(line -> line.matches("\\d+ bytes of device state; now STOP"));
        assertThat(destination.outputs()).isEqualTo(0x5a);
        assertThat(destination.inputs()).isEqualTo(GPIO_INPUTS);
    }

    @Test
    void nvmeDriver() throws Exception {
        FaultPlan.parse(faultPlanOfTheDoc(), nvme.faultVocabulary()).forEach(nvme.faults()::add);
        List<String> printed = run("nvme");
        assertThat(printed).hasSize(3);
        assertThat(printed.subList(0, 2)).containsExactly("tag 7: status 0", "read back: 66");
        assertThat(printed.get(2)).startsWith("Read (opcode 0x02) failed: ").endsWith("(SCT 2h, SC 81h, DNR)");
        assertThat(nvme.faults().log()).as("the media error fired").hasSize(1);
        byte[] written = new byte[4 * BLOCK];
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "r")) {
            file.seek(100 * BLOCK);
            file.readFully(written);
        }
        byte[] expected = new byte[written.length];
        Arrays.fill(expected, (byte) 0x42);
        assertThat(written).as("LBAs 100-103 in the image").isEqualTo(expected);
    }

    @Test
    void errors() throws Exception {
        List<String> printed = run("errors");
        assertThat(printed).hasSize(2);
        assertThat(printed.getFirst()).startsWith("EINVAL: ");
        assertThat(printed.get(1)).isEqualTo("ENOTCONN, connected: false");
    }

    /** Runs the snippet {@code name} and returns the lines it printed, which are what the doc shows if it shows them. */
    private static List<String> run(String name) throws Exception {
        assertThat(SCENARIOS).contains(name);
        OpenFds before = OpenFds.snapshot();
        String printed = MarkdownJava.printedBy(snippets, className(name), "run");
        before.assertNoneLeaked(FDS_SETTLE);   // what the snippet opened, it closed (and the server let go of its side)
        if (doc.get(name).printed() != null) {
            assertThat(printed).as("what %s prints, as the doc shows it", name).isEqualTo(doc.get(name).printed());
        }
        return printed.lines().toList();
    }

    private VfioUserServer serve(String socketInText, VfioDevice device) throws Exception {
        VfioUserServer server = VfioUserServer.bind(socket(socketInText), device, ServerOptions.defaults());
        servers.add(server);
        server.start();
        return server;
    }

    private static Path socket(String socketInText) {
        return dir.resolve(Path.of(socketInText).getFileName());
    }

    /** The snippet with the socket paths of this test and the absent PCI address in place of the text's. */
    private static String withTheTestsNames(String snippet) {
        String body = snippet;
        for (String socket : List.of(GPIO_IN_TEXT, DESTINATION_IN_TEXT, NVME_IN_TEXT)) {
            body = body.replace(quoted(socket), quoted(socket(socket).toString()));
        }
        return body.replace(quoted(PCI_ADDRESS_IN_TEXT), quoted(ABSENT_PCI_ADDRESS));
    }

    private static String quoted(String text) {
        return '"' + text + '"';
    }

    private static String className(String name) {
        return "Snippet_" + name.replace('-', '_');
    }

    /** The fault plan the doc serves its NVMe controller with (the here-document of its shell block). */
    private static String faultPlanOfTheDoc() throws Exception {
        Matcher plan = FAULT_PLAN.matcher(Files.readString(DOC));
        assertThat(plan.find()).as("the doc's fault plan").isTrue();
        return plan.group(1);
    }

    /** A snippet of the doc: its code, and what it prints when the doc shows that (else null). */
    private record Snippet(String code, String printed) {}

    /** The marked Java blocks of {@code text} by name, in the doc's order. */
    private static Map<String, Snippet> snippets(String text) {
        Map<String, Snippet> snippets = new LinkedHashMap<>();
        MARKED_BLOCK.matcher(text).results().forEach(m -> assertThat(snippets.put(m.group(1), new Snippet(m.group(2), m.group(3))))
                .as("snippet " + m.group(1) + " appears once").isNull());
        return snippets;
    }
}
