package dev.bridge.stats;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertTrue;

class UwsgiStatsJsonTest {

    @Test
    void theDocumentHasUwsgisLayoutWithTrueFigures() {
        String json = UwsgiStatsJson.render(PrometheusTextTest.snapshot());
        assertTrue(json.startsWith("{\"version\":\"1.2.3\",\"listen_queue\":3,\"listen_queue_errors\":2,"), json);
        assertTrue(json.contains("\"pid\":4000,\"uid\":1000,\"gid\":1000,\"cwd\":\"/srv/app\""), json);
        assertTrue(json.contains("{\"name\":\"127.0.0.1:8000\",\"proto\":\"http\",\"queue\":3,\"max_queue\":1024,"
                + "\"shared\":0,\"can_offload\":0}"), json);
        assertTrue(json.contains("{\"name\":\"/run/a \\\"b\\\".sock\",\"proto\":\"uwsgi\""), json);
        // 3 requests in 43,500 us: avg_rt 14,500 us
        assertTrue(json.contains("{\"id\":1,\"pid\":4242,\"accepting\":1,\"requests\":3,\"delta_requests\":3,"
                + "\"exceptions\":1,\"harakiri_count\":1,\"signals\":0,\"signal_queue\":0,\"status\":\"busy\","
                + "\"rss\":52428800,\"vsz\":2147483648,\"running_time\":43500,\"last_spawn\":1700000000,"
                + "\"respawn_count\":2,\"tx\":42,\"avg_rt\":14500,"), json);
        assertTrue(json.contains("\"cores\":[{\"id\":0,\"requests\":3,\"static_requests\":0,\"routed_requests\":0,"
                + "\"offloaded_requests\":0,\"write_errors\":0,\"read_errors\":0,\"in_request\":1,\"vars\":[]}]"), json);
        assertTrue(json.endsWith("\"bridge\":{\"generation\":2,\"reloading\":false,\"reload_stage\":null,\"reloads_ok\":2,"
                + "\"reloads_failed\":1,\"standbys\":1,\"python_nice\":5,\"interpreters_per_worker\":1,"
                + "\"threads_per_worker\":1,\"ready\":true,\"readiness\":\"serving\",\"respawns\":1,\"harakiri_kills\":1}}"), json);
    }
}
