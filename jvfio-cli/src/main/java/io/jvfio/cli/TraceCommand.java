package io.jvfio.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code jvfio trace}: placeholder until it is written. */
@Command(name = "trace", mixinStandardHelpOptions = true, description = "(not yet implemented)")
final class TraceCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("jvfio trace: not yet implemented");
        return 2;
    }
}
