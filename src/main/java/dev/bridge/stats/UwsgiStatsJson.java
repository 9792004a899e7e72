package dev.bridge.stats;

/**
 * Renders a {@link Snapshot} as uWSGI's stats document (the layout uwsgitop, uwsgi_exporter, Telegraf and
 * Netdata read), with the bridge's own state under a {@code "bridge"} key. Field meanings follow uWSGI's:
 * times in microseconds (avg_rt, running_time), memory in bytes (rss, vsz), last_spawn in epoch seconds.
 * Any thread.
 */
public final class UwsgiStatsJson {

    private UwsgiStatsJson() {}

    public static String render(Snapshot s) {
        StringBuilder sb = new StringBuilder(4096);
        Json j = new Json(sb).begin()
                .field("version", s.version())
                .field("listen_queue", s.listeners().stream().mapToLong(l -> Math.max(0, l.queue())).sum())
                .field("listen_queue_errors", s.listeners().stream().mapToLong(Snapshot.Listener::queueFull).sum())
                .field("signal_queue", 0)
                .field("load", s.inFlight())
                .field("pid", s.pid())
                .field("uid", s.uid())
                .field("gid", s.gid())
                .field("cwd", s.cwd());
        j.array("locks").endArray();
        j.array("sockets");
        for (Snapshot.Listener l : s.listeners()) {
            j.begin().field("name", l.name()).field("proto", l.proto()).field("queue", Math.max(0, l.queue()))
                    .field("max_queue", Math.max(0, l.maxQueue())).field("shared", 0).field("can_offload", 0).end();
        }
        j.endArray();
        j.array("workers");
        for (Snapshot.Worker w : s.workers()) {
            WorkerStats ws = w.stats();
            long requests = ws.requests();
            long micros = ws.total(RequestCounters.MICROS);
            j.begin().field("id", w.id()).field("pid", w.pid()).field("accepting", w.accepting() ? 1 : 0)
                    .field("requests", requests).field("delta_requests", w.deltaRequests())
                    .field("exceptions", ws.exceptions()).field("harakiri_count", w.harakiriCount())
                    .field("signals", 0).field("signal_queue", 0).field("status", w.status())
                    .field("rss", w.rss()).field("vsz", w.vsz()).field("running_time", micros)
                    .field("last_spawn", w.lastSpawn()).field("respawn_count", w.respawnCount())
                    .field("tx", ws.total(RequestCounters.TX)).field("avg_rt", requests == 0 ? 0 : micros / requests);
            j.array("apps").begin().field("id", 0).field("modifier1", 0).field("mountpoint", "")
                    .field("startup_time", 0).field("requests", requests).field("exceptions", ws.exceptions())
                    .field("chdir", "").end().endArray();
            j.array("cores");
            for (int c = 0; c < ws.cores().size(); c++) {
                WorkerStats.Core core = ws.cores().get(c);
                j.begin().field("id", c).field("requests", core.requests()).field("static_requests", 0)
                        .field("routed_requests", 0).field("offloaded_requests", 0).field("write_errors", 0)
                        .field("read_errors", 0).field("in_request", core.inRequest() ? 1 : 0);
                j.array("vars").endArray().end();
            }
            j.endArray();
            j.field("bridge_generation", w.generation()).field("bridge_state", w.state()).end();
        }
        j.endArray();
        j.object("bridge").field("generation", s.generation()).field("reloading", s.reloadStage() != null)
                .field("reload_stage", s.reloadStage()).field("reloads_ok", s.reloads().ok())
                .field("reloads_failed", s.reloads().failed()).field("standbys", s.standbys())
                .field("python_nice", s.pythonNice()).field("interpreters_per_worker", s.interpreters())
                .field("threads_per_worker", s.threads()).field("ready", s.ready()).field("readiness", s.readiness())
                .field("respawns", s.respawns()).field("harakiri_kills", s.harakiris()).end();
        j.end();
        return sb.toString();
    }
}
