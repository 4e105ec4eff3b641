package io.jvfio.cli;

import io.jvfio.cli.bench.BenchCommand;
import io.jvfio.cli.demo.DemoCommand;
import io.jvfio.cli.fault.FaultCommand;
import io.jvfio.cli.fault.FaultWords;
import io.jvfio.cli.lspci.LspciCommand;
import io.jvfio.cli.migrate.MigrateCommand;
import io.jvfio.cli.nvme.NvmeCommand;
import io.jvfio.cli.serve.ServeCommand;
import io.jvfio.cli.trace.TraceCommand;
import io.jvfio.linux.UnixServerSocket;
import java.lang.module.ModuleDescriptor;
import java.util.List;
import java.util.Optional;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** {@code jvfio}: serve Java PCI devices over vfio-user, and inspect vfio-user devices. */
@Command(name = "jvfio", mixinStandardHelpOptions = true, versionProvider = Main.Version.class,
        description = "The VFIO device framework for the JVM: serve Java PCI devices to vfio-user clients such as QEMU.")
public final class Main {
    /**
     * The subcommands, in the order help lists them. They are not in the annotations: picocli builds
     * the model of every command it is given (reflection over each option, annotation proxies, the
     * converters) before it parses, which was most of {@code serve}'s start-up. {@link #commandLine}
     * adds only the commands the arguments name, and the whole tree when they name none (help, usage,
     * errors).
     */
    static final List<Node> COMMANDS = List.of(
            new Node(ServeCommand.class, new Node(ServeCommand.Gpio.class), new Node(ServeCommand.VirtioBlkDisk.class),
                    new Node(ServeCommand.NvmeDisk.class)),
            new Node(DemoCommand.class), new Node(LspciCommand.class), new Node(TraceCommand.class),
            new Node(MigrateCommand.class), new Node(BenchCommand.class), new Node(NvmeCommand.class),
            new Node(FaultCommand.class), new Node(CommandLine.HelpCommand.class));

    /** A subcommand and its own subcommands (beyond those its annotation declares). */
    record Node(Class<?> type, List<Node> children) {
        Node(Class<?> type, Node... children) {
            this(type, List.of(children));
        }

        String name() {
            return type.getAnnotation(Command.class).name();
        }
    }

    public static void main(String[] args) {
        System.exit(run(args));
    }

    /** Runs the tool and returns its exit code (tests call this). */
    public static int run(String... args) {
        if (args.length > 0 && args[0].equals("serve")) {
            // Start-up: another thread has the FFM linker generate the native calls that bind the
            // socket while this one builds the command line and the device (~20 ms less to listening).
            Thread.ofPlatform().daemon().name("jvfio-prepare").start(UnixServerSocket::prepareBind);
        }
        return commandLine(args).execute(args);
    }

    /** The command line that runs {@code args}: the root command with the subcommands they need. */
    static CommandLine commandLine(String... args) {
        CommandLine cli = new CommandLine(new Main());
        addSubcommands(cli, COMMANDS, args, 0);
        // `jvfio fault CONTROL inject @FILE` reads the rule from FILE itself: not picocli's argument file.
        cli.setExpandAtFiles(args.length == 0 || !args[0].equals("fault"));
        cli.setExecutionExceptionHandler((e, cmd, parsed) -> {
            // One clear line for the user; the stack trace only when asked for.
            cmd.getErr().println("jvfio: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
            if (System.getenv("JVFIO_DEBUG") != null) {
                e.printStackTrace(cmd.getErr());
            }
            return 1;
        });
        return cli;
    }

    /**
     * Adds to {@code cli} the one of {@code children} that {@code args[index]} names (and, the same
     * way, its subcommands), or all of them with their whole subtrees when it names none of them: an
     * option, help, a typo, nothing. picocli selects a subcommand only by its exact name here (no
     * abbreviations, aliases or case folding), so the parse is the same as with the whole tree.
     */
    static void addSubcommands(CommandLine cli, List<Node> children, String[] args, int index) {
        String next = index < args.length ? args[index] : null;
        Node named = null;
        for (Node child : children) {
            if (child.type() != CommandLine.HelpCommand.class && child.name().equals(next)) {
                named = child;
                break;
            }
        }
        for (Node child : children) {
            if (named == null || child == named) {
                CommandLine sub = new CommandLine(child.type(), cli.getFactory());
                FaultWords.addHelp(sub);
                addSubcommands(sub, child.children(), named == null ? new String[0] : args, index + 1);
                cli.addSubcommand(sub);
            }
        }
    }

    /**
     * {@code jvfio --version}: the version of the io.jvfio.cli module (Maven compiles it in as the
     * project's version), on the module path as in the distribution's runtime image. On the class
     * path (the tests) the module is unnamed and has none.
     */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String version = Optional.ofNullable(Main.class.getModule().getDescriptor())
                    .flatMap(ModuleDescriptor::rawVersion).orElse("development build");
            return new String[] {"jvfio " + version + " on Java " + Runtime.version()};
        }
    }
}
