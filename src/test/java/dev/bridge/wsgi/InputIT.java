package dev.bridge.wsgi;

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

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.HexFormat;
import java.util.Random;

import static dev.bridge.testing.Wire.bytes;
import static dev.bridge.testing.Wire.concat;
import static dev.bridge.testing.Wire.get;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * wsgi.input (PEP 3333): read(), read(n), readline(), readline(n), readlines(), iteration, reading past the
 * end, bodies over --spill-threshold (1024 here) that go to a temp file, chunked bodies, and that the input
 * never reaches past the body into the next pipelined request.
 */
@Timeout(60)
class InputIT {

    static final int SPILL = 1024;
    static BridgeServer server;

    @BeforeAll
    static void start() throws Exception {
        server = BridgeServer.start("--module", "conformance:app", "--spill-threshold", String.valueOf(SPILL));
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    /** Random bytes with CR, LF and NUL sprinkled in, so line splitting and binary safety both matter. */
    static byte[] body(int size, long seed) {
        byte[] b = new byte[size];
        new Random(seed).nextBytes(b);
        for (int i = 0; i < size; i += 97) {
            b[i] = '\n';
        }
        for (int i = 50; i < size; i += 211) {
            b[i] = '\r';
        }
        for (int i = 30; i < size; i += 301) {
            b[i] = 0;
        }
        return b;
    }

    static byte[] postRaw(String target, byte[] body, String... headers) {
        StringBuilder sb = new StringBuilder("POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (String h : headers) {
            sb.append(h).append("\r\n");
        }
        sb.append("Content-Length: ").append(body.length).append("\r\n\r\n");
        return concat(bytes(sb.toString()), body);
    }

    static byte[] postChunked(String target, byte[] body, int chunk, String... headers) {
        StringBuilder sb = new StringBuilder("POST " + target + " HTTP/1.1\r\nHost: 127.0.0.1\r\n");
        for (String h : headers) {
            sb.append(h).append("\r\n");
        }
        sb.append("Transfer-Encoding: chunked\r\n\r\n");
        return concat(bytes(sb.toString()), Wire.chunked(body, chunk));
    }

    static RawHttp.Response exchange(byte[] raw) throws IOException {
        try (RawHttp c = new RawHttp(server.port(), 20_000)) {
            c.send(raw);
            return c.read();
        }
    }

    static void assertEcho(String mode, byte[] body) throws IOException {
        RawHttp.Response r = exchange(postRaw("/echo?" + mode, body, "Connection: close"));
        assertEquals(200, r.status(), mode + ": " + r.statusLine() + " " + (r.body().length < 2000 ? r.text() : ""));
        assertArrayEquals(body, r.body(), mode + ": the app must read back exactly the " + body.length + " bytes sent");
    }

    @ParameterizedTest(name = "{0}, small body in memory")
    @ValueSource(strings = {"mode=read", "mode=read-cl", "mode=readn&n=1", "mode=readn&n=7", "mode=readn&n=100000",
            "mode=read-none", "mode=read-neg", "mode=readline", "mode=readline-n&n=5", "mode=readlines",
            "mode=readlines-hint&n=10", "mode=iter"})
    void smallBodyReadEveryWay(String mode) throws Exception {
        assertEcho(mode, body(700, 1));
    }

    @ParameterizedTest(name = "{0}, 100 KB body over --spill-threshold")
    @ValueSource(strings = {"mode=read", "mode=read-cl", "mode=readn&n=7", "mode=readn&n=4096", "mode=read-none",
            "mode=readline", "mode=readline-n&n=33", "mode=readlines", "mode=readlines-hint&n=5000", "mode=iter"})
    void spilledBodyReadEveryWay(String mode) throws Exception {
        assertEcho(mode, body(100 * 1024, 2));
    }

    @Test
    void bodyExactlyAtAndJustOverTheThreshold() throws Exception {
        assertEcho("mode=read", body(SPILL, 3));
        assertEcho("mode=read", body(SPILL + 1, 4));
        assertEcho("mode=readline", body(SPILL + 1, 5));
    }

    @Test
    void iterationAndReadlineSplitOnNewlines() throws Exception {
        RawHttp.Response r = exchange(postRaw("/echo?mode=lines", bytes("a\nbb\n\nccc\r\nlast"), "Connection: close"));
        assertEquals(200, r.status());
        StringBuilder expected = new StringBuilder();
        for (String line : new String[] {"a\n", "bb\n", "\n", "ccc\r\n", "last"}) {
            expected.append(HexFormat.of().formatHex(bytes(line))).append('\n');
        }
        assertEquals(expected.toString(), r.text(), "lines of wsgi.input, as hex, one per iteration step");
    }

    @Test
    void readingPastTheEndGivesEmptyBytes() throws Exception {
        for (byte[] b : new byte[][] {bytes("short body"), body(50_000, 6)}) {
            RawHttp.Response r = exchange(postRaw("/echo?mode=past-end", b, "Connection: close"));
            assertEquals(200, r.status(), r.text().length() < 300 ? r.text() : r.statusLine());
            assertArrayEquals(concat(b, bytes("|EOF-OK")), r.body());
        }
    }

    @Test
    void readingPastTheEndOfAChunkedBodyGivesEmptyBytes() throws Exception {
        byte[] b = body(5000, 7);
        RawHttp.Response r = exchange(postChunked("/echo?mode=past-end", b, 999, "Connection: close"));
        assertEquals(200, r.status());
        assertArrayEquals(concat(b, bytes("|EOF-OK")), r.body());
    }

    @Test
    void inputNeverReachesIntoTheNextPipelinedRequest() throws Exception {
        byte[] first = bytes("first body");
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(concat(postRaw("/echo?mode=read", first), bytes(get("/path?second"))));
            RawHttp.Response r1 = c.read();
            assertArrayEquals(first, r1.body(), "read() must stop at the end of the body");
            RawHttp.Response r2 = c.read();
            assertEquals("GET /path?second", r2.text(), "the next request must still be parsed and answered");
        }
        try (RawHttp c = new RawHttp(server.port())) {
            byte[] big = body(20_000, 8);
            c.send(concat(postRaw("/echo?mode=readline", big), bytes(get("/path?third"))));
            assertArrayEquals(big, c.read().body(), "readline() must stop at the end of a spilled body");
            assertEquals("GET /path?third", c.read().text());
        }
    }

    @Test
    void spilledBodyPipelinedBehindASlowRequest() throws Exception {
        byte[] big = body(200_000, 14);
        try (RawHttp c = new RawHttp(server.port(), 20_000)) {
            c.send(concat(bytes(get("/slow?ms=500&id=x")), postRaw("/echo?mode=readn&n=5000", big),
                    postChunked("/echo?mode=read", big, 4096), bytes(get("/path?end", "Connection: close"))));
            assertEquals("slept 500 x", c.read().text());
            assertArrayEquals(big, c.read().body(), "a body received while another request ran must arrive whole");
            assertArrayEquals(big, c.read().body());
            assertEquals("GET /path?end", c.read().text());
        }
    }

    @Test
    void noBodyReadsAsEmpty() throws Exception {
        RawHttp.Response r = exchange(bytes(get("/echo?mode=past-end", "Connection: close")));
        assertEquals(200, r.status());
        assertEquals("|EOF-OK", r.text());
        RawHttp.Response r2 = exchange(postRaw("/echo?mode=readline", new byte[0], "Connection: close"));
        assertEquals(200, r2.status());
        assertEquals(0, r2.body().length);
    }

    @Test
    void chunkedBodiesAreDecodedSmallAndSpilled() throws Exception {
        for (int size : new int[] {1, 900, 100 * 1024}) {
            byte[] b = body(size, 9 + size);
            RawHttp.Response r = exchange(postChunked("/echo?mode=read", b, 777, "Connection: close"));
            assertEquals(200, r.status());
            assertArrayEquals(b, r.body(), "chunked body of " + size + " bytes");
            assertEquals(String.valueOf(size), Wire.header(r, "X-Content-Length"),
                    "CONTENT_LENGTH of a chunked request, if set, must be the decoded body's length");
        }
    }

    @Test
    void classicAppReadingContentLengthWorksWithChunkedBodies() throws Exception {
        byte[] b = body(3000, 10);
        RawHttp.Response r = exchange(postChunked("/echo?mode=read-cl", b, 500, "Connection: close"));
        assertEquals(200, r.status());
        assertArrayEquals(b, r.body(), "an app that reads int(CONTENT_LENGTH) bytes must get the whole chunked body");
    }

    @Test
    void spilledBodyLivesInATempFileThatIsRemovedAfterTheRequest() throws Exception {
        byte[] b = body(100_003, 11);
        RawHttp.Response r = exchange(postRaw("/input-info", b, "Connection: close"));
        assertEquals(200, r.status());
        String info = r.text();
        assertTrue(info.contains("ok=True"), "the app must read the whole body: " + info);
        assertTrue(!info.startsWith("files=0"),
                "a body over --spill-threshold must be in a temp file, not in memory (no open regular file of its size): " + info);
        String path = info.substring(info.indexOf("path=") + 5);
        Wire.eventually(5000, "the temp file " + path + " must be removed once the request is done",
                () -> Wire.text(server.port(), "/exists?path=" + Wire.q(path)).equals("no"));
    }

    @Test
    void smallBodyIsNotSpilled() throws Exception {
        byte[] b = body(SPILL - 24, 12);
        RawHttp.Response r = exchange(postRaw("/input-info", b, "Connection: close"));
        assertEquals(200, r.status());
        assertTrue(r.text().startsWith("files=0 ok=True"), "a body under the threshold stays in memory: " + r.text());
    }

    @Test
    void unreadBodyDoesNotDisturbTheNextRequestOnTheConnection() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            for (int size : new int[] {10, 5000}) {
                c.send(postRaw("/path?ignored-body", body(size, size)));
                RawHttp.Response r = c.read();
                assertEquals("POST /path?ignored-body", r.text());
            }
            RawHttp.Response last = c.exchange(get("/path?after", "Connection: close"));
            assertEquals("GET /path?after", last.text());
        }
    }

    @Test
    void contentLengthIsReportedForBodies() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(postRaw("/env", bytes("12345"), "Connection: close"));
            EnvDump e = new EnvDump(c.read().text());
            assertEquals("5", e.str("CONTENT_LENGTH"));
        }
    }

    @Test
    void bodySentInManySmallWritesArrivesWhole() throws Exception {
        byte[] b = body(4000, 13);
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(bytes("POST /echo?mode=read HTTP/1.1\r\nHost: x\r\nContent-Length: " + b.length + "\r\nConnection: close\r\n\r\n"));
            ByteArrayOutputStream sent = new ByteArrayOutputStream();
            for (int i = 0; i < b.length; i += 500) {
                int n = Math.min(500, b.length - i);
                byte[] part = java.util.Arrays.copyOfRange(b, i, i + n);
                c.send(part);
                sent.writeBytes(part);
                Thread.sleep(20);
            }
            RawHttp.Response r = c.read();
            assertArrayEquals(b, r.body());
        }
    }
}
