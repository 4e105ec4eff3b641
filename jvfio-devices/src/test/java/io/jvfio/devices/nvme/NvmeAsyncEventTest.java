package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;
import static io.jvfio.devices.nvme.NvmeControllerTest.assertStatus;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U32;
import static io.jvfio.devices.nvme.UserspaceNvmeDriver.U64;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.jvfio.devices.ServedDevices;
import io.jvfio.devices.storage.NullStore;
import java.lang.foreign.ValueLayout;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Asynchronous events over a real vfio-user socket: Asynchronous Event Requests complete with the
 * event's dword 0 when an enabled event occurs (or one waits), events of a type reported wait —
 * masked — until the host reads the log page with RAE clear, disabled events are not reported,
 * the request limit holds and a reset forgets it all. Raising an event posts its completion
 * before the call returns, so "nothing reported" is checked by the next admin command's
 * completion being the next entry, without waiting for time to pass.
 */
class NvmeAsyncEventTest {
    static final int TEMPERATURE_EVENT = AsyncEvents.event(AE_TYPE_SMART, AE_SMART_TEMPERATURE, LOG_SMART);
    static final int SPARE_EVENT = AsyncEvents.event(AE_TYPE_SMART, AE_SMART_SPARE, LOG_SMART);
    static final int RELIABILITY_EVENT = AsyncEvents.event(AE_TYPE_SMART, AE_SMART_RELIABILITY, LOG_SMART);
    static final int NAMESPACE_EVENT = AsyncEvents.event(AE_TYPE_NOTICE, AE_NOTICE_NAMESPACE_ATTRIBUTE, LOG_CHANGED_NAMESPACES);

    @RegisterExtension
    final ServedDevices served = new ServedDevices();
    final Path dir = served.dir();
    NvmeController nvme;
    UserspaceNvmeDriver d;
    UserspaceNvmeDriver.Queue a;
    long page;

    @BeforeEach
    void setUp() throws Exception {
        nvme = NvmeController.builder().namespace(new NullStore(1 << 20)).namespace(new NullStore(1 << 20)).build();
        d = UserspaceNvmeDriver.serve(served, nvme, true, UserspaceNvmeDriver.MEMORY_IOVA);
        a = d.enable(32);
        page = d.alloc(4096);
    }

    /** Submits an Asynchronous Event Request; returns its CID. */
    int request() throws Exception {
        int cid = a.put(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { });
        a.ring();
        return cid;
    }

    void setFeature(int fid, int value) throws Exception {
        assertStatus(a.submit(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, fid);
            e.set(U32, SQE_CDW11, value);
        }), SC_SUCCESS);
    }

    /** An admin command whose completion must be the next one: no event completion came before it. */
    void assertNothingReported() throws Exception {
        assertStatus(a.submit(ADMIN_GET_FEATURES, 0, e -> e.set(U32, SQE_CDW10, FEATURE_ARBITRATION)), SC_SUCCESS);
    }

    UserspaceNvmeDriver.Completion next() throws Exception {
        UserspaceNvmeDriver.Completion c = a.poll(Duration.ofSeconds(10));
        assertThat(c).as("a completion").isNotNull();
        return c;
    }

    void assertReported(int cid, int event) throws Exception {
        UserspaceNvmeDriver.Completion c = next();
        assertThat(c.cid()).as("completion of the event request").isEqualTo(cid);
        assertStatus(c, SC_SUCCESS);
        assertThat(c.result()).as("dword 0").isEqualTo(event);
    }

    /** Puts a Get Log Page of the whole of {@code lid} into {@link #page}; returns its CID (rung, not awaited). */
    int putGetLog(int lid, boolean retain) throws Exception {
        int cid = a.put(ADMIN_GET_LOG_PAGE, BROADCAST_NSID, e -> {
            e.set(U64, SQE_PRP1, d.iova(page));
            e.set(U32, SQE_CDW10, 127 << 16 | (retain ? LOG_RAE : 0) | lid);
        });
        a.ring();
        return cid;
    }

    void getLog(int lid, boolean retain) throws Exception {
        int cid = putGetLog(lid, retain);
        UserspaceNvmeDriver.Completion c = next();
        assertThat(c.cid()).isEqualTo(cid);
        assertStatus(c, SC_SUCCESS);
    }

    int criticalWarnings() throws Exception {
        getLog(LOG_SMART, true);
        return d.memory.get(ValueLayout.JAVA_BYTE, page + SMART_CRITICAL_WARNING);
    }

    @Test
    void aTemperatureThresholdBelowTheTemperatureRaisesASmartEvent() throws Exception {
        assertStatus(d.identify(CNS_CONTROLLER, 0, page), SC_SUCCESS);
        assertThat(d.memory.get(ValueLayout.JAVA_SHORT_UNALIGNED, page + ID_CTRL_OAES) & OAES_NAMESPACE_ATTRIBUTE).isNotZero();
        setFeature(FEATURE_ASYNC_EVENT_CONFIG, SMART_WARNING_TEMPERATURE);
        int aer = request();
        assertNothingReported();
        assertThat(criticalWarnings()).isZero();

        // Over-temperature threshold 300 K, below the 313 K reported: the event, then Set Features' own completion.
        int set = a.put(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, FEATURE_TEMPERATURE_THRESHOLD);
            e.set(U32, SQE_CDW11, 300);
        });
        a.ring();
        assertReported(aer, TEMPERATURE_EVENT);
        assertThat(next().cid()).isEqualTo(set);
        assertThat(criticalWarnings()).isEqualTo(SMART_WARNING_TEMPERATURE);

        // Still hot: moving the threshold again is no new event; neither is the type while unacknowledged.
        int second = request();
        setFeature(FEATURE_TEMPERATURE_THRESHOLD, 301);
        assertNothingReported();
        // Back below the threshold, then an under-temperature threshold of 320 K: the same event again, merged into
        // the one not yet acknowledged; once the host has read the SMART log, the next crossing is reported.
        setFeature(FEATURE_TEMPERATURE_THRESHOLD, Features.DEFAULT_OVER_THRESHOLD);
        assertThat(criticalWarnings()).isZero();
        setFeature(FEATURE_TEMPERATURE_THRESHOLD, 1 << 20 | 320);
        assertNothingReported();
        int log = putGetLog(LOG_SMART, false);
        assertThat(next().cid()).isEqualTo(log);
        assertNothingReported();
        setFeature(FEATURE_TEMPERATURE_THRESHOLD, 1 << 20);
        int hot = a.put(ADMIN_SET_FEATURES, 0, e -> {
            e.set(U32, SQE_CDW10, FEATURE_TEMPERATURE_THRESHOLD);
            e.set(U32, SQE_CDW11, 200);
        });
        a.ring();
        assertReported(second, TEMPERATURE_EVENT);
        assertThat(next().cid()).isEqualTo(hot);
    }

    @Test
    void maskedEventsWaitUntilTheLogPageIsRead() throws Exception {
        setFeature(FEATURE_ASYNC_EVENT_CONFIG, AEC_SMART_WARNINGS | AEC_NAMESPACE_ATTRIBUTE);
        // An event with no request outstanding waits for one.
        nvme.asyncEvents().criticalWarning(SMART_WARNING_SPARE);
        assertNothingReported();
        assertReported(request(), SPARE_EVENT);

        // A second SMART event waits: its type is masked until the host reads the SMART log.
        int second = request();
        nvme.asyncEvents().criticalWarning(SMART_WARNING_RELIABILITY);
        assertNothingReported();
        // A notice is another type: reported at once, with the Changed Namespace List filled.
        nvme.asyncEvents().namespacesChanged(2);
        assertReported(second, NAMESPACE_EVENT);

        int third = request();
        getLog(LOG_SMART, true);   // RAE set: still masked
        assertNothingReported();
        int log = putGetLog(LOG_SMART, false);
        assertReported(third, RELIABILITY_EVENT);
        assertThat(next().cid()).isEqualTo(log);
        assertThat(d.memory.get(ValueLayout.JAVA_BYTE, page + SMART_CRITICAL_WARNING))
                .isEqualTo((byte) (SMART_WARNING_SPARE | SMART_WARNING_RELIABILITY));

        // The Changed Namespace List: what changed, until read with RAE clear.
        nvme.asyncEvents().namespacesChanged(1, 2);
        getLog(LOG_CHANGED_NAMESPACES, true);
        assertThat(d.memory.get(U32, page)).isEqualTo(1);
        assertThat(d.memory.get(U32, page + 4)).isEqualTo(2);
        assertThat(d.memory.get(U32, page + 8)).isZero();
        int fourth = request();
        assertNothingReported();   // the notice reported before is not acknowledged yet: the new one merged into it
        getLog(LOG_CHANGED_NAMESPACES, false);
        assertThat(d.memory.get(U32, page)).isEqualTo(1);
        getLog(LOG_CHANGED_NAMESPACES, false);
        assertThat(d.memory.get(U32, page)).as("cleared by the read").isZero();
        nvme.asyncEvents().namespacesChanged(1);
        assertReported(fourth, NAMESPACE_EVENT);
    }

    @Test
    void disabledEventsAreNotReportedAndErrorsAlwaysAre() throws Exception {
        int aer = request();
        nvme.asyncEvents().criticalWarning(SMART_WARNING_READ_ONLY);
        nvme.asyncEvents().namespacesChanged(1);
        assertNothingReported();
        setFeature(FEATURE_ASYNC_EVENT_CONFIG, AEC_SMART_WARNINGS | AEC_NAMESPACE_ATTRIBUTE);
        assertNothingReported();   // not kept for later either
        assertThat(criticalWarnings()).as("the SMART log shows it all the same").isEqualTo(SMART_WARNING_READ_ONLY);
        nvme.asyncEvents().post(AE_TYPE_NOTICE, 0x07, 0x0d);   // a notice with no configuration bit: never enabled
        assertNothingReported();
        nvme.asyncEvents().post(AE_TYPE_ERROR, 0x01, LOG_ERROR_INFORMATION);
        assertReported(aer, AsyncEvents.event(AE_TYPE_ERROR, 0x01, LOG_ERROR_INFORMATION));
    }

    @Test
    void atMostAerlPlusOneRequestsAreOutstandingAndTheOldestIsCompletedFirst() throws Exception {
        int[] cids = new int[Identify.AERL + 1];
        for (int i = 0; i < cids.length; i++) {
            cids[i] = request();
        }
        assertNothingReported();
        assertStatus(a.submit(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { }), SC_AER_LIMIT_EXCEEDED | STATUS_DNR);
        setFeature(FEATURE_ASYNC_EVENT_CONFIG, AEC_NAMESPACE_ATTRIBUTE);
        nvme.asyncEvents().post(AE_TYPE_ERROR, 0, LOG_ERROR_INFORMATION);
        assertReported(cids[0], AsyncEvents.event(AE_TYPE_ERROR, 0, LOG_ERROR_INFORMATION));
        nvme.asyncEvents().namespacesChanged(1);
        assertReported(cids[1], NAMESPACE_EVENT);
        request();
        request();   // four outstanding again
        assertNothingReported();
        assertStatus(a.submit(ADMIN_ASYNC_EVENT_REQUEST, 0, e -> { }), SC_AER_LIMIT_EXCEEDED | STATUS_DNR);
    }

    @Test
    void aResetForgetsRequestsEventsAndMasks() throws Exception {
        setFeature(FEATURE_ASYNC_EVENT_CONFIG, AEC_NAMESPACE_ATTRIBUTE);
        nvme.asyncEvents().namespacesChanged(1);
        assertReported(request(), NAMESPACE_EVENT);   // the notice type is now masked
        request();
        request();
        a = d.enable(32);   // disable, then enable: requests dropped, configuration back to 0
        setFeature(FEATURE_ASYNC_EVENT_CONFIG, AEC_NAMESPACE_ATTRIBUTE);
        nvme.asyncEvents().namespacesChanged(2);
        assertNothingReported();   // the requests from before the reset are gone
        int aer = request();
        assertReported(aer, NAMESPACE_EVENT);   // it waited; and the mask did not survive the reset
        assertThat(nvme.events.outstandingRequests()).isEmpty();
    }

    @Test
    void eventsFromOutsideAreChecked() {
        assertThatThrownBy(() -> nvme.asyncEvents().criticalWarning(1 << 6)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> nvme.asyncEvents().criticalWarning(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> nvme.asyncEvents().namespacesChanged(0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> nvme.asyncEvents().namespacesChanged(BROADCAST_NSID))
                .isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> nvme.asyncEvents().post(8, 0, 0)).isInstanceOf(IllegalArgumentException.class);
        assertThatThrownBy(() -> nvme.asyncEvents().post(0, 256, 0)).isInstanceOf(IllegalArgumentException.class);
    }
}
