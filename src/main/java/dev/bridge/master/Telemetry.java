package dev.bridge.master;

import dev.bridge.Log;
import dev.bridge.config.Config;
import dev.bridge.config.ListenAddress;
import dev.bridge.stats.PrometheusText;
import dev.bridge.stats.Snapshot;
import dev.bridge.stats.StatsServer;
import dev.bridge.stats.UwsgiStatsJson;
import dev.bridge.stats.WorkerStats;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * The master's side of the stats: what only the master knows (respawns, harakiri kills, reloads, the
 * listeners' queues, exited workers' requests), and the questions of the stats server in progress. When asked
 * for the JSON document or the metrics, it asks every worker ({@code STATS}) and answers once all replied or
 * {@value #GATHER_MILLIS} ms passed, with the last figures of those that did not. Nothing is asked of the
 * workers otherwise. Master main thread only.
 */
final class Telemetry {

    /** Longest wait for the workers' answers to one question, in milliseconds. */
    static final long GATHER_MILLIS = 250;
    /** How often the listeners' accept queues are looked at for listen_queue_errors, in milliseconds. */
    static final long QUEUE_SAMPLE_MILLIS = 1000;
    /** How long an exited worker's last figures may still be corrected by its final stats line, in milliseconds. */
    static final long EXITED_GRACE_MILLIS = 5000;

    /** One question waiting for the workers' answers. */
    private record Gathering(StatsServer.Question question, Consumer<StatsServer.Answer> reply, Set<Long> pending,
                             long deadline) {}

    /** An exited worker's figures, already counted in {@link #exited}. */
    private record Exited(WorkerStats stats, long at) {}

    private final Config config;
    private final String version;
    private final long kernelOverflowsAtStart = kernelListenOverflows();
    private final Map<Integer, Long> spawnsPerSlot = new HashMap<>();
    private final Map<Integer, Long> harakirisPerSlot = new HashMap<>();
    private long respawns;
    private long harakiris;
    private long reloadsOk;
    private long reloadsFailed;
    private final long[] reloadBuckets = new long[Snapshot.Reloads.BUCKET_SECONDS.length + 1];
    private double reloadSeconds;
    /** Requests of the workers that exited, all protocols. */
    private WorkerStats exited = WorkerStats.EMPTY;
    private final Map<Long, Exited> recentlyExited = new HashMap<>();
    private long[] queueFull = new long[0];
    private long lastQueueSample;
    private final List<Gathering> gatherings = new ArrayList<>();

    Telemetry(Config config) {
        this.config = config;
        String v = Telemetry.class.getPackage().getImplementationVersion();
        this.version = v == null ? "dev" : v;
    }

    /** A process was started for {@code slot} (its first, a respawn, a replacement). */
    void spawned(int slot) {
        spawnsPerSlot.merge(slot, 1L, Long::sum);
    }

    /** A worker died unexpectedly and its slot is served again. */
    void respawned() {
        respawns++;
    }

    void harakiri(int slot) {
        harakiris++;
        harakirisPerSlot.merge(slot, 1L, Long::sum);
    }

    void reloadSucceeded(long millis) {
        reloadsOk++;
        double s = millis / 1000.0;
        reloadSeconds += s;
        int b = 0;
        while (b < Snapshot.Reloads.BUCKET_SECONDS.length && s > Snapshot.Reloads.BUCKET_SECONDS[b]) {
            b++;
        }
        reloadBuckets[b]++;
    }

    void reloadFailed() {
        reloadsFailed++;
    }

    /** A worker's {@code ST} line arrived ({@code w} null: it has exited meanwhile, {@code pid} says who). */
    void statsLine(long pid, WorkerProcess w, String line) {
        WorkerStats stats;
        try {
            stats = WorkerStats.parse(line);
        } catch (RuntimeException bad) {
            Log.get().warn("pid " + pid + " sent a bad stats line: " + line);
            return;
        }
        if (w != null) {
            w.stats = stats;
        } else {
            Exited e = recentlyExited.get(pid);
            if (e != null) { // its final line, after the master reaped it: count what it served since the last one
                exited = exited.plus(stats).plus(negate(e.stats()));
                recentlyExited.put(pid, new Exited(stats, e.at()));
            }
        }
        for (Gathering g : gatherings) {
            g.pending().remove(pid);
        }
    }

    /** A worker was reaped: its figures join the exited ones. */
    void exited(WorkerProcess w) {
        exited = exited.plus(w.stats);
        recentlyExited.put(w.pid, new Exited(w.stats, System.nanoTime()));
    }

    /**
     * Starts answering a question: asks {@code asked} (the workers) for their figures; {@code answer} makes the
     * answer once they replied or the wait is over.
     */
    void ask(StatsServer.Question question, Consumer<StatsServer.Answer> reply, Collection<WorkerProcess> asked) {
        Set<Long> pending = new HashSet<>();
        for (WorkerProcess w : asked) {
            if (w.control != null && w.control.isActive()) {
                pending.add(w.pid);
                w.send(Control.STATS);
            }
        }
        gatherings.add(new Gathering(question, reply, pending,
                System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(GATHER_MILLIS)));
    }

    /**
     * Answers the questions whose workers all replied, or whose wait is over, with {@code snapshot}; looks at
     * the listeners' queues once a second. Every master tick.
     */
    void tick(int[] listenFds, java.util.function.Supplier<Snapshot> snapshot) {
        long now = System.nanoTime();
        // listen_queue_errors is only ever read through the stats server: without one, nothing to look at
        if (config.observability().stats() != null
                && now - lastQueueSample > TimeUnit.MILLISECONDS.toNanos(QUEUE_SAMPLE_MILLIS)) {
            lastQueueSample = now;
            sampleQueues(listenFds);
        }
        recentlyExited.values().removeIf(e -> now - e.at() > TimeUnit.MILLISECONDS.toNanos(EXITED_GRACE_MILLIS));
        Snapshot taken = null;
        for (Iterator<Gathering> it = gatherings.iterator(); it.hasNext(); ) {
            Gathering g = it.next();
            if (g.pending().isEmpty() || now - g.deadline() > 0) {
                it.remove();
                taken = taken == null ? snapshot.get() : taken;
                g.reply().accept(g.question() == StatsServer.Question.METRICS
                        ? new StatsServer.Answer(200, StatsServer.METRICS_TYPE, PrometheusText.render(taken))
                        : new StatsServer.Answer(200, StatsServer.JSON_TYPE, UwsgiStatsJson.render(taken)));
            }
        }
    }

    private void sampleQueues(int[] listenFds) {
        if (queueFull.length != listenFds.length) {
            queueFull = new long[listenFds.length];
        }
        for (int i = 0; i < listenFds.length; i++) {
            long[] q = queue(listenFds[i]);
            if (q[1] > 0 && q[0] >= q[1]) {
                queueFull[i]++;
            }
        }
    }

    /** {waiting, length} of a listener's accept queue, or {-1, -1} when unknown (not ours, or closed). */
    private static long[] queue(int fd) {
        long packed = fd < 0 ? -1 : Posix.listenQueue(fd);
        return packed < 0 ? new long[] {-1, -1} : new long[] {packed >>> 32, packed & 0xffffffffL};
    }

    /** The picture of now, for the renderers. */
    Snapshot snapshot(Collection<WorkerProcess> workers, int[] listenFds, int generation, String reloadStage,
                      int standbys, int pythonNice, String notReady) {
        List<Snapshot.Listener> listeners = new ArrayList<>();
        List<ListenAddress> addresses = config.listeners();
        for (int i = 0; i < addresses.size(); i++) {
            ListenAddress a = addresses.get(i);
            long[] q = i < listenFds.length ? queue(listenFds[i]) : new long[] {-1, -1};
            String name = a.isUnix() ? a.unixPath() : a.host() + ":" + a.port();
            listeners.add(new Snapshot.Listener(name, a.protocol() == ListenAddress.Protocol.UWSGI ? "uwsgi" : "http",
                    q[0], q[1], i < queueFull.length ? queueFull[i] : 0));
        }
        long wall = System.currentTimeMillis();
        WorkerStats totals = exited;
        int inFlight = 0;
        List<Snapshot.Worker> list = new ArrayList<>();
        for (WorkerProcess w : workers) {
            if (w.isStandby()) {
                continue;
            }
            totals = totals.plus(w.stats);
            inFlight += w.stats.inFlight();
            ProcStatus proc = ProcStatus.of(w.pid);
            long requests = w.stats.requests();
            String state = w.state.name().toLowerCase(java.util.Locale.ROOT);
            boolean serving = w.state == WorkerProcess.State.READY && w.serving;
            String status = !serving && w.state == WorkerProcess.State.BOOTING ? "cheap"
                    : !serving ? "pause" : w.stats.inFlight() > 0 ? "busy" : "idle";
            list.add(new Snapshot.Worker(w.slot, w.pid, w.generation, state, serving, status, proc.rssBytes(),
                    proc.vszBytes(), w.spawnedEpochMillis / 1000, spawnsPerSlot.getOrDefault(w.slot, 1L),
                    harakirisPerSlot.getOrDefault(w.slot, 0L), requests - w.requestsAtLastAnswer, w.stats));
            w.requestsAtLastAnswer = requests;
        }
        list.sort(java.util.Comparator.comparingInt(Snapshot.Worker::id).thenComparingInt(Snapshot.Worker::generation));
        ProcStatus self = ProcStatus.of("self");
        long overflows = kernelListenOverflows();
        return new Snapshot(version, ProcessHandle.current().pid(), self.uid(), self.gid(),
                Path.of("").toAbsolutePath().toString(), wall / 1000, listeners, list, totals, inFlight,
                overflows < 0 || kernelOverflowsAtStart < 0 ? -1 : overflows - kernelOverflowsAtStart, respawns,
                harakiris, new Snapshot.Reloads(reloadsOk, reloadsFailed, reloadBuckets.clone(), reloadSeconds),
                generation, reloadStage, standbys, pythonNice, config.interpreters(), config.threads(),
                notReady == null, notReady == null ? "serving" : notReady);
    }

    private static WorkerStats negate(WorkerStats s) {
        long[] h = s.http().clone();
        long[] u = s.uwsgi().clone();
        for (int i = 0; i < h.length; i++) {
            h[i] = -h[i];
            u[i] = -u[i];
        }
        return new WorkerStats(h, u, -s.exceptions(), List.of());
    }

    /** The kernel's TcpExt ListenOverflows of this network namespace, or -1 where /proc cannot tell. */
    static long kernelListenOverflows() {
        try {
            List<String> lines = Files.readAllLines(Path.of("/proc/net/netstat"));
            for (int i = 0; i + 1 < lines.size(); i++) {
                if (lines.get(i).startsWith("TcpExt:") && lines.get(i + 1).startsWith("TcpExt:")) {
                    String[] names = lines.get(i).split("\\s+");
                    String[] values = lines.get(i + 1).split("\\s+");
                    for (int k = 1; k < names.length && k < values.length; k++) {
                        if (names[k].equals("ListenOverflows")) {
                            return Long.parseLong(values[k]);
                        }
                    }
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or no such counter
        }
        return -1;
    }
}
