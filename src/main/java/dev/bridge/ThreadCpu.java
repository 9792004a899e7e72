package dev.bridge;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * What the Linux scheduler says about one thread of this process, from {@code /proc/self/task/TID/schedstat}:
 * the CPU time it got and the time it spent runnable but waiting for a CPU, both in nanoseconds since the
 * thread started. Reading one is a small procfs read (microseconds); any thread may do it.
 *
 * @param runNanos  time on a CPU
 * @param waitNanos time runnable, waiting in a run queue
 */
public record ThreadCpu(long runNanos, long waitNanos) {

    /** The calling thread's Linux thread id (what {@code ps -L} shows), or -1 when /proc cannot tell. */
    public static long currentThreadId() {
        try {
            // "/proc/thread-self" links to "PID/task/TID".
            Path link = Files.readSymbolicLink(Path.of("/proc/thread-self"));
            return Long.parseLong(link.getFileName().toString());
        } catch (IOException | RuntimeException e) {
            return -1;
        }
    }

    /** The figures of thread {@code tid} of this process now. */
    public static ThreadCpu of(long tid) throws IOException {
        return parse(Files.readString(Path.of("/proc/self/task/" + tid + "/schedstat")));
    }

    /** Parses a schedstat line: "run_ns wait_ns timeslices". */
    static ThreadCpu parse(String schedstat) throws IOException {
        String[] f = schedstat.trim().split(" ");
        if (f.length < 2) {
            throw new IOException("unexpected schedstat: " + schedstat.trim());
        }
        try {
            return new ThreadCpu(Long.parseLong(f[0]), Long.parseLong(f[1]));
        } catch (NumberFormatException e) {
            throw new IOException("unexpected schedstat: " + schedstat.trim());
        }
    }

    /** The figures of two threads together. */
    public ThreadCpu plus(ThreadCpu other) {
        return new ThreadCpu(runNanos + other.runNanos, waitNanos + other.waitNanos);
    }

    /** What this thread got between {@code earlier} and this reading. */
    public ThreadCpu minus(ThreadCpu earlier) {
        return new ThreadCpu(runNanos - earlier.runNanos, waitNanos - earlier.waitNanos);
    }
}
