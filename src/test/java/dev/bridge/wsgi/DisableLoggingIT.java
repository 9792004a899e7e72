package dev.bridge.wsgi;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.UUID;

import static dev.bridge.testing.Wire.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --disable-logging: no access lines; the app's own output still reaches the log. */
@Timeout(60)
class DisableLoggingIT {

    static BridgeServer server;

    @BeforeAll
    static void start() throws Exception {
        server = BridgeServer.start("--module", "conformance:app", "--disable-logging");
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void noAccessLinesButAppOutputStays() throws Exception {
        String m = "m" + UUID.randomUUID().toString().replace("-", "");
        try (RawHttp c = new RawHttp(server.port())) {
            assertEquals(200, c.exchange(get("/path?" + m)).status());
            assertEquals(404, c.exchange(get("/none-" + m)).status());
            assertEquals(500, c.exchange(get("/error?id=" + m)).status());
            assertEquals(200, c.exchange(get("/print?to=stdout&marker=" + m, "Connection: close")).status());
        }
        assertTrue(server.awaitLog("app says " + m, Duration.ofSeconds(5)), "print() output still reaches the log");
        Thread.sleep(500);
        String log = server.log();
        assertFalse(log.lines().anyMatch(l -> l.contains("/path?" + m)), "no access line with --disable-logging:\n" + log);
        assertFalse(log.lines().anyMatch(l -> l.contains("/none-" + m)), "no access line with --disable-logging:\n" + log);
        assertTrue(log.contains("conformance-marker-before-headers " + m), "errors are still logged");
    }
}
