package dev.bridge.http;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.util.ArrayList;
import java.util.List;

import static dev.bridge.testing.Wire.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Slow and idle clients (issue items 5 and 7): --header-timeout 2 closes a client that does not finish its
 * request, while others are served; --keepalive-timeout 2 closes idle keep-alive connections; neither cuts a
 * request the app is still working on.
 */
@Timeout(90)
class TimeoutsIT {

    static final int HEADER_TIMEOUT = 2;
    static final int KEEPALIVE_TIMEOUT = 2;
    static BridgeServer server;

    @BeforeAll
    static void start() throws Exception {
        server = BridgeServer.start("--module", "conformance:app", "--header-timeout", String.valueOf(HEADER_TIMEOUT),
                "--keepalive-timeout", String.valueOf(KEEPALIVE_TIMEOUT));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    static long millisSince(long t0) {
        return (System.nanoTime() - t0) / 1_000_000;
    }

    /** Waits for the server to close; returns after how many ms (from t0), asserting only a 408 or nothing was sent. */
    static long awaitClose(RawHttp c, long t0, String what) {
        Wire.Drained d = Wire.drain(c);
        long ms = millisSince(t0);
        assertTrue(d.end() != Wire.End.TIMEOUT, what + ": still open after " + ms + " ms");
        assertTrue(d.text().isEmpty() || d.text().startsWith("HTTP/1.1 408"), what + ": only a 408 may be sent: " + d.text());
        return ms;
    }

    @Test
    void halfSentHeadersAreClosedAfterTheHeaderTimeoutWhileOthersAreServed() throws Exception {
        try (RawHttp slow = new RawHttp(server.port(), 10_000)) {
            long t0 = System.nanoTime();
            slow.send("GET /path HTTP/1.1\r\nHost: x\r\nX-Half: ");
            // meanwhile, others are served at once
            for (int i = 0; i < 3; i++) {
                long t1 = System.nanoTime();
                Wire.assertServes(server.port());
                assertTrue(millisSince(t1) < 1500, "a normal client waited " + millisSince(t1) + " ms behind a slow one");
            }
            long ms = awaitClose(slow, t0, "a client that sent half its headers");
            assertTrue(ms >= HEADER_TIMEOUT * 1000 - 200, "closed too early, after " + ms + " ms");
            assertTrue(ms <= HEADER_TIMEOUT * 1000 + 2500, "closed too late, after " + ms + " ms");
        }
    }

    @Test
    void tricklingHeadersDoNotResetTheTimeout() throws Exception {
        // slowloris: one byte every 250 ms keeps the connection busy but never finishes the request
        try (RawHttp slow = new RawHttp(server.port(), 250)) {
            long t0 = System.nanoTime();
            byte[] head = Wire.bytes("GET /path HTTP/1.1\r\nHost: x\r\nX-Trickle: " + "a".repeat(200));
            boolean reacted = false;
            for (int i = 0; i < head.length && millisSince(t0) < (HEADER_TIMEOUT + 4) * 1000L; i++) {
                try {
                    slow.send(new byte[] {head[i]});
                } catch (java.io.IOException e) {
                    reacted = true;
                    break;
                }
                // a 408, a FIN or a reset: anything but silence means the server gave up on this client
                try {
                    slow.socket().getInputStream().read();
                    reacted = true;
                    break;
                } catch (java.net.SocketTimeoutException e) {
                    // still waiting for us
                } catch (java.io.IOException e) {
                    reacted = true;
                    break;
                }
            }
            long ms = millisSince(t0);
            assertTrue(reacted, "a client trickling its headers was still being waited for after " + ms + " ms");
            assertTrue(ms >= HEADER_TIMEOUT * 1000 - 200, "gave up after " + ms + " ms, before the timeout");
            assertTrue(ms <= HEADER_TIMEOUT * 1000 + 3000, "gave up only after " + ms + " ms");
        }
    }

    @Test
    void manySlowClientsCannotExhaustTheWorker() throws Exception {
        List<RawHttp> slow = new ArrayList<>();
        try {
            for (int i = 0; i < 50; i++) {
                RawHttp c = new RawHttp(server.port(), 10_000);
                c.send("GET /path HTTP/1.1\r\nHost: x\r\n");
                slow.add(c);
            }
            for (int i = 0; i < 50; i++) {
                RawHttp c = new RawHttp(server.port(), 10_000);
                c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial");
                slow.add(c);
            }
            long t1 = System.nanoTime();
            Wire.assertServes(server.port());
            assertTrue(millisSince(t1) < 1500, "a normal client waited " + millisSince(t1) + " ms behind 100 slow ones");
            long t0 = System.nanoTime();
            for (RawHttp c : slow) {
                awaitClose(c, t0, "a slow client");
            }
            assertTrue(millisSince(t0) <= HEADER_TIMEOUT * 1000 + 4000, "slow clients closed only after " + millisSince(t0) + " ms");
        } finally {
            for (RawHttp c : slow) {
                c.close();
            }
        }
    }

    @Test
    void slowBodyIsClosedAfterTheTimeout() throws Exception {
        try (RawHttp slow = new RawHttp(server.port(), 10_000)) {
            long t0 = System.nanoTime();
            slow.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
            long ms = awaitClose(slow, t0, "a client that sent 3 of 10 body bytes");
            assertTrue(ms <= HEADER_TIMEOUT * 1000 + 2500, "closed after " + ms + " ms");
        }
    }

    @Test
    void idleKeepAliveConnectionIsClosed() throws Exception {
        try (RawHttp c = new RawHttp(server.port(), 10_000)) {
            assertEquals("GET /path?", c.exchange(get("/path")).text());
            Thread.sleep(1000);
            // still open after half the timeout
            assertEquals("GET /path?again", c.exchange(get("/path?again")).text(), "closed before the keep-alive timeout");
            long t0 = System.nanoTime();
            Wire.Drained d = Wire.drain(c);
            long ms = millisSince(t0);
            assertEquals(Wire.End.EOF, d.end(), "an idle keep-alive connection must be closed cleanly (FIN), got " + d.end());
            assertEquals("", d.text());
            assertTrue(ms >= KEEPALIVE_TIMEOUT * 1000 - 200, "closed after " + ms + " ms, before the timeout");
            assertTrue(ms <= KEEPALIVE_TIMEOUT * 1000 + 2500, "closed after " + ms + " ms");
        }
    }

    @Test
    void connectionThatNeverSendsAnythingIsClosed() throws Exception {
        try (RawHttp c = new RawHttp(server.port(), 10_000)) {
            long t0 = System.nanoTime();
            long ms = awaitClose(c, t0, "a connection without any request");
            assertTrue(ms <= Math.max(HEADER_TIMEOUT, KEEPALIVE_TIMEOUT) * 1000 + 2500, "closed after " + ms + " ms");
        }
    }

    @Test
    void longRunningAppRequestIsNotCutByTheTimeouts() throws Exception {
        try (RawHttp c = new RawHttp(server.port(), 15_000)) {
            // longer than the header timeout plus the sweep period
            RawHttp.Response r = c.exchange(get("/slow?ms=3500&id=long"));
            assertEquals(200, r.status(), "the app's own time is not the client's fault");
            assertEquals("slept 3500 long", r.text());
            assertEquals("GET /path?", c.exchange(get("/path", "Connection: close")).text());
        }
    }

    @Test
    void slowStreamingResponseIsNotCut() throws Exception {
        try (RawHttp c = new RawHttp(server.port(), 15_000)) {
            c.send(get("/slow?ms=1700&id=a") + get("/slow?ms=1700&id=b") + get("/path", "Connection: close"));
            assertEquals("slept 1700 a", c.read().text());
            assertEquals("slept 1700 b", c.read().text(), "a pipelined request waiting behind a slow one is not idle");
            assertEquals("GET /path?", c.read().text());
        }
    }
}
