package dev.bridge.stats;

/**
 * A small JSON writer: objects and arrays written in order into a StringBuilder, strings escaped so that any
 * Java string (request targets, headers decoded as ISO-8859-1, paths) gives one line of valid JSON in ASCII.
 * Not thread-safe; one per document.
 */
public final class Json {

    private final StringBuilder out;
    /** Whether the value about to be written needs a comma before it. */
    private boolean comma;

    public Json(StringBuilder out) {
        this.out = out;
    }

    public Json begin() {
        separate();
        out.append('{');
        comma = false;
        return this;
    }

    public Json end() {
        out.append('}');
        comma = true;
        return this;
    }

    /** Opens an object as the value of {@code key}. */
    public Json object(String key) {
        key(key);
        out.append('{');
        comma = false;
        return this;
    }

    public Json array(String key) {
        key(key);
        out.append('[');
        comma = false;
        return this;
    }

    public Json endArray() {
        out.append(']');
        comma = true;
        return this;
    }

    public Json field(String key, long value) {
        key(key);
        out.append(value);
        comma = true;
        return this;
    }

    public Json field(String key, double value) {
        key(key);
        out.append(Double.isFinite(value) ? Double.toString(value) : "null");
        comma = true;
        return this;
    }

    public Json field(String key, boolean value) {
        key(key);
        out.append(value);
        comma = true;
        return this;
    }

    /** A string field; null is written as JSON null. */
    public Json field(String key, String value) {
        key(key);
        if (value == null) {
            out.append("null");
        } else {
            quote(out, value);
        }
        comma = true;
        return this;
    }

    private void key(String key) {
        separate();
        quote(out, key);
        out.append(':');
    }

    private void separate() {
        if (comma) {
            out.append(',');
        }
    }

    /** Appends {@code s} as a JSON string: quotes, backslashes, control and non-ASCII characters escaped. */
    public static void quote(StringBuilder out, String s) {
        out.append('"');
        escape(out, s);
        out.append('"');
    }

    /**
     * Appends a JSON string's content, printable ASCII only: everything else is an escape, so a line stays one
     * line of valid JSON in valid UTF-8 whatever bytes a request carried (read as ISO-8859-1 characters).
     */
    public static void escape(StringBuilder out, String s) {
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\b' -> out.append("\\b");
                case '\f' -> out.append("\\f");
                default -> {
                    if (c >= 0x20 && c < 0x7f) {
                        out.append(c);
                    } else {
                        out.append("\\u").append(HEX[c >> 12]).append(HEX[(c >> 8) & 15]).append(HEX[(c >> 4) & 15])
                                .append(HEX[c & 15]);
                    }
                }
            }
        }
    }

    private static final char[] HEX = "0123456789abcdef".toCharArray();
}
