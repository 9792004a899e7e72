package dev.bridge.uwsgi;

import dev.bridge.http.FakePython;
import dev.bridge.http.Responses;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.slf4j.event.Level;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static dev.bridge.http.FakePython.full;
import static dev.bridge.uwsgi.Packets.concat;
import static dev.bridge.uwsgi.Packets.cookie;
import static dev.bridge.uwsgi.Packets.header;
import static dev.bridge.uwsgi.Packets.latin1;
import static dev.bridge.uwsgi.Packets.nginxVars;
import static dev.bridge.uwsgi.Packets.packet;
import static dev.bridge.uwsgi.Packets.u16;
import static dev.bridge.uwsgi.Packets.var;
import static dev.bridge.uwsgi.Packets.vars;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A uwsgi connection end to end on the real pipeline (decoder, connection, responder) with a fake Python:
 * the environ Python gets from nginx's vars, the raw HTTP response and its framing, the close after it,
 * and bad input: closed, the reason logged once, nothing leaked (every buffer released, temp files gone).
 */
class UwsgiConnectionTest {

    private static final String[] TEXT = {"Content-Type", "text/plain"};

    private final List<UwsgiPipeline> pipelines = new ArrayList<>();

    @BeforeAll
    static void paranoid() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    private UwsgiPipeline pipeline(FakePython.App app, String... flags) {
        UwsgiPipeline p = new UwsgiPipeline(app, flags);
        pipelines.add(p);
        return p;
    }

    @AfterEach
    void tearDown() {
        pipelines.forEach(UwsgiPipeline::close);
    }

    /**
     * The response is complete and the request was read to its last byte: the connection closes at once
     * (nothing unread can turn the close into a reset, and the peer's FIN is not waited for).
     */
    private static void assertClosedAfterResponse(UwsgiPipeline p) {
        assertFalse(p.channel.isOpen(), "closed right after the response");
        assertEquals(0, p.channel.writesAfterShutdown, "nothing written after the FIN");
    }

    /** The response is complete but the request's body was not read: FIN at once, closed after the linger. */
    private static void assertClosedGracefullyAfterResponse(UwsgiPipeline p) {
        assertTrue(p.outputShutdown(), "the output is shut down after the response");
        p.passLinger();
        assertFalse(p.channel.isOpen(), "closed after the linger delay");
        assertEquals(0, p.channel.writesAfterShutdown, "nothing written after the FIN");
    }

    /** Bad input: nothing written, the connection closed, the reason logged once at WARN, Python never called. */
    private static void assertRefused(UwsgiPipeline p, String fragment) {
        assertEquals("", new String(p.output(), StandardCharsets.ISO_8859_1), "nothing is written for bad input");
        assertFalse(p.channel.isOpen(), "the connection is closed");
        assertTrue(p.python.calls.isEmpty(), "Python is not called");
        List<String> warnings = p.warnings();
        assertEquals(1, warnings.size(), () -> "the reason is logged once: " + p.problems());
        assertTrue(warnings.get(0).contains(fragment), () -> "'" + warnings.get(0) + "' should mention '" + fragment + "'");
        assertTrue(warnings.get(0).contains("127.0.0.1:40000"), () -> "the log line names the peer: " + warnings.get(0));
        assertEquals(List.of(), p.log.messages(Level.ERROR));
        p.assertNothingLeaked();
    }

    // ---- a request through the connection: environ and response

    @Test
    void shouldServeNginxGetWithRawHttpResponseAndClose() {
        UwsgiPipeline p = pipeline(c -> full("200 OK", "hello", TEXT));
        p.send(Packets.fixture("get-query.uwsgi"));
        Responses.Response r = p.response();
        assertEquals("HTTP/1.1", r.version());
        assertEquals(200, r.status());
        assertEquals("OK", r.reason());
        assertEquals("5", r.header("Content-Length"));
        assertNull(r.header("Transfer-Encoding"));
        assertEquals("hello", r.text());
        assertClosedAfterResponse(p);
        assertEquals(1, p.python.calls.size());
        FakePython.Call c = p.python.calls.get(0);
        assertEquals("GET", c.env("REQUEST_METHOD"));
        assertEquals("a=1&b=%20x", c.env("QUERY_STRING"));
        assertEquals("/hello/world", c.env("PATH_INFO"));
        assertEquals("", c.env("SCRIPT_NAME"));
        assertEquals("/hello/world?a=1&b=%20x", c.env("REQUEST_URI"));
        assertEquals("HTTP/1.1", c.env("SERVER_PROTOCOL"));
        assertEquals("localhost", c.env("SERVER_NAME"));
        assertEquals("39000", c.env("SERVER_PORT"));
        assertEquals("127.0.0.1", c.env("REMOTE_ADDR"));
        assertEquals("127.0.0.1", c.env("HTTP_HOST"));
        assertEquals("fixture", c.env("HTTP_USER_AGENT"));
        assertEquals("http", c.env("wsgi.url_scheme"));
        assertEquals(0, c.body().length);
        assertTrue(p.alloc.count() > 0, "the pipeline allocates from the tracking allocator");
        p.assertNothingLeaked();
    }

    @Test
    void shouldTakeRemoteAddrFromNginxNotFromTheSocket() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(Packets.get("/"));
        assertEquals("192.0.2.7", p.python.calls.get(0).env("REMOTE_ADDR"), "the client of nginx, not nginx");
        assertEquals("example.org", p.python.calls.get(0).env("SERVER_NAME"));
        p.assertNothingLeaked();
    }

    @Test
    void shouldFillWhatPep3333RequiresWhenNginxSendsLittle() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(packet(0, vars("REQUEST_METHOD", "GET", "REQUEST_URI", "/caf%C3%A9?q=1"), new byte[0]));
        assertEquals(200, p.response().status());
        FakePython.Call c = p.python.calls.get(0);
        assertEquals("/caf\u00c3\u00a9", c.env("PATH_INFO"), "PATH_INFO from REQUEST_URI, percent-decoded, bytes as latin-1");
        assertEquals("", c.env("QUERY_STRING"));
        assertEquals("", c.env("SCRIPT_NAME"));
        assertEquals("HTTP/1.1", c.env("SERVER_PROTOCOL"));
        assertTrue(c.environ().containsKey("SERVER_NAME"));
        assertTrue(c.environ().containsKey("SERVER_PORT"));
        assertEquals("http", c.env("wsgi.url_scheme"));
        p.assertNothingLeaked();
    }

    @Test
    void shouldAnswerHttp10RequestWithHttp10StatusLine() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(Packets.get("/", "SERVER_PROTOCOL", "HTTP/1.0"));
        Responses.Response r = p.response();
        assertEquals("HTTP/1.0", r.version());
        assertEquals("ok", r.text());
        assertClosedAfterResponse(p);
        p.assertNothingLeaked();
    }

    @Test
    void shouldPassUtf8PathFromNginxToPythonAsBytesInAStr() {
        UwsgiPipeline p = pipeline(FakePython.ECHO_PATH);
        p.send(Packets.fixture("utf8-path.uwsgi"));
        String path = p.python.calls.get(0).env("PATH_INFO");
        assertEquals("/caf\u00c3\u00a9/na\u00c3\u00afve", path, "PEP 3333: one char per byte");
        assertEquals("/café/naïve", new String(latin1(path), StandardCharsets.UTF_8));
        assertArrayEquals(latin1(path), p.response().body(), "the same bytes come back");
        p.assertNothingLeaked();
    }

    @Test
    void shouldPassPostBodySplitAcrossSeveralReadsAndCallPythonOnceItIsWhole() {
        UwsgiPipeline p = pipeline(c -> full("200 OK", c.body(), TEXT));
        byte[] body = Packets.pattern(20_000);
        byte[] packet = Packets.post("/upload", body);
        int varsEnd = packet.length - body.length;
        p.sendSplit(packet, 7, varsEnd - 3, varsEnd + 1, varsEnd + 5000, varsEnd + 12_345);
        assertEquals(1, p.python.calls.size());
        FakePython.Call c = p.python.calls.get(0);
        assertEquals("20000", c.env("CONTENT_LENGTH"));
        assertEquals("application/octet-stream", c.env("CONTENT_TYPE"));
        assertArrayEquals(body, c.body());
        Responses.Response r = p.response();
        assertEquals("20000", r.header("Content-Length"));
        assertArrayEquals(body, r.body());
        assertClosedAfterResponse(p);
        p.assertNothingLeaked();
    }

    @Test
    void shouldNotCallPythonBeforeTheWholeBodyArrived() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        byte[] packet = Packets.post("/upload", Packets.pattern(1000));
        p.send(Packets.slice(packet, 0, packet.length - 1));
        assertTrue(p.python.calls.isEmpty());
        assertEquals(0, p.output().length);
        p.send(Packets.slice(packet, packet.length - 1, packet.length));
        assertEquals(1, p.python.calls.size());
        p.assertNothingLeaked();
    }

    @Test
    void shouldSpillABigBodyToATempFileAndRemoveIt() {
        UwsgiPipeline p = pipeline(c -> full("200 OK", String.valueOf(c.body().length), TEXT), "--spill-threshold=1000");
        byte[] body = Packets.pattern(50_000);
        byte[] packet = Packets.post("/upload", body);
        p.sendSplit(packet, packet.length - 40_000, packet.length - 100);
        FakePython.Call c = p.python.calls.get(0);
        String path = assertInstanceOf(String.class, c.bodyArg(), "a body over the threshold is a file for Python");
        assertArrayEquals(body, c.body());
        assertEquals("50000", p.response().text());
        assertFalse(Files.exists(Path.of(path)), "the temp file is removed after the response");
        p.assertNothingLeaked();
    }

    @Test
    void shouldFrameAChunkedUploadThatNginxReframedByContentLength() {
        UwsgiPipeline p = pipeline(c -> full("200 OK", c.body(), TEXT));
        p.send(Packets.fixture("post-chunked-upload.uwsgi"));
        FakePython.Call c = p.python.calls.get(0);
        assertEquals("19", c.env("CONTENT_LENGTH"));
        assertEquals("hello chunked world", new String(c.body(), StandardCharsets.US_ASCII));
        assertEquals("hello chunked world", p.response().text());
        p.assertNothingLeaked();
    }

    @Test
    void shouldAcceptBigCookiesNearTheSixtyFourKibLimit() {
        UwsgiPipeline p = pipeline(c -> full("200 OK", String.valueOf(c.env("HTTP_COOKIE").length()), TEXT));
        byte[] without = vars(nginxVars("GET", "/"));
        String big = cookie(65535 - without.length - 15);
        byte[] block = concat(without, var(latin1("HTTP_COOKIE"), latin1(big)));
        assertEquals(65535, block.length);
        byte[] packet = packet(0, block, new byte[0]);
        p.sendSplit(packet, 4, 16_384, 32_768, 49_152);
        assertEquals(big, p.python.calls.get(0).env("HTTP_COOKIE"));
        assertEquals(String.valueOf(big.length()), p.response().text());
        assertTrue(p.warnings().isEmpty(), () -> "" + p.warnings());
        p.assertNothingLeaked();
    }

    @Test
    void shouldIgnoreBytesAfterTheRequest() {
        UwsgiPipeline p = pipeline(FakePython.ECHO_PATH);
        p.send(concat(Packets.get("/a"), Packets.get("/b")));
        p.send(Packets.get("/c"));
        assertEquals(1, p.python.calls.size());
        assertEquals("/a", p.response().text());
        p.assertNothingLeaked();
    }

    /** See UwsgiDecoderTest.shouldAcceptHeadersNginxRepeatsAsRepeatedHttpVars. */
    @Test
    void shouldServeARequestWhoseHeadersNginxRepeated() {
        UwsgiPipeline p = pipeline(c -> full("200 OK", c.env("HTTP_X_DUP"), TEXT));
        p.send(Packets.fixture("repeated-headers.uwsgi"));
        assertEquals(List.of(), p.warnings(), "a repeated request header passed on by nginx is refused");
        assertEquals(200, p.response().status());
        assertEquals("1,2", p.python.calls.get(0).env("HTTP_X_DUP"));
        p.assertNothingLeaked();
    }

    // ---- modifier1 30 and the URL scheme

    @Test
    void shouldStripScriptNameFromPathInfoWithModifier30() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(packet(30, vars(nginxVars("GET", "/app/x/y?q=1", "SCRIPT_NAME", "/app")), new byte[0]));
        FakePython.Call c = p.python.calls.get(0);
        assertEquals("/app", c.env("SCRIPT_NAME"));
        assertEquals("/x/y", c.env("PATH_INFO"));
        assertEquals("q=1", c.env("QUERY_STRING"));
        p.assertNothingLeaked();
    }

    @Test
    void shouldLeaveAnEmptyPathInfoForTheMountPointItselfWithModifier30() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(packet(30, vars(nginxVars("GET", "/app", "SCRIPT_NAME", "/app")), new byte[0]));
        assertEquals("", p.python.calls.get(0).env("PATH_INFO"));
        p.assertNothingLeaked();
    }

    @Test
    void shouldNotStripScriptNameWithModifier0() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(packet(0, vars(nginxVars("GET", "/app/x", "SCRIPT_NAME", "/app")), new byte[0]));
        assertEquals("/app/x", p.python.calls.get(0).env("PATH_INFO"));
        assertEquals("/app", p.python.calls.get(0).env("SCRIPT_NAME"));
        p.assertNothingLeaked();
    }

    /**
     * nginx's {@code location /app} also matches /application. PEP 3333: PATH_INFO is empty or starts
     * with "/", and SCRIPT_NAME + PATH_INFO is the path; "lication" is neither.
     */
    @Test
    void shouldStripScriptNameOnlyAtAPathSegmentBoundaryWithModifier30() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(packet(30, vars(nginxVars("GET", "/application", "SCRIPT_NAME", "/app")), new byte[0]));
        FakePython.Call c = p.python.calls.get(0);
        String pathInfo = c.env("PATH_INFO");
        assertTrue(pathInfo.isEmpty() || pathInfo.startsWith("/"), "PATH_INFO '" + pathInfo + "'");
        assertEquals("/application", c.env("SCRIPT_NAME") + pathInfo);
        p.assertNothingLeaked();
    }

    @Test
    void shouldSetHttpsSchemeFromUwsgiScheme() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(Packets.get("/", "UWSGI_SCHEME", "https"));
        assertEquals("https", p.python.calls.get(0).env("wsgi.url_scheme"));
        p.assertNothingLeaked();
    }

    @Test
    void shouldSetHttpsSchemeFromHttpsOn() {
        for (String on : new String[]{"on", "ON", "1"}) {
            UwsgiPipeline p = pipeline(FakePython.OK);
            p.send(Packets.get("/", "HTTPS", on));
            assertEquals("https", p.python.calls.get(0).env("wsgi.url_scheme"), "HTTPS=" + on);
            p.assertNothingLeaked();
        }
    }

    @Test
    void shouldSetHttpsSchemeFromNginxRequestScheme() {
        // The stock uwsgi_params send REQUEST_SCHEME $scheme, and HTTPS only when it is on.
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(Packets.get("/", "REQUEST_SCHEME", "https", "HTTPS", "on"));
        assertEquals("https", p.python.calls.get(0).env("wsgi.url_scheme"));
        p.assertNothingLeaked();
    }

    @Test
    void shouldKeepHttpSchemeWhenHttpsIsOff() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(Packets.get("/", "HTTPS", "off"));
        assertEquals("http", p.python.calls.get(0).env("wsgi.url_scheme"));
        p.assertNothingLeaked();
    }

    // ---- responses: raw HTTP, framed by Content-Length or by the close

    @Test
    void shouldCloseDelimitAStreamedResponseWithoutContentLength() {
        UwsgiPipeline p = pipeline(FakePython.streaming("200 OK", TEXT, "one,", "two,", "three"));
        p.send(Packets.get("/stream"));
        Responses.Response r = p.response();
        assertEquals(200, r.status());
        assertNull(r.header("Content-Length"));
        assertNull(r.header("Transfer-Encoding"), "nginx's uwsgi module does not de-chunk: never chunked");
        assertFalse(r.chunked());
        assertEquals("one,two,three", r.text());
        assertClosedAfterResponse(p);
        p.assertNothingLeaked();
    }

    @Test
    void shouldKeepTheAppsContentLengthWhenStreaming() {
        UwsgiPipeline p = pipeline(FakePython.streaming("200 OK",
                new String[]{"Content-Type", "text/plain", "Content-Length", "6"}, "abc", "def"));
        p.send(Packets.get("/stream"));
        Responses.Response r = p.response();
        assertEquals("6", r.header("Content-Length"));
        assertEquals("abcdef", r.text());
        assertClosedAfterResponse(p);
        p.assertNothingLeaked();
    }

    @Test
    void shouldAnswerHeadWithoutBody() {
        UwsgiPipeline p = pipeline(c -> full("200 OK", "body", TEXT));
        p.send(packet(0, vars(nginxVars("HEAD", "/")), new byte[0]));
        Responses rs = p.responses();
        Responses.Response r = rs.next(true);
        assertEquals("4", r.header("Content-Length"));
        assertFalse(rs.hasMore(), () -> "no body: " + rs.rest());
        p.assertNothingLeaked();
    }

    @Test
    void shouldAnswer500WhenTheAppFails() {
        UwsgiPipeline p = pipeline(c -> {
            throw new IllegalStateException("boom");
        });
        p.send(Packets.get("/fail"));
        Responses.Response r = p.response();
        assertEquals(500, r.status());
        assertEquals("Internal Server Error\n", r.text());
        assertClosedAfterResponse(p);
        p.assertNothingLeaked();
    }

    @Test
    void shouldPassTheAppsStatusAndHeaders() {
        UwsgiPipeline p = pipeline(c -> full("404 Not Found", "nope", "Content-Type", "text/plain", "X-App", "yes",
                "Set-Cookie", "a=1", "Set-Cookie", "b=2"));
        p.send(Packets.get("/missing"));
        Responses.Response r = p.response();
        assertEquals(404, r.status());
        assertEquals("Not Found", r.reason());
        assertEquals("yes", r.header("X-App"));
        assertEquals(List.of("a=1", "b=2"), r.all("Set-Cookie"));
        p.assertNothingLeaked();
    }

    @Test
    void shouldAnswer413ForABodyOverLimitBody() {
        UwsgiPipeline p = pipeline(FakePython.OK, "--limit-body=100");
        p.send(Packets.post("/upload", Packets.pattern(1000)));
        assertEquals(413, p.response().status());
        assertTrue(p.python.calls.isEmpty());
        assertClosedGracefullyAfterResponse(p);
        p.assertNothingLeaked();
    }

    // ---- ping

    @Test
    void shouldAnswerPingWithPong() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(header(100, 0, 0));
        assertArrayEquals(new byte[]{100, 0, 0, 0}, p.output());
        assertFalse(p.channel.isOpen(), "closed after the pong");
        assertTrue(p.python.calls.isEmpty());
        assertEquals(List.of(), p.problems());
        p.assertNothingLeaked();
    }

    // ---- bad input

    /** One kind of bad input: the bytes of each read, whether the client closes after them, the reason expected. */
    record Bad(String name, String[] flags, List<byte[]> reads, boolean clientCloses, String reason) {
        @Override
        public String toString() {
            return name;
        }
    }

    private static Bad bad(String name, String reason, byte[] bytes) {
        return new Bad(name, new String[0], List.of(bytes), false, reason);
    }

    private static Bad badThenClose(String name, String reason, byte[]... reads) {
        return new Bad(name, new String[0], List.of(reads), true, reason);
    }

    static Stream<Bad> badInput() {
        byte[] post = Packets.post("/upload", Packets.pattern(100));
        byte[] get = Packets.get("/");
        byte[] big = concat(vars(nginxVars("GET", "/")), var(latin1("HTTP_COOKIE"), latin1(cookie(5000))));
        return Stream.of(
                bad("unsupported modifier1", "unsupported modifier1 5", packet(5, vars(nginxVars("GET", "/")), new byte[0])),
                new Bad("vars over --buffer-size", new String[]{"--buffer-size=4096"},
                        List.of(packet(0, big, new byte[0])), false, "over --buffer-size 4096"),
                new Bad("datasize over --buffer-size, header only", new String[]{"--buffer-size=4096"},
                        List.of(header(0, 60_000, 0)), false, "60000 bytes is over --buffer-size 4096"),
                bad("key length past the block", "runs past the vars block",
                        packet(0, concat(vars("REQUEST_METHOD", "GET"), u16(200), latin1("PATH_INFO")), new byte[0])),
                bad("value length past the block", "the value of PATH_INFO runs past the vars block",
                        packet(0, concat(vars("REQUEST_METHOD", "GET"), u16(9), latin1("PATH_INFO"), u16(300), latin1("/")), new byte[0])),
                bad("duplicate keys", "REQUEST_METHOD given twice",
                        packet(0, vars("REQUEST_METHOD", "GET", "PATH_INFO", "/", "REQUEST_METHOD", "POST"), new byte[0])),
                bad("empty key", "empty var name", packet(0, vars("REQUEST_METHOD", "GET", "", "x"), new byte[0])),
                bad("non-ASCII key", "bad key", packet(0, vars("REQUEST_METHOD", "GET", "HTTP_CAF\u00c3\u0089", "x"), new byte[0])),
                bad("non-UTF-8 key", "bad key", packet(0, vars("REQUEST_METHOD", "GET", "HTTP_\u00ff\u00fe", "x"), new byte[0])),
                bad("NUL in a value", "NUL byte in the value of PATH_INFO", Packets.get("/", "PATH_INFO", "/a\0b")),
                bad("bad CONTENT_LENGTH", "bad CONTENT_LENGTH", Packets.get("/", "CONTENT_LENGTH", "12abc")),
                bad("no REQUEST_METHOD", "no REQUEST_METHOD", packet(0, vars("PATH_INFO", "/"), new byte[0])),
                badThenClose("truncated header", "closed in the middle", new byte[]{0, 20, 0}),
                badThenClose("truncated vars", "closed in the middle", Packets.slice(get, 0, get.length / 2)),
                badThenClose("body shorter than CONTENT_LENGTH", "closed in the middle",
                        Packets.slice(post, 0, post.length - 60), Packets.slice(post, post.length - 60, post.length - 1)));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInput")
    void shouldCloseLogOnceAndLeakNothingOnBadInput(Bad bad) {
        UwsgiPipeline p = pipeline(FakePython.OK, bad.flags());
        for (byte[] read : bad.reads()) {
            p.send(read);
        }
        if (bad.clientCloses()) {
            assertTrue(p.channel.isOpen(), "waits for the rest while the client is there");
            assertTrue(p.warnings().isEmpty());
            p.clientCloses();
        }
        assertRefused(p, bad.reason());
    }

    @Test
    void shouldSpillAndRemoveTheBodyOfARequestCutShort() {
        UwsgiPipeline p = pipeline(FakePython.OK, "--spill-threshold=1000");
        List<Path> before = tempBodies();
        byte[] post = Packets.post("/upload", Packets.pattern(50_000));
        p.send(Packets.slice(post, 0, post.length - 10_000));
        List<Path> spilled = tempBodies();
        spilled.removeAll(before);
        assertEquals(1, spilled.size(), "the body went to a temp file");
        p.clientCloses();
        assertRefused(p, "closed in the middle");
        assertFalse(Files.exists(spilled.get(0)), "temp file left behind");
    }

    @Test
    void shouldReleaseTheBodyWhenTheClientLeavesWhilePythonWorks() {
        UwsgiPipeline p = pipeline(FakePython.OK, "--spill-threshold=1000").holdPython();
        List<Path> before = tempBodies();
        byte[] body = Packets.pattern(5000);
        p.send(Packets.post("/upload", body));
        List<Path> spilled = tempBodies();
        spilled.removeAll(before);
        p.clientCloses();
        p.runPython();
        assertArrayEquals(body, p.python.calls.get(0).body(), "Python could still read the body");
        assertFalse(Files.exists(spilled.get(0)), "temp file left behind");
        assertEquals(List.of(), p.log.messages(Level.ERROR));
        p.assertNothingLeaked();
    }

    @Test
    void shouldRefuseARequestCutShortByAHalfClose() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        byte[] post = Packets.post("/upload", Packets.pattern(100));
        p.send(Packets.slice(post, 0, post.length - 10));
        p.clientHalfCloses();
        assertRefused(p, "closed in the middle");
    }

    @Test
    void shouldStillAnswerARequestWhoseClientHalfClosedAfterSendingIt() {
        UwsgiPipeline p = pipeline(FakePython.OK).holdPython();
        p.send(Packets.post("/upload", Packets.pattern(100)));
        p.clientHalfCloses();
        assertTrue(p.channel.isOpen(), "the request is in Python: its answer is still wanted");
        p.runPython();
        assertEquals(200, p.response().status());
        assertEquals(List.of(), p.problems());
        p.assertNothingLeaked();
    }

    @Test
    void shouldCloseAnIdleConnectionOnHalfCloseWithoutLogging() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.clientHalfCloses();
        assertFalse(p.channel.isOpen());
        assertEquals(0, p.output().length);
        assertEquals(List.of(), p.problems(), "a connection that sent nothing is not bad input");
        p.assertNothingLeaked();
    }

    @Test
    void shouldCloseWithoutWaitingForTheClientsFinOnceTheRequestWasReadWhole() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.send(Packets.get("/"));
        assertFalse(p.channel.isOpen(), "closed after the response: nothing of the request is left unread");
        assertEquals(200, p.response().status());
        p.assertNothingLeaked();
    }

    @Test
    void shouldCloseOnTheClientsFinAfterA413() {
        UwsgiPipeline p = pipeline(FakePython.OK, "--limit-body=100");
        p.send(Packets.post("/upload", Packets.pattern(1000)));
        assertTrue(p.outputShutdown());
        assertTrue(p.channel.isOpen(), "the body is unread: waits for the client's FIN (or the linger delay)");
        p.clientHalfCloses();
        assertFalse(p.channel.isOpen(), "closed on the client's FIN, without waiting for the linger delay");
        assertEquals(413, p.response().status());
        p.assertNothingLeaked();
    }

    // ---- a stalled client: the header timeout (the worker's sweep)

    @Test
    void shouldCloseAClientThatStallsInTheVars() {
        UwsgiPipeline p = pipeline(FakePython.OK, "--header-timeout=5");
        byte[] get = Packets.get("/", "HTTP_COOKIE", cookie(1000));
        p.send(Packets.slice(get, 0, 500));
        p.sweepAfter(4);
        assertTrue(p.channel.isOpen(), "not yet");
        assertTrue(p.warnings().isEmpty());
        p.sweepAfter(6);
        p.sweepAfter(7);
        assertRefused(p, "not received within 5 s");
    }

    @Test
    void shouldCloseAClientThatStallsInTheBody() {
        UwsgiPipeline p = pipeline(FakePython.OK, "--header-timeout=5");
        byte[] post = Packets.post("/upload", Packets.pattern(1000));
        p.send(Packets.slice(post, 0, post.length - 500));
        p.sweepAfter(6);
        assertRefused(p, "not received within 5 s");
    }

    @Test
    void shouldCloseAConnectionThatNeverSendsAByte() {
        UwsgiPipeline p = pipeline(FakePython.OK, "--header-timeout=5");
        p.sweepAfter(6);
        assertRefused(p, "not received within 5 s");
    }

    @Test
    void shouldNotTimeOutARequestThatIsInPython() {
        UwsgiPipeline p = pipeline(FakePython.OK, "--header-timeout=5").holdPython();
        p.send(Packets.get("/slow"));
        p.sweepAfter(60);
        assertTrue(p.channel.isOpen());
        assertEquals(0, p.output().length);
        p.runPython();
        assertEquals(200, p.response().status());
        assertTrue(p.warnings().isEmpty(), () -> "" + p.warnings());
        p.assertNothingLeaked();
    }

    // ---- a worker draining (reload): requests already on their way are served

    @Test
    void shouldFinishARequestInPythonWhenDraining() {
        UwsgiPipeline p = pipeline(FakePython.OK).holdPython();
        p.send(Packets.get("/"));
        p.workers.drain(0, 0);
        p.channel.runPendingTasks();
        assertTrue(p.channel.isOpen());
        p.runPython();
        assertEquals(200, p.response().status());
        p.assertNothingLeaked();
    }

    /**
     * nginx writes its whole request right after connect(); a reload can start between the accept and the
     * first read. Closing then loses the request (nginx: "upstream prematurely closed connection" or
     * "recv() failed (104: Connection reset by peer)", a 502 for the client).
     */
    @Test
    void shouldServeARequestThatArrivesJustAfterTheDrainBegan() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        p.workers.drain(0, 0);
        p.channel.runPendingTasks();
        p.send(Packets.get("/"));
        assertEquals(1, p.python.calls.size(), "the request accepted before the drain was dropped");
        assertEquals(200, p.response().status());
        p.assertNothingLeaked();
    }

    /** A big request (cookies) arrives in several reads; a drain in between must not cut it. */
    @Test
    void shouldFinishAPartlyReceivedRequestWhenDraining() {
        UwsgiPipeline p = pipeline(FakePython.OK);
        byte[] get = Packets.get("/", "HTTP_COOKIE", cookie(30_000));
        p.send(Packets.slice(get, 0, 16_384));
        p.workers.drain(0, 0);
        p.channel.runPendingTasks();
        assertTrue(p.channel.isOpen(), "a request half received when the drain began was cut off");
        p.send(Packets.slice(get, 16_384, get.length));
        assertEquals(200, p.response().status());
        p.assertNothingLeaked();
    }

    private static List<Path> tempBodies() {
        try (Stream<Path> s = Files.list(Path.of(System.getProperty("java.io.tmpdir")))) {
            return new ArrayList<>(s.filter(f -> f.getFileName().toString().startsWith("bridge-body-")).toList());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
