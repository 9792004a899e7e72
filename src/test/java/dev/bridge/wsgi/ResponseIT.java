package dev.bridge.wsgi;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.EnvDump;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.UUID;

import static dev.bridge.testing.Wire.get;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The response side of PEP 3333 and the failure rules of issue item 7: start_response and exc_info, write(),
 * iterables and close(), wsgi.file_wrapper, app exceptions before and after the headers, non-bytes items,
 * SystemExit, and bodies that disagree with their Content-Length.
 */
@Timeout(60)
class ResponseIT {

    static BridgeServer server;
    static int pid;

    @TempDir
    static Path tmp;

    @BeforeAll
    static void start() throws Exception {
        server = BridgeServer.start("--module", "conformance:app");
        pid = Integer.parseInt(new EnvDump(Wire.text(server.port(), "/env")).repr("@pid"));
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

    static String tag() {
        return UUID.randomUUID().toString().substring(0, 8);
    }

    /** The close() record of a tag: "COUNT event,event,...". */
    static String closed(String tag) throws IOException {
        return Wire.text(port(), "/closed?tag=" + tag);
    }

    static void assertClosedOnce(String tag, String events) throws Exception {
        Wire.eventually(5000, "close() must be called exactly once on the iterable (" + tag + "), expected '1 " + events
                + "', got '" + closed(tag) + "'", () -> closed(tag).equals("1 " + events));
    }

    /** The same Python process still serves (SystemExit and friends did not end or replace the worker). */
    static void assertSameWorkerServes() throws IOException {
        EnvDump e = new EnvDump(Wire.text(port(), "/env"));
        assertEquals(String.valueOf(pid), e.repr("@pid"), "the worker process must survive");
    }

    /** Reads a response that the server must cut: any attempt to read it whole must fail. */
    static String assertAborted(String raw) throws IOException {
        try (RawHttp c = new RawHttp(port(), 10_000)) {
            c.send(raw);
            Wire.Head h = Wire.readHead(c);
            Wire.Drained rest = Wire.drain(c);
            String text = rest.text();
            assertTrue(rest.end() != Wire.End.TIMEOUT, "the connection must be cut, but it stayed open: " + text);
            boolean chunked = "chunked".equalsIgnoreCase(h.first("Transfer-Encoding"));
            String cl = h.first("Content-Length");
            if (chunked) {
                assertFalse(text.endsWith("0\r\n\r\n"), "a cut chunked body must never end with the last chunk: " + text);
            } else if (cl != null) {
                assertTrue(rest.bytes().length < Long.parseLong(cl),
                        "a cut body must be shorter than its Content-Length " + cl + ": got " + rest.bytes().length);
            } else {
                assertEquals(Wire.End.RESET, rest.end(),
                        "a close-delimited body that was cut must end with a reset, not a clean FIN: " + text);
            }
            return text;
        }
    }

    // ---- start_response, write(), iterables ----

    @Test
    void writeCallableThenReturnedList() throws Exception {
        assertEquals("hello world!", Wire.text(port(), "/write"));
    }

    @Test
    void writeCallableThenReturnedGenerator() throws Exception {
        assertEquals("hello world!?", Wire.text(port(), "/write?then=gen"));
    }

    @Test
    void generatorWithEmptyItems() throws Exception {
        RawHttp.Response r = Wire.fetch(port(), "/stream?n=6");
        assertEquals("chunk0;chunk1;chunk2;chunk3;chunk4;chunk5;", r.text());
    }

    @Test
    void largeItemsFromAGenerator() throws Exception {
        RawHttp.Response r = Wire.fetch(port(), "/stream?n=8&size=300000");
        assertEquals(8 * 300000, r.body().length);
        for (int i = 0; i < 8; i++) {
            assertEquals('A' + i, r.body()[i * 300000 + 299999], "item " + i);
        }
    }

    @Test
    void excInfoBeforeHeadersReplacesStatusAndHeaders() throws Exception {
        RawHttp.Response r = Wire.fetch(port(), "/exc-info?mode=before");
        assertEquals("HTTP/1.1 503 Replaced", r.statusLine());
        assertEquals("1", r.header("X-Second"));
        assertNull(r.header("X-First"), "the first call's headers are replaced, not merged");
        assertEquals("replaced body", r.text());
    }

    @Test
    void excInfoAfterOnlyAnEmptyItemStillReplaces() throws Exception {
        // PEP 3333: headers are sent with the first non-empty item, so after b'' they can still be replaced
        RawHttp.Response r = Wire.fetch(port(), "/exc-info?mode=before-empty");
        assertEquals("HTTP/1.1 502 Replaced Late", r.statusLine());
        assertEquals("1", r.header("X-Second"));
        assertNull(r.header("X-First"));
        assertEquals("replaced after empty item", r.text());
    }

    @Test
    void excInfoAfterHeadersReraisesAndTheResponseIsCut() throws Exception {
        String text = assertAborted(get("/exc-info?mode=after"));
        assertFalse(text.contains("must never be sent"), "start_response(exc_info) after the headers must raise");
        assertTrue(text.contains("first part;"));
    }

    @Test
    void excInfoAfterHeadersReraisesTheAppsOwnException() throws Exception {
        assertAborted(get("/exc-info?mode=after-caught"));
        assertTrue(closed("exc-info-after-caught").contains("reraised:conformance-original"),
                "PEP 3333: start_response must re-raise the exception of exc_info: " + closed("exc-info-after-caught"));
    }

    @Test
    void startResponseTwiceWithoutExcInfoIsAnError() throws Exception {
        RawHttp.Response r = Wire.fetch(port(), "/exc-info?mode=twice");
        assertEquals(500, r.status(), "a second start_response without exc_info is an error, got " + r.statusLine());
    }

    // ---- app exceptions ----

    @Test
    void exceptionBeforeHeadersIs500WithTracebackInLog() throws Exception {
        String id = tag();
        RawHttp.Response r = Wire.fetch(port(), "/error?id=" + id);
        assertEquals(500, r.status());
        assertFalse(r.text().contains("conformance-marker"), "the exception's text must not leak to the client");
        assertTrue(server.awaitLog("RuntimeError: conformance-marker-before-headers " + id, Duration.ofSeconds(5)),
                "the exception must be in the server log");
        String log = server.log();
        int at = log.indexOf("RuntimeError: conformance-marker-before-headers " + id);
        String before = log.substring(Math.max(0, at - 3000), at);
        assertTrue(before.contains("Traceback (most recent call last)"), "with its Python traceback:\n" + before);
        assertTrue(before.contains("conformance.py") && before.contains("_error"),
                "the traceback names the app's file and function:\n" + before);
        assertSameWorkerServes();
    }

    @Test
    void exceptionAfterStartResponseButBeforeAnyBodyIs500() throws Exception {
        RawHttp.Response r = Wire.fetch(port(), "/error-after-start");
        assertEquals(500, r.status(), "nothing was sent yet, so the server can still answer 500");
        assertNull(r.header("X-Must-Not-Appear"), "the app's headers must not be sent with the 500");
    }

    @Test
    void exceptionAfterAnEmptyWriteIs500() throws Exception {
        RawHttp.Response r = Wire.fetch(port(), "/error-after-start?via=write");
        assertEquals(500, r.status(), "write(b'') sends nothing, so the headers are not out yet");
        assertNull(r.header("X-Must-Not-Appear"));
    }

    @Test
    void exceptionAfterHeadersCutsAChunkedResponse() throws Exception {
        String id = tag();
        String text = assertAborted(get("/error-after?id=" + id));
        assertTrue(text.contains("first chunk;"));
        assertTrue(server.awaitLog("RuntimeError: conformance-marker-after-headers " + id, Duration.ofSeconds(5)),
                "the exception after the headers is logged too");
        Wire.assertServes(port());
    }

    @Test
    void exceptionAfterHeadersCutsAContentLengthResponse() throws Exception {
        assertAborted(get("/error-after?cl=100&id=" + tag()));
        Wire.assertServes(port());
    }

    @Test
    void exceptionAfterHeadersCutsAnHttp10Response() throws Exception {
        assertAborted("GET /error-after?id=" + tag() + " HTTP/1.0\r\n\r\n");
        Wire.assertServes(port());
    }

    @Test
    void rawHttpClientCannotReadACutResponseAsWhole() throws Exception {
        try (RawHttp c = new RawHttp(port(), 10_000)) {
            c.send(get("/error-after?id=" + tag()));
            assertThrows(IOException.class, c::read, "reading the cut chunked response must fail");
        }
    }

    @Test
    void keyboardInterruptFromTheAppIs500() throws Exception {
        assertEquals(500, Wire.fetch(port(), "/keyboard-interrupt").status());
        assertSameWorkerServes();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"/sysexit", "/sysexit?code=0"})
    void systemExitFromTheAppIs500AndTheWorkerLives(String target) throws Exception {
        RawHttp.Response r = Wire.fetch(port(), target);
        assertEquals(500, r.status());
        assertSameWorkerServes();
    }

    @Test
    void systemExitAfterHeadersCutsTheResponseAndTheWorkerLives() throws Exception {
        assertAborted(get("/sysexit?when=after"));
        assertSameWorkerServes();
    }

    // ---- non-bytes bodies ----

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"list", "mixed", "gen", "int", "write", "none"})
    void nonBytesBodyIs500(String mode) throws Exception {
        RawHttp.Response r = Wire.fetch(port(), "/nonbytes?mode=" + mode);
        assertEquals(500, r.status(), mode + ": a body item that is not bytes must give 500, got " + r.statusLine());
        assertFalse(r.text().contains("bytes;"), "no part of the bad body may be sent");
        Wire.assertServes(port());
    }

    @Test
    void nonBytesItemAfterHeadersCutsTheResponse() throws Exception {
        String tag = tag();
        assertAborted(get("/close?tag=" + tag + "&mode=str&after=1"));
        assertClosedOnce(tag, "yield,close");
    }

    // ---- close() ----

    @Test
    void closeIsCalledAfterANormalResponse() throws Exception {
        String tag = tag();
        assertEquals("one;two;three;", Wire.text(port(), "/close?tag=" + tag));
        assertClosedOnce(tag, "yield,yield,yield,close");
    }

    @Test
    void closeIsCalledOnAListSubclass() throws Exception {
        String tag = tag();
        assertEquals("list body", Wire.text(port(), "/close?tag=" + tag + "&mode=list"));
        assertClosedOnce(tag, "close");
    }

    @Test
    void closeIsCalledWithAContentLengthResponse() throws Exception {
        String tag = tag();
        assertEquals("abcdef", Wire.text(port(), "/close?tag=" + tag + "&mode=cl"));
        assertClosedOnce(tag, "yield,yield,close");
    }

    @Test
    void closeIsCalledWhenIterationFailsAfterHeaders() throws Exception {
        String tag = tag();
        assertAborted(get("/close?tag=" + tag + "&mode=raise&after=1"));
        assertClosedOnce(tag, "yield,close");
    }

    @Test
    void closeIsCalledWhenTheFirstItemFails() throws Exception {
        String tag = tag();
        assertEquals(500, Wire.fetch(port(), "/close?tag=" + tag + "&mode=start-raise").status());
        assertClosedOnce(tag, "close");
    }

    @Test
    void closeIsCalledWhenTheFirstItemIsNotBytes() throws Exception {
        String tag = tag();
        assertEquals(500, Wire.fetch(port(), "/close?tag=" + tag + "&mode=str&after=0").status());
        assertClosedOnce(tag, "close");
    }

    @Test
    void closeIsCalledWhenIterationRaisesSystemExit() throws Exception {
        String tag = tag();
        assertAborted(get("/close?tag=" + tag + "&mode=exit&after=1"));
        assertClosedOnce(tag, "yield,close");
        assertSameWorkerServes();
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"close-exit", "close-raise"})
    void failingCloseDoesNotHurtTheResponseOrTheWorker(String mode) throws Exception {
        String tag = tag();
        RawHttp.Response r;
        try (RawHttp c = new RawHttp(port(), 10_000)) {
            c.send(get("/close?tag=" + tag + "&mode=" + mode));
            try {
                r = c.read();
            } catch (IOException e) {
                r = null; // the body was complete before close(); cutting it would be allowed but not required
            }
        }
        if (r != null) {
            assertEquals("one;two;three;", r.text());
        }
        assertClosedOnce(tag, "yield,yield,yield,close");
        assertSameWorkerServes();
    }

    @Test
    void closeIsCalledOnHead() throws Exception {
        String tag = tag();
        try (RawHttp c = new RawHttp(port())) {
            RawHttp.Response r = c.exchange("HEAD /close?tag=" + tag + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assertEquals(200, r.status());
        }
        Wire.eventually(5000, "close() on the iterable of a HEAD request", () -> closed(tag).startsWith("1 ")
                && closed(tag).endsWith("close"));
    }

    @Test
    void closeIsCalledWhenTheClientGoesAway() throws Exception {
        String tag = tag();
        try (RawHttp c = new RawHttp(port())) {
            c.send(get("/close?tag=" + tag + "&mode=endless"));
            Wire.Head h = Wire.readHead(c);
            assertEquals(200, h.status());
            c.readExactly(1000);
        }
        Wire.eventually(15_000, "an endless body whose client left must be stopped and closed exactly once",
                () -> closed(tag).equals("1 close"));
        Wire.assertServes(port());
    }

    // ---- wsgi.file_wrapper ----

    static Path file(int size, long seed) throws IOException {
        byte[] data = new byte[size];
        new Random(seed).nextBytes(data);
        Path p = tmp.resolve("data-" + size + "-" + seed + ".bin");
        Files.write(p, data);
        return p;
    }

    static RawHttp.Response fileResponse(String query) throws IOException {
        return Wire.fetch(port(), "/file?" + query);
    }

    @Test
    void fileWrapperSendsTheFileExactly() throws Exception {
        Path f = file(300_001, 1);
        RawHttp.Response r = fileResponse("path=" + Wire.q(f.toString()));
        assertEquals(200, r.status());
        assertArrayEquals(Files.readAllBytes(f), r.body());
        assertEquals("300001", r.header("Content-Length"), "a real file has a known length");
    }

    @Test
    void fileWrapperStartsAtTheFilesPosition() throws Exception {
        Path f = file(50_000, 2);
        RawHttp.Response r = fileResponse("path=" + Wire.q(f.toString()) + "&seek=12345");
        byte[] all = Files.readAllBytes(f);
        assertArrayEquals(Arrays.copyOfRange(all, 12345, all.length), r.body());
    }

    @Test
    void fileWrapperHonoursAContentLengthShorterThanTheFile() throws Exception {
        Path f = file(50_000, 3);
        try (RawHttp c = new RawHttp(port())) {
            c.send(get("/file?path=" + Wire.q(f.toString()) + "&cl=1000") + get("/path?after-file", "Connection: close"));
            RawHttp.Response r = c.read();
            assertArrayEquals(Arrays.copyOf(Files.readAllBytes(f), 1000), r.body());
            assertEquals("GET /path?after-file", c.read().text(), "nothing past the Content-Length may be sent");
        }
    }

    @Test
    void fileWrapperWithAContentLengthLongerThanTheFileNeverLooksComplete() throws Exception {
        Path f = file(5_000, 9);
        try (RawHttp c = new RawHttp(port(), 10_000)) {
            c.send(get("/file?path=" + Wire.q(f.toString()) + "&cl=9000"));
            assertThrows(IOException.class, c::read, "9000 declared, 5000 in the file: the response must not look complete");
        }
        Wire.assertServes(port());
    }

    @Test
    void fileWrapperOfAFileLikeObjectWithoutFileno() throws Exception {
        Path f = file(70_000, 4);
        assertArrayEquals(Files.readAllBytes(f), fileResponse("path=" + Wire.q(f.toString()) + "&kind=bytesio").body());
    }

    @Test
    void fileWrapperWithABlockSize() throws Exception {
        Path f = file(10_000, 5);
        assertArrayEquals(Files.readAllBytes(f),
                fileResponse("path=" + Wire.q(f.toString()) + "&kind=bytesio&blksize=333").body());
        assertArrayEquals(Files.readAllBytes(f), fileResponse("path=" + Wire.q(f.toString()) + "&blksize=333").body());
    }

    @Test
    void fileWrapperOfAnEmptyFile() throws Exception {
        Path f = file(0, 6);
        RawHttp.Response r = fileResponse("path=" + Wire.q(f.toString()));
        assertEquals(200, r.status());
        assertEquals(0, r.body().length);
    }

    @Test
    void fileWrapperClosesTheFile() throws Exception {
        Path f = file(20_000, 7);
        String tag = tag();
        assertArrayEquals(Files.readAllBytes(f), fileResponse("path=" + Wire.q(f.toString()) + "&tag=" + tag).body());
        assertClosedOnce(tag, "close");
    }

    @Test
    void fileWrapperOnHeadAndKeepAlive() throws Exception {
        Path f = file(40_000, 8);
        byte[] all = Files.readAllBytes(f);
        String target = "/file?path=" + Wire.q(f.toString());
        try (RawHttp c = new RawHttp(port())) {
            c.send("HEAD " + target + " HTTP/1.1\r\nHost: x\r\n\r\n" + get(target) + get(target) + get("/path?end", "Connection: close"));
            RawHttp.Response head = c.read(true);
            assertEquals("40000", head.header("Content-Length"));
            assertArrayEquals(all, c.read().body());
            assertArrayEquals(all, c.read().body());
            assertEquals("GET /path?end", c.read().text());
        }
    }

    // ---- bodies that disagree with their Content-Length ----

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"/cl-short", "/cl-short?mode=gen"})
    void bodyShorterThanItsContentLengthNeverLooksComplete(String target) throws Exception {
        try (RawHttp c = new RawHttp(port(), 10_000)) {
            c.send(get(target));
            assertThrows(IOException.class, c::read, "a 100-byte Content-Length with 10 bytes sent must not look complete");
        }
        Wire.assertServes(port());
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"/cl-long", "/cl-long?mode=gen"})
    void bodyLongerThanItsContentLengthIsTruncatedAndNeverBleeds(String target) throws Exception {
        try (RawHttp c = new RawHttp(port(), 5000)) {
            c.send(get(target) + get("/path?next"));
            RawHttp.Response r = c.read();
            assertEquals("12345", r.text());
            Wire.Drained rest = Wire.drain(c);
            assertFalse(rest.text().startsWith("67890"), "bytes past the Content-Length reached the client: " + rest.text());
            if (!rest.text().isEmpty()) {
                assertTrue(rest.text().startsWith("HTTP/1.1 200"), "the next response must be intact: " + rest.text());
            }
        }
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"crlf-value", "lf-value", "space-name", "colon-name", "non-latin1", "bytes-value",
            "not-list", "bytes-status"})
    void responseHeadersPep3333ForbidsAre500(String kind) throws Exception {
        RawHttp.Response r = Wire.fetch(port(), "/bad-header?kind=" + kind);
        assertEquals(500, r.status(), kind + ": got " + r.statusLine());
        assertNull(r.header("X-Injected"), "header injection");
        assertNull(r.header("X-Bad"));
        Wire.assertServes(port());
    }

    @Test
    void streamedResponseWithContentLengthIsNotChunked() throws Exception {
        try (RawHttp c = new RawHttp(port())) {
            c.send(get("/close?tag=" + tag() + "&mode=cl", "Connection: close"));
            Wire.Head h = Wire.readHead(c);
            assertEquals(List.of("6"), h.all("Content-Length"));
            assertFalse(h.has("Transfer-Encoding"), "the app gave a Content-Length: no chunked framing");
            assertEquals("abcdef", Wire.latin1(c.readExactly(6)));
        }
    }

    @Test
    void statusWithoutReasonPhraseStillGivesAWellFormedStatusLine() throws Exception {
        // RFC 9112 4: status-line = HTTP-version SP status-code SP [ reason-phrase ]: the second SP is not optional.
        // PEP 3333 requires "200 OK"-like status strings, so a 500 is fine too; "HTTP/1.1 200" alone is not.
        RawHttp.Response r = Wire.fetch(port(), "/status?s=200");
        if (r.status() != 500) {
            assertEquals("HTTP/1.1 200 ", r.statusLine(), "a status line needs the SP after the code");
        }
    }

    @Test
    void informationalStatusIsNotSentAsTheFinalResponse() throws Exception {
        // a 1xx is interim (RFC 9110 15.2): sent as the app's final answer, the client would wait for another one
        RawHttp.Response r = Wire.fetch(port(), "/status?s=" + Wire.q("100 Continue") + "&body=x");
        assertEquals(500, r.status(), "an app answering 100 as its final status is an app error: " + r.statusLine());
    }

    @Test
    void invalidResponseHeadersAre500() throws Exception {
        for (String status : new String[] {"abc", "20 OK", "200OK", "200 OK\r\nX-Injected: 1", "200 \u20ac", "", "2000 OK"}) {
            RawHttp.Response r = Wire.fetch(port(), "/status?s=" + Wire.q(status));
            assertEquals(500, r.status(), "status " + status.replace("\r\n", "\\r\\n") + " is invalid");
            assertNull(r.header("X-Injected"));
        }
    }
}
