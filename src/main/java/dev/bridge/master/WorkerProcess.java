package dev.bridge.master;

import io.netty.channel.Channel;

/**
 * The master's record of one worker process. Master main thread only.
 *
 * <p>A worker occupies a numbered slot (1..N) and keeps the number across respawns; its generation says
 * which deployment of the app it runs (it grows with each reload).
 */
final class WorkerProcess {

    enum State { BOOTING, READY, RETIRING, STOPPING }

    final int slot;
    final int generation;
    final long pid;
    final long spawnedAt = System.nanoTime();
    /** Requests after which this worker is replaced (max-requests plus its jitter), or 0. */
    final long maxRequests;
    Channel control;
    State state = State.BOOTING;
    long readyAt;
    long served;
    long busySince;
    String busySummary;
    long lastHeartbeat = System.nanoTime();
    /** When a retiring or stopping worker gets SIGKILL (System.nanoTime), or 0. */
    long killAt;
    /** Killed because it is no longer wanted (a replacement overtaken by a reload, or by an aborted one). */
    boolean abandoned;
    /** SIGKILL was sent: only reaping is left. */
    boolean killed;
    /** Set once a replacement has been asked for, so it is asked for once. */
    boolean replacing;

    WorkerProcess(int slot, int generation, long pid, long maxRequests) {
        this.slot = slot;
        this.generation = generation;
        this.pid = pid;
        this.maxRequests = maxRequests;
    }

    String name() {
        return "worker " + slot + " (pid " + pid + ")";
    }

    void send(String line) {
        if (control != null && control.isActive()) {
            control.writeAndFlush(line + "\n");
        }
    }
}
