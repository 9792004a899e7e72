package dev.bridge.http;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static dev.bridge.testing.Wire.get;
import static org.junit.jupiter.api.Assertions.assertEquals;

/** --max-header-size 4096: the header block limit is configurable (431 above it), the request line limit stays. */
@Timeout(60)
class MaxHeaderSizeIT {

    static BridgeServer server;

    @BeforeAll
    static void start() throws Exception {
        server = BridgeServer.start("--module", "conformance:app", "--max-header-size", "4096");
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void headersOverTheConfiguredSizeAre431() throws Exception {
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            RawHttp.Response r = c.exchange(get("/path", "X-A: " + "a".repeat(3000), "X-B: " + "b".repeat(3000)));
            assertEquals(431, r.status());
            Wire.assertClosed(c, "after a 431");
        }
        Wire.assertServes(server.port());
    }

    @Test
    void headersUnderTheConfiguredSizeAreServed() throws Exception {
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            RawHttp.Response r = c.exchange(get("/path", "X-A: " + "a".repeat(1500), "X-B: " + "b".repeat(1500), "Connection: close"));
            assertEquals(200, r.status());
        }
    }

    @Test
    void requestLineLimitIsStill8KiB() throws Exception {
        String target = "/path?" + "q".repeat(6000);
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            RawHttp.Response r = c.exchange(get(target, "Connection: close"));
            assertEquals(200, r.status(), "a 6 KB request line is not part of the 4 KB header block limit");
            assertEquals("GET " + target, r.text());
        }
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            assertEquals(414, c.exchange(get("/" + "q".repeat(9000))).status());
        }
    }
}
