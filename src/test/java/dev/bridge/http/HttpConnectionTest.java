package dev.bridge.http;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static dev.bridge.http.FakePython.full;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Connection behaviour of the real pipeline: keep-alive, pipelining, framing, Expect, limits, closing. */
class HttpConnectionTest {

    private static final String GET = "GET /%s HTTP/1.1\r\nHost: example.com\r\n\r\n";
    private static final String[] TEXT = {"Content-Type", "text/plain"};

    private final List<Pipeline> pipelines = new ArrayList<>();

    private Pipeline pipeline(FakePython.App app, String... flags) {
        Pipeline p = new Pipeline(app, flags);
        pipelines.add(p);
        return p;
    }

    @AfterEach
    void tearDown() {
        pipelines.forEach(Pipeline::close);
    }

    private static String get(String path) {
        return String.format(GET, path);
    }

    // ---- keep-alive and closing

    @Test
    void shouldKeepHttp11ConnectionOpenByDefault() {
        Pipeline p = pipeline(FakePython.ECHO_PATH).send(get("a")).send(get("b"));
        Responses rs = p.responses();
        Responses.Response a = rs.next();
        assertEquals("HTTP/1.1", a.version());
        assertEquals(200, a.status());
        assertEquals("/a", a.text());
        assertNull(a.header("Connection"));
        assertEquals("/b", rs.next().text());
        assertFalse(rs.hasMore());
        assertFalse(p.closing());
        assertTrue(p.channel.isActive());
    }

    @Test
    void shouldCloseAfterResponseWhenClientSendsConnectionClose() {
        Pipeline p = pipeline(FakePython.OK).send("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        Responses.Response r = p.responses().next();
        assertEquals(200, r.status());
        assertEquals("close", r.header("Connection"));
        assertTrue(p.outputShutdown());
        p.passLinger();
        assertFalse(p.channel.isOpen());
    }

    @Test
    void shouldIgnoreRequestsPipelinedAfterConnectionClose() {
        Pipeline p = pipeline(FakePython.ECHO_PATH)
                .send("GET /a HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" + get("b"));
        Responses rs = p.responses();
        assertEquals("/a", rs.next().text());
        assertFalse(rs.hasMore(), rs::rest);
        assertEquals(1, p.python.calls.size());
        assertTrue(p.closing());
    }

    @Test
    void shouldCloseHttp10ConnectionWithoutKeepAlive() {
        Pipeline p = pipeline(FakePython.OK).send("GET / HTTP/1.0\r\n\r\n");
        Responses.Response r = p.responses().next();
        assertEquals("HTTP/1.1", r.version(), "RFC 9110 2.5: answer 1.x clients as HTTP/1.1");
        assertEquals("2", r.header("Content-Length"));
        assertNull(r.header("Connection"), "HTTP/1.0 closes by default; no header needed");
        assertTrue(p.closing());
    }

    @Test
    void shouldKeepHttp10ConnectionOpenWithKeepAlive() {
        Pipeline p = pipeline(FakePython.ECHO_PATH)
                .send("GET /a HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
                .send("GET /b HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        Responses rs = p.responses();
        Responses.Response a = rs.next();
        assertEquals("HTTP/1.1", a.version(), "RFC 9110 2.5: answer 1.x clients as HTTP/1.1");
        assertEquals("keep-alive", a.header("Connection"));
        assertEquals("/a", a.text());
        assertEquals("/b", rs.next().text());
        assertFalse(p.closing());
    }

    @Test
    void shouldCloseWhenTheAppSaysConnectionClose() {
        Pipeline p = pipeline(c -> full("200 OK", "bye", "Connection", "close", "Content-Type", "text/plain"));
        p.send(get("a"));
        Responses.Response r = p.responses().next();
        assertEquals(List.of("close"), r.all("Connection"), "the app's header is replaced by the server's own");
        assertTrue(p.closing());
    }

    @Test
    void shouldDropHopByHopHeadersFromTheApp() {
        Pipeline p = pipeline(c -> full("200 OK", "x", "Keep-Alive", "timeout=5", "Transfer-Encoding", "chunked",
                "Upgrade", "h2c", "X-Kept", "yes", "Connection", "keep-alive"));
        p.send(get("a"));
        Responses.Response r = p.responses().next();
        assertNull(r.header("Keep-Alive"));
        assertNull(r.header("Transfer-Encoding"));
        assertNull(r.header("Upgrade"));
        assertNull(r.header("Connection"));
        assertEquals("yes", r.header("X-Kept"));
        assertEquals("1", r.header("Content-Length"));
        assertFalse(p.closing());
    }

    // ---- closing: how

    @Test
    void shouldShutDownOutputThenCloseAfterLinger() {
        Pipeline p = pipeline(FakePython.OK).send("GARBAGE\r\n\r\n");
        assertEquals(400, p.responses().next().status());
        assertTrue(p.outputShutdown(), "FIN after the response");
        assertTrue(p.channel.isOpen(), "still open, waiting for the client's FIN");
        p.send("more bytes from the client are discarded\r\n\r\n");
        assertEquals(0, p.writesAfterShutdown());
        p.channel.advanceTimeBy(HttpConnection.LINGER_SECONDS * 1000L - 100, java.util.concurrent.TimeUnit.MILLISECONDS);
        p.channel.runScheduledPendingTasks();
        assertTrue(p.channel.isOpen(), "closed before the linger delay");
        p.passLinger();
        assertFalse(p.channel.isOpen());
    }

    @Test
    void shouldCloseAtOnceWhenChannelCannotHalfClose() {
        // EmbeddedChannel is not a DuplexChannel: HttpConnection then closes right after the response.
        Pipeline p = new Pipeline(FakePython.OK, false);
        pipelines.add(p);
        assertFalse(p.channel instanceof io.netty.channel.socket.DuplexChannel);
        p.send("GARBAGE\r\n\r\n");
        assertEquals(400, p.responses().next().status());
        assertFalse(p.channel.isOpen());
    }

    @Test
    void shouldAnswerInFlightRequestBeforeTheErrorThatFollowsIt() {
        Pipeline p = pipeline(FakePython.ECHO_PATH).holdPython();
        p.send(get("a") + "GARBAGE\r\n\r\n");
        assertEquals(1, p.waitingInPython());
        assertEquals(0, p.output().length, "nothing may be written before /a is answered");
        p.runPython();
        Responses rs = p.responses();
        assertEquals("/a", rs.next().text());
        assertEquals(400, rs.next().status());
        assertFalse(rs.hasMore());
        assertTrue(p.closing());
    }

    @Test
    void shouldAnswerQueuedPipelinedRequestsBeforeTheErrorThatFollowsThem() {
        // /a is in Python, /b is complete and queued, then a bad request arrives: /a, /b, then 400.
        Pipeline p = pipeline(FakePython.ECHO_PATH).holdPython();
        p.send(get("a") + get("b") + "GARBAGE\r\n\r\n");
        p.runPython();
        if (p.waitingInPython() > 0) {
            p.runPython();
        }
        Responses rs = p.responses();
        assertEquals("/a", rs.next().text());
        assertTrue(rs.hasMore(), () -> "/b was received whole before the bad request but got no response; output: "
                + p.outputText());
        assertEquals("/b", rs.next().text());
        assertEquals(400, rs.next().status());
        assertTrue(p.closing());
    }

    // ---- pipelining

    @Test
    void shouldAnswerPipelinedRequestsInOrder() {
        Pipeline p = pipeline(FakePython.ECHO_PATH).send(get("first") + get("second") + get("third"));
        Responses rs = p.responses();
        assertEquals("/first", rs.next().text());
        assertEquals("/second", rs.next().text());
        assertEquals("/third", rs.next().text());
        assertFalse(rs.hasMore());
        assertFalse(p.closing());
    }

    @Test
    void shouldHandOnlyOneRequestPerConnectionToPython() {
        Pipeline p = pipeline(FakePython.ECHO_PATH).holdPython();
        p.send(get("first") + get("second"));
        assertEquals(1, p.waitingInPython(), "the second request waits until the first is answered");
        assertEquals(0, p.output().length);
        p.runPython();
        assertEquals(1, p.waitingInPython());
        assertEquals("/first", new Responses(p.output()).next().text());
        p.runPython();
        Responses rs = p.responses();
        rs.next();
        assertEquals("/second", rs.next().text());
    }

    @Test
    void shouldStopReadingWhenTooManyRequestsArePipelined() {
        Pipeline p = pipeline(FakePython.ECHO_PATH).holdPython();
        StringBuilder many = new StringBuilder();
        for (int i = 0; i <= HttpConnection.PIPELINE_LIMIT; i++) {
            many.append(get("r" + i));
        }
        p.send(many.toString());
        assertFalse(p.channel.config().isAutoRead(), "reading should pause at " + HttpConnection.PIPELINE_LIMIT + " queued");
        p.runPython();
        assertTrue(p.channel.config().isAutoRead(), "reading should resume once the queue shrinks");
        while (p.waitingInPython() > 0) {
            p.runPython();
        }
        Responses rs = p.responses();
        for (int i = 0; i <= HttpConnection.PIPELINE_LIMIT; i++) {
            assertEquals("/r" + i, rs.next().text());
        }
    }

    @Test
    void shouldDecodeRequestSplitAcrossReads() {
        Pipeline p = pipeline(c -> full("200 OK", c.body(), TEXT));
        String req = "POST /x HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\nhello world";
        for (char c : req.toCharArray()) {
            p.send(String.valueOf(c));
        }
        assertEquals("hello world", p.responses().next().text());
    }

    // ---- HEAD and bodiless responses

    @Test
    void shouldSendHeadersButNoBodyForHead() {
        Pipeline p = pipeline(c -> full("200 OK", "hello", TEXT));
        p.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n" + get("after"));
        Responses rs = p.responses();
        Responses.Response head = rs.next(true);
        assertEquals(200, head.status());
        assertEquals("5", head.header("Content-Length"), "HEAD carries the GET's Content-Length");
        assertEquals("text/plain", head.header("Content-Type"));
        Responses.Response next = rs.next();
        assertEquals("hello", next.text(), "the next response must start right after the HEAD response's head");
        assertFalse(rs.hasMore());
    }

    @Test
    void shouldSendNoBodyForStreamedHeadResponse() {
        Pipeline p = pipeline(FakePython.streaming("200 OK", TEXT, "hel", "lo"));
        p.send("HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
        Responses rs = p.responses();
        Responses.Response head = rs.next(true);
        assertNull(head.header("Transfer-Encoding"));
        assertFalse(rs.hasMore(), () -> "body bytes after a HEAD response: " + rs.rest());
        assertFalse(p.closing());
    }

    @Test
    void shouldSendNoBodyAndNoLengthFor204() {
        Pipeline p = pipeline(c -> full("204 No Content", "ignored"));
        p.send(get("a") + get("b"));
        Responses rs = p.responses();
        Responses.Response r = rs.next();
        assertEquals(204, r.status());
        assertNull(r.header("Content-Length"));
        assertEquals(204, rs.next().status());
        assertFalse(rs.hasMore(), rs::rest);
    }

    @Test
    void shouldNotSendBodyWithErrorAnswerToHead() {
        // A HEAD request the server rejects itself (the path decodes to NUL): the 400 must not carry a body.
        Pipeline p = pipeline(FakePython.OK).send("HEAD /%00 HTTP/1.1\r\nHost: x\r\n\r\n");
        Responses rs = p.responses();
        Responses.Response r = rs.next(true);
        assertEquals(400, r.status());
        assertFalse(rs.hasMore(), () -> "a response to HEAD carries body bytes: " + rs.rest());
    }

    // ---- streaming

    @Test
    void shouldChunkStreamedResponseOnHttp11() {
        Pipeline p = pipeline(FakePython.streaming("200 OK", TEXT, "hello", " ", "world"));
        p.send(get("a") + get("b"));
        String raw = p.outputText();
        Responses rs = new Responses(p.output());
        Responses.Response r = rs.next();
        assertEquals("chunked", r.header("Transfer-Encoding"));
        assertNull(r.header("Content-Length"));
        assertTrue(r.chunked());
        assertEquals("hello world", r.text());
        assertTrue(raw.contains("\r\n\r\n5\r\nhello\r\n1\r\n \r\n5\r\nworld\r\n0\r\n\r\n"), raw);
        assertEquals("hello world", rs.next().text(), "keep-alive after a chunked response");
        assertFalse(p.closing());
    }

    @Test
    void shouldDelimitStreamedResponseByCloseOnHttp10() {
        Pipeline p = pipeline(FakePython.streaming("200 OK", TEXT, "hello", " ", "world"));
        p.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        Responses.Response r = p.responses().next();
        assertEquals("HTTP/1.1", r.version(), "RFC 9110 2.5: answer 1.x clients as HTTP/1.1");
        assertNull(r.header("Transfer-Encoding"));
        assertNull(r.header("Content-Length"));
        assertNull(r.header("Connection"), "no keep-alive for a close-delimited body");
        assertEquals("hello world", r.text());
        assertTrue(p.closing());
    }

    @Test
    void shouldUseAppContentLengthForStreamedResponse() {
        Pipeline p = pipeline(FakePython.streaming("200 OK", new String[] {"Content-Length", "11"}, "hello", " world"));
        p.send(get("a") + get("b"));
        Responses rs = p.responses();
        Responses.Response r = rs.next();
        assertNull(r.header("Transfer-Encoding"));
        assertEquals(List.of("11"), r.all("Content-Length"));
        assertEquals("hello world", r.text());
        assertEquals("hello world", rs.next().text());
        assertFalse(p.closing());
    }

    @Test
    void shouldTruncateFullBodyLongerThanAppContentLengthAndClose() {
        Pipeline p = pipeline(c -> full("200 OK", "hello world", "Content-Length", "5"));
        p.send(get("a") + get("b"));
        Responses rs = p.responses();
        Responses.Response r = rs.next();
        assertEquals(List.of("5"), r.all("Content-Length"));
        assertEquals("hello", r.text());
        assertEquals("close", r.header("Connection"));
        assertFalse(rs.hasMore(), () -> "bytes beyond the declared length: " + rs.rest());
        assertTrue(p.closing());
        assertTrue(p.log.messages(org.slf4j.event.Level.ERROR).stream().anyMatch(m -> m.contains("Content-Length 5")));
    }

    @Test
    void shouldDropStreamedBytesBeyondAppContentLengthAndClose() {
        Pipeline p = pipeline(FakePython.streaming("200 OK", new String[] {"Content-Length", "5"}, "hel", "lo wor", "ld"));
        p.send(get("a") + get("b"));
        Responses rs = p.responses();
        Responses.Response r = rs.next();
        assertEquals("hello", r.text());
        assertFalse(rs.hasMore(), () -> "bytes beyond the declared length: " + rs.rest());
        assertEquals(1, p.python.calls.size(), "the pipelined request must not be served on a connection that closes");
        assertTrue(p.closing());
    }

    @Test
    void shouldCutConnectionWhenStreamedBodyIsShorterThanAppContentLength() {
        Pipeline p = pipeline(FakePython.streaming("200 OK", new String[] {"Content-Length", "50"}, "only this"));
        p.send(get("a"));
        String out = p.outputText();
        assertTrue(out.startsWith("HTTP/1.1 200 OK\r\n"), out);
        assertTrue(out.endsWith("\r\n\r\nonly this"), out);
        assertFalse(p.channel.isOpen(), "a truncated response must end with the connection cut");
        assertFalse(p.outputShutdown(), "cut (RST), not a graceful FIN");
    }

    @Test
    void shouldCutConnectionWhenAppFailsMidStream() {
        Pipeline p = pipeline(c -> {
            c.exchange().send("200 OK", "", 0, "partial".getBytes(StandardCharsets.US_ASCII));
            return FakePython.ABORT;
        });
        p.send(get("a"));
        String out = p.outputText();
        assertTrue(out.endsWith("\r\n7\r\npartial\r\n"), "no last chunk: " + out);
        assertFalse(p.channel.isOpen());
    }

    // ---- errors from the app

    @Test
    void shouldAnswer500WhenAppStatusIsInvalid() {
        Pipeline p = pipeline(c -> full("OK", "x"));
        p.send(get("a") + get("b"));
        Responses rs = p.responses();
        Responses.Response r = rs.next();
        assertEquals(500, r.status());
        assertEquals("Internal Server Error\n", r.text());
        assertEquals(500, rs.next().status(), "the connection stays usable");
    }

    @Test
    void shouldAnswer500WhenAppHeaderHasNewline() {
        Pipeline p = pipeline(c -> full("200 OK", "x", "X-Evil", "a\r\nSet-Cookie: stolen=1"));
        p.send(get("a"));
        String out = p.outputText();
        assertTrue(out.startsWith("HTTP/1.1 500 "), out);
        assertFalse(out.contains("stolen"), out);
    }

    @Test
    void shouldAnswer500WhenInterpreterThrows() {
        Pipeline p = pipeline(c -> {
            throw new IllegalStateException("boom");
        });
        p.send(get("a"));
        assertEquals(500, p.responses().next().status());
        assertFalse(p.closing());
    }

    // ---- Expect: 100-continue

    @Test
    void shouldWrite100ContinueBeforeFinalResponse() {
        Pipeline p = pipeline(c -> full("200 OK", c.body(), TEXT));
        p.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        assertEquals("HTTP/1.1 100 Continue\r\n\r\n", p.outputText(), "100 Continue before the body is sent");
        assertTrue(p.python.calls.isEmpty());
        p.send("hello");
        Responses rs = p.responses();
        assertEquals(100, rs.next().status());
        Responses.Response r = rs.next();
        assertEquals(200, r.status());
        assertEquals("hello", r.text());
        assertEquals("100-continue", p.python.calls.get(0).env("HTTP_EXPECT"));
    }

    @Test
    void shouldNotWrite100ContinueForHttp10OrEmptyBody() {
        Pipeline p = pipeline(FakePython.OK);
        p.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 0\r\n\r\n");
        p.send("POST / HTTP/1.0\r\nConnection: keep-alive\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\nhi");
        Responses rs = p.responses();
        assertEquals(200, rs.next().status());
        assertEquals(200, rs.next().status());
        assertFalse(rs.hasMore());
    }

    @Test
    void shouldAnswer413InsteadOf100ContinueWhenBodyIsOverLimit() {
        Pipeline p = pipeline(FakePython.OK, "--limit-body=4");
        p.send("POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        Responses rs = p.responses();
        assertEquals(413, rs.next().status());
        assertFalse(rs.hasMore());
        assertTrue(p.closing());
    }

    @Test
    void shouldNotWrite100ContinueBeforeEarlierPipelinedResponse() {
        // /a is in Python when a POST with Expect: 100-continue arrives: its 100 must not overtake /a's response.
        Pipeline p = pipeline(c -> full("200 OK", c.env("PATH_INFO"), TEXT)).holdPython();
        p.send(get("a") + "POST /b HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\n");
        assertEquals("", p.outputText(), "nothing may be written before /a's response");
        p.runPython();
        Responses.Response first = p.responses().next();
        assertEquals(200, first.status());
        assertEquals("/a", first.text());
    }

    // ---- --limit-body

    @Test
    void shouldAnswer413ForContentLengthOverLimit() {
        Pipeline p = pipeline(FakePython.OK, "--limit-body=10");
        p.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
        p.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\n\r\n0123456789X");
        Responses rs = p.responses();
        assertEquals(200, rs.next().status(), "a body of exactly the limit is accepted");
        Responses.Response r = rs.next();
        assertEquals(413, r.status());
        assertEquals("413 Content Too Large\n", r.text());
        assertEquals(1, p.python.calls.size());
        assertTrue(p.closing());
    }

    @Test
    void shouldAnswer413ForChunkedBodyOverLimit() {
        Pipeline p = pipeline(FakePython.OK, "--limit-body=10");
        p.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n5\r\n56789\r\n0\r\n\r\n");
        assertEquals(200, p.responses().next().status(), "a chunked body of exactly the limit is accepted");
        p.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\r\n01234\r\n");
        p.send("6\r\n56789X\r\n0\r\n\r\n");
        Responses rs = p.responses();
        rs.next();
        Responses.Response r = rs.next();
        assertEquals(413, r.status());
        assertFalse(rs.hasMore());
        assertEquals(1, p.python.calls.size());
        assertTrue(p.closing());
    }

    // ---- response head

    @Test
    void shouldAddDateHeader() {
        Pipeline p = pipeline(FakePython.OK).send(get("a"));
        String date = p.responses().next().header("Date");
        assertNotNull(date);
        ZonedDateTime t = ZonedDateTime.parse(date, DateTimeFormatter.RFC_1123_DATE_TIME);
        assertTrue(date.endsWith(" GMT"), date);
        assertTrue(Math.abs(ChronoUnit.SECONDS.between(t, ZonedDateTime.now())) < 5, date);
    }

    @Test
    void shouldKeepTheAppsDateHeader() {
        Pipeline p = pipeline(c -> full("200 OK", "x", "Date", "Tue, 01 Jan 2030 00:00:00 GMT"));
        p.send(get("a"));
        assertEquals(List.of("Tue, 01 Jan 2030 00:00:00 GMT"), p.responses().next().all("Date"));
    }

    @Test
    void shouldKeepAppHeadersInOrderIncludingRepeats() {
        Pipeline p = pipeline(c -> full("201 Created", "x", "Set-Cookie", "a=1", "X-One", "1", "Set-Cookie", "b=2"));
        p.send(get("a"));
        Responses.Response r = p.responses().next();
        assertEquals(201, r.status());
        assertEquals("Created", r.reason());
        assertEquals(List.of("a=1", "b=2"), r.all("Set-Cookie"));
        assertEquals("Set-Cookie", r.headers().get(0).getKey());
        assertEquals("X-One", r.headers().get(1).getKey());
    }

    // ---- request bodies as Python gets them

    @Test
    void shouldHandBodyAsDirectBufferOfExactCapacity() {
        Pipeline p = pipeline(FakePython.OK);
        p.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
        p.send("POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
        for (FakePython.Call call : p.python.calls) {
            ByteBuffer bb = assertInstanceOf(ByteBuffer.class, call.bodyArg());
            assertTrue(bb.isDirect());
            assertEquals(call.body().length, bb.capacity(), "memoryview spans the capacity");
            assertEquals(0, bb.position());
        }
        assertEquals("hello", new String(p.python.calls.get(0).body(), StandardCharsets.US_ASCII));
        assertEquals("abc", new String(p.python.calls.get(1).body(), StandardCharsets.US_ASCII));
    }

    @Test
    void shouldHandNoBodyAsNull() {
        Pipeline p = pipeline(FakePython.OK).send(get("a"));
        assertNull(p.python.calls.get(0).bodyArg());
    }

    @Test
    void shouldSpillLargeBodyToTempFileAndDeleteIt() {
        Pipeline p = pipeline(FakePython.OK, "--spill-threshold=8");
        p.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 16\r\n\r\n0123456789abcdef");
        FakePython.Call call = p.python.calls.get(0);
        String path = assertInstanceOf(String.class, call.bodyArg());
        assertEquals("0123456789abcdef", new String(call.body(), StandardCharsets.US_ASCII));
        assertEquals(200, p.responses().next().status());
        assertFalse(Files.exists(Path.of(path)), "temp file left behind after the response: " + path);
    }

    @Test
    void shouldDeleteTempFileOfRequestCutOffMidBody() {
        Pipeline p = pipeline(FakePython.OK, "--spill-threshold=8");
        List<Path> before = tempBodies();
        p.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n0123456789abcdef");
        List<Path> during = tempBodies();
        during.removeAll(before);
        assertEquals(1, during.size(), "the body should be spilling to a temp file");
        p.channel.close();
        p.channel.runPendingTasks();
        assertFalse(Files.exists(during.get(0)), "temp file left behind after the client went away");
    }

    private static List<Path> tempBodies() {
        try (var s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return new ArrayList<>(s.filter(f -> f.getFileName().toString().startsWith("bridge-body-")).toList());
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
    }

    // ---- timeouts (HttpConnection.sweep, called with a clock moved forward)

    private static HttpConnection connection(Pipeline p) {
        return (HttpConnection) p.channel.pipeline().get("http");
    }

    private static long secondsFromNow(int s) {
        return System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(s);
    }

    @Test
    void shouldAnswer408WhenRequestIsNotReceivedInTime() {
        Pipeline p = pipeline(FakePython.OK, "--header-timeout=5");
        p.send("GET / HTTP/1.1\r\nHost: ex");
        connection(p).sweep(secondsFromNow(4));
        assertEquals("", p.outputText(), "not yet");
        connection(p).sweep(secondsFromNow(6));
        Responses.Response r = p.responses().next();
        assertEquals(408, r.status());
        assertEquals("close", r.header("Connection"));
        assertTrue(p.closing());
        assertTrue(p.python.calls.isEmpty());
    }

    @Test
    void shouldAnswer408WhenBodyIsNotReceivedInTime() {
        Pipeline p = pipeline(FakePython.OK, "--header-timeout=5");
        p.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n01234");
        connection(p).sweep(secondsFromNow(6));
        assertEquals(408, p.responses().next().status());
        assertTrue(p.closing());
    }

    @Test
    void shouldNotTimeOutRequestThatIsInPython() {
        Pipeline p = pipeline(FakePython.OK, "--header-timeout=5", "--keepalive-timeout=5").holdPython();
        p.send(get("a"));
        connection(p).sweep(secondsFromNow(60));
        assertEquals("", p.outputText());
        assertFalse(p.closing());
        p.runPython();
        assertEquals(200, p.responses().next().status());
    }

    @Test
    void shouldTimeOutPartialRequestThatArrivedWhileAnotherWasInPython() {
        // /a takes longer than the header timeout in Python; meanwhile the client sends half of /b and stops.
        Pipeline p = pipeline(FakePython.ECHO_PATH, "--header-timeout=5").holdPython();
        p.send(get("a"));
        p.send("GET /b HTTP/1.1\r\nHo");
        connection(p).sweep(secondsFromNow(6));
        assertFalse(p.closing(), "/a is still in Python");
        p.runPython();
        assertEquals("/a", p.responses().next().text());
        connection(p).sweep(secondsFromNow(60));
        Responses rs = p.responses();
        rs.next();
        assertTrue(rs.hasMore(), "the half-sent /b was never timed out: the connection is held open for ever");
        assertEquals(408, rs.next().status());
        assertTrue(p.closing());
    }

    @Test
    void shouldCloseIdleKeepAliveConnectionSilently() {
        Pipeline p = pipeline(FakePython.OK, "--keepalive-timeout=10");
        p.send(get("a"));
        int written = p.output().length;
        connection(p).sweep(secondsFromNow(9));
        assertFalse(p.closing());
        connection(p).sweep(secondsFromNow(11));
        assertTrue(p.closing());
        assertEquals(written, p.output().length, "an idle close writes nothing");
    }

    @Test
    void shouldReleaseBodyWhenClientLeavesWhilePythonWorks() {
        Pipeline p = pipeline(FakePython.OK, "--spill-threshold=4").holdPython();
        List<Path> before = tempBodies();
        p.send("POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\n0123456789");
        List<Path> spilled = tempBodies();
        spilled.removeAll(before);
        assertEquals(1, spilled.size());
        p.channel.close();
        p.channel.runPendingTasks();
        assertTrue(Files.exists(spilled.get(0)), "Python may still be reading the body");
        p.runPython();
        assertEquals("0123456789", new String(p.python.calls.get(0).body(), StandardCharsets.US_ASCII));
        assertFalse(Files.exists(spilled.get(0)), "temp file left behind");
        assertEquals(0, p.workers.connectionCount());
    }

    // ---- worker drain

    @Test
    void shouldCloseIdleConnectionOnDrainAfterAQuietMoment() throws InterruptedException {
        Pipeline p = pipeline(FakePython.OK).send(get("a"));
        assertEquals(1, p.workers.connectionCount());
        p.workers.drain(0, 0);
        p.channel.runPendingTasks();
        assertFalse(p.closing(), "a connection that just answered may be getting its next request: not closed yet");
        Thread.sleep(HttpConnection.DRAIN_IDLE_MILLIS + 50);
        p.channel.advanceTimeBy(1, TimeUnit.SECONDS);
        p.channel.runScheduledPendingTasks();
        assertTrue(p.closing(), "closed once idle for " + HttpConnection.DRAIN_IDLE_MILLIS + " ms");
    }

    @Test
    void shouldAnswerARequestArrivingWhileDrainingWithConnectionClose() {
        Pipeline p = pipeline(FakePython.OK).send(get("a"));
        p.responses().next();
        p.workers.drain(0, 0);
        p.channel.runPendingTasks();
        p.send(get("b"));
        Responses rs = p.responses();
        rs.next();
        Responses.Response second = rs.next();
        assertEquals(200, second.status());
        assertEquals("close", second.header("Connection"));
        assertTrue(p.closing());
    }

    @Test
    void shouldKeepAliveUntilItsMomentWhenARetiringWorkerSpreadsTheCloses() {
        Pipeline p = pipeline(FakePython.OK).send(get("a"));
        p.responses().next();
        HttpConnection c = (HttpConnection) p.channel.pipeline().get("http");
        c.drain(System.nanoTime() + TimeUnit.HOURS.toNanos(1));
        p.send(get("b"));
        Responses rs = p.responses();
        rs.next();
        Responses.Response kept = rs.next();
        assertEquals(200, kept.status());
        assertEquals(null, kept.header("Connection"), "before its moment, the connection is kept");
        assertFalse(p.closing());
        c.drain(System.nanoTime());
        p.send(get("c"));
        rs = p.responses();
        rs.next();
        rs.next();
        assertEquals("close", rs.next().header("Connection"), "after it, the next response closes");
        assertTrue(p.closing());
    }

    @Test
    void shouldFinishInFlightRequestWithConnectionCloseOnDrain() {
        Pipeline p = pipeline(FakePython.OK).holdPython().send(get("a"));
        p.workers.drain(0, 0);
        p.channel.runPendingTasks();
        assertFalse(p.closing(), "the request in Python must be answered first");
        p.runPython();
        Responses.Response r = p.responses().next();
        assertEquals(200, r.status());
        assertEquals("close", r.header("Connection"));
        assertTrue(p.closing());
        p.passLinger();
        assertEquals(0, p.workers.connectionCount());
    }
}
