package dev.bridge.testing;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A strict JSON reader for tests (RFC 8259): objects as LinkedHashMap, arrays as List, strings, numbers as Long
 * or Double, true/false, null. Anything else, a raw control character in a string, or text after the value
 * throws IllegalArgumentException saying where.
 */
public final class Json {

    private final String s;
    private int i;

    private Json(String s) {
        this.s = s;
    }

    public static Object parse(String text) {
        Json j = new Json(text);
        j.space();
        Object v = j.value();
        j.space();
        if (j.i != text.length()) {
            throw j.error("text after the value");
        }
        return v;
    }

    /** An object, e.g. one access log line. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> object(String text) {
        Object v = parse(text);
        if (!(v instanceof Map)) {
            throw new IllegalArgumentException("not an object: " + text);
        }
        return (Map<String, Object>) v;
    }

    private Object value() {
        if (i >= s.length()) {
            throw error("end of text");
        }
        char c = s.charAt(i);
        if (c == '{') {
            Map<String, Object> m = new LinkedHashMap<>();
            i++;
            space();
            if (peek('}')) {
                return m;
            }
            do {
                space();
                String key = string();
                space();
                expect(':');
                space();
                if (m.put(key, value()) != null) {
                    throw error("key " + key + " twice");
                }
                space();
            } while (peek(','));
            expect('}');
            return m;
        }
        if (c == '[') {
            List<Object> l = new ArrayList<>();
            i++;
            space();
            if (peek(']')) {
                return l;
            }
            do {
                space();
                l.add(value());
                space();
            } while (peek(','));
            expect(']');
            return l;
        }
        if (c == '"') {
            return string();
        }
        for (String word : new String[]{"true", "false", "null"}) {
            if (s.startsWith(word, i)) {
                i += word.length();
                return word.equals("null") ? null : Boolean.valueOf(word);
            }
        }
        return number();
    }

    private Object number() {
        int start = i;
        peek('-');
        if (peek('0')) {
            // no leading zeros
        } else if (i < s.length() && s.charAt(i) >= '1' && s.charAt(i) <= '9') {
            digits();
        } else {
            throw error("not a value");
        }
        boolean fraction = false;
        if (peek('.')) {
            fraction = true;
            if (digits() == 0) {
                throw error("a fraction without digits");
            }
        }
        if (peek('e') || peek('E')) {
            fraction = true;
            if (!peek('+')) {
                peek('-');
            }
            if (digits() == 0) {
                throw error("an exponent without digits");
            }
        }
        String n = s.substring(start, i);
        return fraction ? (Object) Double.valueOf(n) : (Object) Long.valueOf(n);
    }

    private int digits() {
        int start = i;
        while (i < s.length() && s.charAt(i) >= '0' && s.charAt(i) <= '9') {
            i++;
        }
        return i - start;
    }

    private String string() {
        expect('"');
        StringBuilder sb = new StringBuilder();
        while (true) {
            if (i >= s.length()) {
                throw error("unterminated string");
            }
            char c = s.charAt(i++);
            if (c == '"') {
                return sb.toString();
            }
            if (c < 0x20) {
                throw error("raw control character " + (int) c + " in a string");
            }
            if (c != '\\') {
                sb.append(c);
                continue;
            }
            if (i >= s.length()) {
                throw error("unterminated escape");
            }
            char e = s.charAt(i++);
            switch (e) {
                case '"', '\\', '/' -> sb.append(e);
                case 'b' -> sb.append('\b');
                case 'f' -> sb.append('\f');
                case 'n' -> sb.append('\n');
                case 'r' -> sb.append('\r');
                case 't' -> sb.append('\t');
                case 'u' -> {
                    int v = 0;
                    for (int k = 0; k < 4; k++) {
                        int d = i < s.length() ? Character.digit(s.charAt(i++), 16) : -1;
                        if (d < 0) {
                            throw error("bad \\u escape");
                        }
                        v = v * 16 + d;
                    }
                    sb.append((char) v);
                }
                default -> throw error("bad escape \\" + e);
            }
        }
    }

    private void space() {
        while (i < s.length() && " \t\n\r".indexOf(s.charAt(i)) >= 0) {
            i++;
        }
    }

    private boolean peek(char c) {
        if (i < s.length() && s.charAt(i) == c) {
            i++;
            return true;
        }
        return false;
    }

    private void expect(char c) {
        if (!peek(c)) {
            throw error("expected " + c);
        }
    }

    private IllegalArgumentException error(String what) {
        return new IllegalArgumentException("bad JSON at " + i + " (" + what + "): " + s);
    }
}
