package io.jvfio.cli.lspci;

import static io.jvfio.cli.lspci.LspciFormatter.flag;

import io.jvfio.pci.PciRegisters.PciExpress;

/**
 * The PCI Express capability in lspci's words: {@code Express (v2) Endpoint, MSI 00} and, with
 * {@code -vv}, the DevCap/DevCtl/DevSta, link and version-2 register lines (the first line of each
 * version-2 register; lspci's later lines about 10-bit tags, OBFF, margining are not decoded).
 */
final class LspciExpress {
    private static final String[] L0S_LATENCY = {"<64ns", "<128ns", "<256ns", "<512ns", "<1us", "<2us", "<4us", "unlimited"};
    private static final String[] L1_LATENCY = {"<1us", "<2us", "<4us", "<8us", "<16us", "<32us", "<64us", "unlimited"};
    private static final String[] ASPM_SUPPORT = {"not supported", "L0s", "L1", "L0s L1"};
    private static final String[] ASPM_ENABLED = {"Disabled", "L0s Enabled", "L1 Enabled", "L0s L1 Enabled"};
    private static final String[] SPEEDS = {"unknown", "2.5GT/s", "5GT/s", "8GT/s", "16GT/s", "32GT/s", "64GT/s"};

    private final LspciConfig config;
    private final int verbose;
    private final StringBuilder out;

    LspciExpress(LspciConfig config, int verbose, StringBuilder out) {
        this.config = config;
        this.verbose = verbose;
        this.out = out;
    }

    void show(int where, int flags) {
        int type = (flags & PciExpress.FLAGS_TYPE_MASK) >>> PciExpress.FLAGS_TYPE_SHIFT;
        int version = flags & PciExpress.FLAGS_VERSION_MASK;
        boolean slot = (flags & PciExpress.FLAGS_SLOT) != 0;
        out.append("Express ");
        if (verbose > 1) {
            out.append("(v").append(version).append(") ");
        }
        out.append(switch (type) {
            case PciExpress.TYPE_ENDPOINT -> "Endpoint";
            case PciExpress.TYPE_LEGACY_ENDPOINT -> "Legacy Endpoint";
            case PciExpress.TYPE_ROOT_PORT -> "Root Port (Slot" + (slot ? '+' : '-') + ")";
            case PciExpress.TYPE_UPSTREAM_PORT -> "Upstream Port";
            case PciExpress.TYPE_DOWNSTREAM_PORT -> "Downstream Port (Slot" + (slot ? '+' : '-') + ")";
            case PciExpress.TYPE_PCIE_TO_PCI_BRIDGE -> "PCI-Express to PCI/PCI-X Bridge";
            case PciExpress.TYPE_PCI_TO_PCIE_BRIDGE -> "PCI/PCI-X to PCI-Express Bridge";
            case PciExpress.TYPE_ROOT_COMPLEX_INTEGRATED_ENDPOINT -> "Root Complex Integrated Endpoint";
            case PciExpress.TYPE_ROOT_COMPLEX_EVENT_COLLECTOR -> "Root Complex Event Collector";
            default -> "Unknown type " + type;
        });
        out.append(", MSI %02x\n".formatted((flags & PciExpress.FLAGS_IRQ_MASK) >>> PciExpress.FLAGS_IRQ_SHIFT));
        if (verbose < 2) {
            return;
        }
        boolean link = type != PciExpress.TYPE_ROOT_COMPLEX_INTEGRATED_ENDPOINT && type != PciExpress.TYPE_ROOT_COMPLEX_EVENT_COLLECTOR;
        device(where, type);
        if (link) {
            link(where, type);
        }
        if (version < PciExpress.FLAGS_VERSION_2) {
            return;
        }
        device2(where);
        if (link) {
            link2(where);
        }
    }

    private static boolean endpoint(int type) {
        return type == PciExpress.TYPE_ENDPOINT || type == PciExpress.TYPE_LEGACY_ENDPOINT;
    }

    private void device(int where, int type) {
        long cap = config.u32(where + PciExpress.DEVCAP);
        out.append("\t\tDevCap:\tMaxPayload %d bytes, PhantFunc %d".formatted(
                128 << (cap & PciExpress.DEVCAP_MAX_PAYLOAD_MASK),
                (1 << ((cap & PciExpress.DEVCAP_PHANTOM_MASK) >> PciExpress.DEVCAP_PHANTOM_SHIFT)) - 1));
        if (endpoint(type)) {
            out.append(", Latency L0s %s, L1 %s".formatted(L0S_LATENCY[(int) (cap >> PciExpress.DEVCAP_L0S_LATENCY_SHIFT) & 7],
                    L1_LATENCY[(int) (cap >> PciExpress.DEVCAP_L1_LATENCY_SHIFT) & 7]));
        }
        out.append("\n\t\t\tExtTag").append(flag(cap, PciExpress.DEVCAP_EXTENDED_TAG));
        if (endpoint(type) || type == PciExpress.TYPE_UPSTREAM_PORT || type == PciExpress.TYPE_PCIE_TO_PCI_BRIDGE) {
            out.append(" AttnBtn%c AttnInd%c PwrInd%c".formatted(flag(cap, PciExpress.DEVCAP_ATTENTION_BUTTON),
                    flag(cap, PciExpress.DEVCAP_ATTENTION_INDICATOR), flag(cap, PciExpress.DEVCAP_POWER_INDICATOR)));
        }
        out.append(" RBE").append(flag(cap, PciExpress.DEVCAP_ROLE_BASED_ERROR));
        boolean flrType = endpoint(type) || type == PciExpress.TYPE_ROOT_COMPLEX_INTEGRATED_ENDPOINT;
        if (flrType) {
            out.append(" FLReset").append(flag(cap, PciExpress.DEVCAP_FLR));
        }
        if (type == PciExpress.TYPE_ENDPOINT || type == PciExpress.TYPE_UPSTREAM_PORT || type == PciExpress.TYPE_PCIE_TO_PCI_BRIDGE) {
            double scale = switch ((int) (cap >> PciExpress.DEVCAP_SLOT_POWER_SCALE_SHIFT) & 3) {
                case 0 -> 1.0;
                case 1 -> 0.1;
                case 2 -> 0.01;
                default -> 0.001;
            };
            double watts = ((cap >> PciExpress.DEVCAP_SLOT_POWER_VALUE_SHIFT) & 0xff) * scale;
            out.append(" SlotPowerLimit ").append(watts == Math.rint(watts) ? Long.toString((long) watts) : Double.toString(watts))
                    .append('W');
        }
        out.append('\n');

        int control = config.u16(where + PciExpress.DEVCTL);
        out.append("\t\tDevCtl:\tCorrErr%c NonFatalErr%c FatalErr%c UnsupReq%c\n".formatted(
                flag(control, PciExpress.DEVCTL_CORRECTABLE_ERROR_REPORTING),
                flag(control, PciExpress.DEVCTL_NON_FATAL_ERROR_REPORTING),
                flag(control, PciExpress.DEVCTL_FATAL_ERROR_REPORTING),
                flag(control, PciExpress.DEVCTL_UNSUPPORTED_REQUEST_REPORTING)));
        out.append("\t\t\tRlxdOrd%c ExtTag%c PhantFunc%c AuxPwr%c NoSnoop%c".formatted(
                flag(control, PciExpress.DEVCTL_RELAXED_ORDERING), flag(control, PciExpress.DEVCTL_EXTENDED_TAG),
                flag(control, PciExpress.DEVCTL_PHANTOM_FUNCTIONS), flag(control, PciExpress.DEVCTL_AUX_POWER_PM), flag(control, PciExpress.DEVCTL_NO_SNOOP)));
        if (flrType && (cap & PciExpress.DEVCAP_FLR) != 0) {
            out.append(" FLReset").append(flag(control, PciExpress.DEVCTL_INITIATE_FLR));
        }
        out.append("\n\t\t\tMaxPayload %d bytes, MaxReadReq %d bytes\n".formatted(
                128 << ((control & PciExpress.DEVCTL_MAX_PAYLOAD_MASK) >> PciExpress.DEVCTL_MAX_PAYLOAD_SHIFT),
                128 << ((control & PciExpress.DEVCTL_MAX_READ_REQUEST_MASK) >> PciExpress.DEVCTL_MAX_READ_REQUEST_SHIFT)));

        int status = config.u16(where + PciExpress.DEVSTA);
        out.append("\t\tDevSta:\tCorrErr%c NonFatalErr%c FatalErr%c UnsupReq%c AuxPwr%c TransPend%c\n".formatted(
                flag(status, PciExpress.DEVSTA_CORRECTABLE_ERROR), flag(status, PciExpress.DEVSTA_NON_FATAL_ERROR),
                flag(status, PciExpress.DEVSTA_FATAL_ERROR), flag(status, PciExpress.DEVSTA_UNSUPPORTED_REQUEST),
                flag(status, PciExpress.DEVSTA_AUX_POWER), flag(status, PciExpress.DEVSTA_TRANSACTIONS_PENDING)));
    }

    private static String speed(long code) {
        return code >= 0 && code < SPEEDS.length ? SPEEDS[(int) code] : "unknown";
    }

    /** lspci's verdict on a negotiated value against the capability, for the port types it judges. */
    private static String compare(int type, long status, long cap) {
        if (type == PciExpress.TYPE_ROOT_PORT || type == PciExpress.TYPE_DOWNSTREAM_PORT || type == PciExpress.TYPE_PCIE_TO_PCI_BRIDGE) {
            return "";
        }
        return status < cap ? " (downgraded)" : status > cap ? " (overdriven)" : " (ok)";
    }

    private void link(int where, int type) {
        long cap = config.u32(where + PciExpress.LNKCAP);
        int aspm = (int) (cap >> PciExpress.LNKCAP_ASPM_SHIFT) & 3;
        long capSpeed = cap & PciExpress.LNKCAP_SPEED_MASK;
        long capWidth = (cap & PciExpress.LNKCAP_WIDTH_MASK) >> PciExpress.LINK_WIDTH_SHIFT;
        out.append("\t\tLnkCap:\tPort #%d, Speed %s, Width x%d, ASPM %s".formatted(cap >>> PciExpress.LNKCAP_PORT_SHIFT,
                speed(capSpeed), capWidth, ASPM_SUPPORT[aspm]));
        if (aspm != 0) {
            out.append(", Exit Latency ");
            if ((aspm & 1) != 0) {
                out.append("L0s ").append(L0S_LATENCY[(int) (cap >> PciExpress.LNKCAP_L0S_EXIT_LATENCY_SHIFT) & 7]);
            }
            if ((aspm & 2) != 0) {
                out.append((aspm & 1) != 0 ? ", " : "").append("L1 ").append(L1_LATENCY[(int) (cap >> PciExpress.LNKCAP_L1_EXIT_LATENCY_SHIFT) & 7]);
            }
        }
        out.append("\n\t\t\tClockPM%c Surprise%c LLActRep%c BwNot%c ASPMOptComp%c\n".formatted(
                flag(cap, PciExpress.LNKCAP_CLOCK_PM), flag(cap, PciExpress.LNKCAP_SURPRISE_DOWN_REPORTING), flag(cap, PciExpress.LNKCAP_DLL_ACTIVE_REPORTING),
                flag(cap, PciExpress.LNKCAP_BANDWIDTH_NOTIFICATION), flag(cap, PciExpress.LNKCAP_ASPM_OPTIONALITY)));

        int control = config.u16(where + PciExpress.LNKCTL);
        out.append("\t\tLnkCtl:\tASPM ").append(ASPM_ENABLED[control & PciExpress.LNKCTL_ASPM_MASK]).append(';');
        if (type == PciExpress.TYPE_ROOT_PORT || endpoint(type) || type == PciExpress.TYPE_PCIE_TO_PCI_BRIDGE) {
            out.append(" RCB ").append((control & PciExpress.LNKCTL_READ_COMPLETION_BOUNDARY) != 0 ? 128 : 64).append(" bytes,");
        }
        out.append(" LnkDisable%c CommClk%c\n".formatted(flag(control, PciExpress.LNKCTL_LINK_DISABLE),
                flag(control, PciExpress.LNKCTL_COMMON_CLOCK)));
        out.append("\t\t\tExtSynch%c ClockPM%c AutWidDis%c BWInt%c AutBWInt%c\n".formatted(
                flag(control, PciExpress.LNKCTL_EXTENDED_SYNCH), flag(control, PciExpress.LNKCTL_CLOCK_PM),
                flag(control, PciExpress.LNKCTL_AUTONOMOUS_WIDTH_DISABLE), flag(control, PciExpress.LNKCTL_BANDWIDTH_INTERRUPT),
                flag(control, PciExpress.LNKCTL_AUTONOMOUS_BANDWIDTH_INTERRUPT)));

        int status = config.u16(where + PciExpress.LNKSTA);
        long staSpeed = status & PciExpress.LNKSTA_SPEED_MASK;
        long staWidth = (status & PciExpress.LNKSTA_WIDTH_MASK) >> PciExpress.LINK_WIDTH_SHIFT;
        out.append("\t\tLnkSta:\tSpeed %s%s, Width x%d%s\n".formatted(speed(staSpeed), compare(type, staSpeed, capSpeed),
                staWidth, compare(type, staWidth, capWidth)));
        out.append("\t\t\tTrErr%c Train%c SlotClk%c DLActive%c BWMgmt%c ABWMgmt%c\n".formatted(
                flag(status, PciExpress.LNKSTA_TRAINING_ERROR), flag(status, PciExpress.LNKSTA_TRAINING), flag(status, PciExpress.LNKSTA_SLOT_CLOCK),
                flag(status, PciExpress.LNKSTA_DLL_ACTIVE), flag(status, PciExpress.LNKSTA_BANDWIDTH_MANAGEMENT),
                flag(status, PciExpress.LNKSTA_AUTONOMOUS_BANDWIDTH)));
    }

    private void device2(int where) {
        long cap = config.u32(where + PciExpress.DEVCAP2);
        String range = switch ((int) (cap & PciExpress.DEVCAP2_TIMEOUT_RANGES_MASK)) {
            case 0x0 -> "Not Supported";
            case 0x1 -> "Range A";
            case 0x2 -> "Range B";
            case 0x3 -> "Range AB";
            case 0x6 -> "Range BC";
            case 0x7 -> "Range ABC";
            case 0xe -> "Range BCD";
            case 0xf -> "Range ABCD";
            default -> "Unknown";
        };
        out.append("\t\tDevCap2: Completion Timeout: %s, TimeoutDis%c NROPrPrP%c LTR%c\n".formatted(range,
                flag(cap, PciExpress.DEVCAP2_COMPLETION_TIMEOUT_DISABLE), flag(cap, PciExpress.DEVCAP2_NO_RO_PR_PR_PASSING),
                flag(cap, PciExpress.DEVCAP2_LTR)));
        int control = config.u16(where + PciExpress.DEVCTL2);
        String value = switch (control & PciExpress.DEVCTL2_TIMEOUT_VALUE_MASK) {
            case 0x0 -> "50us to 50ms";
            case 0x1 -> "50us to 100us";
            case 0x2 -> "1ms to 10ms";
            case 0x5 -> "16ms to 55ms";
            case 0x6 -> "65ms to 210ms";
            case 0x9 -> "260ms to 900ms";
            case 0xa -> "1s to 3.5s";
            case 0xd -> "4s to 13s";
            case 0xe -> "17s to 64s";
            default -> "Unknown";
        };
        out.append("\t\tDevCtl2: Completion Timeout: %s, TimeoutDis%c LTR%c\n".formatted(value,
                flag(control, PciExpress.DEVCTL2_COMPLETION_TIMEOUT_DISABLE), flag(control, PciExpress.DEVCTL2_LTR)));
    }

    private void link2(int where) {
        long cap = config.u32(where + PciExpress.LNKCAP2);
        long speeds = (cap & PciExpress.LNKCAP2_SPEEDS_MASK) >> PciExpress.LNKCAP2_SPEEDS_SHIFT;
        String supported;
        if (speeds == 0) {
            supported = "RsvdP";
        } else {
            int low = Long.numberOfTrailingZeros(speeds) + 1;
            int high = 64 - Long.numberOfLeadingZeros(speeds);
            String lowText = speed(low);
            supported = low == high ? speed(high) : lowText.substring(0, lowText.length() - "GT/s".length()) + "-" + speed(high);
        }
        out.append("\t\tLnkCap2: Supported Link Speeds: %s, Crosslink%c Retimer%c 2Retimers%c DRS%c\n".formatted(supported,
                flag(cap, PciExpress.LNKCAP2_CROSSLINK), flag(cap, PciExpress.LNKCAP2_RETIMER_PRESENCE), flag(cap, PciExpress.LNKCAP2_TWO_RETIMERS_PRESENCE),
                flag(cap, PciExpress.LNKCAP2_DRS)));
        int control = config.u16(where + PciExpress.LNKCTL2);
        out.append("\t\tLnkCtl2: Target Link Speed: %s, EnterCompliance%c SpeedDis%c\n".formatted(
                speed(control & PciExpress.LNKCTL2_TARGET_SPEED_MASK), flag(control, PciExpress.LNKCTL2_ENTER_COMPLIANCE),
                flag(control, PciExpress.LNKCTL2_HW_AUTONOMOUS_SPEED_DISABLE)));
    }
}
