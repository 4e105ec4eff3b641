package io.jvfio.nvme;

import static org.assertj.core.api.Assertions.assertThat;

import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.io.RandomAccessFile;
import java.net.URLClassLoader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Java example that reads a block, as README.md and docs/nvme-driver.md show it: both copies are
 * the same, it compiles against the driver as it is, and it runs against jvfio's NVMe controller
 * (the socket path in the text swapped for the test's), printing the model, the namespace's size
 * and the first bytes of LBA 0.
 */
class ReadingABlockExampleTest {
    private static final Pattern JAVA_BLOCK = Pattern.compile("```java\n(.*?)```", Pattern.DOTALL);
    private static final String SOCKET_IN_TEXT = "\"/tmp/nvme.sock\"";
    private static final String IMPORTS = """
            import io.jvfio.client.VfioUserClient;
            import io.jvfio.nvme.DmaRegion;
            import io.jvfio.nvme.Namespace;
            import io.jvfio.nvme.NvmeDriver;
            import java.lang.foreign.ValueLayout;
            import java.nio.file.Path;
            import java.util.HexFormat;
            """;
    private static final long DISK = 8 << 20;

    @TempDir
    Path dir;

    @Test
    void theReadmeAndTheDriverDocShowTheSameExampleAndItReadsABlock() throws Exception {
        Path repository = MarkdownJava.repository();
        String example = example(repository.resolve("README.md"));
        assertThat(example(repository.resolve("docs/nvme-driver.md"))).as("docs/nvme-driver.md's example").isEqualTo(example);
        assertThat(example.lines().count()).as("lines").isLessThanOrEqualTo(10);
        assertThat(example).contains(SOCKET_IN_TEXT);

        Path image = dir.resolve("disk.img");
        try (RandomAccessFile file = new RandomAccessFile(image.toFile(), "rw")) {
            file.write("jvfio block zero".getBytes(StandardCharsets.US_ASCII));
            file.setLength(DISK);
        }
        NvmeController controller = NvmeController.builder().model("jvfio example controller")
                .namespace(BlockImage.open(image, DISK, false)).build();
        String printed;
        try (VfioUserServer server = VfioUserServer.bind(dir.resolve("nvme.sock"), controller, ServerOptions.defaults())) {
            server.start();
            printed = run(example.replace(SOCKET_IN_TEXT, "socket"), server.socketPath().orElseThrow().toString());
        } finally {
            controller.shutdown();
        }
        assertThat(printed.lines().toList()).containsExactly("jvfio example controller: " + DISK / 512 + " blocks of 512 bytes",
                "6a 76 66 69 6f 20 62 6c 6f 63 6b 20 7a 65 72 6f");   // "jvfio block zero"
    }

    /** The one Java block of {@code markdown} that opens the NVMe driver. */
    private static String example(Path markdown) throws Exception {
        Matcher blocks = JAVA_BLOCK.matcher(Files.readString(markdown));
        List<String> examples = blocks.results().map(m -> m.group(1)).filter(code -> code.contains("NvmeDriver.open")).toList();
        assertThat(examples).as("Java examples of the NVMe driver in " + markdown).hasSize(1);
        return examples.getFirst();
    }

    /** Compiles {@code body} as a method taking {@code String socket}, runs it, and returns what it printed. */
    private String run(String body, String socket) throws Exception {
        String source = IMPORTS + """
                public class ReadingABlock {
                    public static void run(String socket) throws Exception {
                %s    }
                }
                """.formatted(body);
        try (URLClassLoader loader = MarkdownJava.compile(dir, Map.of("ReadingABlock", source))) {
            return MarkdownJava.printedBy(loader, "ReadingABlock", "run", socket);
        }
    }
}
