package io.jvfio.server.zpci;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * What the s390 zPCI extension reports about a PCI function (the fields of
 * {@code linux/vfio_zdev.h}'s BASE, GROUP, UTIL and PFIP capabilities).
 *
 * @param utilString the utility string, sent in EBCDIC as the platform does
 * @param pfip       the PCI function path bytes
 */
public record ZpciConfig(long startDma, long endDma, int pchid, int vfn, int fmbLength, int pft, int gid,
                         long dasm, long msiAddress, boolean tlbRefresh, int mui, int noi, int maxstbl,
                         int pciVersion, String utilString, byte[] pfip) {
    public ZpciConfig {
        pfip = pfip.clone();
    }

    @Override
    public byte[] pfip() {
        return pfip.clone();
    }

    /** Plausible values for an emulated function: a 4 GiB-aligned DMA window below 2^44, 2048 MSIs. */
    public static ZpciConfig defaults() {
        return new ZpciConfig(0x1_0000_0000L, 0x0fff_ffff_ffffL, 0, 0, 0, 0, 0,
                0xffff_ffff_ffff_ffffL, 0xfe00_0000_0000_0000L, false, 0, 2048, 2048, 0, "JVFIO", new byte[0]);
    }

    /**
     * Parses {@code key=value,...} (numbers in decimal or 0x hex) over the defaults. Keys: start_dma,
     * end_dma, pchid, vfn, fmb_length, pft, gid, dasm, msi_addr, refresh (true/false), mui, noi,
     * maxstbl, version, util (text), pfip (hex bytes).
     */
    public static ZpciConfig parse(String spec) {
        Map<String, String> kv = new LinkedHashMap<>();
        if (!spec.isBlank()) {
            for (String part : spec.split(",")) {
                int eq = part.indexOf('=');
                if (eq <= 0) {
                    throw new IllegalArgumentException("zpci: '" + part + "' is not key=value");
                }
                kv.put(part.substring(0, eq).strip(), part.substring(eq + 1).strip());
            }
        }
        ZpciConfig d = defaults();
        ZpciConfig c = new ZpciConfig(
                num(kv.remove("start_dma"), d.startDma), num(kv.remove("end_dma"), d.endDma),
                (int) num(kv.remove("pchid"), d.pchid, 0xffff), (int) num(kv.remove("vfn"), d.vfn, 0xffff),
                (int) num(kv.remove("fmb_length"), d.fmbLength, 0xffff), (int) num(kv.remove("pft"), d.pft, 0xff),
                (int) num(kv.remove("gid"), d.gid, 0xff), num(kv.remove("dasm"), d.dasm), num(kv.remove("msi_addr"), d.msiAddress),
                bool(kv.remove("refresh"), d.tlbRefresh), (int) num(kv.remove("mui"), d.mui, 0xffff),
                (int) num(kv.remove("noi"), d.noi, 0xffff), (int) num(kv.remove("maxstbl"), d.maxstbl, 0xffff),
                (int) num(kv.remove("version"), d.pciVersion, 0xff),
                kv.containsKey("util") ? kv.remove("util") : d.utilString,
                kv.containsKey("pfip") ? java.util.HexFormat.of().parseHex(kv.remove("pfip")) : d.pfip);
        if (!kv.isEmpty()) {
            throw new IllegalArgumentException("zpci: unknown key(s) " + kv.keySet()
                    + "; known: start_dma, end_dma, pchid, vfn, fmb_length, pft, gid, dasm, msi_addr, refresh, mui, noi, maxstbl, version, util, pfip");
        }
        if (Long.compareUnsigned(c.startDma, c.endDma) > 0) {
            throw new IllegalArgumentException("zpci: start_dma is above end_dma");
        }
        return c;
    }

    private static long num(String v, long dflt) {
        if (v == null) {
            return dflt;
        }
        try {
            return v.startsWith("0x") || v.startsWith("0X") ? Long.parseUnsignedLong(v.substring(2), 16) : Long.parseUnsignedLong(v);
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("zpci: '" + v + "' is not a number");
        }
    }

    private static long num(String v, long dflt, long max) {
        long n = num(v, dflt);
        if (Long.compareUnsigned(n, max) > 0) {
            throw new IllegalArgumentException("zpci: " + v + " does not fit in its field (max " + max + ")");
        }
        return n;
    }

    private static boolean bool(String v, boolean dflt) {
        if (v == null) {
            return dflt;
        }
        return switch (v) {
            case "true", "1", "yes" -> true;
            case "false", "0", "no" -> false;
            default -> throw new IllegalArgumentException("zpci: refresh must be true or false, not '" + v + "'");
        };
    }
}
