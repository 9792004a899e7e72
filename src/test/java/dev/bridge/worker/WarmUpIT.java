package dev.bridge.worker;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A worker warms up before READY without calling the app and without a trace in the access log. */
class WarmUpIT {

    @Test
    void theFirstRequestIsTheAppsFirstCallAndTheWarmUpLeavesNoAccessLogLine() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "calls_app:application", "--threads", "2",
                "--uwsgi-socket", "127.0.0.1:0")) {
            RawHttp.Response r;
            try (RawHttp c = new RawHttp(server.port())) {
                r = c.exchange("GET / HTTP/1.1\r\nHost: x\r\n\r\n");
            }
            assertEquals(200, r.status());
            assertEquals("calls=1", r.text(), "the warm-up called the app");
            assertTrue(server.awaitLog("\"GET / HTTP/1.1\" 200", java.time.Duration.ofSeconds(5)), server.log());
            assertTrue(server.log().lines().noneMatch(l -> l.contains("warm-up")), server.log());
        }
    }
}
