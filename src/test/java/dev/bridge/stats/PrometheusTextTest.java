package dev.bridge.stats;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PrometheusTextTest {

    static Snapshot snapshot() {
        RequestCounters http = new RequestCounters();
        http.end(200, 10, 500);
        http.end(200, 10, 3_000);
        http.end(500, 22, 40_000);
        long[] h = new long[RequestCounters.SIZE];
        http.addTo(h);
        WorkerStats w1 = new WorkerStats(h, new long[RequestCounters.SIZE], 1,
                List.of(new WorkerStats.Core(3, true)));
        Snapshot.Worker worker = new Snapshot.Worker(1, 4242, 2, "ready", true, "busy", 50 << 20, 2L << 30,
                1_700_000_000, 2, 1, 3, w1);
        return new Snapshot("1.2.3", 4000, 1000, 1000, "/srv/app", 1_700_000_100,
                List.of(new Snapshot.Listener("127.0.0.1:8000", "http", 3, 1024, 2),
                        new Snapshot.Listener("/run/a \"b\".sock", "uwsgi", 0, 100, 0)),
                List.of(worker), w1, 1, 7, 1, 1,
                new Snapshot.Reloads(2, 1, new long[] {0, 1, 1, 0, 0, 0, 0, 0, 0}, 2.75), 2, null, 1, 5, 1, 1,
                true, "serving");
    }

    @Test
    void countersHistogramsAndGaugesAreWrittenInTheTextFormat() {
        String text = PrometheusText.render(snapshot());
        assertTrue(text.contains("# TYPE bridge_requests_total counter\n"), text);
        assertTrue(text.contains("bridge_requests_total{protocol=\"http\",status=\"2xx\"} 2\n"), text);
        assertTrue(text.contains("bridge_requests_total{protocol=\"http\",status=\"5xx\"} 1\n"), text);
        assertTrue(text.contains("bridge_requests_total{protocol=\"uwsgi\",status=\"2xx\"} 0\n"), text);
        // cumulative buckets: 0.5 ms and 3 ms by 5 ms, 40 ms by 50 ms
        assertTrue(text.contains("bridge_request_duration_seconds_bucket{protocol=\"http\",le=\"0.001\"} 1\n"), text);
        assertTrue(text.contains("bridge_request_duration_seconds_bucket{protocol=\"http\",le=\"0.005\"} 2\n"), text);
        assertTrue(text.contains("bridge_request_duration_seconds_bucket{protocol=\"http\",le=\"0.025\"} 2\n"), text);
        assertTrue(text.contains("bridge_request_duration_seconds_bucket{protocol=\"http\",le=\"0.05\"} 3\n"), text);
        assertTrue(text.contains("bridge_request_duration_seconds_bucket{protocol=\"http\",le=\"+Inf\"} 3\n"), text);
        assertTrue(text.contains("bridge_request_duration_seconds_sum{protocol=\"http\"} 0.0435\n"), text);
        assertTrue(text.contains("bridge_request_duration_seconds_count{protocol=\"http\"} 3\n"), text);
        assertTrue(text.contains("bridge_response_body_bytes_total{protocol=\"http\"} 42\n"), text);
        assertTrue(text.contains("bridge_requests_in_flight 1\n"), text);
        assertTrue(text.contains("bridge_listen_queue{listener=\"127.0.0.1:8000\",protocol=\"http\"} 3\n"), text);
        assertTrue(text.contains("bridge_listen_queue{listener=\"/run/a \\\"b\\\".sock\",protocol=\"uwsgi\"} 0\n"), text);
        assertTrue(text.contains("bridge_listen_queue_full_total{listener=\"127.0.0.1:8000\",protocol=\"http\"} 2\n"), text);
        assertTrue(text.contains("bridge_kernel_listen_overflows_total 7\n"), text);
        assertTrue(text.contains("bridge_worker_rss_bytes{worker=\"1\",pid=\"4242\"} 52428800\n"), text);
        assertTrue(text.contains("bridge_reloads_total{outcome=\"ok\"} 2\n"), text);
        assertTrue(text.contains("bridge_reloads_total{outcome=\"failed\"} 1\n"), text);
        assertTrue(text.contains("bridge_reload_duration_seconds_bucket{le=\"1\"} 1\n"), text);
        assertTrue(text.contains("bridge_reload_duration_seconds_bucket{le=\"2\"} 2\n"), text);
        assertTrue(text.contains("bridge_reload_duration_seconds_bucket{le=\"+Inf\"} 2\n"), text);
        assertTrue(text.contains("bridge_reload_duration_seconds_sum 2.75\n"), text);
        assertTrue(text.contains("bridge_worker_respawns_total 1\n"), text);
        assertTrue(text.contains("bridge_harakiri_kills_total 1\n"), text);
        assertTrue(text.contains("bridge_ready 1\n"), text);
    }

    @Test
    void everySampleBelongsToTheFamilyDeclaredBeforeIt() {
        String family = null;
        for (String line : PrometheusText.render(snapshot()).split("\n")) {
            if (line.startsWith("# TYPE ")) {
                family = line.split(" ")[2];
            } else if (!line.startsWith("#")) {
                String name = line.split("[{ ]")[0];
                String base = name.replaceAll("_(bucket|sum|count)$", "");
                assertTrue(name.equals(family) || base.equals(family), line + " after # TYPE " + family);
            }
        }
    }

    @Test
    void labelValuesAreEscaped() {
        assertEquals("a\\\\b\\\"c\\nd", PrometheusText.label("a\\b\"c\nd"));
    }
}
