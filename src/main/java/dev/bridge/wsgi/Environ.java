package dev.bridge.wsgi;

import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Builds the CGI part of a WSGI environ as one string, {@code KEY\0value\0KEY\0value}, which the shim
 * turns into a dict in one step (one boundary crossing instead of one per key). Values are native strings
 * in PEP 3333's sense: each char is one byte (latin-1). Protocol-neutral: HTTP and uwsgi both fill it.
 * Used on the event loop.
 */
public final class Environ {

    private final StringBuilder sb = new StringBuilder(512);
    private final Map<String, String> headers = new LinkedHashMap<>();

    public Environ put(String key, String value) {
        sb.append(key).append('\0').append(value).append('\0');
        return this;
    }

    /**
     * Adds a request header: Content-Type and Content-Length without the HTTP_ prefix, others as
     * {@code HTTP_NAME}; repeated headers are joined with ",". Returns false, adding nothing, for names
     * with an underscore: they would collide with the dash form (X_Forwarded_For vs X-Forwarded-For),
     * a known header-spoofing trick, so they are dropped as gunicorn and nginx do.
     */
    public boolean header(CharSequence name, CharSequence value) {
        String key = cgiName(name);
        if (key == null) {
            return false;
        }
        headers.merge(key, value.toString(), (a, b) -> a + "," + b);
        return true;
    }

    /** The header's CGI key, or null when the name has an underscore. */
    static String cgiName(CharSequence name) {
        int n = name.length();
        char[] out = new char[n + 5];
        out[0] = 'H';
        out[1] = 'T';
        out[2] = 'T';
        out[3] = 'P';
        out[4] = '_';
        for (int i = 0; i < n; i++) {
            char c = name.charAt(i);
            if (c == '_') {
                return null;
            }
            if (c == '-') {
                c = '_';
            } else if (c >= 'a' && c <= 'z') {
                c -= 32;
            }
            out[i + 5] = c;
        }
        String key = new String(out);
        if (key.equals("HTTP_CONTENT_TYPE") || key.equals("HTTP_CONTENT_LENGTH")) {
            return key.substring(5);
        }
        return key;
    }

    public String header(String cgiKey) {
        return headers.get(cgiKey);
    }

    public void removeHeader(String cgiKey) {
        headers.remove(cgiKey);
    }

    public void setHeader(String cgiKey, String value) {
        headers.put(cgiKey, value);
    }

    public String build() {
        for (Map.Entry<String, String> e : headers.entrySet()) {
            put(e.getKey(), e.getValue());
        }
        headers.clear();
        return sb.toString();
    }

    /**
     * Percent-decodes a request path into a "bytes as str" string (each char one byte), as PATH_INFO
     * must be. Malformed escapes stay as they are. Returns null if the path decodes to a NUL byte.
     */
    public static String decodePath(String raw) {
        if (raw.indexOf('%') < 0) {
            return raw;
        }
        StringBuilder out = new StringBuilder(raw.length());
        for (int i = 0; i < raw.length(); i++) {
            char c = raw.charAt(i);
            if (c == '%' && i + 2 < raw.length()) {
                int hi = Character.digit(raw.charAt(i + 1), 16);
                int lo = Character.digit(raw.charAt(i + 2), 16);
                if (hi >= 0 && lo >= 0) {
                    char b = (char) (hi * 16 + lo);
                    if (b == 0) {
                        return null;
                    }
                    out.append(b);
                    i += 2;
                    continue;
                }
            }
            out.append(c);
        }
        return out.toString();
    }
}
