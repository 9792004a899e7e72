package dev.bridge.uwsgi;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.ResourceLeakDetector;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.bridge.uwsgi.Packets.concat;
import static dev.bridge.uwsgi.Packets.cookie;
import static dev.bridge.uwsgi.Packets.header;
import static dev.bridge.uwsgi.Packets.latin1;
import static dev.bridge.uwsgi.Packets.nginxVars;
import static dev.bridge.uwsgi.Packets.packet;
import static dev.bridge.uwsgi.Packets.u16;
import static dev.bridge.uwsgi.Packets.var;
import static dev.bridge.uwsgi.Packets.vars;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link UwsgiDecoder} alone on an {@link EmbeddedChannel}, fed byte fixtures: what it emits (a Request,
 * the body in pieces, END; or a Ping; or one Bad) and in which state it ends. Every buffer fed in and every
 * body piece read out must end released.
 */
class UwsgiDecoderTest {

    private static final int DEFAULT_MAX = 64 * 1024;

    private final List<EmbeddedChannel> channels = new ArrayList<>();
    private final List<ByteBuf> fed = new ArrayList<>();
    private final TrackingAllocator alloc = new TrackingAllocator();
    /** Each channel's decoder, kept: the pipeline forgets its handlers once the channel is closed. */
    private final java.util.Map<EmbeddedChannel, UwsgiDecoder> decoders = new java.util.HashMap<>();

    @BeforeAll
    static void paranoid() {
        ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    }

    @AfterEach
    void nothingLeaked() {
        channels.forEach(EmbeddedChannel::finishAndReleaseAll);
        for (ByteBuf b : fed) {
            assertEquals(0, b.refCnt(), "a buffer fed to the decoder was not released");
        }
        assertEquals(List.of(), alloc.unreleased(), "buffers the decoder allocated and never released");
    }

    private EmbeddedChannel decoder(int maxVars) {
        EmbeddedChannel ch = new EmbeddedChannel();
        ch.config().setAllocator(alloc);
        UwsgiDecoder d = new UwsgiDecoder(maxVars);
        ch.pipeline().addLast(d);
        decoders.put(ch, d);
        channels.add(ch);
        return ch;
    }

    private EmbeddedChannel decoder() {
        return decoder(DEFAULT_MAX);
    }

    private void feed(EmbeddedChannel ch, byte[]... reads) {
        for (byte[] r : reads) {
            ByteBuf b = Unpooled.wrappedBuffer(r);
            fed.add(b);
            ch.writeInbound(b);
        }
    }

    private UwsgiDecoder.State state(EmbeddedChannel ch) {
        return decoders.get(ch).state();
    }

    /** What the decoder emitted, in order; body pieces are copied out and released. */
    private static List<Object> emitted(EmbeddedChannel ch) {
        List<Object> out = new ArrayList<>();
        for (Object m = ch.readInbound(); m != null; m = ch.readInbound()) {
            if (m instanceof ByteBuf b) {
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                b.release();
                out.add(bytes);
            } else {
                out.add(m);
            }
        }
        return out;
    }

    /** The body pieces of an emitted sequence, joined. */
    private static byte[] body(List<Object> out) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        out.stream().filter(m -> m instanceof byte[]).forEach(m -> b.writeBytes((byte[]) m));
        return b.toByteArray();
    }

    private static UwsgiPacket.Request request(List<Object> out) {
        return assertInstanceOf(UwsgiPacket.Request.class, out.get(0), () -> "emitted " + out);
    }

    /** Asserts that exactly one Bad was emitted, as the last message, with a reason containing {@code fragment}. */
    private void assertBad(EmbeddedChannel ch, List<Object> out, String fragment) {
        assertTrue(!out.isEmpty(), "nothing emitted");
        long bads = out.stream().filter(m -> m instanceof UwsgiPacket.Bad).count();
        assertEquals(1, bads, () -> "one Bad expected: " + out);
        UwsgiPacket.Bad bad = assertInstanceOf(UwsgiPacket.Bad.class, out.get(out.size() - 1), () -> "emitted " + out);
        assertTrue(bad.reason().contains(fragment), () -> "reason '" + bad.reason() + "' should mention '" + fragment + "'");
        assertEquals(UwsgiDecoder.State.BAD, state(ch));
    }

    private static String str(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    // ---- valid requests

    @Test
    void shouldDecodeNginxGetWithQueryString() {
        EmbeddedChannel ch = decoder();
        feed(ch, Packets.fixture("get-query.uwsgi"));
        List<Object> out = emitted(ch);
        assertEquals(2, out.size(), () -> "emitted " + out);
        UwsgiPacket.Request r = request(out);
        assertEquals(0, r.modifier1());
        assertEquals(0, r.contentLength());
        assertEquals("GET", r.vars().get("REQUEST_METHOD"));
        assertEquals("a=1&b=%20x", r.vars().get("QUERY_STRING"));
        assertEquals("/hello/world", r.vars().get("PATH_INFO"));
        assertEquals("", r.vars().get("CONTENT_LENGTH"), "nginx sends an empty CONTENT_LENGTH for a GET");
        assertEquals("fixture", r.vars().get("HTTP_USER_AGENT"));
        assertEquals(16, r.vars().size());
        assertEquals(List.of("QUERY_STRING", "REQUEST_METHOD", "CONTENT_TYPE"),
                r.vars().keySet().stream().limit(3).toList(), "vars keep their arrival order");
        assertSame(UwsgiPacket.END, out.get(1));
        assertEquals(UwsgiDecoder.State.DONE, state(ch));
    }

    @Test
    void shouldDecodeRequestArrivingOneByteAtATime() {
        EmbeddedChannel ch = decoder();
        byte[] p = Packets.post("/one?x=1", latin1("body!"));
        for (byte b : p) {
            feed(ch, new byte[]{b});
        }
        List<Object> out = emitted(ch);
        UwsgiPacket.Request r = request(out);
        assertEquals("x=1", r.vars().get("QUERY_STRING"));
        assertEquals(5, r.contentLength());
        assertEquals("body!", str(body(out)));
        assertSame(UwsgiPacket.END, out.get(out.size() - 1));
    }

    @Test
    void shouldStreamPostBodySplitAcrossSeveralReads() {
        EmbeddedChannel ch = decoder();
        byte[] body = Packets.pattern(10_000);
        byte[] p = Packets.post("/upload", body);
        int varsEnd = p.length - body.length;
        // the vars and the first 10 body bytes, then three more reads
        feed(ch, Packets.slice(p, 0, varsEnd + 10));
        List<Object> first = emitted(ch);
        assertEquals(2, first.size(), () -> "a Request and the first piece: " + first);
        assertEquals(10_000, request(first).contentLength());
        assertEquals(UwsgiDecoder.State.READ_BODY, state(ch));
        feed(ch, Packets.slice(p, varsEnd + 10, varsEnd + 4000), Packets.slice(p, varsEnd + 4000, varsEnd + 9999));
        assertEquals(UwsgiDecoder.State.READ_BODY, state(ch));
        feed(ch, Packets.slice(p, varsEnd + 9999, p.length));
        List<Object> rest = emitted(ch);
        assertSame(UwsgiPacket.END, rest.get(rest.size() - 1));
        List<Object> all = new ArrayList<>(first);
        all.addAll(rest);
        assertTrue(all.stream().filter(m -> m instanceof byte[]).count() >= 3, "the body is streamed, not buffered whole");
        assertTrue(java.util.Arrays.equals(body, body(all)), "the body arrives intact and in order");
        assertEquals(UwsgiDecoder.State.DONE, state(ch));
    }

    @Test
    void shouldEmitABigBodyInPiecesOfAtMostMaxBodyPiece() {
        EmbeddedChannel ch = decoder();
        byte[] body = Packets.pattern(3 * UwsgiDecoder.MAX_BODY_PIECE + 17);
        feed(ch, Packets.post("/big", body));
        List<Object> out = emitted(ch);
        for (Object m : out) {
            if (m instanceof byte[] piece) {
                assertTrue(piece.length <= UwsgiDecoder.MAX_BODY_PIECE, "piece of " + piece.length);
            }
        }
        assertTrue(java.util.Arrays.equals(body, body(out)));
    }

    @Test
    void shouldTakeTheBodyLengthFromContentLengthNotTransferEncoding() {
        // nginx de-chunks a chunked upload, sends CONTENT_LENGTH, and passes HTTP_TRANSFER_ENCODING on.
        EmbeddedChannel ch = decoder();
        feed(ch, Packets.fixture("post-chunked-upload.uwsgi"));
        List<Object> out = emitted(ch);
        UwsgiPacket.Request r = request(out);
        assertEquals("chunked", r.vars().get("HTTP_TRANSFER_ENCODING"));
        assertEquals(19, r.contentLength());
        assertEquals("hello chunked world", str(body(out)));
        assertSame(UwsgiPacket.END, out.get(out.size() - 1));
    }

    @Test
    void shouldKeepNonUtf8BytesOfValuesAsLatin1() {
        EmbeddedChannel ch = decoder();
        feed(ch, Packets.fixture("utf8-path.uwsgi"));
        UwsgiPacket.Request r = request(emitted(ch));
        String path = r.vars().get("PATH_INFO");
        assertEquals("/caf\u00c3\u00a9/na\u00c3\u00afve", path, "one char per byte");
        assertEquals("/café/naïve", new String(latin1(path), StandardCharsets.UTF_8));
    }

    @Test
    void shouldAcceptValueBytesThatAreNotUtf8() {
        EmbeddedChannel ch = decoder();
        feed(ch, Packets.get("/x", "HTTP_X_BLOB", "\u00ff\u00fe\u0080\u0001\u007f"));
        UwsgiPacket.Request r = request(emitted(ch));
        assertEquals("\u00ff\u00fe\u0080\u0001\u007f", r.vars().get("HTTP_X_BLOB"));
    }

    @Test
    void shouldAcceptBigCookiesNearTheSixtyFourKibLimit() {
        EmbeddedChannel ch = decoder();
        byte[] without = vars(nginxVars("GET", "/"));
        int cookieLength = 65535 - without.length - var(latin1("HTTP_COOKIE"), new byte[0]).length;
        String big = cookie(cookieLength);
        byte[] block = concat(without, var(latin1("HTTP_COOKIE"), latin1(big)));
        assertEquals(65535, block.length, "the largest block a u16 datasize can announce");
        feed(ch, packet(0, block, new byte[0]));
        List<Object> out = emitted(ch);
        assertEquals(big, request(out).vars().get("HTTP_COOKIE"));
        assertSame(UwsgiPacket.END, out.get(1));
    }

    @Test
    void shouldAcceptAVarsBlockOfExactlyBufferSize() {
        EmbeddedChannel ch = decoder(4096);
        byte[] without = vars(nginxVars("GET", "/"));
        byte[] block = concat(without, var(latin1("HTTP_COOKIE"), latin1(cookie(4096 - without.length - 15))));
        assertEquals(4096, block.length);
        feed(ch, packet(0, block, new byte[0]));
        request(emitted(ch));
    }

    @Test
    void shouldDecodeModifier30AsAWsgiRequest() {
        EmbeddedChannel ch = decoder();
        feed(ch, packet(30, vars(nginxVars("GET", "/app/x", "SCRIPT_NAME", "/app")), new byte[0]));
        assertEquals(30, request(emitted(ch)).modifier1());
    }

    @Test
    void shouldEmitARequestForAnEmptyVarsBlock() {
        // Not servable (no REQUEST_METHOD): the connection refuses it, the decoder only frames it.
        EmbeddedChannel ch = decoder();
        feed(ch, header(0, 0, 0));
        List<Object> out = emitted(ch);
        assertEquals(Map.of(), request(out).vars());
        assertSame(UwsgiPacket.END, out.get(1));
    }

    @Test
    void shouldTreatAnEmptyContentLengthAsNoBody() {
        EmbeddedChannel ch = decoder();
        feed(ch, Packets.get("/", "CONTENT_LENGTH", ""));
        assertEquals(0, request(emitted(ch)).contentLength());
        assertEquals(UwsgiDecoder.State.DONE, state(ch));
    }

    @Test
    void shouldIgnoreBytesAfterTheRequest() {
        EmbeddedChannel ch = decoder();
        feed(ch, concat(Packets.get("/a"), Packets.get("/b")), Packets.get("/c"));
        List<Object> out = emitted(ch);
        assertEquals(2, out.size(), () -> "one request per connection: " + out);
        assertEquals("/a", request(out).vars().get("PATH_INFO"));
    }

    @Test
    void shouldEmitNothingForAConnectionClosedBeforeAnyByte() {
        EmbeddedChannel ch = decoder();
        ch.finish();
        assertEquals(List.of(), emitted(ch));
    }

    /**
     * nginx before 1.23 (Debian 12 ships 1.22) passes a request header the client repeated as repeated
     * HTTP_ vars. That is an ordinary request (two Cookie lines, or a list header such as Accept or
     * X-Forwarded-For split over lines), not a malformed packet: it must be served, the values joined as
     * the HTTP path joins repeated headers, and not answered by nginx with a 502.
     */
    @Test
    void shouldAcceptHeadersNginxRepeatsAsRepeatedHttpVars() {
        EmbeddedChannel ch = decoder();
        feed(ch, Packets.fixture("repeated-headers.uwsgi"));
        List<Object> out = emitted(ch);
        UwsgiPacket.Request r = assertInstanceOf(UwsgiPacket.Request.class, out.get(0),
                () -> "a repeated header from nginx was refused: " + out);
        assertEquals("1,2", r.vars().get("HTTP_X_DUP"));
        assertTrue(r.vars().get("HTTP_COOKIE").matches("a=1(;|,) ?b=2"), r.vars().get("HTTP_COOKIE"));
    }

    // ---- ping and modifiers

    @Test
    void shouldDecodePing() {
        EmbeddedChannel ch = decoder();
        feed(ch, new byte[]{100, 0, 0, 0});
        List<Object> out = emitted(ch);
        assertEquals(1, out.size());
        assertInstanceOf(UwsgiPacket.Ping.class, out.get(0));
        assertEquals(UwsgiDecoder.State.DONE, state(ch));
    }

    @Test
    void shouldDecodePingSentInTwoReads() {
        EmbeddedChannel ch = decoder();
        feed(ch, new byte[]{100, 0});
        assertEquals(List.of(), emitted(ch));
        feed(ch, new byte[]{0, 0});
        assertInstanceOf(UwsgiPacket.Ping.class, emitted(ch).get(0));
    }

    @Test
    void shouldRefuseUnsupportedModifier1() {
        for (int m : new int[]{5, 9, 17, 99, 101, 255}) {
            EmbeddedChannel ch = decoder();
            feed(ch, packet(m, vars(nginxVars("GET", "/")), new byte[0]));
            assertBad(ch, emitted(ch), "modifier1 " + m);
        }
    }

    // ---- bad input: each emits one Bad, then discards the rest

    @Test
    void shouldRefuseATruncatedHeaderWhenTheConnectionCloses() {
        EmbeddedChannel ch = decoder();
        feed(ch, new byte[]{0, 10});
        assertEquals(List.of(), emitted(ch), "waits for the rest of the header");
        ch.finish();
        assertBad(ch, emitted(ch), "closed in the middle");
    }

    @Test
    void shouldRefuseTruncatedVarsWhenTheConnectionCloses() {
        EmbeddedChannel ch = decoder();
        byte[] p = Packets.get("/");
        feed(ch, Packets.slice(p, 0, p.length - 5));
        assertEquals(List.of(), emitted(ch));
        assertEquals(UwsgiDecoder.State.READ_VARS, state(ch));
        ch.finish();
        assertBad(ch, emitted(ch), "closed in the middle");
    }

    @Test
    void shouldRefuseABodyShorterThanContentLengthWhenTheConnectionCloses() {
        EmbeddedChannel ch = decoder();
        byte[] p = Packets.post("/", Packets.pattern(100));
        feed(ch, Packets.slice(p, 0, p.length - 40));
        ch.finish();
        List<Object> out = emitted(ch);
        request(out);
        assertEquals(60, body(out).length, "the 60 bytes that came were passed on");
        assertTrue(out.stream().noneMatch(m -> m == UwsgiPacket.END), "never END: the body is incomplete");
        assertBad(ch, out, "closed in the middle");
    }

    @Test
    void shouldRefuseADatasizeBeyondTheCap() {
        EmbeddedChannel ch = decoder(4096);
        byte[] block = concat(vars(nginxVars("GET", "/")), var(latin1("HTTP_COOKIE"), latin1(cookie(5000))));
        feed(ch, packet(0, block, new byte[0]));
        assertBad(ch, emitted(ch), "--buffer-size 4096");
    }

    @Test
    void shouldRefuseADatasizeBeyondTheCapFromTheHeaderAlone() {
        // The vars are not awaited: 4 bytes announcing too much are enough to refuse.
        EmbeddedChannel ch = decoder(4096);
        feed(ch, header(0, 4097, 0));
        assertBad(ch, emitted(ch), "4097");
    }

    @Test
    void shouldRefuseAKeyLengthRunningPastTheBlock() {
        EmbeddedChannel ch = decoder();
        byte[] block = concat(vars("REQUEST_METHOD", "GET"), u16(100), latin1("PATH_INFO"));
        feed(ch, packet(0, block, new byte[0]));
        assertBad(ch, emitted(ch), "runs past the vars block");
    }

    @Test
    void shouldRefuseAValueLengthRunningPastTheBlock() {
        EmbeddedChannel ch = decoder();
        byte[] block = concat(vars("REQUEST_METHOD", "GET"), u16(9), latin1("PATH_INFO"), u16(500), latin1("/x"));
        feed(ch, packet(0, block, new byte[0]));
        assertBad(ch, emitted(ch), "PATH_INFO runs past the vars block");
    }

    @Test
    void shouldRefuseAValueWhoseLengthFieldIsCutByTheBlockEnd() {
        EmbeddedChannel ch = decoder();
        byte[] block = concat(vars("REQUEST_METHOD", "GET"), u16(9), latin1("PATH_INFO"), new byte[]{2});
        feed(ch, packet(0, block, new byte[0]));
        assertBad(ch, emitted(ch), "runs past the vars block");
    }

    @Test
    void shouldRefuseALoneByteWhereAKeyLengthShouldBe() {
        EmbeddedChannel ch = decoder();
        feed(ch, packet(0, concat(vars("REQUEST_METHOD", "GET"), new byte[]{1}), new byte[0]));
        assertBad(ch, emitted(ch), "runs past the vars block");
    }

    @Test
    void shouldRefuseDuplicateKeys() {
        EmbeddedChannel ch = decoder();
        feed(ch, packet(0, vars("REQUEST_METHOD", "GET", "PATH_INFO", "/a", "PATH_INFO", "/b"), new byte[0]));
        assertBad(ch, emitted(ch), "PATH_INFO given twice");
    }

    @Test
    void shouldRefuseAnEmptyKey() {
        EmbeddedChannel ch = decoder();
        feed(ch, packet(0, vars("REQUEST_METHOD", "GET", "", "value"), new byte[0]));
        assertBad(ch, emitted(ch), "empty var name");
    }

    @Test
    void shouldRefuseNonAsciiBytesInKeys() {
        String[] keys = {"HTTP_CAF\u00c3\u0089", "HTTP_\u00ff", "HTTP_X\u0080"};
        for (String key : keys) {
            EmbeddedChannel ch = decoder();
            feed(ch, packet(0, vars("REQUEST_METHOD", "GET", key, "v"), new byte[0]));
            assertBad(ch, emitted(ch), "bad key");
        }
    }

    @Test
    void shouldRefuseControlCharactersAndSpacesInKeys() {
        for (String key : new String[]{"HTTP_A B", "HTTP_A\tB", "HTTP_A\0B", "HTTP_A\nB"}) {
            EmbeddedChannel ch = decoder();
            feed(ch, packet(0, vars("REQUEST_METHOD", "GET", key, "v"), new byte[0]));
            assertBad(ch, emitted(ch), "bad key");
        }
    }

    @Test
    void shouldRefuseANulInAValue() {
        // NUL separates the environ's keys and values on their way to Python: it cannot be in one.
        EmbeddedChannel ch = decoder();
        feed(ch, Packets.get("/", "HTTP_X_EVIL", "a\0b"));
        assertBad(ch, emitted(ch), "NUL byte in the value of HTTP_X_EVIL");
    }

    @Test
    void shouldRefuseABadContentLength() {
        for (String cl : new String[]{"abc", "-1", "1e3", " 5", "99999999999999999999"}) {
            EmbeddedChannel ch = decoder();
            feed(ch, Packets.get("/", "CONTENT_LENGTH", cl));
            assertBad(ch, emitted(ch), "CONTENT_LENGTH");
        }
    }

    @Test
    void shouldRefuseMoreThanMaxVars() {
        EmbeddedChannel ch = decoder();
        String[] kv = new String[2 * (UwsgiDecoder.MAX_VARS + 1)];
        for (int i = 0; i < UwsgiDecoder.MAX_VARS + 1; i++) {
            kv[2 * i] = "HTTP_X" + i;
            kv[2 * i + 1] = "";
        }
        feed(ch, packet(0, vars(kv), new byte[0]));
        assertBad(ch, emitted(ch), "more than " + UwsgiDecoder.MAX_VARS);
    }

    @Test
    void shouldDiscardEverythingAfterBadInput() {
        EmbeddedChannel ch = decoder();
        feed(ch, packet(0, vars("", "x"), new byte[0]));
        assertBad(ch, emitted(ch), "empty");
        feed(ch, Packets.get("/after"), new byte[]{100, 0, 0, 0});
        assertEquals(List.of(), emitted(ch), "one Bad, then nothing");
        ch.finish();
        assertEquals(List.of(), emitted(ch), "and no second Bad at the close");
    }

    @Test
    void shouldReleaseTheCumulationWhenTheConnectionClosesMidRequest() {
        EmbeddedChannel ch = decoder();
        byte[] p = Packets.get("/", "HTTP_COOKIE", cookie(30_000));
        feed(ch, Packets.slice(p, 0, 100), Packets.slice(p, 100, 20_000));
        ch.finish();
        assertBad(ch, emitted(ch), "closed in the middle");
    }
}
