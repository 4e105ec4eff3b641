package io.jvfio.devices.nvme;

import static io.jvfio.nvme.spec.Nvme.*;

import java.lang.foreign.MemorySegment;
import java.lang.foreign.ValueLayout;
import java.nio.charset.StandardCharsets;

/**
 * The Identify data structures (§5.15.2): the controller (CNS 01), a namespace (CNS 00), the
 * active namespace list (CNS 02) and a namespace's identification descriptors (CNS 03). What
 * the controller advertises here is what it implements: NVM command set, PRPs and (for I/O
 * commands) SGLs of any byte alignment with bit buckets, namespace attribute notices, Write
 * Zeroes, Dataset Management (DLFEAT 0: what a deallocated block reads is not reported, since a
 * block device keeps its data), the Commands Supported and Effects log, a volatile write cache
 * with broadcast Flush, one power state, one firmware slot, one LBA format per namespace, no
 * optional admin commands.
 */
final class Identify {
    /** Abort Command Limit and Asynchronous Event Request Limit, 0-based. */
    static final int ACL = 3, AERL = 3;
    private static final int CONTROLLER_ID = 1;
    /** Error log entries, 0-based (ELPE): one entry. */
    static final int ELPE = 0;
    /** Critical composite temperature: 85 °C in kelvin. */
    private static final int CCTEMP = 358;
    /** FRMW: slot 1 read-only, one slot. */
    private static final int FRMW_ONE_READ_ONLY_SLOT = 1 | 1 << 1;
    /** Power state 0: maximum power in centiwatts (MP @0), entry/exit latencies left 0. */
    private static final int PSD0_MAX_POWER = 2500;

    private final ControllerIdentity id;
    private final Namespaces namespaces;

    Identify(ControllerIdentity id, Namespaces namespaces) {
        this.id = id;
        this.namespaces = namespaces;
    }

    /** Fills {@code page} (4096 bytes) for {@code cns}; returns SC_SUCCESS or the failure status. */
    int fill(MemorySegment page, int cns, int nsid) {
        page.fill((byte) 0);
        return switch (cns) {
            case CNS_CONTROLLER -> {
                controller(page);
                yield SC_SUCCESS;
            }
            case CNS_NAMESPACE -> {
                if (nsid == BROADCAST_NSID) {
                    yield SC_INVALID_NAMESPACE;   // no namespace management: no common format to report
                }
                if (nsid < 1 || nsid > namespaces.max()) {
                    yield SC_INVALID_NAMESPACE;
                }
                Namespace ns = namespaces.get(nsid);
                if (ns != null) {
                    namespace(page, ns);
                }
                yield SC_SUCCESS;   // an inactive id identifies as zeros (§5.15.2.1)
            }
            case CNS_ACTIVE_NAMESPACES -> {
                if (nsid == BROADCAST_NSID || nsid == BROADCAST_NSID - 1) {
                    yield SC_INVALID_NAMESPACE;
                }
                int at = 0;
                for (Namespace ns : namespaces.snapshot()) {
                    if (ns != null && Integer.compareUnsigned(ns.nsid(), nsid) > 0 && at < IDENTIFY_SIZE) {
                        page.set(ValueLayout.JAVA_INT_UNALIGNED, at, ns.nsid());
                        at += 4;
                    }
                }
                yield SC_SUCCESS;
            }
            case CNS_NAMESPACE_DESCRIPTORS -> {
                Namespace ns = namespaces.get(nsid);
                if (ns == null) {
                    yield SC_INVALID_NAMESPACE;
                }
                page.set(ValueLayout.JAVA_BYTE, 0, (byte) NIDT_UUID);
                page.set(ValueLayout.JAVA_BYTE, 1, (byte) NID_UUID_LENGTH);
                page.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 4,
                        ns.uuid().getMostSignificantBits());
                page.set(ValueLayout.JAVA_LONG_UNALIGNED.withOrder(java.nio.ByteOrder.BIG_ENDIAN), 12,
                        ns.uuid().getLeastSignificantBits());
                yield SC_SUCCESS;
            }
            default -> SC_INVALID_FIELD;
        };
    }

    private void controller(MemorySegment p) {
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, ID_CTRL_VID, (short) id.vendorId());
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, ID_CTRL_SSVID, (short) id.vendorId());
        ascii(p, ID_CTRL_SN, SN_BYTES, id.serial());
        ascii(p, ID_CTRL_MN, MN_BYTES, id.model());
        ascii(p, ID_CTRL_FR, FR_BYTES, id.firmware());
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_RAB, (byte) 6);
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_MDTS, (byte) id.mdts());
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, ID_CTRL_CNTLID, (short) CONTROLLER_ID);
        p.set(ValueLayout.JAVA_INT_UNALIGNED, ID_CTRL_VER, VERSION_1_4);
        p.set(ValueLayout.JAVA_INT_UNALIGNED, ID_CTRL_OAES, OAES_NAMESPACE_ATTRIBUTE);
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_CNTRLTYPE, (byte) CNTRLTYPE_IO);
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, ID_CTRL_OACS, (short) (id.shadowDoorbells() ? OACS_DOORBELL_BUFFER_CONFIG : 0));
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_ACL, (byte) ACL);
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_AERL, (byte) AERL);
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_FRMW, (byte) FRMW_ONE_READ_ONLY_SLOT);
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_LPA, (byte) (LPA_COMMAND_EFFECTS | LPA_EXTENDED));
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_ELPE, (byte) ELPE);
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, ID_CTRL_WCTEMP, (short) Features.DEFAULT_OVER_THRESHOLD);
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, ID_CTRL_CCTEMP, (short) CCTEMP);
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_SQES, (byte) (SQES << 4 | SQES));
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_CQES, (byte) (CQES << 4 | CQES));
        p.set(ValueLayout.JAVA_INT_UNALIGNED, ID_CTRL_NN, namespaces.max());
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, ID_CTRL_ONCS, (short) (ONCS_DATASET_MANAGEMENT | ONCS_WRITE_ZEROES));
        p.set(ValueLayout.JAVA_BYTE, ID_CTRL_VWC, (byte) VWC_PRESENT_WITH_BROADCAST_FLUSH);
        p.set(ValueLayout.JAVA_INT_UNALIGNED, ID_CTRL_SGLS, SGLS_SUPPORTED | SGLS_BIT_BUCKET);
        byte[] nqn = id.subsystemNqn().getBytes(StandardCharsets.US_ASCII);   // NUL-terminated: the rest stays 0
        MemorySegment.copy(MemorySegment.ofArray(nqn), 0, p, ID_CTRL_SUBNQN, nqn.length);
        p.set(ValueLayout.JAVA_SHORT_UNALIGNED, ID_CTRL_PSD0, (short) PSD0_MAX_POWER);
    }

    private static void namespace(MemorySegment p, Namespace ns) {
        long blocks = ns.blocks();
        p.set(ValueLayout.JAVA_LONG_UNALIGNED, ID_NS_NSZE, blocks);
        p.set(ValueLayout.JAVA_LONG_UNALIGNED, ID_NS_NCAP, blocks);
        p.set(ValueLayout.JAVA_LONG_UNALIGNED, ID_NS_NUSE, blocks);
        p.set(ValueLayout.JAVA_BYTE, ID_NS_NLBAF, (byte) 0);    // one format (0-based)
        p.set(ValueLayout.JAVA_BYTE, ID_NS_FLBAS, (byte) 0);    // format 0, no metadata
        p.set(ValueLayout.JAVA_INT_UNALIGNED, ID_NS_LBAF0, ns.lbaShift() << LBAF_LBADS_SHIFT);
    }

    /** Space-padded ASCII (SN, MN, FR). */
    private static void ascii(MemorySegment p, int offset, int length, String text) {
        byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < length; i++) {
            p.set(ValueLayout.JAVA_BYTE, offset + i, i < bytes.length ? bytes[i] : (byte) ' ');
        }
    }
}
