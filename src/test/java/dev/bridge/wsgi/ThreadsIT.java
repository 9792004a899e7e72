package dev.bridge.wsgi;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.EnvDump;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static dev.bridge.testing.Wire.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** --threads 4: wsgi.multithread is true, and it is true in fact (requests run at the same time, environs stay apart). */
@Timeout(60)
class ThreadsIT {

    static BridgeServer server;

    @BeforeAll
    static void start() throws Exception {
        server = BridgeServer.start("--module", "conformance:app", "--threads", "4");
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    @Test
    void multithreadIsTrue() throws Exception {
        EnvDump e = new EnvDump(Wire.text(server.port(), "/env"));
        assertEquals("bool", e.type("wsgi.multithread"));
        assertEquals("True", e.repr("wsgi.multithread"), "--threads 4 means several threads may call the app at once");
        assertEquals("False", e.repr("wsgi.run_once"));
    }

    @Test
    void fourSlowRequestsRunConcurrently() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(4);
        try {
            long t0 = System.nanoTime();
            List<Future<String>> results = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                int id = i;
                results.add(pool.submit(() -> Wire.text(server.port(), "/slow?ms=1500&id=" + id)));
            }
            for (int i = 0; i < 4; i++) {
                assertEquals("slept 1500 " + i, results.get(i).get(20, TimeUnit.SECONDS));
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 4000, "4 requests sleeping 1.5 s on 4 threads took " + ms + " ms: they did not run concurrently");
        } finally {
            pool.shutdownNow();
        }
    }

    @Test
    void pipelinedRequestsStayInOrderWithSeveralThreads() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(get("/slow?ms=600&id=a") + get("/slow?ms=10&id=b") + get("/path?c") + get("/slow?ms=200&id=d", "Connection: close"));
            assertEquals("slept 600 a", c.read().text());
            assertEquals("slept 10 b", c.read().text());
            assertEquals("GET /path?c", c.read().text());
            assertEquals("slept 200 d", c.read().text());
        }
    }

    @Test
    void concurrentRequestsKeepTheirOwnEnvironAndBody() throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(8);
        try {
            List<Future<Void>> results = new ArrayList<>();
            for (int i = 0; i < 32; i++) {
                int id = i;
                results.add(pool.submit(() -> {
                    String body = ("body-" + id + ";").repeat(200 + id * 50);
                    try (RawHttp c = new RawHttp(server.port())) {
                        RawHttp.Response r = c.exchange(Wire.post("/echo?mode=readn&n=333", body, "X-Id: " + id));
                        assertEquals(body, r.text(), "request " + id + " got another request's body");
                        EnvDump e = new EnvDump(c.exchange(get("/env?id=" + id, "X-Id: " + id, "Connection: close")).text());
                        assertEquals("id=" + id, e.str("QUERY_STRING"));
                        assertEquals(String.valueOf(id), e.str("HTTP_X_ID"));
                    }
                    return null;
                }));
            }
            for (Future<Void> f : results) {
                f.get(30, TimeUnit.SECONDS);
            }
        } finally {
            pool.shutdownNow();
        }
    }
}
