package dev.bridge.stats;

import java.util.List;

/**
 * The server's state at one moment, as the master gathered it for one question: what {@link UwsgiStatsJson}
 * and {@link PrometheusText} render. Plain data, made on the master's main thread.
 *
 * @param version        the bridge's version
 * @param epochSeconds   when it was taken
 * @param listeners      each listener and its accept queue, from the kernel
 * @param workers        the worker processes serving or retiring (not standbys)
 * @param totals         the requests of every worker since the master started, live and exited
 * @param inFlight       requests in Python now, over all workers
 * @param kernelOverflows the kernel's TcpExtListenOverflows of this network namespace (every TCP listener in
 *                       it, not only ours), or -1 where unknown
 * @param respawns       workers that died unexpectedly and were started again
 * @param harakiris      workers killed by --harakiri
 * @param reloads        reloads finished, per outcome, and the duration histogram of the successful ones
 * @param pythonNice     nice levels below the event loop the next workers' Python threads start at
 * @param generation     the newest generation started
 * @param reloadStage    a running reload's stage ("booting", "serving N of M"), or null
 * @param ready          what /health/ready answers, and why
 */
public record Snapshot(String version, long pid, long uid, long gid, String cwd, long epochSeconds,
                       List<Listener> listeners, List<Worker> workers, WorkerStats totals, int inFlight,
                       long kernelOverflows, long respawns, long harakiris, Reloads reloads, int generation,
                       String reloadStage, int standbys, int pythonNice, int interpreters, int threads,
                       boolean ready, String readiness) {

    /**
     * A listener: its name as uWSGI writes it ({@code 127.0.0.1:8000}, a path), protocol, the connections
     * waiting in its accept queue and the queue's length (-1 when the kernel could not say), and how many
     * of the master's once-a-second looks found the queue full (uWSGI's listen_queue_errors).
     */
    public record Listener(String name, String proto, long queue, long maxQueue, long queueFull) {}

    /**
     * A worker process.
     *
     * @param id            its slot (uWSGI's worker id)
     * @param state         the master's view: booting, ready, retiring, stopping
     * @param status        uWSGI's: idle, busy, cheap (not serving yet), pause (retiring or stopping)
     * @param rss           resident memory, in bytes
     * @param vsz           virtual memory, in bytes
     * @param lastSpawn     when it was started, epoch seconds
     * @param respawnCount  processes started for this slot so far (uWSGI counts the first one)
     * @param harakiriCount harakiri kills of this slot so far
     * @param deltaRequests requests since the previous stats answer
     * @param stats         what it counted, or {@link WorkerStats#EMPTY} if it did not answer in time
     */
    public record Worker(int id, long pid, int generation, String state, boolean accepting, String status, long rss,
                         long vsz, long lastSpawn, long respawnCount, long harakiriCount, long deltaRequests,
                         WorkerStats stats) {}

    /** Reloads that finished, per outcome; the durations of those that succeeded, as a histogram. */
    public record Reloads(long ok, long failed, long[] durationBuckets, double durationSecondsSum) {
        /** Upper bounds of the reload duration buckets but the last, in seconds. */
        public static final double[] BUCKET_SECONDS = {0.5, 1, 2, 5, 10, 30, 60, 120};
    }
}
