package dev.bridge.master;

import dev.bridge.stats.WorkerStats;
import io.netty.channel.Channel;

/**
 * The master's record of one worker process. Master main thread only.
 *
 * <p>A worker occupies a numbered slot (1..N) and keeps the number across respawns; its generation says
 * which deployment of the app it runs (it grows with each reload). A standby (a worker JVM booted ahead
 * of need, without Python) has slot {@value #STANDBY_SLOT} until the master gives it a slot; it then gets a
 * new record (same pid and control channel) as that slot's worker.
 */
final class WorkerProcess {

    /** A standby's slot: none yet. */
    static final int STANDBY_SLOT = 0;

    enum State { STANDBY_BOOTING, STANDBY, BOOTING, READY, RETIRING, STOPPING }

    final int slot;
    final int generation;
    final long pid;
    final long spawnedAt = System.nanoTime();
    final long spawnedEpochMillis = System.currentTimeMillis();
    /** Requests after which this worker is replaced (max-requests plus its jitter), or 0. */
    final long maxRequests;
    Channel control;
    State state;
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
    /** SERVE was sent: it accepts connections (until it retires or stops). */
    boolean serving;
    /** What it counted, as of its last ST line. */
    WorkerStats stats = WorkerStats.EMPTY;
    /** Its requests as of the previous stats answer (for delta_requests). */
    long requestsAtLastAnswer;

    WorkerProcess(int slot, int generation, long pid, long maxRequests) {
        this.slot = slot;
        this.generation = generation;
        this.pid = pid;
        this.maxRequests = maxRequests;
        this.state = slot == STANDBY_SLOT ? State.STANDBY_BOOTING : State.BOOTING;
    }

    boolean isStandby() {
        return slot == STANDBY_SLOT;
    }

    String name() {
        return (isStandby() ? "standby" : "worker " + slot) + " (pid " + pid + ")";
    }

    void send(String line) {
        if (control != null && control.isActive()) {
            control.writeAndFlush(line + "\n");
        }
    }
}
