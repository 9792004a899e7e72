package dev.bridge.http;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The request parser as data, gunicorn style: {@code http/requests/valid/NNN.http} with {@code NNN.expected},
 * {@code http/requests/invalid/NNN.http} with {@code NNN.status}. See the README beside the fixtures.
 * Each request goes through the whole pipeline ({@link Pipeline}) to a fake Python.
 */
class RequestFixturesTest {

    private Pipeline pipeline;

    @AfterEach
    void tearDown() {
        if (pipeline != null) {
            pipeline.close();
        }
    }

    static Stream<Arguments> valid() throws Exception {
        return cases("valid");
    }

    static Stream<Arguments> invalid() throws Exception {
        return cases("invalid");
    }

    private static Stream<Arguments> cases(String dir) throws IOException, URISyntaxException {
        URL url = RequestFixturesTest.class.getResource("/http/requests/" + dir);
        assertNotNull(url, "fixture directory " + dir);
        Path base = Path.of(url.toURI());
        List<Path> files;
        try (Stream<Path> s = Files.list(base)) {
            files = s.filter(p -> p.getFileName().toString().endsWith(".http")).sorted().toList();
        }
        assertFalse(files.isEmpty(), "no fixtures in " + base);
        return files.stream().map(p -> Arguments.of(p.getFileName().toString().replace(".http", ""), p));
    }

    @ParameterizedTest(name = "valid/{0}")
    @MethodSource("valid")
    void validRequest(String name, Path http) throws IOException {
        Path expectedFile = sibling(http, ".expected");
        assertTrue(Files.exists(expectedFile), "missing " + expectedFile);
        List<String> expected = lines(expectedFile);
        pipeline = new Pipeline(FakePython.OK, args(http));
        pipeline.send(Files.readAllBytes(http));

        assertEquals(1, pipeline.python.calls.size(), "the app should be called once; output: " + pipeline.outputText());
        FakePython.Call call = pipeline.python.calls.get(0);
        Responses responses = pipeline.responses();
        Responses.Response r = responses.next();
        assertEquals(200, r.status(), () -> "status; output: " + pipeline.outputText());
        assertEquals("ok", r.text());
        assertFalse(responses.hasMore(), () -> "more output: " + responses.rest());

        boolean keepAlive = true;
        for (String line : expected) {
            String comment = name + ": " + line;
            if (line.startsWith("!")) {
                assertNull(call.env(line.substring(1)), comment + " (environ has it: " + call.env(line.substring(1)) + ")");
            } else if (line.startsWith("@")) {
                int eq = line.indexOf('=');
                String key = line.substring(1, eq);
                String value = unescape(line.substring(eq + 1));
                if (key.equals("body")) {
                    assertArrayEquals(value.getBytes(StandardCharsets.ISO_8859_1), call.body(),
                            comment + " (got " + new String(call.body(), StandardCharsets.ISO_8859_1) + ")");
                } else if (key.equals("body.size")) {
                    assertEquals(Integer.parseInt(value), call.body().length, comment);
                } else if (key.startsWith("length.")) {
                    String v = call.env(key.substring(7));
                    assertNotNull(v, comment);
                    assertEquals(Integer.parseInt(value), v.length(), comment);
                } else if (key.equals("keep-alive")) {
                    keepAlive = Boolean.parseBoolean(value);
                } else {
                    fail("unknown directive in " + expectedFile + ": " + line);
                }
            } else {
                int eq = line.indexOf('=');
                assertTrue(eq > 0, "bad line in " + expectedFile + ": " + line);
                String key = line.substring(0, eq);
                assertEquals(unescape(line.substring(eq + 1)), call.env(key), comment);
            }
        }
        // Every environ value is a native string: one char per byte.
        call.environ().forEach((k, v) -> assertTrue(v.chars().allMatch(c -> c <= 0xFF), k + " is not latin-1: " + v));
        // A body handed over in memory is a direct buffer exactly as large as the body (Python's memoryview spans the capacity).
        if (call.bodyArg() instanceof java.nio.ByteBuffer bb) {
            assertTrue(bb.isDirect(), name + ": body buffer should be direct");
            assertEquals(call.body().length, call.bodyCapacity(), name + ": body buffer capacity");
        }
        if (keepAlive) {
            assertFalse(pipeline.closing(), name + ": the connection should stay open");
            assertTrue(r.header("Connection") == null || r.header("Connection").equalsIgnoreCase("keep-alive"),
                    name + ": Connection " + r.header("Connection"));
        } else {
            assertTrue(pipeline.closing(), name + ": the connection should close after the response");
        }
    }

    @ParameterizedTest(name = "invalid/{0}")
    @MethodSource("invalid")
    void invalidRequest(String name, Path http) throws IOException {
        Path statusFile = sibling(http, ".status");
        assertTrue(Files.exists(statusFile), "missing " + statusFile);
        List<String> statusLines = lines(statusFile);
        int status = Integer.parseInt(statusLines.get(0).trim());
        String why = name + " (" + String.join(" ", Files.readAllLines(statusFile)).replace("\n", " ") + ")";
        pipeline = new Pipeline(FakePython.OK, args(http));
        pipeline.send(Files.readAllBytes(http));

        assertTrue(pipeline.python.calls.isEmpty(), why + ": the app must not be called");
        Responses responses = pipeline.responses();
        assertTrue(responses.hasMore(), why + ": expected a " + status + " response, got nothing");
        Responses.Response r = responses.next();
        assertEquals(status, r.status(), () -> why + ": status; output: " + pipeline.outputText());
        assertEquals("close", r.header("Connection"), why);
        assertEquals(status + " " + r.reason() + "\n", r.text(), why);
        assertNotNull(r.header("Date"), why);
        assertFalse(responses.hasMore(), () -> why + ": more output: " + responses.rest());

        // Graceful close: our side shut down after the response, the socket closed after the linger delay.
        assertTrue(pipeline.outputShutdown(), why + ": output should be shut down after the error response");
        assertTrue(pipeline.channel.isOpen(), why + ": should linger for the client's FIN");
        pipeline.passLinger();
        assertFalse(pipeline.channel.isOpen(), why + ": should be closed after the linger delay");
        assertEquals(0, pipeline.writesAfterShutdown(), why);
    }

    private static Path sibling(Path http, String ext) {
        return http.resolveSibling(http.getFileName().toString().replace(".http", ext));
    }

    private static String[] args(Path http) throws IOException {
        Path args = sibling(http, ".args");
        if (!Files.exists(args)) {
            return new String[0];
        }
        return Files.readString(args).trim().split("\\s+");
    }

    private static List<String> lines(Path file) throws IOException {
        List<String> out = new ArrayList<>();
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (!line.isBlank() && !line.startsWith("#")) {
                out.add(line);
            }
        }
        return out;
    }

    /** Undoes the escapes of .expected files: \xHH, \\, \r, \n, \t, \0. */
    static String unescape(String s) {
        StringBuilder sb = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            char e = s.charAt(++i);
            switch (e) {
                case 'x' -> {
                    sb.append((char) Integer.parseInt(s.substring(i + 1, i + 3), 16));
                    i += 2;
                }
                case '\\' -> sb.append('\\');
                case 'r' -> sb.append('\r');
                case 'n' -> sb.append('\n');
                case 't' -> sb.append('\t');
                case '0' -> sb.append('\0');
                default -> throw new IllegalArgumentException("bad escape \\" + e + " in " + s);
            }
        }
        return sb.toString();
    }
}
