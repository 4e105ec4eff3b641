package io.jvfio.cli.trace;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.Callable;
import java.util.function.Consumer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code jvfio trace}: the command-line face of {@link TraceProxy}. */
@Command(name = "trace", mixinStandardHelpOptions = true, sortOptions = false,
        description = {
                "Trace a vfio-user connection: listen on a socket, forward every message to the real server",
                "and back unchanged (file descriptors included), and print one line per message:",
                "time in ms, direction (C>S, S>C), message id, command, type and the decoded fields.",
                "Runs until SIGTERM/Ctrl-C, which removes the listening socket.",
                "",
                "Example: serve the GPIO card, trace it, and point QEMU at the trace socket:",
                "  jvfio serve gpio --socket /tmp/gpio.sock &",
                "  jvfio trace --listen /tmp/trace.sock --upstream /tmp/gpio.sock --output /tmp/gpio.trace &",
                "  qemu-system-x86_64 ... -device '{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"/tmp/trace.sock\",\"type\":\"unix\"}}'",
                ""})
public final class TraceCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Option(names = "--listen", paramLabel = "PATH", required = true,
            description = "Socket the client connects to (created with mode 0600; a stale socket is replaced).")
    Path listen;

    @Option(names = "--upstream", paramLabel = "PATH", required = true,
            description = "Socket of the real vfio-user server.")
    Path upstream;

    @Option(names = "--output", paramLabel = "FILE",
            description = "Append the trace to FILE (flushed after every line) instead of printing it.")
    Path output;

    @Override
    public Integer call() throws IOException {
        Writer file = output == null ? null
                : Files.newBufferedWriter(output, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                        StandardOpenOption.APPEND, StandardOpenOption.WRITE);
        PrintWriter out = spec.commandLine().getOut();
        Consumer<String> sink = file == null ? line -> {
            out.println(line);
            out.flush();
        } : line -> {
            try {
                file.write(line);
                file.write('\n');
                file.flush();
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
        };
        TraceProxy proxy;
        try {
            proxy = TraceProxy.bind(listen, upstream, sink);
        } catch (IOException | RuntimeException e) {
            if (file != null) {
                file.close();
            }
            throw e;
        }
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
            proxy.close();
            if (file != null) {
                try {
                    file.close();
                } catch (IOException ignored) {
                    // Every line was flushed when it was written.
                }
            }
        }, "jvfio-trace-shutdown"));
        PrintWriter err = spec.commandLine().getErr();
        err.println("tracing " + listen.toAbsolutePath() + " -> " + upstream.toAbsolutePath()
                + (output != null ? " into " + output : ""));
        err.flush();
        proxy.serve();
        return 0;
    }
}
