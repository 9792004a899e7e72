package dev.bridge.logging;

import dev.bridge.config.CommandLine;
import dev.bridge.config.ConfigException;
import dev.bridge.testing.Json;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --log-format: templates of uWSGI's fields, JSON lines that stay one valid line whatever the request held, and
 * the spec the C loop renders from. The hostile entry and its expected lines are native/test_access_log.c's too.
 */
class AccessLogFormatTest {

    /** 2026-12-03 15:48:49.003 UTC. */
    private static final long START = 1_796_312_929_003L;

    /** What native/test_access_log.c and native/fuzz_access_log.c hold as JSON_SPEC. */
    private static final String JSON_SPEC = "j{\"time\":%r,\"addr\":%h,\"method\":%a,\"uri\":%b,\"proto\":%c,\"status\":%d,"
            + "\"size\":%e,\"msecs\":%f,\"micros\":%g,\"host\":%i,\"referer\":%j,\"uagent\":%k,\"cl\":%q,\"pid\":%l,"
            + "\"wid\":%m,\"core\":%n}";

    private static AccessLogFormat.Entry hostile() {
        return new AccessLogFormat.Entry("GET", "/a\"b\\c%22d\u00e9\u00ff?q=\u0001", "HTTP/1.1", 200, 11, 1234,
                "192.0.2.7", "example.org", null, "ua \"quoted\"\ttab\u0001\u007f\nline", 0, 42, 3, 1, START);
    }

    @Test
    void jsonEscapesQuotesBackslashesControlAndHighBytes() throws Exception {
        String line = AccessLogFormat.compile("json").render(hostile());
        assertEquals("{\"time\":\"2026-12-03T15:48:49.003Z\",\"addr\":\"192.0.2.7\",\"method\":\"GET\","
                + "\"uri\":\"/a\\\"b\\\\c%22d\\u00e9\\u00ff?q=\\u0001\",\"proto\":\"HTTP/1.1\",\"status\":200,\"size\":11,"
                + "\"msecs\":1,\"micros\":1234,\"host\":\"example.org\",\"referer\":null,"
                + "\"uagent\":\"ua \\\"quoted\\\"\\ttab\\u0001\\u007f\\nline\",\"cl\":0,\"pid\":42,\"wid\":3,\"core\":1}\n", line);
        Map<String, Object> o = Json.object(line.substring(0, line.length() - 1));
        assertEquals(hostile().uri(), o.get("uri"), "the value reads back (latin-1: one char per byte)");
        assertEquals(hostile().uagent(), o.get("uagent"));
        assertTrue(o.containsKey("referer") && o.get("referer") == null, "absent is null");
        assertEquals(200L, o.get("status"), "numbers are JSON numbers");
        assertEquals(List.of("time", "addr", "method", "uri", "proto", "status", "size", "msecs", "micros", "host",
                "referer", "uagent", "cl", "pid", "wid", "core"), new ArrayList<>(o.keySet()), "the README's keys");
    }

    @Test
    void everyByteValueGivesOneParsableAsciiLine() throws Exception {
        AccessLogFormat json = AccessLogFormat.compile("json");
        StringBuilder all = new StringBuilder();
        for (char c = 0; c < 256; c++) {
            all.append(c);
        }
        for (String value : List.of(all.toString(), "", "\"", "\\", "\\\"", "\n\r", "\u2028", "a\u0000b")) {
            AccessLogFormat.Entry e = new AccessLogFormat.Entry(value, value, value, 500, 0, -1, value, value, value,
                    value, 7, 1, 0, 0, START);
            String line = json.render(e);
            assertEquals(line.length() - 1, line.indexOf('\n'), "one line: " + line);
            assertTrue(line.chars().limit(line.length() - 1).allMatch(c -> c >= 0x20 && c < 0x7f), "printable ASCII: " + line);
            Map<String, Object> o = Json.object(line.strip());
            for (String key : List.of("method", "uri", "proto", "addr", "host", "referer", "uagent")) {
                assertEquals(value, o.get(key), key);
            }
            assertNull(o.get("msecs"), "not measured: null");
            assertNull(o.get("micros"));
        }
    }

    @Test
    void templatesEscapeAsNginxDoes() throws Exception {
        AccessLogFormat f = AccessLogFormat.compile("%(addr) - \"%(method) %(uri) %(proto)\" %(status) %(size) "
                + "%(msecs)/%(micros) \"%(referer)\" \"%(uagent)\" pid=%(pid) wid=%(wid) core=%(core) cl=%(cl) 100% %(time)");
        assertEquals("192.0.2.7 - \"GET /a\\\"b\\\\c%22d\\xE9\\xFF?q=\\x01 HTTP/1.1\" 200 11 1/1234 \"-\" "
                + "\"ua \\\"quoted\\\"\\x09tab\\x01\\x7F\\x0Aline\" pid=42 wid=3 core=1 cl=0 100% 1796312929\n",
                f.render(hostile()));
        AccessLogFormat.Entry refused = new AccessLogFormat.Entry("GET", "/", null, 400, 12, -1, "::1", null, null, null,
                0, 1, 1, 0, START);
        assertEquals("- - -\n", AccessLogFormat.compile("%(msecs) %(micros) %(proto)").render(refused));
        assertEquals("no fields\n", AccessLogFormat.compile("no fields").render(refused));
    }

    @Test
    void ltimeIsLocalTimeAsUwsgiWritesIt() throws Exception {
        String expected = DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ENGLISH)
                .withZone(ZoneId.systemDefault()).format(Instant.ofEpochMilli(START));
        assertEquals("[" + expected + "]\n", AccessLogFormat.compile("[%(ltime)]").render(hostile()));
        assertEquals("03/Dec/2026:15:48:49 +0000", DateTimeFormatter.ofPattern("dd/MMM/yyyy:HH:mm:ss Z", Locale.ENGLISH)
                .withZone(ZoneId.of("UTC")).format(Instant.ofEpochMilli(START)), "the pattern is uWSGI's");
        assertEquals("1970-01-01T00:00:00.000Z", AccessLogFormat.isoTime(0));
        assertEquals("2026-12-03T15:48:49.050Z", AccessLogFormat.isoTime(START + 47));
    }

    @Test
    void anUnknownFieldIsOneLineNamingItAndTheKnownOnes() {
        ConfigException e = assertThrows(ConfigException.class, () -> AccessLogFormat.compile("%(addr) %(user)"));
        assertEquals("--log-format: unknown field %(user); known: method, uri, proto, status, size, msecs, micros, "
                + "addr, host, referer, uagent, pid, wid, core, time, ltime, cl", e.getMessage());
        assertThrows(ConfigException.class, () -> AccessLogFormat.compile("%(addr"));
        ConfigException fromFlags = assertThrows(ConfigException.class,
                () -> CommandLine.parse(List.of("--module", "app", "--log-format", "%(nope)")));
        assertTrue(fromFlags.getMessage().contains("%(nope)"), fromFlags.getMessage());
    }

    @Test
    void theNativeSpecIsTheCLoopsAndItsFieldCodesFollowTheHeader() throws Exception {
        assertEquals(JSON_SPEC, AccessLogFormat.compile("json").nativeSpec());
        assertEquals("ta %% b %bc%dd%%", AccessLogFormat.compile("a % b %(uri)c%(status)d%").nativeSpec(),
                "literal % doubled, fields as % and their code");
        String header = Files.readString(Path.of("native/access_log.h"));
        Matcher m = Pattern.compile("enum access_field \\{([^}]*)\\}").matcher(header);
        assertTrue(m.find(), "native/access_log.h declares enum access_field");
        List<String> c = new ArrayList<>();
        for (String name : m.group(1).split(",")) {
            if (!name.isBlank() && !name.strip().equals("AF_COUNT")) {
                c.add(name.strip().substring(3));
            }
        }
        List<String> java = new ArrayList<>();
        for (AccessLogFormat.Field f : AccessLogFormat.Field.values()) {
            java.add(f.name());
        }
        assertEquals(java, c, "the C renderer's field codes are AccessLogFormat.Field's ordinals");
    }

    @Test
    void compiledOncePerProcessAndNullForTheBridgesOwnLine() {
        assertNull(AccessLogFormat.of(null));
        assertSame(AccessLogFormat.of("json"), AccessLogFormat.of("json"));
        assertTrue(AccessLogFormat.of("json").isJson());
    }

    @Test
    void theEnvironStringsValuesAndTheWorkersNumber() throws IOException {
        String env = "REQUEST_METHOD\0POST\0REQUEST_URI\0/x?y\0REMOTE_ADDR\0\0HTTP_USER_AGENT\0a\"b\0";
        String[] v = AccessLog.vars(env);
        assertEquals("POST", v[0]);
        assertEquals("/x?y", v[1]);
        assertNull(v[2], "no PATH_INFO");
        assertEquals("", v[4], "empty is not absent");
        assertEquals("a\"b", v[7]);
        assertEquals(0, AccessLog.workerId(), "a process that is no worker");
    }
}
