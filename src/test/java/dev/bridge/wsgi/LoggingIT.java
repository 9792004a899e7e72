package dev.bridge.wsgi;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.time.Duration;
import java.util.List;
import java.util.UUID;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

import static dev.bridge.testing.Wire.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue item 8: one access-log line per request (client, method, path, status, bytes, ms); Python's stdout,
 * stderr and wsgi.errors in the server log.
 */
@Timeout(60)
class LoggingIT {

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

    static String marker() {
        return "m" + UUID.randomUUID().toString().replace("-", "");
    }

    static List<String> linesWith(String text) {
        return server.log().lines().filter(l -> l.contains(text)).collect(Collectors.toList());
    }

    /** Waits until exactly {@code n} lines contain {@code text} (and stay so for a moment). */
    static List<String> awaitLines(String text, int n) throws Exception {
        Wire.eventually(5000, "expected " + n + " log line(s) with " + text + ", got: " + linesWith(text),
                () -> linesWith(text).size() >= n);
        Thread.sleep(300);
        List<String> lines = linesWith(text);
        assertEquals(n, lines.size(), "exactly " + n + " line(s) with " + text + ":\n" + String.join("\n", lines));
        return lines;
    }

    static final Pattern MS = Pattern.compile("(\\d+(?:\\.\\d+)?) ?ms");

    static void assertAccessLine(String line, String method, String path, int status, long bytes) {
        assertTrue(line.contains("127.0.0.1"), "client address in: " + line);
        assertTrue(line.contains(method + " "), "method in: " + line);
        assertTrue(line.contains(path), "path in: " + line);
        assertTrue(Pattern.compile("\\b" + status + "\\b").matcher(line).find(), "status " + status + " in: " + line);
        assertTrue(Pattern.compile("\\b" + bytes + "\\b").matcher(line.replace(path, "")).find(), "bytes " + bytes + " in: " + line);
        Matcher m = MS.matcher(line);
        assertTrue(m.find(), "duration in ms in: " + line);
    }

    @Test
    void oneAccessLinePerRequest() throws Exception {
        String m = marker();
        try (RawHttp c = new RawHttp(server.port())) {
            for (int i = 0; i < 3; i++) {
                assertEquals(200, c.exchange(get("/path?" + m)).status());
            }
        }
        List<String> lines = awaitLines(m, 3);
        for (String line : lines) {
            assertAccessLine(line, "GET", "/path?" + m, 200, ("GET /path?" + m).length());
        }
    }

    @Test
    void accessLineForPostStreamingAndNotFound() throws Exception {
        String m = marker();
        try (RawHttp c = new RawHttp(server.port())) {
            assertEquals("12345", c.exchange(Wire.post("/echo?" + m, "12345")).text());
            assertEquals(200, c.exchange(get("/stream?n=2&" + m)).status());
            assertEquals(404, c.exchange(get("/nothing-here-" + m, "Connection: close")).status());
        }
        assertAccessLine(awaitLines("/echo?" + m, 1).get(0), "POST", "/echo?" + m, 200, 5);
        assertAccessLine(awaitLines("/stream?n=2&" + m, 1).get(0), "GET", "/stream?n=2&" + m, 200,
                "chunk0;chunk1;".length());
        List<String> nf = awaitLines("/nothing-here-" + m, 1);
        assertTrue(nf.get(0).contains(" 404 "), nf.get(0));
    }

    @Test
    void accessLineForAppErrors() throws Exception {
        String m = marker();
        assertEquals(500, Wire.fetch(server.port(), "/error?id=" + m).status());
        Wire.eventually(5000, "an access line with 500 for the failed request",
                () -> linesWith("/error?id=" + m).stream().anyMatch(l -> l.contains(" 500 ")));
    }

    @Test
    void accessLineForHead() throws Exception {
        String m = marker();
        try (RawHttp c = new RawHttp(server.port())) {
            assertEquals(200, c.exchange("HEAD /head-test?" + m + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").status());
        }
        String line = awaitLines("/head-test?" + m, 1).get(0);
        assertTrue(line.contains("HEAD "), line);
        assertTrue(line.contains(" 200 "), line);
    }

    @Test
    void printGoesToTheServerLog() throws Exception {
        String m = marker();
        Wire.text(server.port(), "/print?to=stdout&marker=" + m);
        assertTrue(server.awaitLog("app says " + m, Duration.ofSeconds(5)), "print() output must reach the log");
    }

    @Test
    void printAtImportTimeGoesToTheServerLog() throws Exception {
        assertTrue(server.awaitLog("conformance app imported: print at import time reaches the log", Duration.ofSeconds(5)));
    }

    @Test
    void printFromAThreadTheAppStartedGoesToTheServerLog() throws Exception {
        String m = marker();
        Wire.text(server.port(), "/print?to=thread&marker=" + m);
        assertTrue(server.awaitLog("app thread says " + m, Duration.ofSeconds(5)));
    }

    @Test
    void flushedPartialLineGoesToTheServerLog() throws Exception {
        String m = marker();
        Wire.text(server.port(), "/print?to=partial&marker=" + m);
        assertTrue(server.awaitLog("partial line " + m, Duration.ofSeconds(5)), "sys.stdout.flush() emits a partial line");
    }

    @Test
    void stderrGoesToTheServerLog() throws Exception {
        String m = marker();
        Wire.text(server.port(), "/print?to=stderr&marker=" + m);
        assertTrue(server.awaitLog("app complains " + m, Duration.ofSeconds(5)), "sys.stderr output must reach the log");
    }

    @Test
    void wsgiErrorsGoesToTheServerLog() throws Exception {
        String m = marker();
        Wire.text(server.port(), "/print?to=errors&marker=" + m);
        assertTrue(server.awaitLog("wsgi.errors says " + m, Duration.ofSeconds(5)), "wsgi.errors.write must reach the log");
        assertTrue(server.awaitLog("wsgi.errors line2 " + m, Duration.ofSeconds(5)), "wsgi.errors.writelines too");
    }
}
