package dev.bridge.logging;

import dev.bridge.config.ConfigException;
import dev.bridge.config.Observability;
import dev.bridge.stats.Json;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.zone.ZoneRules;
import java.util.ArrayList;
import java.util.List;
import java.util.StringJoiner;

/**
 * The access log line of {@code --log-format}: a template of uWSGI's {@code %(name)} fields with literal text
 * between them, or {@value #JSON}, one JSON object per line (see {@link #JSON_KEYS}). Without the flag the
 * bridge writes its own line (the logger's), and no format is compiled.
 *
 * <p>Values from the request are bytes (one char per byte, as HTTP and uwsgi deliver them) and are escaped, so
 * a line stays one line whatever a client sent: in a template as nginx does ({@code "} and {@code \} with a
 * backslash, other bytes outside printable ASCII as {@code \xHH}), and in JSON as JSON strings whose bytes
 * 0x7f-0xff are <code>&#92;u00HH</code> escapes (the value's latin-1 reading, as in a WSGI environ): every line is
 * printable ASCII and valid JSON. Absent values are {@code -} in a template and {@code null} in JSON.
 *
 * <p>The C request loop renders the same lines from {@link #nativeSpec()} (native/access_log.c, whose
 * {@code enum access_field} follows {@link Field}'s order). Immutable; any thread.
 */
public final class AccessLogFormat {

    /** {@code --log-format json}. */
    public static final String JSON = Observability.JSON;

    /** The fields, by uWSGI's names. Their order is the C renderer's field codes: append only. */
    public enum Field {
        /** REQUEST_METHOD. */
        METHOD("method", false),
        /** REQUEST_URI as received (else PATH_INFO). */
        URI("uri", false),
        /** SERVER_PROTOCOL. */
        PROTO("proto", false),
        /** The response's status code. */
        STATUS("status", true),
        /** Response body bytes sent (uWSGI's size also counts the head). */
        SIZE("size", true),
        /** Response time, whole milliseconds. */
        MSECS("msecs", true),
        /** Response time, microseconds. */
        MICROS("micros", true),
        /** REMOTE_ADDR. */
        ADDR("addr", false),
        /** HTTP_HOST. */
        HOST("host", false),
        /** HTTP_REFERER. */
        REFERER("referer", false),
        /** HTTP_USER_AGENT. */
        UAGENT("uagent", false),
        /** The worker process's pid. */
        PID("pid", true),
        /** The worker's number (its slot, BRIDGE_WORKER_ID). */
        WID("wid", true),
        /** The Python thread that served the request (the C loop's; 0 on the Java paths). */
        CORE("core", true),
        /** When the request began, unix seconds. */
        TIME("time", true),
        /** When the request began, local time as uWSGI (and Apache) write it: {@code 03/Dec/2026:16:48:49 +0100}. */
        LTIME("ltime", false),
        /** The request's CONTENT_LENGTH (0 when none). */
        CL("cl", true),
        /** When the request began, ISO-8601 UTC to the millisecond: JSON's {@code time}; no template name. */
        ISOTIME(null, false);

        final String label;
        final boolean number;

        Field(String label, boolean number) {
            this.label = label;
            this.number = number;
        }

        /** The template name, or null for a field only JSON uses. */
        public String label() {
            return label;
        }

        /** The code of the field in {@link #nativeSpec()}: {@code 'a'} plus its ordinal. */
        char code() {
            return (char) ('a' + ordinal());
        }
    }

    /** A key of a JSON line and its field. */
    record JsonKey(String key, Field field) {}

    /** The keys of a JSON line, in order: every field but the template-only time and ltime, time in ISO-8601. */
    static final List<JsonKey> JSON_KEYS = List.of(new JsonKey("time", Field.ISOTIME), new JsonKey("addr", Field.ADDR),
            new JsonKey("method", Field.METHOD), new JsonKey("uri", Field.URI), new JsonKey("proto", Field.PROTO),
            new JsonKey("status", Field.STATUS), new JsonKey("size", Field.SIZE), new JsonKey("msecs", Field.MSECS),
            new JsonKey("micros", Field.MICROS), new JsonKey("host", Field.HOST), new JsonKey("referer", Field.REFERER),
            new JsonKey("uagent", Field.UAGENT), new JsonKey("cl", Field.CL), new JsonKey("pid", Field.PID),
            new JsonKey("wid", Field.WID), new JsonKey("core", Field.CORE));

    /**
     * One request as the access log sees it. Strings hold one char per byte; null is absent.
     *
     * @param micros     response time, or -1 when not measured (a request the server refused)
     * @param startMillis when the request began, epoch milliseconds
     */
    public record Entry(String method, String uri, String proto, int status, long size, long micros, String addr,
                        String host, String referer, String uagent, long cl, long pid, int wid, int core,
                        long startMillis) {}

    private static final ZoneRules ZONE = ZoneId.systemDefault().getRules();
    private static final String[] MONTHS = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct",
            "Nov", "Dec"};
    private static final char[] HEX_UPPER = "0123456789ABCDEF".toCharArray();

    private static volatile AccessLogFormat last;

    private final String source;
    private final boolean json;
    /** Literal Strings and Fields, in order. */
    private final List<Object> parts;

    private AccessLogFormat(String source, boolean json, List<Object> parts) {
        this.source = source;
        this.json = json;
        this.parts = List.copyOf(parts);
    }

    /**
     * Compiles {@code --log-format}'s value: {@value #JSON}, or a template in which {@code %(name)} is a field
     * and everything else is kept as written (a {@code %} not followed by {@code (} too).
     *
     * @throws ConfigException naming an unknown field and listing the known ones, or an unclosed {@code %(}
     */
    public static AccessLogFormat compile(String format) throws ConfigException {
        List<Object> parts = new ArrayList<>();
        if (format.equals(JSON)) {
            String separator = "{";
            for (JsonKey key : JSON_KEYS) {
                parts.add(separator + "\"" + key.key() + "\":");
                parts.add(key.field());
                separator = ",";
            }
            parts.add("}");
            return new AccessLogFormat(format, true, parts);
        }
        StringBuilder literal = new StringBuilder();
        int i = 0;
        while (i < format.length()) {
            int open = format.indexOf("%(", i);
            if (open < 0) {
                literal.append(format, i, format.length());
                break;
            }
            int close = format.indexOf(')', open);
            if (close < 0) {
                throw new ConfigException("--log-format: %( without its ) in " + format);
            }
            literal.append(format, i, open);
            Field field = byName(format.substring(open + 2, close));
            if (!literal.isEmpty()) {
                parts.add(literal.toString());
                literal.setLength(0);
            }
            parts.add(field);
            i = close + 1;
        }
        if (!literal.isEmpty()) {
            parts.add(literal.toString());
        }
        return new AccessLogFormat(format, false, parts);
    }

    /**
     * The compiled {@code --log-format}, or null for the bridge's own line (no flag, or a value that does not
     * compile: the command line refused it already). Compiled once per process.
     */
    public static AccessLogFormat of(String logFormat) {
        if (logFormat == null) {
            return null;
        }
        AccessLogFormat f = last;
        if (f == null || !f.source.equals(logFormat)) {
            try {
                f = compile(logFormat);
            } catch (ConfigException e) {
                return null;
            }
            last = f;
        }
        return f;
    }

    private static Field byName(String name) throws ConfigException {
        for (Field f : Field.values()) {
            if (f.label != null && f.label.equals(name)) {
                return f;
            }
        }
        throw new ConfigException("--log-format: unknown field %(" + name + "); known: " + fieldNames());
    }

    /** The template names, comma-separated: {@code method, uri, ...}. */
    public static String fieldNames() {
        StringJoiner known = new StringJoiner(", ");
        for (Field f : Field.values()) {
            if (f.label != null) {
                known.add(f.label);
            }
        }
        return known.toString();
    }

    public boolean isJson() {
        return json;
    }

    /**
     * The format for the C request loop: {@code t} (template) or {@code j} (JSON), then the literal text with
     * each {@code %} doubled, and {@code %} followed by {@link Field#code()} for each field.
     */
    public String nativeSpec() {
        StringBuilder sb = new StringBuilder().append(json ? 'j' : 't');
        for (Object p : parts) {
            if (p instanceof Field f) {
                sb.append('%').append(f.code());
            } else {
                sb.append(((String) p).replace("%", "%%"));
            }
        }
        return sb.toString();
    }

    /** The line for one request, newline included. */
    public String render(Entry e) {
        StringBuilder sb = new StringBuilder(256);
        for (Object p : parts) {
            if (p instanceof Field f) {
                value(sb, f, e);
            } else {
                sb.append((String) p);
            }
        }
        return sb.append('\n').toString();
    }

    private void value(StringBuilder sb, Field f, Entry e) {
        switch (f) {
            case METHOD -> string(sb, e.method());
            case URI -> string(sb, e.uri());
            case PROTO -> string(sb, e.proto());
            case ADDR -> string(sb, e.addr());
            case HOST -> string(sb, e.host());
            case REFERER -> string(sb, e.referer());
            case UAGENT -> string(sb, e.uagent());
            case STATUS -> sb.append(e.status());
            case SIZE -> sb.append(e.size());
            case MSECS -> number(sb, e.micros() < 0 ? -1 : e.micros() / 1000);
            case MICROS -> number(sb, e.micros());
            case PID -> sb.append(e.pid());
            case WID -> sb.append(e.wid());
            case CORE -> sb.append(e.core());
            case TIME -> sb.append(Math.floorDiv(e.startMillis(), 1000));
            case CL -> sb.append(e.cl());
            case LTIME -> quoted(sb, ltime(e.startMillis()));
            case ISOTIME -> quoted(sb, isoTime(e.startMillis()));
        }
    }

    private void number(StringBuilder sb, long n) {
        if (n >= 0) {
            sb.append(n);
        } else {
            sb.append(json ? "null" : "-");
        }
    }

    /** A value we made (a time): plain ASCII, quoted in JSON. */
    private void quoted(StringBuilder sb, String s) {
        if (json) {
            sb.append('"').append(s).append('"');
        } else {
            sb.append(s);
        }
    }

    private void string(StringBuilder sb, String s) {
        if (s == null) {
            sb.append(json ? "null" : "-");
        } else if (json) {
            sb.append('"');
            Json.escape(sb, s);
            sb.append('"');
        } else {
            textEscape(sb, s);
        }
    }

    /** nginx's escaping: {@code "} and {@code \} get a backslash, bytes outside printable ASCII are {@code \xHH}. */
    static void textEscape(StringBuilder sb, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '"' || c == '\\') {
                sb.append('\\').append(c);
            } else if (c >= 0x20 && c < 0x7f) {
                sb.append(c);
            } else if (c <= 0xff) {
                sb.append("\\x").append(HEX_UPPER[c >> 4]).append(HEX_UPPER[c & 15]);
            } else {
                sb.append("\\u").append(HEX_UPPER[c >> 12]).append(HEX_UPPER[(c >> 8) & 15])
                        .append(HEX_UPPER[(c >> 4) & 15]).append(HEX_UPPER[c & 15]);
            }
        }
    }

    /** {@code 03/Dec/2026:16:48:49 +0100}: uWSGI's ltime ({@code strftime("%d/%b/%Y:%H:%M:%S %z")}, local time). */
    static String ltime(long epochMillis) {
        long seconds = Math.floorDiv(epochMillis, 1000);
        ZoneOffset offset = ZONE.getOffset(Instant.ofEpochSecond(seconds));
        LocalDateTime t = LocalDateTime.ofEpochSecond(seconds, 0, offset);
        int minutes = offset.getTotalSeconds() / 60;
        StringBuilder sb = new StringBuilder(26);
        two(sb, t.getDayOfMonth()).append('/').append(MONTHS[t.getMonthValue() - 1]).append('/').append(t.getYear());
        two(sb.append(':'), t.getHour());
        two(sb.append(':'), t.getMinute());
        two(sb.append(':'), t.getSecond());
        sb.append(minutes < 0 ? " -" : " +");
        two(sb, Math.abs(minutes) / 60);
        return two(sb, Math.abs(minutes) % 60).toString();
    }

    /** {@code 2026-12-03T15:48:49.003Z}. */
    static String isoTime(long epochMillis) {
        LocalDateTime t = LocalDateTime.ofEpochSecond(Math.floorDiv(epochMillis, 1000), 0, ZoneOffset.UTC);
        int millis = (int) Math.floorMod(epochMillis, 1000);
        StringBuilder sb = new StringBuilder(24).append(t.getYear()).append('-');
        two(sb, t.getMonthValue()).append('-');
        two(sb, t.getDayOfMonth()).append('T');
        two(sb, t.getHour()).append(':');
        two(sb, t.getMinute()).append(':');
        two(sb, t.getSecond()).append('.').append(millis < 100 ? "0" : "");
        return two(sb, millis).append('Z').toString();
    }

    private static StringBuilder two(StringBuilder sb, int n) {
        return (n < 10 ? sb.append('0') : sb).append(n);
    }
}
