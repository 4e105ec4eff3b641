package io.jvfio.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code jvfio}: serve Java PCI devices over vfio-user, and inspect vfio-user devices. */
@Command(name = "jvfio", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "The VFIO device framework for the JVM: serve Java PCI devices to vfio-user clients such as QEMU.",
        subcommands = {ServeCommand.class, DemoCommand.class, LspciCommand.class, TraceCommand.class, MigrateCommand.class, BenchCommand.class,
                CommandLine.HelpCommand.class})
public final class Main {
    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the tool and returns its exit code (tests call this). */
    public static int run(String... args) {
        CommandLine cli = new CommandLine(new Main());
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            // One clear line for the user; the stack trace only when asked for.
            cmd.getErr().println("jvfio: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            if (System.getenv("JVFIO_DEBUG") != null) {
                e.printStackTrace(cmd.getErr());
            }
            return 1;
        });
        return cli.execute(args);
    }

    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"jvfio " + (v != null ? v : "development build") + " on Java " + Runtime.version()};
        }
    }
}
