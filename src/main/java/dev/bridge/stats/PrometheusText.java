package dev.bridge.stats;

/**
 * Renders a {@link Snapshot} in Prometheus' text exposition format (version 0.0.4): counters since the master
 * started (exited workers included), gauges of now. Checked by {@code promtool check metrics} in the tests.
 * Any thread.
 */
public final class PrometheusText {

    private static final String[] PROTOCOLS = {"http", "uwsgi"};
    /** The {@code le} labels of the request and reload duration buckets, the last one {@code +Inf}. */
    private static final String[] REQUEST_LE = leLabels(java.util.Arrays.stream(RequestCounters.BUCKET_MICROS)
            .mapToDouble(us -> us / 1e6).toArray());
    private static final String[] RELOAD_LE = leLabels(Snapshot.Reloads.BUCKET_SECONDS);

    private final StringBuilder out = new StringBuilder(8192);

    private PrometheusText() {}

    public static String render(Snapshot s) {
        PrometheusText p = new PrometheusText();
        p.write(s);
        return p.out.toString();
    }

    private void write(Snapshot s) {
        WorkerStats t = s.totals();
        family("bridge_info", "gauge", "The bridge's version.");
        sample("bridge_info", "version=\"" + label(s.version()) + "\"", 1);

        family("bridge_requests_total", "counter", "Responses finished, by protocol and status class.");
        for (String protocol : PROTOCOLS) {
            long[] c = block(t, protocol);
            for (int k = 0; k < 5; k++) {
                sample("bridge_requests_total", "protocol=\"" + protocol + "\",status=\"" + (k + 1) + "xx\"",
                        c[RequestCounters.STATUS_1XX + k]);
            }
        }
        family("bridge_request_duration_seconds", "histogram",
                "Time from a request's arrival to its response's last byte written, by protocol.");
        for (String protocol : PROTOCOLS) {
            long[] c = block(t, protocol);
            long cumulative = 0;
            for (int b = 0; b < RequestCounters.N_BUCKETS; b++) {
                cumulative += c[RequestCounters.BUCKETS + b];
                sample("bridge_request_duration_seconds_bucket", "protocol=\"" + protocol + "\",le=\"" + REQUEST_LE[b] + "\"",
                        cumulative);
            }
            sample("bridge_request_duration_seconds_sum", "protocol=\"" + protocol + "\"", c[RequestCounters.MICROS] / 1e6);
            sample("bridge_request_duration_seconds_count", "protocol=\"" + protocol + "\"", cumulative);
        }
        family("bridge_response_body_bytes_total", "counter", "Response body bytes sent, by protocol.");
        for (String protocol : PROTOCOLS) {
            sample("bridge_response_body_bytes_total", "protocol=\"" + protocol + "\"", block(t, protocol)[RequestCounters.TX]);
        }
        family("bridge_requests_in_flight", "gauge", "Requests in the app now.");
        sample("bridge_requests_in_flight", null, s.inFlight());
        family("bridge_app_exceptions_total", "counter", "Exceptions the app raised (each logged with its traceback).");
        sample("bridge_app_exceptions_total", null, t.exceptions());

        family("bridge_listen_queue", "gauge", "Connections waiting in a listener's accept queue (from the kernel).");
        for (Snapshot.Listener l : s.listeners()) {
            if (l.queue() >= 0) {
                sample("bridge_listen_queue", listener(l), l.queue());
            }
        }
        family("bridge_listen_queue_max", "gauge", "Length of a listener's accept queue (from the kernel).");
        for (Snapshot.Listener l : s.listeners()) {
            if (l.maxQueue() >= 0) {
                sample("bridge_listen_queue_max", listener(l), l.maxQueue());
            }
        }
        family("bridge_listen_queue_full_total", "counter",
                "The master's once-a-second looks that found a listener's accept queue full (uWSGI's listen_queue_errors).");
        for (Snapshot.Listener l : s.listeners()) {
            sample("bridge_listen_queue_full_total", listener(l), l.queueFull());
        }
        if (s.kernelOverflows() >= 0) {
            family("bridge_kernel_listen_overflows_total", "counter",
                    "Connections the kernel dropped because an accept queue was full (TcpExtListenOverflows), for every "
                            + "TCP listener of this network namespace, since the master started.");
            sample("bridge_kernel_listen_overflows_total", null, s.kernelOverflows());
        }

        family("bridge_workers", "gauge", "Worker processes, by the master's view of their state.");
        for (String state : new String[] {"booting", "ready", "retiring", "stopping"}) {
            sample("bridge_workers", "state=\"" + state + "\"", s.workers().stream().filter(w -> w.state().equals(state)).count());
        }
        family("bridge_worker_rss_bytes", "gauge", "Resident memory of each worker process.");
        for (Snapshot.Worker w : s.workers()) {
            sample("bridge_worker_rss_bytes", worker(w), w.rss());
        }
        family("bridge_worker_requests_total", "counter", "Requests each worker process served (resets when it is replaced).");
        for (Snapshot.Worker w : s.workers()) {
            sample("bridge_worker_requests_total", worker(w), w.stats().requests());
        }
        family("bridge_worker_respawns_total", "counter", "Workers that died unexpectedly and were started again.");
        sample("bridge_worker_respawns_total", null, s.respawns());
        family("bridge_harakiri_kills_total", "counter", "Workers killed by --harakiri.");
        sample("bridge_harakiri_kills_total", null, s.harakiris());
        family("bridge_standbys", "gauge", "Standby worker JVMs (booted without Python).");
        sample("bridge_standbys", null, s.standbys());
        family("bridge_generation", "gauge", "The newest generation of workers started (grows with each reload).");
        sample("bridge_generation", null, s.generation());
        family("bridge_reload_in_progress", "gauge", "1 while a reload runs.");
        sample("bridge_reload_in_progress", null, s.reloadStage() != null ? 1 : 0);
        family("bridge_reloads_total", "counter", "Reloads finished, by outcome.");
        sample("bridge_reloads_total", "outcome=\"ok\"", s.reloads().ok());
        sample("bridge_reloads_total", "outcome=\"failed\"", s.reloads().failed());
        family("bridge_reload_duration_seconds", "histogram", "Duration of the successful reloads: from the signal to the new generation serving.");
        long cumulative = 0;
        long[] buckets = s.reloads().durationBuckets();
        for (int b = 0; b < buckets.length; b++) {
            cumulative += buckets[b];
            sample("bridge_reload_duration_seconds_bucket", "le=\"" + RELOAD_LE[b] + "\"", cumulative);
        }
        sample("bridge_reload_duration_seconds_sum", null, s.reloads().durationSecondsSum());
        sample("bridge_reload_duration_seconds_count", null, cumulative);
        family("bridge_ready", "gauge", "1 when /health/ready answers 200.");
        sample("bridge_ready", null, s.ready() ? 1 : 0);
    }

    private static long[] block(WorkerStats t, String protocol) {
        return protocol.equals("http") ? t.http() : t.uwsgi();
    }

    private static String listener(Snapshot.Listener l) {
        return "listener=\"" + label(l.name()) + "\",protocol=\"" + l.proto() + "\"";
    }

    private static String worker(Snapshot.Worker w) {
        return "worker=\"" + w.id() + "\",pid=\"" + w.pid() + "\"";
    }

    private void family(String name, String type, String help) {
        out.append("# HELP ").append(name).append(' ').append(help.replace("\\", "\\\\").replace("\n", "\\n")).append('\n');
        out.append("# TYPE ").append(name).append(' ').append(type).append('\n');
    }

    private void sample(String name, String labels, double value) {
        out.append(name);
        if (labels != null) {
            out.append('{').append(labels).append('}');
        }
        out.append(' ');
        if (value == Math.rint(value) && Math.abs(value) < 1e15) {
            out.append((long) value);
        } else {
            out.append(value);
        }
        out.append('\n');
    }

    /** A label value escaped as the format wants: backslash, double quote and newline. */
    static String label(String v) {
        return v.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n");
    }

    /** Bucket bounds in seconds as labels ({@code 0.005}, {@code 1}), then {@code +Inf}. */
    private static String[] leLabels(double[] bounds) {
        String[] out = new String[bounds.length + 1];
        for (int i = 0; i < bounds.length; i++) {
            out[i] = java.math.BigDecimal.valueOf(bounds[i]).stripTrailingZeros().toPlainString();
        }
        out[bounds.length] = "+Inf";
        return out;
    }
}
