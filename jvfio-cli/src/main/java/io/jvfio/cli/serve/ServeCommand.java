package io.jvfio.cli.serve;

import io.jvfio.cli.Durations;
import io.jvfio.cli.Sizes;
import io.jvfio.cli.fault.FaultWords;
import io.jvfio.devices.PciIdio16;
import io.jvfio.devices.PciIdio16Diagnostics;
import io.jvfio.devices.nvme.NvmeController;
import io.jvfio.devices.nvme.NvmeFaults;
import io.jvfio.devices.storage.BlockImage;
import io.jvfio.devices.storage.BlockStore;
import io.jvfio.devices.storage.NullStore;
import io.jvfio.devices.virtio.NotifyMode;
import io.jvfio.devices.virtio.VirtioBlk;
import io.jvfio.devices.virtio.VirtioBlkFaults;
import io.jvfio.linux.Fd;
import io.jvfio.server.Deadlines;
import io.jvfio.server.DeviceDescription;
import io.jvfio.server.Platform;
import io.jvfio.server.PlatformExtension;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioUserServer;
import io.jvfio.server.faults.FaultPlan;
import io.jvfio.server.faults.FaultRule;
import io.jvfio.server.faults.FaultVocabulary;
import io.jvfio.server.zpci.ZpciConfig;
import io.jvfio.server.zpci.ZpciExtension;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code jvfio serve DEVICE}: serves one device until interrupted (SIGTERM or Ctrl-C). The devices
 * ({@link Gpio}, {@link VirtioBlkDisk}, {@link NvmeDisk}) are added as subcommands by {@link Main#COMMANDS}.
 */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a device over vfio-user until SIGTERM/Ctrl-C.")
public final class ServeCommand {

    /**
     * Where to listen: a socket path, or an inherited fd (the vfio-user backend conventions), or the
     * predecessor's socket; none of these when systemd passes the socket ({@link SocketActivation}).
     */
    static final class Endpoint {
        @Option(names = "--socket", paramLabel = "PATH", required = true,
                description = "UNIX socket to listen on (created with mode 0600; a stale socket is replaced).")
        Path socket;

        @Option(names = "--socket-path", paramLabel = "PATH", required = true,
                description = "The same as --socket (the name the vfio-user backend-program conventions give it).")
        Path socketPath;

        @Option(names = "--fd", paramLabel = "N", required = true,
                description = "Serve on inherited file descriptor N (a listening or a connected socket).")
        Integer fd;

        @Option(names = "--take-over", paramLabel = "CTRL", required = true,
                description = {"Live upgrade: take over from the server running with --handover-socket CTRL — its socket,"
                        + " its client (which stays connected) and its device's state; that server then exits.",
                        "The device options must be the ones that server was started with."})
        Path takeOver;

        /** --socket or --socket-path, whichever was given; null for the others. */
        Path path() {
            return socket != null ? socket : socketPath;
        }
    }

    static abstract class DeviceCommand implements Callable<Integer>, FaultWords.Speaker {
        private static final String ENDPOINTS = "(--socket=PATH | --socket-path=PATH | --fd=N | --take-over=CTRL)";

        /** How often a successor started ahead looks for the control path ({@code --take-over-wait}). */
        private static final long TAKE_OVER_POLL_MILLIS = 5;

        @Spec
        CommandSpec spec;

        /** Null when none is given: under systemd socket activation, or with --describe. */
        @ArgGroup(exclusive = true, multiplicity = "0..1",
                heading = "Where to serve (one of these; none when systemd passes the socket: LISTEN_PID/LISTEN_FDS, fd 3):%n")
        Endpoint endpoint;

        @Option(names = "--describe",
                description = "Print the device's description as JSON (ids, regions, irqs, migration, the server's capabilities) and exit without serving.")
        boolean describe;

        @Mixin
        AccessOptions access;

        @Option(names = "--socket-mode", paramLabel = "OCTAL", defaultValue = "600",
                description = "Permission bits of the socket file (default: ${DEFAULT-VALUE}).")
        String socketMode;

        @Option(names = "--platform", paramLabel = "EXT[:K=V,...]",
                description = {"Apply a platform extension to the device (repeatable). Available: "
                        + "zpci[:pchid=..,vfn=..,gid=..,pft=..,fmb_length=..,start_dma=..,end_dma=..,dasm=..,msi_addr=..,"
                        + "refresh=..,mui=..,noi=..,maxstbl=..,version=..,util=TEXT,pfip=HEX] (s390 zPCI device-info capabilities)."})
        List<String> platform = new ArrayList<>();

        @Option(names = "--faults", paramLabel = "PLAN",
                description = "Arm the faults of this plan (YAML or JSON; words below) before the first client; a bad plan is an error before serving.")
        Path faultPlan;

        @Option(names = "--fault-control", paramLabel = "PATH",
                description = {"Open a fault control socket here (mode 0600) for `jvfio fault PATH list|inject|remove|clear|log`.",
                        "Only serve's own user may use it, whatever --allow-user/--allow-group say."})
        Path faultControl;

        @Option(names = "--handshake-timeout", paramLabel = "DURATION", defaultValue = "10s",
                description = "A client that has not sent a whole VERSION this long after connecting is disconnected, "
                        + "e.g. 10s or 500ms; 0 or none: no limit (default: ${DEFAULT-VALUE}).")
        String handshakeTimeout;

        @Option(names = "--message-timeout", paramLabel = "DURATION", defaultValue = "10s",
                description = "Once a message's first byte has arrived, the client must send the rest (header, payload, fds) "
                        + "within this, or is disconnected; between messages it may idle for ever. 0 or none: no limit "
                        + "(default: ${DEFAULT-VALUE}).")
        String messageTimeout;

        @Option(names = "--stuck-callback-after", paramLabel = "DURATION", defaultValue = "5s",
                description = "Log a device callback (region access, reset, feature, migration step, DMA map, irq set) "
                        + "running longer than this, with its thread's stack; 0 or none: no watchdog (default: ${DEFAULT-VALUE}).")
        String stuckCallbackAfter;

        @Option(names = "--stuck-callback", paramLabel = "report|error", defaultValue = "report",
                description = {"What else happens to a stuck callback: report (the client waits for it), or error (the client "
                        + "is answered ETIMEDOUT at once; when the callback returns, its result is dropped, and a client that "
                        + "was told a state change failed (DMA map/unmap, irq set, feature, migration data) is disconnected) "
                        + "(default: ${DEFAULT-VALUE})."})
        String stuckCallback;

        @Option(names = "--handover-socket", paramLabel = "CTRL",
                description = "Offer a live upgrade: listen on CTRL for a successor started with --take-over CTRL.")
        Path handoverSocket;

        @Option(names = "--take-over-wait", paramLabel = "DURATION", defaultValue = "0",
                description = {"With --take-over: start ahead — build the device, then wait up to DURATION for CTRL to appear"
                        + " (e.g. a symbolic link to the running server's control socket, made when the upgrade should happen)"
                        + " before taking over; 0: CTRL must be there at once (default: ${DEFAULT-VALUE})."})
        String takeOverWait;

        abstract VfioDevice device() throws Exception;

        /** The words of this device's fault plans, for help (the device itself answers when serving). */
        @Override
        public FaultVocabulary faultWords() {
            return FaultVocabulary.core();
        }

        /** Prints what backs the device (files, identity) once it is served. */
        void printBacking(VfioDevice device) {}

        /** Releases what the device holds (files, threads) once serving has ended. */
        void shutdown(VfioDevice device) {}

        @Override
        public Integer call() throws Exception {
            Optional<SocketActivation.Passed> activated = SocketActivation.fromEnvironment();
            AccessOptions.Allowed allowed = null;
            if (!describe) {
                checkEndpoint(activated);
                allowed = access.resolve(spec.commandLine());
            }
            VfioDevice device = device();
            List<FaultRule> faults;
            ServerOptions options;
            Platform extensions;
            try {
                faults = faultPlan == null ? List.of() : FaultPlan.read(faultPlan, device.faultVocabulary());
                options = ServerOptions.defaults().withSocketMode(parseMode(socketMode)).withDeadlines(deadlines());
                if (allowed != null) {
                    options = options.withAccessPolicy(allowed.policy());
                }
                extensions = parsePlatform(platform);
                awaitTakeOverPath();
            } catch (Exception e) {
                shutdown(device);
                throw e;
            }
            if (describe) {
                try {
                    DeviceDescription description = DeviceDescription.of(device, extensions.apply(device), options);
                    List<String> extensionNames = extensions.extensions().stream().map(PlatformExtension::name).toList();
                    System.out.println(DescriptionJson.of(description, String.join(" ", spec.usageMessage().description()), extensionNames)
                            .toPrettyString());
                } finally {
                    shutdown(device);
                }
                return 0;
            }
            boolean takeOver = endpoint != null && endpoint.takeOver != null;
            try (VfioUserServer server = open(activated, device, options, extensions)) {
                // SIGTERM and Ctrl-C stop serving: the client is disconnected, the socket removed, exit 0.
                for (String signal : new String[] {"TERM", "INT"}) {
                    sun.misc.Signal.handle(new sun.misc.Signal(signal), s -> server.close());
                }
                if (takeOver) {
                    System.out.println("took over " + device.name() + " on "
                            + server.socketPath().map(p -> p.toAbsolutePath().toString()).orElse("the predecessor's socket")
                            + " from the server behind " + endpoint.takeOver);
                } else if (activated.isPresent()) {
                    System.out.println("serving " + device.name() + " on fd " + activated.get().fd() + ", passed by systemd"
                            + activated.get().name().map(n -> " (" + n + ")").orElse(""));
                } else if (endpoint.path() != null) {
                    Path abs = endpoint.path().toAbsolutePath();
                    System.out.println("serving " + device.name() + " on " + abs);
                    System.out.println("attach it to QEMU with:");
                    System.out.println("  -device '{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"" + abs + "\",\"type\":\"unix\"}}'");
                } else {
                    System.out.println("serving " + device.name() + " on fd " + endpoint.fd);
                }
                System.out.println("clients allowed: " + allowed.description());
                warnIfTheSocketShutsThemOut(options.socketMode());
                for (PlatformExtension e : extensions.extensions()) {
                    System.out.println("platform extension: " + e.name());
                }
                // Armed before serve(): the first client already meets them.
                faults.forEach(server.faults()::add);
                if (faultPlan != null) {
                    System.out.println("faults: " + faults.size() + (faults.size() == 1 ? " rule" : " rules") + " from " + faultPlan);
                }
                if (faultControl != null) {
                    System.out.println("fault control: " + server.openFaultControl(faultControl).path().toAbsolutePath());
                }
                printBacking(device);
                if (takeOver) {
                    reportPause(server);
                }
                if (handoverSocket != null) {
                    // Before serving: only windows mapped once it is offered keep the fds a hand-over sends.
                    server.offerHandover(handoverSocket);
                    System.out.println("offering a live upgrade on " + handoverSocket.toAbsolutePath());
                }
                System.out.flush();
                server.serve();
                if (server.handedOver()) {
                    System.out.println("handed over to a successor; exiting");
                }
            } finally {
                shutdown(device);
            }
            return 0;
        }

        /** Exactly one place to serve: an endpoint option, or the socket systemd passed. */
        private void checkEndpoint(Optional<SocketActivation.Passed> activated) {
            if (activated.isPresent() && endpoint != null) {
                throw new ParameterException(spec.commandLine(), "Error: systemd passed this process a socket (LISTEN_PID, LISTEN_FDS):"
                        + " it is served, so none of " + ENDPOINTS + " may be given as well");
            }
            if (activated.isEmpty() && endpoint == null) {
                throw new ParameterException(spec.commandLine(), "Error: Missing required argument (specify one of these): " + ENDPOINTS
                        + ", or start under systemd socket activation");
            }
        }

        /** A socket file that only its owner may open makes --allow-user/--allow-group moot: say so. */
        private void warnIfTheSocketShutsThemOut(int mode) {
            if (access.any() && endpoint != null && endpoint.path() != null && (mode & 0066) == 0) {
                System.err.printf("jvfio: warning: the socket's mode %o lets only its owner connect; the users and groups of"
                        + " --allow-user/--allow-group also need --socket-mode (e.g. 666, or 660 with the socket's group)%n", mode);
            }
        }

        private VfioUserServer open(Optional<SocketActivation.Passed> activated, VfioDevice device, ServerOptions options,
                                    Platform extensions) throws java.io.IOException {
            if (activated.isPresent()) {
                return VfioUserServer.adopt(Fd.adopt(activated.get().fd()), device, options, extensions);
            }
            return endpoint.path() != null
                    ? VfioUserServer.bind(endpoint.path(), device, options, extensions)
                    : endpoint.takeOver != null
                    ? VfioUserServer.takeOver(endpoint.takeOver, device, options, extensions)
                    : VfioUserServer.adopt(Fd.adopt(endpoint.fd), device, options, extensions);
        }

        /**
         * With {@code --take-over-wait}: once the device is built (the JVM is up and has loaded most of
         * what serving needs), waits for the control path, so that the JVM's start-up is not between
         * the moment the upgrade is wanted and the hand-over.
         */
        private void awaitTakeOverPath() throws InterruptedException {
            Duration wait = Durations.parse(takeOverWait, "--take-over-wait");
            if (wait.isZero()) {
                return;
            }
            if (endpoint == null || endpoint.takeOver == null) {
                throw new IllegalArgumentException("--take-over-wait goes with --take-over");
            }
            System.out.println("ready to take over once " + endpoint.takeOver.toAbsolutePath() + " is there");
            System.out.flush();
            long deadline = System.nanoTime() + wait.toNanos();
            while (!Files.exists(endpoint.takeOver)) {
                if (System.nanoTime() - deadline > 0) {
                    throw new IllegalStateException(endpoint.takeOver + " did not appear within " + takeOverWait);
                }
                Thread.sleep(TAKE_OVER_POLL_MILLIS);
            }
        }

        /** Prints what the client saw of the upgrade once this server has handled its first command. */
        private static void reportPause(VfioUserServer server) {
            Thread.ofVirtual().start(() -> {
                try {
                    while (server.handoverPauseNanos().isEmpty() && !server.handedOver()) {
                        Thread.sleep(1);
                    }
                    server.handoverPauseNanos().ifPresent(nanos -> System.out.printf("upgrade pause: %.1f ms%n", nanos / 1e6));
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            });
        }

        static Platform parsePlatform(List<String> specs) {
            List<PlatformExtension> list = new ArrayList<>();
            for (String spec : specs) {
                int colon = spec.indexOf(':');
                String name = colon < 0 ? spec : spec.substring(0, colon);
                String args = colon < 0 ? "" : spec.substring(colon + 1);
                switch (name) {
                    case "zpci" -> list.add(new ZpciExtension(ZpciConfig.parse(args)));
                    default -> throw new IllegalArgumentException("--platform: unknown extension '" + name + "' (available: zpci)");
                }
            }
            return new Platform(list);
        }

        Deadlines deadlines() {
            Deadlines.OnStuckCallback onStuck = switch (stuckCallback) {
                case "report" -> Deadlines.OnStuckCallback.REPORT;
                case "error" -> Deadlines.OnStuckCallback.ERROR;
                default -> throw new IllegalArgumentException("--stuck-callback must be report or error, not '" + stuckCallback + "'");
            };
            return new Deadlines(Durations.parse(handshakeTimeout, "--handshake-timeout"),
                    Durations.parse(messageTimeout, "--message-timeout"),
                    Durations.parse(stuckCallbackAfter, "--stuck-callback-after"), onStuck);
        }

        private static int parseMode(String octal) {
            try {
                int mode = Integer.parseInt(octal, 8);
                if (mode < 0 || mode > 0777) {
                    throw new NumberFormatException();
                }
                return mode;
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("--socket-mode must be octal permission bits such as 600, not '" + octal + "'");
            }
        }
    }

    @Command(name = "gpio", mixinStandardHelpOptions = true,
            description = "ACCES PCI-IDIO-16 digital I/O card (494f:0dc8); Linux binds gpio-pci-idio-16 to it.")
    public static final class Gpio extends DeviceCommand {
        @Option(names = "--inputs", paramLabel = "HEX", defaultValue = "0",
                description = "Initial level of the 16 input lines, e.g. 0x00ff (default: ${DEFAULT-VALUE}).")
        String inputs;

        @Option(names = "--diagnostics",
                description = "Serve the variant with a read-only diagnostics region (region 9, vendor TYPE 494f/1).")
        boolean diagnostics;

        @Override
        VfioDevice device() {
            PciIdio16 card = diagnostics ? new PciIdio16Diagnostics() : new PciIdio16();
            card.setInputs(Integer.decode(inputs));
            return card;
        }

        @Override
        public FaultVocabulary faultWords() {
            return PciIdio16.faultWords();
        }
    }

    @Command(name = "virtio-blk", mixinStandardHelpOptions = true,
            description = {"A virtio 1.x block device (1af4:1042) backed by a raw image file; Linux binds virtio_blk to it.",
                    "Writes reach the image file; FLUSH syncs it."})
    public static final class VirtioBlkDisk extends DeviceCommand {
        @Option(names = "--disk", required = true, paramLabel = "IMG", description = "Raw image file (or block device).")
        Path disk;

        @Option(names = "--size", paramLabel = "SIZE", description = "With --create: the image size, e.g. 1G.")
        String size;

        @Option(names = "--create", description = "Create the image (with --size) if it does not exist.")
        boolean create;

        @Option(names = "--readonly", description = "Offer the disk read-only (writes fail with IOERR).")
        boolean readOnly;

        @Option(names = "--queues", defaultValue = "1", description = "Request queues (default: ${DEFAULT-VALUE}).")
        int queues;

        @Option(names = "--queue-size", defaultValue = "256", description = "Entries per queue, a power of two (default: ${DEFAULT-VALUE}).")
        int queueSize;

        @Option(names = "--serial", description = "The disk's serial (GET_ID), up to 20 ASCII characters.")
        String serial;

        @Option(names = "--notify", defaultValue = "trapped", paramLabel = "trapped|polled",
                description = "Queue notifications: trapped writes (default) or a mapped page the device polls.")
        String notify;

        @Override
        VfioDevice device() throws Exception {
            var builder = VirtioBlk.builder(disk).readOnly(readOnly).queues(queues).queueSize(queueSize)
                    .notifyMode(switch (notify) {
                        case "trapped" -> NotifyMode.TRAPPED;
                        case "polled" -> NotifyMode.POLLED;
                        default -> throw new IllegalArgumentException("--notify must be trapped or polled, not '" + notify + "'");
                    });
            if (create) {
                if (size == null) {
                    throw new IllegalArgumentException("--create needs --size, e.g. --size 1G");
                }
                if (!java.nio.file.Files.exists(disk)) {
                    builder.create(Sizes.parse(size, "--size"));
                }
            } else if (size != null) {
                throw new IllegalArgumentException("--size only goes with --create");
            } else if (!java.nio.file.Files.exists(disk)) {
                throw new IllegalArgumentException(disk + " does not exist (add --create --size SIZE to make it)");
            }
            if (serial != null) {
                builder.serial(serial);
            }
            return builder.build();
        }

        @Override
        void printBacking(VfioDevice device) {
            System.out.println("disk: " + disk.toAbsolutePath() + (readOnly ? " (read-only)" : ""));
        }

        @Override
        void shutdown(VfioDevice device) {
            ((VirtioBlk) device).shutdown();
        }

        @Override
        public FaultVocabulary faultWords() {
            return VirtioBlkFaults.vocabulary();
        }
    }

    @Command(name = "nvme", mixinStandardHelpOptions = true,
            description = {"An NVM Express 1.4 controller (class 01:08:02) whose namespaces are raw image files or null",
                    "namespaces; Linux binds nvme to it. Namespace ids follow the options' order: --namespace first."})
    public static final class NvmeDisk extends DeviceCommand {
        @Option(names = "--namespace", paramLabel = "IMG", description = "A namespace backed by a raw image file (repeatable).")
        List<Path> namespaces = new ArrayList<>();

        @Option(names = "--null", paramLabel = "SIZE",
                description = "A null namespace of SIZE, e.g. 1G: reads return zeros, writes are dropped (repeatable).")
        List<String> nullSizes = new ArrayList<>();

        @Option(names = "--model", paramLabel = "M", description = "Model number, up to 40 ASCII characters.")
        String model;

        @Option(names = "--serial", paramLabel = "S", description = "Serial number, up to 20 ASCII characters (unique per controller).")
        String serial;

        @Option(names = "--firmware", paramLabel = "FR", description = "Firmware revision, up to 8 ASCII characters.")
        String firmware;

        @Option(names = "--block-size", defaultValue = "512", paramLabel = "512|4096",
                description = "Logical block size of every namespace (default: ${DEFAULT-VALUE}).")
        int blockSize;

        @Option(names = "--no-shadow-doorbells",
                description = "Do not advertise Doorbell Buffer Config (OACS bit 8): the host rings a trapped doorbell for every submission.")
        boolean noShadowDoorbells;

        @Option(names = "--polled-doorbells",
                description = "Offer the doorbell page (BAR 0 0x1000-0x1fff) for mapping and poll it: the client rings by "
                        + "plain stores, no message (trapped doorbell writes still work).")
        boolean polledDoorbells;

        @Override
        VfioDevice device() throws Exception {
            if (namespaces.isEmpty() && nullSizes.isEmpty()) {
                throw new IllegalArgumentException("give at least one --namespace IMG or --null SIZE");
            }
            var builder = NvmeController.builder().blockSize(blockSize).shadowDoorbells(!noShadowDoorbells)
                    .polledDoorbells(polledDoorbells);
            List<BlockStore> opened = new ArrayList<>();
            try {
                for (Path image : namespaces) {
                    if (!java.nio.file.Files.exists(image)) {
                        throw new IllegalArgumentException(image + " does not exist");
                    }
                    opened.add(BlockImage.open(image, 0, false));
                }
                for (String size : nullSizes) {
                    opened.add(new NullStore(Sizes.parse(size, "--null")));
                }
                opened.forEach(builder::namespace);
                if (model != null) {
                    builder.model(model);
                }
                if (serial != null) {
                    builder.serial(serial);
                }
                if (firmware != null) {
                    builder.firmware(firmware);
                }
                return builder.build();
            } catch (Exception e) {
                for (var store : opened) {
                    store.close();
                }
                throw e;
            }
        }

        @Override
        void printBacking(VfioDevice device) {
            var nvme = (NvmeController) device;
            System.out.println("serial " + nvme.serial() + ", model " + nvme.model());
            var sizes = nvme.namespaceSizes();
            for (int i = 0; i < sizes.size(); i++) {
                String backing = i < namespaces.size() ? namespaces.get(i).toAbsolutePath().toString() : "null";
                System.out.println("namespace " + (i + 1) + ": " + sizes.get(i) + " bytes (" + backing + ")");
            }
        }

        @Override
        void shutdown(VfioDevice device) {
            ((NvmeController) device).shutdown();
        }

        @Override
        public FaultVocabulary faultWords() {
            return NvmeFaults.vocabulary();
        }
    }
}
