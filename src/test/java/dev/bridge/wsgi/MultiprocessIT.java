package dev.bridge.wsgi;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.EnvDump;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** --workers 2: wsgi.multiprocess is true (and false with one worker: see EnvironIT). */
@Timeout(60)
class MultiprocessIT {

    static BridgeServer server;

    @BeforeAll
    static void start() throws Exception {
        server = BridgeServer.start("--module", "conformance:app", "--workers", "2");
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void multiprocessIsTrueWithTwoWorkers() throws Exception {
        EnvDump e = new EnvDump(Wire.text(server.port(), "/env"));
        assertEquals("bool", e.type("wsgi.multiprocess"));
        assertEquals("True", e.repr("wsgi.multiprocess"), "two worker processes serve the app");
        assertEquals("False", e.repr("wsgi.multithread"), "one Python thread per worker (default --threads 1)");
    }
}
