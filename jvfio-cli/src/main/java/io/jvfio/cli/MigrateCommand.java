package io.jvfio.cli;

import java.util.concurrent.Callable;
import picocli.CommandLine.Command;

/** {@code jvfio migrate}: placeholder until it is written. */
@Command(name = "migrate", mixinStandardHelpOptions = true, description = "(not yet implemented)")
final class MigrateCommand implements Callable<Integer> {
    @Override
    public Integer call() {
        System.err.println("jvfio migrate: not yet implemented");
        return 2;
    }
}
