package io.jvfio.bench;

/**
 * One job of fio's terse output (version 3), the line each guest bench prints per job: field 3 is
 * the job name, 7 and 8 the read bandwidth (KiB/s) and IOPS, 48 and 49 the write ones.
 */
record FioTerse(String job, double readKiBPerSecond, double readIops, double writeKiBPerSecond, double writeIops) {
    static FioTerse parse(String line) {
        String[] f = line.split(";");
        if (f.length < 49) {
            throw new IllegalArgumentException("not fio's terse output (version 3): " + line);
        }
        return new FioTerse(f[2], Double.parseDouble(f[6]), Double.parseDouble(f[7]),
                Double.parseDouble(f[47]), Double.parseDouble(f[48]));
    }

    /** The direction that did the I/O: a job reads or writes, not both. */
    boolean wrote() {
        return writeIops > readIops;
    }

    double kiBPerSecond() {
        return wrote() ? writeKiBPerSecond : readKiBPerSecond;
    }

    double iops() {
        return wrote() ? writeIops : readIops;
    }
}
