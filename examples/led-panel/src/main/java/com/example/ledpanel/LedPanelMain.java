package com.example.ledpanel;

import io.jvfio.server.ServerOptions;
import io.jvfio.server.VfioUserServer;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Path;

/**
 * Serves the LED panel on a vfio-user socket until Ctrl-C: {@code java -jar target/led-panel.jar
 * /tmp/led.sock}. Prints the LEDs whenever the driver changes them; Enter presses the button.
 */
public final class LedPanelMain {
    private LedPanelMain() {}

    public static void main(String[] args) throws IOException {
        if (args.length != 1) {
            System.err.println("usage: java -jar led-panel.jar SOCKET");
            System.exit(2);
        }
        Path socket = Path.of(args[0]).toAbsolutePath();
        LedPanel panel = new LedPanel();
        panel.onLedsChanged(leds -> System.out.println("LEDs " + lamps(leds)));
        try (VfioUserServer server = VfioUserServer.bind(socket, panel, ServerOptions.defaults())) {
            // Ctrl-C or SIGTERM: disconnect the client and remove the socket.
            Runtime.getRuntime().addShutdownHook(new Thread(server::close));
            System.out.println("serving the LED panel on " + socket);
            System.out.println("attach it to QEMU with:");
            System.out.println("  -device '{\"driver\":\"vfio-user-pci\",\"socket\":{\"path\":\"" + socket + "\",\"type\":\"unix\"}}'");
            System.out.println("press Enter to press the panel's button");
            Thread.ofVirtual().name("button").start(() -> pressOnEnter(panel));
            server.serve();                                 // one client after another, until closed
        }
    }

    private static void pressOnEnter(LedPanel panel) {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        try {
            while (in.readLine() != null) {
                panel.pressButton();
                panel.releaseButton();
            }
        } catch (IOException stdinGone) {
            // no terminal: the button stays untouched
        }
    }

    /** LED 7 first, as a row of lamps: {@code ●○○○○○○●} for 0x81. */
    static String lamps(int leds) {
        StringBuilder row = new StringBuilder();
        for (int led = 7; led >= 0; led--) {
            row.append((leds & 1 << led) != 0 ? '●' : '○');
        }
        return row.toString();
    }
}
