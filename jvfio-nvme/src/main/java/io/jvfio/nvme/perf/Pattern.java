package io.jvfio.nvme.perf;

import java.util.Locale;

/** The access pattern of a perf run, named as spdk_nvme_perf's -w and fio's --rw name them. */
public enum Pattern {
    READ(false, 100), WRITE(false, 0), RANDREAD(true, 100), RANDWRITE(true, 0),
    /** Sequential, reads and writes mixed by the read percentage. */
    RW(false, -1),
    /** Random, reads and writes mixed by the read percentage. */
    RANDRW(true, -1);

    final boolean random;
    /** The share of reads, or -1 where the options' read percentage decides. */
    final int fixedReadPercent;

    Pattern(boolean random, int fixedReadPercent) {
        this.random = random;
        this.fixedReadPercent = fixedReadPercent;
    }

    /** The pattern's name in options: read, write, randread, randwrite, rw, randrw (mixed = randrw). */
    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }

    public boolean isRandom() {
        return random;
    }

    /** Whether the read percentage applies (rw, randrw). */
    public boolean isMixed() {
        return fixedReadPercent < 0;
    }

    public static Pattern of(String word) {
        if (word.equals("mixed")) {
            return RANDRW;
        }
        for (Pattern p : values()) {
            if (p.word().equals(word)) {
                return p;
            }
        }
        throw new IllegalArgumentException("unknown pattern '%s' (read, write, randread, randwrite, rw, randrw or mixed)"
                .formatted(word));
    }
}
