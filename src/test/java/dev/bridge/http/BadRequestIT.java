package dev.bridge.http;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.EnvDump;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.UUID;

import static dev.bridge.testing.Wire.bytes;
import static dev.bridge.testing.Wire.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Malformed and hostile requests (RFC 9112; issue item 7): each gets its 4xx, the connection is closed after it,
 * and the server goes on serving new connections. Server: --limit-body 1000, default --max-header-size (64 KiB).
 */
@Timeout(60)
class BadRequestIT {

    static final int LIMIT = 1000;
    static BridgeServer server;

    @BeforeAll
    static void start() throws Exception {
        server = BridgeServer.start("--module", "conformance:app", "--limit-body", String.valueOf(LIMIT));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    /**
     * Sends raw bytes on a fresh connection and asserts: the response status is one of {@code allowed}, the
     * connection is then closed (with nothing more sent, e.g. no answer to anything pipelined after), and a
     * fresh connection is served.
     */
    static RawHttp.Response expectRejected(byte[] raw, int... allowed) throws IOException {
        RawHttp.Response r;
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            c.send(raw);
            r = c.read();
            int status = r.status();
            assertTrue(Arrays.stream(allowed).anyMatch(s -> s == status), "request "
                    + show(raw) + "\nexpected status " + Arrays.toString(allowed) + ", got " + r.statusLine()
                    + (r.body().length < 500 ? "\n" + r.text() : ""));
            Wire.assertClosed(c, "after a " + status + " the connection must be closed");
        }
        Wire.assertServes(server.port());
        return r;
    }

    static RawHttp.Response expectRejected(String raw, int... allowed) throws IOException {
        return expectRejected(bytes(raw), allowed);
    }

    static String show(byte[] raw) {
        String s = Wire.latin1(raw.length > 300 ? Arrays.copyOf(raw, 300) : raw);
        return s.replace("\r", "\\r").replace("\n", "\\n").replace("\0", "\\0") + (raw.length > 300 ? "... (" + raw.length + " bytes)" : "");
    }

    // ---- sizes ----

    @Test
    void requestLineOver8KiBIs414() throws Exception {
        expectRejected(get("/" + "a".repeat(9000)), 414);
    }

    @Test
    void requestLineJustUnder8KiBIsServed() throws Exception {
        String target = "/path?" + "a".repeat(8000);
        RawHttp.Response r = Wire.fetch(server.port(), target);
        assertEquals(200, r.status(), "a request line of about 8 KB is within the limit");
        assertEquals("GET " + target, r.text());
    }

    @Test
    void headerBlockOver64KiBIs431() throws Exception {
        StringBuilder h = new StringBuilder("GET /path HTTP/1.1\r\nHost: x\r\n");
        for (int i = 0; i < 70; i++) {
            h.append("X-Filler-").append(i).append(": ").append("v".repeat(1000)).append("\r\n");
        }
        expectRejected(h.append("\r\n").toString(), 431);
    }

    @Test
    void headerBlockOfManySmallHeadersOver64KiBIs431() throws Exception {
        // 16000 lines of "Xn:b" + CRLF: 96 000 bytes of header block, but only 64 000 bytes of names and values.
        // The limit is on the header block as received (line terminators and colons count too).
        StringBuilder h = new StringBuilder("GET /path HTTP/1.1\r\nHost: x\r\n");
        for (int i = 0; i < 16000; i++) {
            h.append('X').append(i % 10).append(":b\r\n");
        }
        expectRejected(h.append("\r\n").toString(), 431);
    }

    @Test
    void headerBlockJustOver64KiBIs431() throws Exception {
        // one header line making the block (request line excluded, CRLFs included) 64 KiB + 16 bytes
        String name = "X-Fill: ";
        String host = "Host: x\r\n";
        int value = 64 * 1024 + 16 - host.length() - name.length() - 2;
        expectRejected("GET /path HTTP/1.1\r\n" + host + name + "v".repeat(value) + "\r\n\r\n", 431);
    }

    @Test
    void singleHeaderOver64KiBIs431() throws Exception {
        expectRejected(get("/path", "X-Big: " + "v".repeat(70 * 1024)), 431);
    }

    @Test
    void headerBlockUnder64KiBIsServed() throws Exception {
        StringBuilder h = new StringBuilder("GET /env HTTP/1.1\r\nHost: x\r\nConnection: close\r\n");
        for (int i = 0; i < 55; i++) {
            h.append("X-Filler-").append(i).append(": ").append("v".repeat(1000)).append("\r\n");
        }
        try (RawHttp c = new RawHttp(server.port())) {
            RawHttp.Response r = c.exchange(h.append("\r\n").toString());
            assertEquals(200, r.status(), "55 KB of headers are within the default 64 KiB");
            assertEquals("v".repeat(1000), new EnvDump(r.text()).str("HTTP_X_FILLER_54"));
        }
    }

    @Test
    void bodyOverLimitWithContentLengthIs413() throws Exception {
        expectRejected(Wire.post("/echo", "x".repeat(LIMIT + 1)), 413);
    }

    @Test
    void bodyOverLimitIs413BeforeTheBodyIsSent() throws Exception {
        // only the head: the server knows from Content-Length alone
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 50000000\r\n\r\n", 413);
    }

    @Test
    void chunkedBodyOverLimitIs413() throws Exception {
        byte[] head = bytes("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n");
        expectRejected(Wire.concat(head, Wire.chunked(bytes("y".repeat(LIMIT + 200)), 300)), 413);
    }

    @Test
    void chunkedBodyOverLimitIs413EvenIfItNeverEnds() throws Exception {
        // a single announced chunk far over the limit, and not all of it sent
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n100000\r\n" + "z".repeat(3000), 413);
    }

    @Test
    void bodyAtTheLimitIsServed() throws Exception {
        String body = "b".repeat(LIMIT);
        try (RawHttp c = new RawHttp(server.port())) {
            assertEquals(body, c.exchange(Wire.post("/echo", body)).text());
            byte[] chunked = Wire.concat(bytes("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"),
                    Wire.chunked(bytes(body), 333));
            c.send(chunked);
            assertEquals(body, c.read().text());
        }
    }

    @Test
    void expectContinueOverLimitGets413WithoutA100() throws Exception {
        RawHttp.Response r = expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\nExpect: 100-continue\r\n\r\n", 413);
        assertNotEquals(100, r.status());
    }

    @Test
    void rejectedRequestsAreAccessLogged() throws Exception {
        String marker = "rejected-" + UUID.randomUUID();
        expectRejected(Wire.post("/echo?" + marker, "x".repeat(LIMIT + 1)), 413);
        assertTrue(server.awaitLog(marker, Duration.ofSeconds(3)),
                "a request answered 413 by the server is a request too: it needs its access-log line");
        String line = server.log().lines().filter(l -> l.contains(marker)).findFirst().orElseThrow();
        assertTrue(line.contains(" 413 "), "the access line has the status: " + line);
    }

    // ---- malformed request lines ----

    @ParameterizedTest(name = "[{index}] {0}")
    @ValueSource(strings = {
            "GARBAGE\r\n\r\n",
            "GET /path\r\nHost: x\r\n\r\n",
            "GET /path HTTP/1.1 extra\r\nHost: x\r\n\r\n",
            "GET\r\n\r\n",
            "G@T /path HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /path HTTP/1.x\r\nHost: x\r\n\r\n",
            "GET /path HTTP/11\r\nHost: x\r\n\r\n",
            "GET /path FOO/1.1\r\nHost: x\r\n\r\n",
            "GET /path http/1.1\r\nHost: x\r\n\r\n",
            "GET path HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /pa th HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /path\tHTTP/1.1 x\r\nHost: x\r\n\r\n",
            "GET /pa\u0001th HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /pa\rth HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /pa\u0000th HTTP/1.1\r\nHost: x\r\n\r\n",
            "GET /path HTTP/1.1\rHost: x\r\n\r\n",
    })
    void malformedRequestLineIs400(String raw) throws Exception {
        expectRejected(raw, 400);
    }

    @Test
    void unsupportedHttpVersionIs505() throws Exception {
        expectRejected("GET /path HTTP/2.0\r\nHost: x\r\n\r\n", 505);
        expectRejected("GET /path HTTP/3.1\r\nHost: x\r\n\r\n", 505);
    }

    // ---- Content-Length ----

    @ParameterizedTest(name = "Content-Length: [{0}]")
    @ValueSource(strings = {"abc", "-1", "+5", "0x5", "5 5", "1.0", "", "5a", "1e3", " ", "5,", "99999999999999999999999"})
    void badContentLengthIs400(String value) throws Exception {
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + value + "\r\n\r\nabcde", 400);
    }

    @Test
    void conflictingContentLengthsAre400() throws Exception {
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcdef", 400);
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 6\r\n\r\nabcdef", 400);
    }

    @Test
    void conflictingContentLengthsInHttp10Are400() throws Exception {
        // with only the first value honoured, the rest of the body would be parsed as a second request
        expectRejected("POST /echo HTTP/1.0\r\nContent-Length: 3\r\nContent-Length: 40\r\n\r\nabc" + get("/path?smuggled"), 400);
    }

    @Test
    void contentLengthWithTransferEncodingIs400() throws Exception {
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", 400);
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", 400);
    }

    // ---- Transfer-Encoding and chunks ----

    @ParameterizedTest(name = "chunk size line [{0}]")
    @ValueSource(strings = {"zz", "-5", "0x5", " 5", "5 5", "fffffffffffffffffffff", "", "5;ext\rx"})
    void badChunkSizeIs400(String size) throws Exception {
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" + size + "\r\nabcde\r\n0\r\n\r\n", 400);
    }

    @Test
    void chunkDataLongerThanItsSizeIs400() throws Exception {
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcdeXX\r\n0\r\n\r\n", 400);
    }

    @Test
    void chunkedNotLastIs400() throws Exception {
        // RFC 9112 6.3: chunked must be the final coding of a request, else 400 and close
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, gzip\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", 400);
    }

    @Test
    void unknownTransferCodingIsRejected() throws Exception {
        // RFC 9112 6.1: a transfer coding the server does not understand: 501 (400 is acceptable too, never 200)
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\nabcde", 501, 400);
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: xchunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", 501, 400);
    }

    @Test
    void unknownCodingBeforeChunkedIsRejected() throws Exception {
        // "gzip, chunked": the body is gzip data framed in chunks. Passing it to the app as if it were the plain
        // body would be wrong; the server does not implement gzip, so 501 (RFC 9112 6.1).
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", 501, 400);
    }

    @Test
    void transferEncodingInHttp10IsRejected() throws Exception {
        // RFC 9112 6.1: faulty framing in HTTP/1.0; the server must not trust it
        expectRejected("POST /echo HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nabcde\r\n0\r\n\r\n", 400);
    }

    // ---- header syntax ----

    @Test
    void nulInHeaderValueIs400() throws Exception {
        expectRejected("GET /path HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n", 400);
    }

    @Test
    void nulInHeaderNameIs400() throws Exception {
        expectRejected("GET /path HTTP/1.1\r\nHost: x\r\nX-\u0000A: b\r\n\r\n", 400);
    }

    @Test
    void bareCrInHeaderValueIs400() throws Exception {
        expectRejected("GET /path HTTP/1.1\r\nHost: x\r\nX-A: a\rb\r\n\r\n", 400);
    }

    @Test
    void bareCrAsHeaderLineEndIs400() throws Exception {
        expectRejected("GET /path HTTP/1.1\r\nHost: x\r\nX-A: a\rX-B: b\r\n\r\n", 400);
    }

    @Test
    void controlCharactersInHeadersAre400() throws Exception {
        expectRejected("GET /path HTTP/1.1\r\nHost: x\r\nX-A: a\u0001b\r\n\r\n", 400);
        expectRejected("GET /path HTTP/1.1\r\nHost: x\r\nX-A: a\u007fb\r\n\r\n", 400);
        expectRejected("GET /path HTTP/1.1\r\nHost: x\r\nX\u0001A: b\r\n\r\n", 400);
    }

    @Test
    void whitespaceBeforeTheColonIs400() throws Exception {
        // RFC 9112 5.1: MUST reject (request smuggling vector)
        expectRejected("GET /path HTTP/1.1\r\nHost : x\r\n\r\n", 400);
        expectRejected("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding : chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400);
    }

    @Test
    void headerLineWithoutColonIs400() throws Exception {
        expectRejected("GET /path HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n", 400);
    }

    @Test
    void emptyHeaderNameIs400() throws Exception {
        expectRejected("GET /path HTTP/1.1\r\nHost: x\r\n: value\r\n\r\n", 400);
    }

    @Test
    void spaceInsideHeaderNameIs400() throws Exception {
        expectRejected("GET /path HTTP/1.1\r\nHost: x\r\nX A: b\r\n\r\n", 400);
    }

    @Test
    void obsoleteLineFoldingIsUnfoldedToOneSpace() throws Exception {
        // RFC 9112 5.2 lets a server reject obs-fold or replace it with SP: the bridge (Netty's decoder) replaces
        // the line break and the fold's leading whitespace with one SP, so no CR or LF reaches the environ.
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            c.send("GET /env HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n  b\r\nConnection: close\r\n\r\n");
            RawHttp.Response r = c.read();
            assertEquals(200, r.status());
            assertEquals("a b", new EnvDump(r.text()).str("HTTP_X_FOLDED"));
        }
    }

    @Test
    void missingHostInHttp11Is400() throws Exception {
        // RFC 9112 3.2: "A server MUST respond with a 400 to any HTTP/1.1 request message that lacks a Host header"
        expectRejected("GET /path HTTP/1.1\r\nX-A: b\r\n\r\n", 400);
    }

    @Test
    void twoHostHeadersAre400() throws Exception {
        // RFC 9112 3.2: "... and to any request message that contains more than one Host header field line"
        expectRejected("GET /path HTTP/1.1\r\nHost: a.example\r\nHost: b.example\r\n\r\n", 400);
    }

    @ParameterizedTest(name = "Host: [{0}]")
    @ValueSource(strings = {"a b", "x/y", "x:abc", "x:80:80", "a@b", "[::1"})
    void invalidHostValueIs400(String host) throws Exception {
        // RFC 9112 3.2: MUST 400 for "a Host header field with an invalid field value" (uri-host [ ":" port ])
        expectRejected("GET /path HTTP/1.1\r\nHost: " + host + "\r\n\r\n", 400);
    }

    @Test
    void percentEncodedNulInPathIsNotPassedAsATruncatedPath() throws Exception {
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            RawHttp.Response r = c.exchange(get("/env/a%00b", "Connection: close"));
            if (r.status() == 200) {
                assertEquals("/env/a\u0000b", new EnvDump(r.text()).str("PATH_INFO"));
            } else {
                assertEquals(400, r.status());
            }
        }
    }

    @Test
    void errorAnswerToHeadHasNoBody() throws Exception {
        // RFC 9110 9.3.2: "the server MUST NOT send content in the response" to HEAD, errors included
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            c.send("HEAD /path HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n");
            Wire.Head h = Wire.readHead(c);
            assertEquals(400, h.status());
            Wire.Drained rest = Wire.drain(c);
            assertEquals("", rest.text(), "a HEAD response carries no content, not even an error text");
        }
    }

    // ---- pipelines with a bad request in them ----

    @Test
    void validRequestThenGarbageAnswersTheFirstThenRejects() throws Exception {
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            c.send(get("/path?first") + "GARBAGE GARBAGE\r\n\r\n" + get("/path?never"));
            assertEquals("GET /path?first", c.read().text());
            assertEquals(400, c.read().status());
            Wire.assertClosed(c, "after the 400 nothing else may be served on this connection");
        }
        Wire.assertServes(server.port());
    }

    @Test
    void validRequestsQueuedBeforeABadOneAreAnsweredThenThe400() throws Exception {
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            c.send(get("/slow?ms=500&id=first") + get("/path?second-valid") + "GARBAGE\r\n\r\n" + get("/path?never"));
            assertEquals("slept 500 first", c.read().text());
            RawHttp.Response second;
            try {
                second = c.read();
            } catch (IOException e) {
                throw new AssertionError("the connection was closed without answering the valid second request"
                        + " nor sending the 400 for the third: " + e.getMessage());
            }
            assertEquals("GET /path?second-valid", second.text(), "a complete valid request received before the bad one");
            assertEquals(400, c.read().status(), "the bad request gets its 400");
            Wire.assertClosed(c, "after the 400");
        }
        Wire.assertServes(server.port());
    }

    @Test
    void overLimitRequestPipelinedBehindASlowOneIsAnsweredInOrder() throws Exception {
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            c.send(get("/slow?ms=500&id=first") + Wire.post("/echo", "x".repeat(LIMIT + 1)) + get("/path?never"));
            assertEquals("slept 500 first", c.read().text(), "the first response comes first");
            assertEquals(413, c.read().status());
            Wire.assertClosed(c, "after the 413");
        }
        Wire.assertServes(server.port());
    }

    @Test
    void smuggledRequestBehindConflictingFramingIsNeverServed() throws Exception {
        String smuggled = get("/path?smuggled");
        String raw = "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: " + (5 + smuggled.length())
                + "\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + smuggled;
        try (RawHttp c = new RawHttp(server.port(), 5000)) {
            c.send(raw);
            RawHttp.Response r = c.read();
            assertEquals(400, r.status());
            Wire.Drained rest = Wire.drain(c);
            assertTrue(!rest.text().contains("smuggled"), "the smuggled request was served: " + rest.text());
        }
    }

    @Test
    void serverSurvivesAStormOfBadRequests() throws Exception {
        String[] bad = {"GARBAGE\r\n\r\n", get("/" + "a".repeat(9000)), "GET /path HTTP/1.1\r\nHost: x\r\nX-A: a\u0000b\r\n\r\n",
                "POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: zz\r\n\r\n", "\u0000\u0001\u0002\u0003\r\n\r\n"};
        for (int i = 0; i < 40; i++) {
            try (RawHttp c = new RawHttp(server.port(), 5000)) {
                c.send(bad[i % bad.length]);
                RawHttp.Response r = c.read();
                assertTrue(r.status() >= 400 && r.status() < 500, "got " + r.statusLine());
            }
        }
        Wire.assertServes(server.port());
    }

    @Test
    void clientThatClosesMidRequestDoesNotHurt() throws Exception {
        for (int i = 0; i < 10; i++) {
            try (RawHttp c = new RawHttp(server.port(), 5000)) {
                c.send("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\nonly part of it");
            }
            try (RawHttp c = new RawHttp(server.port(), 5000)) {
                c.send("GET /pa");
            }
        }
        Wire.assertServes(server.port());
    }
}
