package io.jvfio.cli.migrate;

import io.jvfio.client.DeviceHandle;
import io.jvfio.client.DmaBuffer;
import io.jvfio.client.MigrationDriver;
import io.jvfio.client.VfioUserClient;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code jvfio migrate --from A --to B}: live-migrates the device served on socket A to the
 * freshly started device served on socket B (VFIO migration v2 over vfio-user), printing each
 * pre-copy round, the stop-and-copy and the downtime. Afterwards B runs the device and A is stopped.
 */
@Command(name = "migrate", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Live-migrate a device between two vfio-user servers (migration v2).",
                "The destination must serve a freshly created device of the same kind: its state is overwritten."})
public final class MigrateCommand implements Callable<Integer> {
    @Option(names = "--from", paramLabel = "SOCKET", required = true, description = "The source server's socket (the device runs there now).")
    Path from;

    @Option(names = "--to", paramLabel = "SOCKET", required = true, description = "The destination server's socket (a fresh device).")
    Path to;

    @Option(names = "--rounds", paramLabel = "N", defaultValue = "8",
            description = "Most pre-copy rounds while the device runs; 0 = stop-and-copy only (default: ${DEFAULT-VALUE}).")
    int rounds;

    @Option(names = "--converged", paramLabel = "BYTES", defaultValue = "4096",
            description = "Stop pre-copying once at most this much is left to send (default: ${DEFAULT-VALUE}).")
    long converged;

    @Option(names = "--dma-buffer", paramLabel = "IOVA:SIZE",
            description = {"Map SIZE bytes of memory this command owns at IOVA on both servers (hex or decimal) "
                    + "and carry the pages the device dirties there (a device that does DMA into driver memory)."})
    String dmaBuffer;

    @Override
    public Integer call() throws Exception {
        PrintStream out = System.out;
        try (DeviceHandle source = VfioUserClient.connect(from);
             DeviceHandle destination = VfioUserClient.connect(to)) {
            List<MigrationDriver.DmaRegion> regions = List.of();
            DmaBuffer onSource = null, onDestination = null;
            if (dmaBuffer != null) {
                String[] parts = dmaBuffer.split(":");
                if (parts.length != 2) {
                    throw new IllegalArgumentException("--dma-buffer wants IOVA:SIZE, got " + dmaBuffer);
                }
                long iova = Long.decode(parts[0]), size = Long.decode(parts[1]);
                onSource = source.allocateDma(iova, size);
                onDestination = destination.allocateDma(iova, size);
                regions = List.of(new MigrationDriver.DmaRegion(iova, onSource.segment(), onDestination.segment()));
            }
            out.printf("migrating %s -> %s%n", from, to);
            out.flush();
            MigrationDriver.Options options = MigrationDriver.Options.defaults().withMaxPreCopyRounds(rounds).withConvergedBytes(converged);
            MigrationDriver.Result result = new MigrationDriver(source, destination, regions, options, p -> {
                out.println(describe(p));
                out.flush();
            }).migrate();
            out.printf("migrated: the device runs on %s; %s is stopped. %d pre-copy round(s), %s of device state, "
                            + "%s of DMA memory, downtime %s%n", to, from, result.preCopyRounds(), bytes(result.deviceBytes()),
                    bytes(result.dmaBytes()), millis(result.downtime()));
            // The source is stopped and refuses DMA_UNMAP; closing the connection releases its windows.
            if (onDestination != null) {
                onDestination.close();
            }
        }
        return 0;
    }

    static String describe(MigrationDriver.Progress p) {
        return switch (p.phase()) {
            case PRE_COPY -> "  pre-copy round %d: device %s, DMA %s sent; %s left".formatted(p.round(), bytes(p.deviceBytes()),
                    bytes(p.dmaBytes()), p.remainingBytes() < 0 ? "unknown" : bytes(p.remainingBytes()));
            case STOP_COPY -> "  stop-and-copy: device %s, DMA %s sent; source stopped for %s so far".formatted(
                    bytes(p.deviceBytes()), bytes(p.dmaBytes()), millis(p.downtime()));
            case DONE -> "  destination running: downtime %s".formatted(millis(p.downtime()));
        };
    }

    static String bytes(long n) {
        if (n < 1024) {
            return n + " B";
        }
        return n < 1 << 20 ? String.format(Locale.ROOT, "%.1f KiB", n / 1024.0) : String.format(Locale.ROOT, "%.1f MiB", n / 1048576.0);
    }

    static String millis(Duration d) {
        return String.format(Locale.ROOT, "%.2f ms", d.toNanos() / 1e6);
    }
}
