package io.jvfio.cli.lspci;

import io.jvfio.pci.PciRegisters;
import io.jvfio.pci.PciRegisters.BaseAddress;
import io.jvfio.pci.PciRegisters.Rom;
import io.jvfio.pci.PciRegisters.Status;

/**
 * Formats one device's configuration space the way Linux {@code lspci} prints one device, for the
 * verbosity ({@code -v}, {@code -vv}), numeric ({@code -n}, {@code -nn}) and hex-dump ({@code -x} ...
 * {@code -xxxx}) levels lspci has. Facts lspci gets from the guest kernel (IRQ routing, driver,
 * NUMA node) do not exist here and are left out; BAR sizes come from vfio-user region info.
 */
final class LspciFormatter {
    /** lspci's option levels and the slot to print. */
    record Options(int verbose, int numeric, int hex, String slot) {
        static Options defaults() {
            return new Options(0, 0, 0, "00:00.0");
        }
    }

    /** The obsolete "user definable features" status bit (PCI 2.1), which lspci still shows. */
    private static final int STATUS_UDF = 1 << 6;
    private static final int DEVSEL_SHIFT = 9;
    private static final int HEADER_TYPE_MASK = 0x7f;
    private static final int HEADER_TYPE_CARDBUS = 2;
    private static final int BIST_CAPABLE = 0x80;
    private static final int HEX_BASIC = 64;
    private static final int HEX_CARDBUS = 128;
    private static final int HEX_STANDARD = PciRegisters.STANDARD_SPACE_END;
    private static final int HEX_EXTENDED = 4096;

    private final LspciConfig config;
    private final long[] barSizes;
    private final long romSize;
    private final Options options;
    private final StringBuilder out = new StringBuilder();

    /**
     * @param barSizes size of BAR 0..5 as region info reported it (-1 when unknown)
     * @param romSize  expansion ROM size (-1 when unknown)
     */
    LspciFormatter(LspciConfig config, long[] barSizes, long romSize, Options options) {
        this.config = config;
        this.barSizes = barSizes.clone();
        this.romSize = romSize;
        this.options = options;
    }

    static char flag(long value, long bit) {
        return (value & bit) != 0 ? '+' : '-';
    }

    String format() {
        terse();
        if (options.verbose() > 0) {
            verbose();
        }
        if (options.hex() > 0) {
            hexDump();
        }
        if (options.verbose() > 0 || options.hex() > 0) {
            out.append('\n');
        }
        return out.toString();
    }

    private void terse() {
        int deviceClass = config.u16(PciRegisters.CLASS_CODE + 1);
        out.append(options.slot()).append(' ')
                .append(LspciNames.className(deviceClass, options.numeric())).append(": ")
                .append(LspciNames.deviceName(config.u16(PciRegisters.VENDOR_ID), config.u16(PciRegisters.DEVICE_ID),
                        options.numeric()));
        int revision = config.u8(PciRegisters.REVISION_ID);
        if (revision != 0) {
            out.append(" (rev %02x)".formatted(revision));
        }
        if (options.verbose() > 0) {
            int progIf = config.u8(PciRegisters.CLASS_CODE);
            if (progIf != 0) {
                out.append(" (prog-if %02x)".formatted(progIf));
            }
        }
        out.append('\n');
    }

    private void verbose() {
        int command = config.u16(PciRegisters.COMMAND);
        int status = config.u16(PciRegisters.STATUS);
        int headerType = config.u8(PciRegisters.HEADER_TYPE) & HEADER_TYPE_MASK;
        int latency = config.u8(PciRegisters.LATENCY_TIMER);
        int cacheLine = config.u8(PciRegisters.CACHE_LINE_SIZE);
        int pin = config.u8(PciRegisters.INTERRUPT_PIN);
        int bist = config.u8(PciRegisters.BIST);

        if (headerType == PciRegisters.HEADER_TYPE_NORMAL) {
            int subVendor = config.u16(PciRegisters.SUBSYSTEM_VENDOR_ID);
            if (subVendor != 0 && subVendor != PciRegisters.VENDOR_ID_INVALID) {
                out.append("\tSubsystem: ")
                        .append(LspciNames.deviceName(subVendor, config.u16(PciRegisters.SUBSYSTEM_ID), options.numeric()))
                        .append('\n');
            }
        } else {
            out.append("\t!!! header type %02x is not decoded by jvfio lspci\n".formatted(headerType));
        }

        String devsel = switch ((status & Status.DEVSEL_TIMING_MASK) >>> DEVSEL_SHIFT) {
            case 0 -> "fast";
            case 1 -> "medium";
            case 2 -> "slow";
            default -> "??";
        };
        if (options.verbose() > 1) {
            out.append("\tControl: I/O%c Mem%c BusMaster%c SpecCycle%c MemWINV%c VGASnoop%c ParErr%c Stepping%c SERR%c FastB2B%c DisINTx%c\n"
                    .formatted(flag(command, PciRegisters.Command.IO_SPACE),
                            flag(command, PciRegisters.Command.MEMORY_SPACE),
                            flag(command, PciRegisters.Command.BUS_MASTER),
                            flag(command, PciRegisters.Command.SPECIAL_CYCLES),
                            flag(command, PciRegisters.Command.MEMORY_WRITE_INVALIDATE),
                            flag(command, PciRegisters.Command.VGA_PALETTE_SNOOP),
                            flag(command, PciRegisters.Command.PARITY_ERROR_RESPONSE),
                            flag(command, PciRegisters.Command.IDSEL_STEPPING),
                            flag(command, PciRegisters.Command.SERR_ENABLE),
                            flag(command, PciRegisters.Command.FAST_BACK_TO_BACK),
                            flag(command, PciRegisters.Command.INTX_DISABLE)));
            out.append("\tStatus: Cap%c 66MHz%c UDF%c FastB2B%c ParErr%c DEVSEL=%s >TAbort%c <TAbort%c <MAbort%c >SERR%c <PERR%c INTx%c\n"
                    .formatted(flag(status, Status.CAPABILITY_LIST),
                            flag(status, Status.CAPABLE_66MHZ),
                            flag(status, STATUS_UDF),
                            flag(status, Status.FAST_BACK_TO_BACK),
                            flag(status, Status.MASTER_DATA_PARITY_ERROR),
                            devsel,
                            flag(status, Status.SIGNALED_TARGET_ABORT),
                            flag(status, Status.RECEIVED_TARGET_ABORT),
                            flag(status, Status.RECEIVED_MASTER_ABORT),
                            flag(status, Status.SIGNALED_SYSTEM_ERROR),
                            flag(status, Status.DETECTED_PARITY_ERROR),
                            flag(status, Status.INTERRUPT)));
            if ((command & PciRegisters.Command.BUS_MASTER) != 0) {
                out.append("\tLatency: ").append(latency);
                int minGnt = config.u8(PciRegisters.MIN_GNT);
                int maxLat = config.u8(PciRegisters.MAX_LAT);
                if (headerType == PciRegisters.HEADER_TYPE_NORMAL && (minGnt != 0 || maxLat != 0)) {
                    out.append(" (");
                    if (minGnt != 0) {
                        out.append(minGnt * 250).append("ns min");
                    }
                    if (minGnt != 0 && maxLat != 0) {
                        out.append(", ");
                    }
                    if (maxLat != 0) {
                        out.append(maxLat * 250).append("ns max");
                    }
                    out.append(')');
                }
                if (cacheLine != 0) {
                    out.append(", Cache Line Size: ").append(cacheLine * 4).append(" bytes");
                }
                out.append('\n');
            }
            if (pin != 0) {
                // lspci adds "routed to IRQ n": the routing is the guest's business, unknown here.
                out.append("\tInterrupt: pin ").append(pin <= PciRegisters.INTERRUPT_PIN_MAX ? (char) ('A' + pin - 1) : '?')
                        .append('\n');
            }
        } else {
            out.append("\tFlags: ");
            if ((command & PciRegisters.Command.BUS_MASTER) != 0) {
                out.append("bus master, ");
            }
            if ((command & PciRegisters.Command.VGA_PALETTE_SNOOP) != 0) {
                out.append("VGA palette snoop, ");
            }
            if ((status & Status.CAPABLE_66MHZ) != 0) {
                out.append("66MHz, ");
            }
            if ((status & Status.FAST_BACK_TO_BACK) != 0) {
                out.append("fast Back2Back, ");
            }
            if ((status & STATUS_UDF) != 0) {
                out.append("user-definable features, ");
            }
            out.append(devsel).append(" devsel");
            if ((command & PciRegisters.Command.BUS_MASTER) != 0) {
                out.append(", latency ").append(latency);
            }
            out.append('\n');
        }
        if ((bist & BIST_CAPABLE) != 0) {
            out.append("\tBIST result: %02x\n".formatted(bist & 0x0f));
        }
        if (headerType == PciRegisters.HEADER_TYPE_NORMAL) {
            bars(command);
            rom(command);
            new LspciCapabilities(config, options.verbose(), out).show();
        }
    }

    private void bars(int command) {
        int count = PciRegisters.BAR_COUNT;
        for (int i = 0; i < count; i++) {
            int first = i;
            long flags = config.u32(PciRegisters.barOffset(i));
            if (flags == 0xffff_ffffL) {
                flags = 0;
            }
            long size = barSizes[i] > 0 ? barSizes[i] : 0;
            if (flags == 0 && size == 0) {
                continue;
            }
            out.append(options.verbose() > 1 ? "\tRegion " + first + ": " : "\t");
            if ((flags & BaseAddress.SPACE_IO) != 0) {
                long address = flags & BaseAddress.IO_ADDRESS_MASK;
                out.append("I/O ports at ");
                if (address != 0 || (command & PciRegisters.Command.IO_SPACE) != 0) {
                    out.append("%04x".formatted(address));
                } else {
                    out.append("<unassigned>");
                }
                if ((command & PciRegisters.Command.IO_SPACE) == 0) {
                    out.append(" [disabled]");
                }
            } else {
                int type = (int) (flags & BaseAddress.MEMORY_TYPE_MASK);
                long address = flags & BaseAddress.MEMORY_ADDRESS_MASK;
                boolean broken = false;
                if (type == BaseAddress.MEMORY_TYPE_64) {
                    if (i >= count - 1) {
                        broken = true;
                    } else {
                        i++;
                        address |= config.u32(PciRegisters.barOffset(i)) << 32;
                    }
                }
                out.append("Memory at ");
                if (broken) {
                    out.append("<broken-64-bit-slot>");
                } else if (address != 0) {
                    out.append("%08x".formatted(address));
                } else {
                    out.append("<unassigned>");
                }
                out.append(" (").append(switch (type) {
                    case BaseAddress.MEMORY_TYPE_32 -> "32-bit";
                    case BaseAddress.MEMORY_TYPE_64 -> "64-bit";
                    case 2 -> "low-1M";
                    default -> "type 3";
                }).append(", ").append((flags & BaseAddress.MEMORY_PREFETCHABLE) != 0 ? "" : "non-").append("prefetchable)");
                if ((command & PciRegisters.Command.MEMORY_SPACE) == 0) {
                    out.append(" [disabled]");
                }
            }
            size(size);
            out.append('\n');
        }
    }

    private void rom(int command) {
        long register = config.u32(PciRegisters.ROM_ADDRESS);
        if (register == 0xffff_ffffL) {
            register = 0;
        }
        long size = romSize > 0 ? romSize : 0;
        if (register == 0 && size == 0) {
            return;
        }
        long address = register & Rom.ADDRESS_MASK;
        out.append("\tExpansion ROM at ").append(address != 0 ? "%08x".formatted(address) : "<unassigned>");
        if ((register & Rom.ENABLE) == 0) {
            out.append(" [disabled]");
        } else if ((command & PciRegisters.Command.MEMORY_SPACE) == 0) {
            out.append(" [disabled by cmd]");
        }
        size(size);
        out.append('\n');
    }

    /** lspci's {@code [size=256]}, {@code [size=4K]}, {@code [size=1M]}. */
    private void size(long size) {
        if (size == 0) {
            return;
        }
        String[] suffixes = {"", "K", "M", "G", "T"};
        int i = 0;
        while (i < suffixes.length - 1 && size % 1024 == 0) {
            size /= 1024;
            i++;
        }
        out.append(" [size=").append(size).append(suffixes[i]).append(']');
    }

    private void hexDump() {
        int headerType = config.u8(PciRegisters.HEADER_TYPE) & HEADER_TYPE_MASK;
        int count;
        if (options.hex() >= 4 && config.size() >= HEX_EXTENDED) {
            count = HEX_EXTENDED;
        } else if (options.hex() >= 3) {
            count = HEX_STANDARD;
        } else {
            count = headerType == HEADER_TYPE_CARDBUS ? HEX_CARDBUS : HEX_BASIC;
        }
        count = Math.min(count, config.size());
        for (int i = 0; i < count; i++) {
            if ((i & 15) == 0) {
                out.append("%02x:".formatted(i));
            }
            out.append(" %02x".formatted(config.u8(i)));
            if ((i & 15) == 15) {
                out.append('\n');
            }
        }
        if ((count & 15) != 0) {
            out.append('\n');
        }
    }
}
