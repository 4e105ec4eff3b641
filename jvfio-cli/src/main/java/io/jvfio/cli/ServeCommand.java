package io.jvfio.cli;

import io.jvfio.devices.PciIdio16;
import io.jvfio.linux.Fd;
import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioDevice;
import io.jvfio.server.VfioUserServer;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code jvfio serve DEVICE}: serves one device until interrupted (SIGTERM or Ctrl-C). */
@Command(name = "serve", mixinStandardHelpOptions = true,
        description = "Serve a device over vfio-user until SIGTERM/Ctrl-C.",
        subcommands = {ServeCommand.Gpio.class})
final class ServeCommand {

    /** Where to listen: a socket path, or an inherited fd (the vfio-user backend convention). */
    static final class Endpoint {
        @Option(names = "--socket", paramLabel = "PATH", required = true,
                description = "UNIX socket to listen on (created with mode 0600; a stale socket is replaced).")
        Path socket;

        @Option(names = "--fd", paramLabel = "N", required = true,
                description = "Serve on inherited file descriptor N (a listening or a connected socket).")
        Integer fd;
    }

    static abstract class DeviceCommand implements Callable<Integer> {
        @ArgGroup(exclusive = true, multiplicity = "1")
        Endpoint endpoint;

        @Option(names = "--socket-mode", paramLabel = "OCTAL", defaultValue = "600",
                description = "Permission bits of the socket file (default: ${DEFAULT-VALUE}).")
        String socketMode;

        abstract VfioDevice device() throws Exception;

        void describe(VfioDevice device) {}

        @Override
        public Integer call() throws Exception {
            VfioDevice device = device();
            ServerOptions options = ServerOptions.defaults().withSocketMode(parseMode(socketMode));
            try (VfioUserServer server = endpoint.socket != null
                    ? VfioUserServer.bind(endpoint.socket, device, options)
                    : VfioUserServer.adopt(Fd.adopt(endpoint.fd), device, options)) {
                Runtime.getRuntime().addShutdownHook(new Thread(server::close, "jvfio-shutdown"));
                if (endpoint.socket != null) {
                    Path abs = endpoint.socket.toAbsolutePath();
                    System.out.println("serving " + device.name() + " on " + abs);
                    System.out.println("attach it to QEMU with:");
                    System.out.println("  -device '{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"" + abs + "\",\"type\":\"unix\"}}'");
                } else {
                    System.out.println("serving " + device.name() + " on fd " + endpoint.fd);
                }
                describe(device);
                System.out.flush();
                server.serve();
            }
            return 0;
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
    static final class Gpio extends DeviceCommand {
        @Option(names = "--inputs", paramLabel = "HEX", defaultValue = "0",
                description = "Initial level of the 16 input lines, e.g. 0x00ff (default: ${DEFAULT-VALUE}).")
        String inputs;

        @Override
        VfioDevice device() {
            PciIdio16 card = new PciIdio16();
            card.setInputs(Integer.decode(inputs));
            return card;
        }
    }
}
