package dev.bridge.master;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Reads a process's {@code /proc/PID/status}: its memory and its user. Any thread; a process that is gone
 * (or a system without /proc) reads as zeros.
 */
record ProcStatus(long rssBytes, long vszBytes, long uid, long gid) {

    static final ProcStatus NONE = new ProcStatus(0, 0, -1, -1);

    /** {@code pid}'s status; "self" for this process. */
    static ProcStatus of(String pid) {
        long rss = 0;
        long vsz = 0;
        long uid = -1;
        long gid = -1;
        try {
            for (String line : Files.readAllLines(Path.of("/proc", pid, "status"))) {
                if (line.startsWith("VmRSS:")) {
                    rss = kilobytes(line) * 1024;
                } else if (line.startsWith("VmSize:")) {
                    vsz = kilobytes(line) * 1024;
                } else if (line.startsWith("Uid:")) {
                    uid = Long.parseLong(line.split("\\s+")[1]); // real, effective, saved, fs: the real one
                } else if (line.startsWith("Gid:")) {
                    gid = Long.parseLong(line.split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException gone) {
            return NONE;
        }
        return new ProcStatus(rss, vsz, uid, gid);
    }

    static ProcStatus of(long pid) {
        return of(Long.toString(pid));
    }

    private static long kilobytes(String line) {
        return Long.parseLong(line.replaceAll("[^0-9]", ""));
    }
}
