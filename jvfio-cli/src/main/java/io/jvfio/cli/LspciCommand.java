package io.jvfio.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code jvfio lspci}: placeholder until it is written. */
@Command(name = "lspci", mixinStandardHelpOptions = true, description = "(not yet implemented)")
final class LspciCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("jvfio lspci: not yet implemented");
        return 2;
    }
}
