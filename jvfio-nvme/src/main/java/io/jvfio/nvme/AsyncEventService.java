package io.jvfio.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import java.io.IOException;
import java.lang.foreign.ValueLayout;
import java.util.ArrayList;
import java.util.List;

/**
 * Asynchronous events (§5.2) for an {@link NvmeDriver}: Asynchronous Event Configuration enables
 * the SMART / Health critical warnings and, when the controller offers them (OAES), Namespace
 * Attribute Notices; one Asynchronous Event Request is kept outstanding, as Linux does. For each
 * event reported it reads the log page the event names with RAE clear (which acknowledges the
 * event, so the controller reports the next one of its type), asks again, rescans the namespaces
 * on a Namespace Attribute Notice, and keeps the event for the caller. The caller holds the
 * driver's admin lock for every call.
 */
final class AsyncEventService {
    private static final int OUTSTANDING_REQUESTS = 1;
    /**
     * The critical warnings the driver asks to hear of (of Asynchronous Event Configuration's bits
     * 7:0): bits 4:0, which every revision defines (bit 5, the persistent memory region, came with
     * 1.4), so no controller sees a bit it calls reserved.
     */
    private static final int ENABLED_SMART_WARNINGS = SMART_WARNING_SPARE | SMART_WARNING_TEMPERATURE
            | SMART_WARNING_RELIABILITY | SMART_WARNING_READ_ONLY | SMART_WARNING_VOLATILE_BACKUP;
    private static final System.Logger LOG = System.getLogger(AsyncEventService.class.getName());

    private final NvmeDriver driver;
    private final AdminQueue admin;
    private final DmaRegion logPage;
    private final List<AsyncEvent> ready = new ArrayList<>();
    private int configuration;

    AsyncEventService(NvmeDriver driver, AdminQueue admin, DmaRegion logPage) {
        this.driver = driver;
        this.admin = admin;
        this.logPage = logPage;
    }

    /**
     * Enables the events (once the controller is ready, at bring-up and after a reset) and puts
     * the request in the queue. A controller that refuses the configuration still reports what it
     * enables by default.
     */
    void start(int oaes) throws IOException {
        configuration = ENABLED_SMART_WARNINGS | (oaes & AEC_NAMESPACE_ATTRIBUTE);
        try {
            driver.adminCommand("Set Features (Asynchronous Event Configuration)", ADMIN_SET_FEATURES, 0, 0,
                    FEATURE_ASYNC_EVENT_CONFIG, configuration);
        } catch (NvmeException e) {
            LOG.log(System.Logger.Level.INFO, "asynchronous events stay as the controller sets them: {0}", e.getMessage());
        }
        admin.requestEvents(OUTSTANDING_REQUESTS);
    }

    /** Takes the admin completions there are, handles the events they carry, and returns the events since the last call. */
    List<AsyncEvent> poll() throws IOException {
        admin.service();
        while (admin.hasEvent()) {
            int event = admin.takeEvent();
            AsyncEvent read = AsyncEvent.of(event, readLog(event >>> 16 & 0xff));
            admin.requestEvents(OUTSTANDING_REQUESTS);
            if (read.isNamespaceChange()) {
                driver.rescanNamespaces();
            }
            ready.add(read);
        }
        if (ready.isEmpty()) {
            return List.of();
        }
        List<AsyncEvent> events = List.copyOf(ready);
        ready.clear();
        return events;
    }

    /** The log page {@code lid} with RAE clear (acknowledging the event); empty when the controller refuses it. */
    private byte[] readLog(int lid) throws IOException {
        int bytes = switch (lid) {
            case LOG_ERROR_INFORMATION -> ERROR_ENTRY_SIZE;
            case LOG_CHANGED_NAMESPACES -> CHANGED_NAMESPACES_LOG_SIZE;
            default -> SMART_LOG_SIZE;   // SMART / Health, firmware slot and most others are 512 bytes
        };
        int dwords = bytes / 4 - 1;   // 0's based
        logPage.segment().fill((byte) 0);
        try {
            driver.adminCommand("Get Log Page (%02xh)".formatted(lid), ADMIN_GET_LOG_PAGE, BROADCAST_NSID, logPage.iova(),
                    dwords << 16 | lid, dwords >>> 16);
        } catch (NvmeException e) {
            LOG.log(System.Logger.Level.WARNING, "the log page of an asynchronous event: {0}", e.getMessage());
            return new byte[0];
        }
        return logPage.segment().asSlice(0, bytes).toArray(ValueLayout.JAVA_BYTE);
    }
}
