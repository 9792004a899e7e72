package dev.bridge.logging;

import dev.bridge.config.Config;
import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Json;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import dev.bridge.uwsgi.Packets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --log-format against the real server: JSON lines that every JSON parser reads back after hostile request
 * targets and headers (quotes, backslashes, %22, raw high bytes, control characters; over uwsgi also line
 * breaks, which a uwsgi packet can carry), from the Java paths (HTTP, uwsgi under --uwsgi-loop netty, the
 * server's own 400s) and the C loop; a uWSGI-style template; and the one-line refusals of bad values. The app
 * is src/test/python/master_app.py (it answers with the worker's pid).
 */
@Timeout(120)
class AccessLogIT {

    private static final String APP = "master_app:application";
    private static final Pattern ISO_TIME = Pattern.compile("\\d{4}-\\d\\d-\\d\\dT\\d\\d:\\d\\d:\\d\\d\\.\\d{3}Z");

    private static String mark() {
        return "m" + UUID.randomUUID().toString().replace("-", "");
    }

    /** The one access line (a line that starts with "{") that holds {@code mark}, parsed; every access line must parse. */
    private static Map<String, Object> jsonLine(BridgeServer server, String mark) throws InterruptedException {
        assertTrue(server.awaitLog(mark, Duration.ofSeconds(10)), "no access line with " + mark + ":\n" + server.log());
        List<Map<String, Object>> found = new ArrayList<>();
        for (String line : server.log().lines().toList()) {
            if (line.startsWith("{")) {
                Map<String, Object> o = Json.object(line); // throws, naming the line, if it is not one JSON object
                if (line.contains(mark)) {
                    found.add(o);
                }
            } else {
                assertFalse(line.contains(mark), "a line holding the request's values that is not its JSON line: " + line);
            }
        }
        assertEquals(1, found.size(), "one access line per request:\n" + server.log());
        return found.get(0);
    }

    private static void assertTimely(Map<String, Object> o) {
        String time = (String) o.get("time");
        assertTrue(ISO_TIME.matcher(time).matches(), time);
        assertTrue(Math.abs(Instant.parse(time).toEpochMilli() - System.currentTimeMillis()) < 60_000, time);
    }

    @Test
    void jsonLinesOverHttpParseAfterHostileTargetsAndHeaders() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--log-format", "json")) {
            // Served: quotes, backslashes, an encoded quote, raw UTF-8 and raw 0xff in the target; a tab, quotes and
            // backslashes in headers.
            String mark = mark();
            String target = "/caf\u00c3\u00a9/\u00ff/a\"b\\c?m=" + mark + "&q=%22x%22&r=\"\\\"";
            String agent = "agent \"quoted\"\t\\back\\slash \u00e9";
            String referer = "http://r.example/\"x\"\\y?%22";
            RawHttp.Response r;
            try (RawHttp c = new RawHttp(server.port())) {
                r = c.exchange(Wire.get(target, "User-Agent: " + agent, "Referer: " + referer, "Connection: close"));
            }
            assertEquals(200, r.status(), r.text());
            Map<String, Object> o = jsonLine(server, mark);
            assertEquals(target, o.get("uri"), "the target as received, byte for byte (latin-1)");
            assertEquals(agent, o.get("uagent"));
            assertEquals(referer, o.get("referer"));
            assertEquals("GET", o.get("method"));
            assertEquals("HTTP/1.1", o.get("proto"));
            assertEquals("127.0.0.1", o.get("host"));
            assertEquals("127.0.0.1", o.get("addr"));
            assertEquals(200L, o.get("status"));
            assertEquals((long) r.body().length, o.get("size"));
            assertEquals(Long.parseLong(r.text().trim()), o.get("pid"), "the worker's pid");
            assertEquals(1L, o.get("wid"));
            assertEquals(0L, o.get("core"));
            assertEquals(0L, o.get("cl"));
            assertTrue((Long) o.get("micros") >= 0 && (Long) o.get("msecs") == (Long) o.get("micros") / 1000, o.toString());
            assertTimely(o);

            // Refused by the server itself (a 400 before the app): a control character in a header, a quote in
            // Host, a control character in the target. Still one JSON line each, without timing.
            String[][] refused = {
                    {"/u?m=%s", "User-Agent: ua \"q\"\u0001\u007f"},
                    {"/h?m=%s", "Host: ex\"ample"},
                    {"/t\u0001\"\\?m=%s", "X-Any: 1"},
            };
            for (String[] req : refused) {
                String m = mark();
                String t = String.format(req[0], m);
                try (RawHttp c = new RawHttp(server.port())) {
                    assertEquals(400, c.exchange(Wire.get(t, req[1], "Connection: close")).status(), t);
                }
                Map<String, Object> line = jsonLine(server, m);
                assertEquals(t, line.get("uri"));
                assertEquals(400L, line.get("status"));
                assertTrue(line.containsKey("msecs") && line.get("msecs") == null, "not timed: null, " + line);
                assertEquals("127.0.0.1", line.get("addr"));
                assertTimely(line);
            }
            assertFalse(server.log().contains("INFO worker-1[" + o.get("pid") + "] - 127.0.0.1"),
                    "no line of the bridge's own format beside the JSON ones");
        }
    }

    /** One uwsgi request over a new connection; the response (latin-1). */
    private static String uwsgi(int port, byte[] packet) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 10_000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(packet);
            return Packets.readUntilEnd(s);
        }
    }

    @ParameterizedTest
    @EnumSource(Config.UwsgiLoop.class)
    void jsonLinesOverUwsgiStayOneLineWhateverTheVarsHold(Config.UwsgiLoop loop) throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--log-format", "json", "--uwsgi-socket",
                "127.0.0.1:0", "--uwsgi-loop", loop.name().toLowerCase())) {
            String mark = mark();
            // A uwsgi var may hold anything but NUL: line breaks, a forged second log line, quotes, high bytes.
            String uri = "/x?m=" + mark + "&a=\"b\"\\c\n{\"forged\":true}\r\n\u00ff\u0001";
            String agent = "ua\n\"quoted\"\t\u0001\u001f\u007f\u0080\u00e9";
            String referer = "\\\"}\n{\"status\":500";
            String answer = uwsgi(server.uwsgiPort(), Packets.get(uri, "HTTP_USER_AGENT", agent, "HTTP_REFERER",
                    referer, "HTTP_HOST", "h\"ost"));
            assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\n"), answer);
            Map<String, Object> o = jsonLine(server, mark);
            assertEquals(uri, o.get("uri"));
            assertEquals(agent, o.get("uagent"));
            assertEquals(referer, o.get("referer"));
            assertEquals("h\"ost", o.get("host"));
            assertEquals("192.0.2.7", o.get("addr"), "REMOTE_ADDR, as nginx sent it");
            assertEquals("GET", o.get("method"));
            assertEquals("HTTP/1.1", o.get("proto"));
            assertEquals(200L, o.get("status"));
            assertEquals(Long.parseLong(answer.substring(answer.indexOf("\r\n\r\n") + 4).trim()), o.get("pid"));
            assertEquals(1L, o.get("wid"));
            assertEquals(0L, o.get("core"));
            assertTimely(o);
            assertFalse(server.log().lines().anyMatch(l -> l.startsWith("{\"forged\"") || l.startsWith("{\"status\"")),
                    "no forged line");

            // The same keys, in the same order, from HTTP (the Java path) on this server.
            String m2 = mark();
            try (RawHttp c = new RawHttp(server.port())) {
                assertEquals(200, c.exchange(Wire.get("/?m=" + m2, "Connection: close")).status());
            }
            assertEquals(new ArrayList<>(jsonLine(server, m2).keySet()), new ArrayList<>(o.keySet()));
        }
    }

    @Test
    void aTemplateOfUwsgiFieldsIsTheWholeLine() throws Exception {
        String format = "%(addr) \"%(method) %(uri) %(proto)\" %(status) %(size) %(msecs)ms %(micros)us pid=%(pid) "
                + "wid=%(wid) core=%(core) ua=\"%(uagent)\" ref=\"%(referer)\" host=%(host) [%(ltime)] t=%(time) "
                + "cl=%(cl) 100%";
        try (BridgeServer server = BridgeServer.start("--module", APP, "--log-format", format, "--uwsgi-socket",
                "127.0.0.1:0")) {
            String mark = mark();
            RawHttp.Response r;
            try (RawHttp c = new RawHttp(server.port())) {
                r = c.exchange(Wire.post("/t?m=" + mark + "&q=\"x\"", "abc", "User-Agent: a \"b\"\tc\\d",
                        "Connection: close"));
            }
            assertEquals(200, r.status());
            String pid = r.text().trim();
            Pattern http = Pattern.compile(Pattern.quote("127.0.0.1 \"POST /t?m=" + mark + "&q=\\\"x\\\" HTTP/1.1\" 200 "
                    + pid.length() + " ") + "\\d+ms \\d+us " + Pattern.quote("pid=" + pid + " wid=1 core=0 ua=\"a \\\"b\\\"\\x09c\\\\d\" "
                    + "ref=\"-\" host=127.0.0.1 [") + "\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\\] t=\\d{10} "
                    + Pattern.quote("cl=3 100%"));
            assertTrue(server.awaitLog(mark, Duration.ofSeconds(10)));
            String line = server.log().lines().filter(l -> l.contains(mark)).findFirst().orElseThrow();
            assertTrue(http.matcher(line).matches(), "the whole line, no date, level or tag before it:\n" + line);

            // The C loop writes the same line: a line break in the target is escaped, as nginx does.
            String m2 = mark();
            String answer = uwsgi(server.uwsgiPort(), Packets.get("/u?m=" + m2 + "\n\u00ff", "HTTP_USER_AGENT", "ua"));
            assertTrue(answer.startsWith("HTTP/1.1 200 OK\r\n"), answer);
            String wpid = answer.substring(answer.indexOf("\r\n\r\n") + 4).trim();
            Pattern c = Pattern.compile(Pattern.quote("192.0.2.7 \"GET /u?m=" + m2 + "\\x0A\\xFF HTTP/1.1\" 200 "
                    + wpid.length() + " ") + "\\d+ms \\d+us " + Pattern.quote("pid=" + wpid + " wid=1 core=0 ua=\"ua\" "
                    + "ref=\"-\" host=example.org [") + "\\d\\d/[A-Z][a-z]{2}/\\d{4}:\\d\\d:\\d\\d:\\d\\d [+-]\\d{4}\\] t=\\d{10} "
                    + Pattern.quote("cl=0 100%"));
            assertTrue(server.awaitLog(m2, Duration.ofSeconds(10)));
            String cline = server.log().lines().filter(l -> l.contains(m2)).findFirst().orElseThrow();
            assertTrue(c.matcher(cline).matches(), "the C loop's line:\n" + cline);
        }
    }

    /** Runs the launcher with {@code args}; its exit code and output. */
    private static String refused(int expectedExit, String... args) throws Exception {
        Process p = BridgeServer.launch(List.of(args));
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the launcher exits");
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(expectedExit, p.exitValue(), out);
        return out;
    }

    @Test
    void badValuesAreOneLineAndUsagesExitCode() throws Exception {
        String out = refused(2, "--module", APP, "--log-format", "%(addr) %(bogus)");
        assertEquals(1, out.strip().lines().count(), out);
        assertTrue(out.contains("unknown field %(bogus); known: method, uri,"), out);

        Path dir = Files.createTempDirectory("bridge-logto");
        out = refused(2, "--module", APP, "--chdir", BridgeServer.testApps().toString(), "--logto",
                dir.resolve("missing/bridge.log").toString());
        assertTrue(out.strip().lines().anyMatch(l -> l.startsWith("bridge: error: --logto ")
                && l.contains("cannot open it for appending (No such file or directory)")), out);
    }
}
