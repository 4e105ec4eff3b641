package io.jvfio.server.zpci;

import io.jvfio.protocol.InfoCapability;
import io.jvfio.protocol.ZpciCaps;
import io.jvfio.server.PlatformExtension;
import io.jvfio.server.SessionContext;
import io.jvfio.server.VfioDevice;
import java.nio.charset.Charset;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The s390 zPCI platform extension: every device served with it reports the BASE, GROUP, UTIL
 * and PFIP device-info capabilities of {@code linux/vfio_zdev.h}.
 *
 * <p>Interpretation of zPCI instructions needs a hypervisor. When the open session carries a
 * {@link ZpciInterpretation} link, BASE.fh holds the function handle and GROUP.imaxstbl the
 * interpreted store block length; without one both are 0. A client with no link at all thus
 * sees from the capabilities whether the facility is present.
 */
public final class ZpciExtension implements PlatformExtension {
    private static final Charset EBCDIC = Charset.forName("IBM037");
    private final ZpciConfig config;
    private final AtomicInteger openSessions = new AtomicInteger();

    public ZpciExtension(ZpciConfig config) {
        this.config = config;
    }

    @Override
    public String name() {
        return "zpci";
    }

    public ZpciConfig config() {
        return config;
    }

    /** Clients that have the device open now, across every device this extension serves. */
    public int openSessions() {
        return openSessions.get();
    }

    @Override
    public void open(VfioDevice device, SessionContext context) {
        openSessions.incrementAndGet();
    }

    @Override
    public void close(VfioDevice device) {
        openSessions.decrementAndGet();
    }

    @Override
    public List<InfoCapability> deviceInfoCapabilities(VfioDevice device, SessionContext context) {
        Optional<ZpciInterpretation> interpretation = context.hypervisorLink()
                .filter(ZpciInterpretation.class::isInstance).map(ZpciInterpretation.class::cast);
        ZpciConfig c = config;
        return List.of(
                new ZpciCaps.Base(c.startDma(), c.endDma(), c.pchid(), c.vfn(), c.fmbLength(), c.pft(), c.gid(),
                        interpretation.map(ZpciInterpretation::functionHandle).orElse(0)),
                new ZpciCaps.Group(c.dasm(), c.msiAddress(), c.tlbRefresh() ? ZpciCaps.FLAG_REFRESH : 0, c.mui(), c.noi(),
                        c.maxstbl(), c.pciVersion(), interpretation.map(ZpciInterpretation::interpretedMaxStoreBlockLength).orElse(0)),
                ZpciCaps.Text.util(c.utilString().getBytes(EBCDIC)),
                ZpciCaps.Text.pfip(c.pfip()));
    }
}
