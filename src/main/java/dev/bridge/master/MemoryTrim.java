package dev.bridge.master;

import dev.bridge.Log;

import java.util.concurrent.TimeUnit;

/**
 * Gives the master's unused memory back once its workers have settled. Starting the workers leaves the
 * master JVM holding memory it no longer needs: a heap sized for a large machine, and malloc arenas freed
 * by the JIT compiler and class loading but kept by glibc. A full GC (G1 then shrinks the heap) and
 * {@code malloc_trim(0)} return it: measured here, the master's PSS went from 112 MB to 55 MB (Flask, 2
 * workers). It runs {@value #QUIET_MILLIS} ms after the last worker change (a worker ready or gone), so
 * a reload or a respawn storm trims once, at its end; it takes a few milliseconds and the master is not on
 * any request's path. Master main thread only.
 */
final class MemoryTrim {

    /** How long after the last change of workers the master trims, in milliseconds. */
    static final long QUIET_MILLIS = 6000;

    /** A trim is due at {@link #dueAt}. */
    private boolean due;
    /** When the trim is due (System.nanoTime()). */
    private long dueAt;

    /**
     * How long after the trim its outcome is read, in milliseconds: the collector gives the heap back to the
     * system after the collection returns (read at once, resident memory showed 72 -> 80 MB; a second later,
     * 57 MB).
     */
    static final long SETTLE_MILLIS = 1000;

    /** Resident memory before the last trim, in KiB, until its outcome is logged; -1 when none is pending. */
    private long trimmedFromKb = -1;
    private long reportAt;

    /** A worker became ready or went away: trim once things have been quiet for a while. */
    void workersChanged() {
        due = true;
        dueAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(QUIET_MILLIS);
    }

    /** Trims if it is due. Called on every tick of the master's loop. */
    void tick() {
        long now = System.nanoTime();
        if (trimmedFromKb >= 0 && now - reportAt >= 0) {
            Log.get().info("memory trim: resident " + trimmedFromKb / 1024 + " MB -> " + residentKb() / 1024 + " MB");
            trimmedFromKb = -1;
        }
        if (!due || now - dueAt < 0) {
            return;
        }
        due = false;
        trimmedFromKb = residentKb();
        System.gc();
        Posix.mallocTrim();
        reportAt = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(SETTLE_MILLIS);
    }

    /** This process's resident memory in KiB (VmRSS), or 0 where /proc cannot tell. */
    static long residentKb() {
        return ProcStatus.of("self").rssBytes() / 1024;
    }
}
