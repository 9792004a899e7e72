package dev.bridge.http;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.EnvDump;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;

import static dev.bridge.testing.Wire.bytes;
import static dev.bridge.testing.Wire.concat;
import static dev.bridge.testing.Wire.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * HTTP/1.1 (RFC 9112) over raw sockets: keep-alive, pipelining in order, chunked request bodies,
 * Expect: 100-continue, HEAD, response framing (chunked on 1.1, close-delimited on 1.0), Connection: close
 * from either side, the Date header, 204/304 without bodies.
 */
@Timeout(60)
class Http11IT {

    static BridgeServer server;

    @BeforeAll
    static void start() throws Exception {
        server = BridgeServer.start("--module", "conformance:app");
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    static int port() {
        return server.port();
    }

    @Test
    void keepAliveServesSeveralRequestsOnOneSocket() throws Exception {
        try (RawHttp c = new RawHttp(port())) {
            String remotePort = null;
            for (int i = 0; i < 5; i++) {
                RawHttp.Response r = c.exchange(get("/env?n=" + i));
                assertEquals(200, r.status());
                assertFalse("close".equalsIgnoreCase(r.header("connection")),
                        "an HTTP/1.1 request without Connection: close keeps the connection open");
                EnvDump e = new EnvDump(r.text());
                assertEquals("n=" + i, e.str("QUERY_STRING"));
                if (remotePort == null) {
                    remotePort = e.str("REMOTE_PORT");
                }
                assertEquals(remotePort, e.str("REMOTE_PORT"), "all requests came over the same connection");
            }
            // bodies of several kinds on the same connection
            assertEquals("abc", c.exchange(Wire.post("/echo", "abc")).text());
            assertEquals("chunk0;chunk1;chunk2;chunk3;chunk4;", c.exchange(get("/stream")).text());
            assertEquals("hello world!", c.exchange(get("/write")).text());
            assertEquals("GET /path?", c.exchange(get("/path", "Connection: close")).text());
        }
    }

    @Test
    void pipelinedRequestsAreAnsweredInOrder() throws Exception {
        try (RawHttp c = new RawHttp(port())) {
            // the first is slow, so a server answering out of order would answer the others first
            c.send(get("/slow?ms=400&id=one") + Wire.post("/echo", "two") + get("/path?three"));
            RawHttp.Response r1 = c.read();
            RawHttp.Response r2 = c.read();
            RawHttp.Response r3 = c.read();
            assertEquals("slept 400 one", r1.text());
            assertEquals("two", r2.text());
            assertEquals("GET /path?three", r3.text());
        }
    }

    @Test
    void manyPipelinedRequestsInOneWrite() throws Exception {
        StringBuilder all = new StringBuilder();
        int n = 50;
        for (int i = 0; i < n; i++) {
            all.append(i % 3 == 0 ? Wire.post("/echo", "body-" + i) : get("/path?" + i));
        }
        try (RawHttp c = new RawHttp(port())) {
            c.send(all.toString());
            for (int i = 0; i < n; i++) {
                RawHttp.Response r = c.read();
                assertEquals(i % 3 == 0 ? "body-" + i : "GET /path?" + i, r.text(), "response #" + i);
            }
        }
    }

    @Test
    void pipelinedChunkedRequestThenGet() throws Exception {
        byte[] raw = concat(bytes("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"),
                bytes("3\r\nabc\r\n4\r\ndefg\r\n0\r\n\r\n"), bytes(get("/path?after-chunked")));
        try (RawHttp c = new RawHttp(port())) {
            c.send(raw);
            assertEquals("abcdefg", c.read().text());
            assertEquals("GET /path?after-chunked", c.read().text());
        }
    }

    @Test
    void chunkedRequestBodyWithExtensionsAndTrailers() throws Exception {
        String raw = "POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                + "5;name=value\r\nhello\r\n"
                + "A\r\n, chunked\r\r\n"  // 10 bytes, uppercase hex size, data ending in a CR
                + "1;a=\"quoted\"\r\n!\r\n"
                + "0\r\nX-Trailer: yes\r\nX-Other: 1\r\n\r\n";
        try (RawHttp c = new RawHttp(port())) {
            RawHttp.Response r = c.exchange(raw);
            assertEquals(200, r.status());
            assertEquals("hello, chunked\r!", r.text());
            // the connection stays usable after the trailers
            assertEquals("GET /path?", c.exchange(get("/path", "Connection: close")).text());
        }
    }

    @Test
    void chunkedBodySentSlowlyPieceByPiece() throws Exception {
        try (RawHttp c = new RawHttp(port())) {
            c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
            for (String piece : new String[] {"4\r", "\nwi", "ki\r\n", "5\r\npe", "dia\r\n", "0\r\n", "\r\n"}) {
                Thread.sleep(50);
                c.send(piece);
            }
            assertEquals("wikipedia", c.read().text());
        }
    }

    @Test
    void expect100ContinueIsSentBeforeTheBody() throws Exception {
        try (RawHttp c = new RawHttp(port(), 5000)) {
            c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nExpect: 100-continue\r\n\r\n");
            RawHttp.Response interim = c.read();
            assertEquals(100, interim.status(), "the server must send 100 Continue before the client sends the body");
            c.send("hello world");
            RawHttp.Response r = c.read();
            assertEquals(200, r.status());
            assertEquals("hello world", r.text());
            assertEquals("GET /path?", c.exchange(get("/path", "Connection: close")).text());
        }
    }

    @Test
    void expect100ContinueWithChunkedBody() throws Exception {
        try (RawHttp c = new RawHttp(port(), 5000)) {
            c.send("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nExpect: 100-continue\r\n\r\n");
            assertEquals(100, c.read().status());
            c.send("3\r\nabc\r\n0\r\n\r\n");
            assertEquals("abc", c.read().text());
        }
    }

    @Test
    void expect100ContinueOfAPipelinedRequestWaitsForThePreviousResponse() throws Exception {
        // RFC 9112 9.3.2: responses to pipelined requests in order. An interim 100 for the second request sent
        // before the first request's final response would be taken by the client as part of the first answer.
        try (RawHttp c = new RawHttp(port(), 5000)) {
            c.send(get("/slow?ms=800&id=first")
                    + "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nExpect: 100-continue\r\n\r\n");
            RawHttp.Response first = c.read();
            assertEquals(200, first.status(), "the first thing on the wire must be the first request's response, got: "
                    + first.statusLine());
            assertEquals("slept 800 first", first.text());
            // now the 100 (or, if the server skips it, nothing until we send the body)
            c.socket().setSoTimeout(3000);
            RawHttp.Response next;
            try {
                next = c.read();
            } catch (java.net.SocketTimeoutException e) {
                next = null;
            }
            c.send("second");
            c.socket().setSoTimeout(5000);
            if (next != null && next.status() == 100) {
                next = c.read();
            }
            assertEquals(200, next.status());
            assertEquals("second", next.text());
        }
    }

    @Test
    void expect100ContinueIsIgnoredForHttp10() throws Exception {
        try (RawHttp c = new RawHttp(port(), 5000)) {
            c.send("POST /echo HTTP/1.0\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\nxyz");
            RawHttp.Response r = c.read();
            assertEquals(200, r.status(), "RFC 9110 10.1.1: no 100 Continue for an HTTP/1.0 request, got " + r.statusLine());
            assertEquals("xyz", r.text());
        }
    }

    @Test
    void headKeepsHeadersAndSendsNoBody() throws Exception {
        RawHttp.Response viaGet = Wire.fetch(port(), "/head-test");
        try (RawHttp c = new RawHttp(port())) {
            // HEAD then GET in one write: any body bytes after the HEAD response would corrupt the GET's status line
            c.send("HEAD /head-test HTTP/1.1\r\nHost: x\r\n\r\n" + get("/path?after-head"));
            RawHttp.Response head = c.read(true);
            assertEquals(200, head.status());
            assertEquals("yes", head.header("X-Head-Test"));
            assertEquals("text/plain", head.header("Content-Type"));
            assertEquals(String.valueOf("head-test body\n".length()), head.header("Content-Length"),
                    "HEAD keeps the Content-Length a GET would have");
            assertEquals(String.valueOf(viaGet.body().length), head.header("Content-Length"));
            RawHttp.Response after = c.read();
            assertEquals("GET /path?after-head", after.text(), "HEAD must not send a body");
        }
    }

    @Test
    void headOfAStreamedResponseSendsNoBodyNorChunks() throws Exception {
        try (RawHttp c = new RawHttp(port())) {
            c.send("HEAD /head-test?mode=stream HTTP/1.1\r\nHost: x\r\n\r\n" + get("/path?after-stream-head"));
            RawHttp.Response head = c.read(true);
            assertEquals(200, head.status());
            assertEquals("yes", head.header("X-Head-Test"));
            assertEquals("GET /path?after-stream-head", c.read().text(),
                    "no chunk, no last-chunk, nothing may follow a HEAD response's head");
        }
    }

    @Test
    void headOverHttp10() throws Exception {
        try (RawHttp c = new RawHttp(port())) {
            c.send("HEAD /head-test HTTP/1.0\r\n\r\n");
            Wire.Head h = Wire.readHead(c);
            assertEquals(200, h.status());
            Wire.Drained rest = Wire.drain(c);
            assertEquals("", rest.text(), "no body after a HEAD response");
            assertEquals(Wire.End.EOF, rest.end(), "HTTP/1.0 without keep-alive: the server closes");
        }
    }

    @Test
    void responseWithoutLengthIsChunkedOnHttp11() throws Exception {
        try (RawHttp c = new RawHttp(port())) {
            RawHttp.Response r = c.exchange(get("/stream?n=4"));
            assertEquals(200, r.status());
            assertTrue(r.chunked(), "no Content-Length from the app: HTTP/1.1 response must be chunked");
            assertNull(r.header("Content-Length"), "never both Content-Length and chunked");
            assertEquals("chunk0;chunk1;chunk2;chunk3;", r.text(), "empty items must not end the chunked body");
            assertEquals("GET /path?", c.exchange(get("/path", "Connection: close")).text(),
                    "the connection stays open after a chunked response");
        }
    }

    @Test
    void largeChunkedResponseArrivesWhole() throws Exception {
        int size = 3 * 1024 * 1024 + 123;
        try (RawHttp c = new RawHttp(port(), 20_000)) {
            RawHttp.Response r = c.exchange(get("/big?size=" + size, "Connection: close"));
            assertEquals(size, r.body().length);
            byte[] block = new byte[65536];
            for (int i = 0; i < block.length; i++) {
                block[i] = (byte) (i % 256);
            }
            for (int i = 0; i < size; i += 65536) {
                int n = Math.min(65536, size - i);
                for (int j = 0; j < n; j += 4099) {
                    assertEquals(block[j], r.body()[i + j], "byte " + (i + j));
                }
            }
        }
    }

    @Test
    void responseWithoutLengthIsCloseDelimitedOnHttp10() throws Exception {
        for (String extra : new String[] {"", "Connection: keep-alive\r\n"}) {
            try (RawHttp c = new RawHttp(port(), 5000)) {
                c.send("GET /stream?n=3 HTTP/1.0\r\n" + extra + "\r\n");
                Wire.Head h = Wire.readHead(c);
                assertEquals(200, h.status());
                assertFalse(h.has("Transfer-Encoding"), "HTTP/1.0 has no chunked encoding");
                assertFalse(h.has("Content-Length"));
                Wire.Drained body = Wire.drain(c);
                assertEquals("chunk0;chunk1;chunk2;", body.text());
                assertEquals(Wire.End.EOF, body.end(), "a close-delimited body ends with a clean close (FIN)");
            }
        }
    }

    @Test
    void http10KeepAliveWhenAsked() throws Exception {
        try (RawHttp c = new RawHttp(port(), 5000)) {
            RawHttp.Response r = c.exchange("GET /path?one HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
            assertEquals("GET /path?one", r.text());
            assertEquals("keep-alive", r.header("Connection").toLowerCase());
            RawHttp.Response r2 = c.exchange("GET /path?two HTTP/1.0\r\n\r\n");
            assertEquals("GET /path?two", r2.text());
            Wire.assertClosed(c, "HTTP/1.0 without keep-alive");
        }
    }

    @Test
    void http10ClosesByDefault() throws Exception {
        try (RawHttp c = new RawHttp(port(), 5000)) {
            RawHttp.Response r = c.exchange("GET /path HTTP/1.0\r\n\r\n");
            assertEquals(200, r.status());
            assertTrue(r.statusLine().startsWith("HTTP/1."));
            Wire.assertClosed(c, "an HTTP/1.0 request without keep-alive");
        }
    }

    @Test
    void connectionCloseFromTheClientIsHonoured() throws Exception {
        try (RawHttp c = new RawHttp(port(), 5000)) {
            // a second request pipelined after the closing one must not be answered
            c.send(get("/path?closing", "Connection: close") + get("/path?must-not-be-served"));
            RawHttp.Response r = c.read();
            assertEquals("GET /path?closing", r.text());
            assertEquals("close", r.header("Connection").toLowerCase(), "the response says Connection: close");
            Wire.assertClosed(c, "after a request with Connection: close");
        }
    }

    @Test
    void connectionCloseAmongOtherTokens() throws Exception {
        try (RawHttp c = new RawHttp(port(), 5000)) {
            RawHttp.Response r = c.exchange(get("/path", "Connection: TE, Close"));
            assertEquals(200, r.status());
            Wire.assertClosed(c, "Connection: TE, Close (tokens are case-insensitive)");
        }
    }

    @Test
    void connectionCloseFromTheAppIsHonoured() throws Exception {
        for (String target : new String[] {"/conn-close", "/conn-close?mode=gen"}) {
            try (RawHttp c = new RawHttp(port(), 5000)) {
                c.send(get(target) + get("/path?must-not-be-served"));
                Wire.Head h = Wire.readHead(c);
                assertEquals(200, h.status());
                assertEquals(List.of("close"), h.all("Connection"), target + ": exactly one Connection: close");
                assertEquals("closed", Wire.latin1(c.readExactly(6)));
                Wire.assertClosed(c, target + ": the app asked for Connection: close");
            }
        }
    }

    @Test
    void clientHalfCloseAfterItsRequestStillGetsTheResponse() throws Exception {
        // A client may shut down its sending side once the request is out (printf ... | nc -N, many scripted
        // clients): that is a TCP half-close, not an abort, and the response must still be sent.
        for (String raw : new String[] {
                get("/path?half-close-fast", "Connection: close"),
                get("/slow?ms=300&id=half-close-slow", "Connection: close"),
                "GET /stream?n=2 HTTP/1.0\r\n\r\n"}) {
            try (RawHttp c = new RawHttp(port(), 5000)) {
                c.send(raw);
                c.socket().shutdownOutput();
                Wire.Drained d = Wire.drain(c);
                assertTrue(d.text().startsWith("HTTP/1.1 200") || d.text().startsWith("HTTP/1.0 200"),
                        "no response after the client half-closed; request: " + raw.split("\r\n")[0] + ", got: '" + d.text() + "'");
                assertTrue(d.text().contains("half-close") || d.text().contains("chunk1;"), d.text());
            }
        }
    }

    @Test
    void clientHalfCloseAfterPipelinedRequestsGetsEveryResponse() throws Exception {
        try (RawHttp c = new RawHttp(port(), 5000)) {
            c.send(get("/path?hc1") + get("/slow?ms=200&id=hc2") + get("/path?hc3"));
            c.socket().shutdownOutput();
            assertEquals("GET /path?hc1", c.read().text());
            assertEquals("slept 200 hc2", c.read().text());
            assertEquals("GET /path?hc3", c.read().text());
        } catch (IOException e) {
            throw new AssertionError("pipelined requests followed by a half-close were not all answered: " + e, e);
        }
    }

    @Test
    void dateHeaderIsPresentAndCurrent() throws Exception {
        for (String target : new String[] {"/path", "/stream", "/no-such-route", "/error"}) {
            RawHttp.Response r = Wire.fetch(port(), target);
            String date = r.header("Date");
            assertTrue(date != null, target + ": every response needs a Date header (RFC 9110 6.6.1)");
            ZonedDateTime t = ZonedDateTime.parse(date, DateTimeFormatter.RFC_1123_DATE_TIME);
            assertTrue(date.endsWith(" GMT"), "IMF-fixdate ends in GMT: " + date);
            long skew = Math.abs(Duration.between(t, ZonedDateTime.now()).getSeconds());
            assertTrue(skew < 10, "Date is " + skew + " s away from now: " + date);
        }
    }

    @Test
    void repeatedResponseHeadersArePreserved() throws Exception {
        try (RawHttp c = new RawHttp(port())) {
            c.send(get("/headers", "Connection: close"));
            Wire.Head h = Wire.readHead(c);
            assertEquals(List.of("a=1", "b=2"), h.all("Set-Cookie"), "Set-Cookie lines must not be merged or dropped");
            assertEquals(List.of("a", "b"), h.all("X-Multi"));
            assertEquals(List.of("2"), h.all("Content-Length"));
        }
    }

    @Test
    void statusLineCarriesTheAppsStatus() throws Exception {
        RawHttp.Response r = Wire.fetch(port(), "/status?s=" + Wire.q("418 I'm a teapot") + "&body=tea");
        assertEquals("HTTP/1.1 418 I'm a teapot", r.statusLine());
        assertEquals("tea", r.text());
    }

    @Test
    void noContentAndNotModifiedHaveNoBody() throws Exception {
        for (String status : new String[] {"204 No Content", "304 Not Modified"}) {
            try (RawHttp c = new RawHttp(port())) {
                c.send(get("/status?s=" + Wire.q(status) + "&body=zzz") + get("/path?after-" + status.substring(0, 3)));
                Wire.Head h = Wire.readHead(c);
                assertEquals(Integer.parseInt(status.substring(0, 3)), h.status());
                assertFalse(h.has("Transfer-Encoding"), status + " must not be chunked");
                if (status.startsWith("204")) {
                    assertFalse(h.has("Content-Length"), "RFC 9110 8.6: no Content-Length in a 204");
                }
                RawHttp.Response next = c.read();
                assertEquals("GET /path?after-" + status.substring(0, 3), next.text(),
                        status + " must not be followed by body bytes");
            }
        }
    }

    @Test
    void emptyLineBeforeTheRequestLineIsIgnored() throws Exception {
        try (RawHttp c = new RawHttp(port())) {
            RawHttp.Response r = c.exchange("\r\n" + get("/path?after-crlf", "Connection: close"));
            assertEquals(200, r.status(), "RFC 9112 2.2: a server SHOULD ignore an empty line before the request-line");
            assertEquals("GET /path?after-crlf", r.text());
        }
    }

    @Test
    void keepAliveAfterAnAppErrorResponse() throws Exception {
        try (RawHttp c = new RawHttp(port())) {
            RawHttp.Response r = c.exchange(get("/error?id=keepalive"));
            assertEquals(500, r.status());
            assertEquals("GET /path?", c.exchange(get("/path", "Connection: close")).text(),
                    "a 500 with a complete body leaves the connection usable (or closed, but then with Connection: close)");
        } catch (IOException e) {
            throw new AssertionError("the connection broke after a clean 500", e);
        }
    }

    @Test
    void responsesOnOneConnectionAllCarryFreshHeads() throws Exception {
        List<String> statuses = new ArrayList<>();
        try (RawHttp c = new RawHttp(port())) {
            c.send(get("/status?s=201%20Created&body=a") + get("/no-such") + get("/path", "Connection: close"));
            for (int i = 0; i < 3; i++) {
                statuses.add(c.read().statusLine());
            }
        }
        assertEquals(List.of("HTTP/1.1 201 Created", "HTTP/1.1 404 Not Found", "HTTP/1.1 200 OK"), statuses);
        assertNotEquals(null, statuses.get(0));
    }
}
