package dev.bridge.wsgi;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * The status and headers an app gave {@code start_response}, checked against PEP 3333 and RFC 9110.
 *
 * <p>Hop-by-hop headers are the server's business: they are dropped, except that {@code Connection: close}
 * is honoured (the connection closes after this response). A bad status or header is an
 * {@link IllegalArgumentException} whose message names the culprit; the request then gets a 500.
 * Immutable; built on a Python thread, read on the event loop.
 */
public final class AppResponseHead {

    private static final Set<String> HOP_BY_HOP = Set.of("connection", "keep-alive", "proxy-authenticate",
            "proxy-authorization", "te", "trailer", "trailers", "transfer-encoding", "upgrade");

    /** The response of last resort. */
    public static final AppResponseHead INTERNAL_ERROR = error(500, "Internal Server Error");

    private final int code;
    private final String status;
    private final List<String> headers;
    private final long contentLength;
    private final boolean close;
    private final boolean hasDate;

    private AppResponseHead(int code, String status, List<String> headers, long contentLength, boolean close, boolean hasDate) {
        this.code = code;
        this.status = status;
        this.headers = headers;
        this.contentLength = contentLength;
        this.close = close;
        this.hasDate = hasDate;
    }

    /** A canned head for errors the server answers itself (text/plain, given length). */
    public static AppResponseHead error(int code, String reason) {
        return new AppResponseHead(code, code + " " + reason,
                List.of("Content-Type", "text/plain; charset=utf-8"), -1, false, false);
    }

    /**
     * @param status  the status string, e.g. {@code 200 OK}
     * @param block   header names and values joined by NUL: {@code name\0value\0name\0value}
     * @param count   how many headers the app gave (detects a NUL inside a name or value)
     */
    public static AppResponseHead parse(String status, String block, int count) {
        int code = parseStatus(status);
        String[] parts = count == 0 ? new String[0] : block.split("\0", -1);
        if (parts.length != 2 * count) {
            throw new IllegalArgumentException("a response header contains a NUL character");
        }
        List<String> kept = new ArrayList<>(parts.length);
        long contentLength = -1;
        boolean close = false;
        boolean hasDate = false;
        for (int i = 0; i < parts.length; i += 2) {
            String name = parts[i];
            String value = parts[i + 1];
            checkName(name);
            checkValue(name, value);
            String lower = name.toLowerCase(Locale.ROOT);
            if (HOP_BY_HOP.contains(lower)) {
                if (lower.equals("connection") && value.toLowerCase(Locale.ROOT).contains("close")) {
                    close = true;
                }
                continue;
            }
            if (lower.equals("content-length")) {
                long n = parseLength(value.trim());
                if (contentLength >= 0 && n != contentLength) {
                    throw new IllegalArgumentException("conflicting Content-Length headers: " + contentLength + " and " + n);
                }
                if (contentLength >= 0) {
                    continue;
                }
                contentLength = n;
            } else if (lower.equals("date")) {
                hasDate = true;
            }
            kept.add(name);
            kept.add(value);
        }
        return new AppResponseHead(code, status, List.copyOf(kept), contentLength, close, hasDate);
    }

    private static int parseStatus(String status) {
        if (status == null || status.length() < 3) {
            throw new IllegalArgumentException("bad status " + quote(status) + ": expected e.g. '200 OK'");
        }
        int code = 0;
        for (int i = 0; i < 3; i++) {
            char c = status.charAt(i);
            if (c < '0' || c > '9') {
                throw new IllegalArgumentException("bad status " + quote(status) + ": expected a 3-digit code first");
            }
            code = code * 10 + (c - '0');
        }
        if (code < 100 || (status.length() > 3 && status.charAt(3) != ' ')) {
            throw new IllegalArgumentException("bad status " + quote(status));
        }
        if (code < 200) {
            throw new IllegalArgumentException("status " + quote(status) + " is informational: it cannot be the response");
        }
        for (int i = 0; i < status.length(); i++) {
            char c = status.charAt(i);
            if ((c < 0x20 && c != '\t') || c == 0x7F || c > 0xFF) {
                throw new IllegalArgumentException("bad status " + quote(status) + ": control or non-latin-1 character");
            }
        }
        return code;
    }

    private static long parseLength(String v) {
        if (v.isEmpty() || v.length() > 18 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
            throw new IllegalArgumentException("bad Content-Length " + quote(v));
        }
        return Long.parseLong(v);
    }

    private static void checkName(String name) {
        if (name.isEmpty()) {
            throw new IllegalArgumentException("empty response header name");
        }
        for (int i = 0; i < name.length(); i++) {
            if (!isTokenChar(name.charAt(i))) {
                throw new IllegalArgumentException("bad response header name " + quote(name));
            }
        }
    }

    private static void checkValue(String name, String value) {
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            if ((c < 0x20 && c != '\t') || c == 0x7F || c > 0xFF) {
                throw new IllegalArgumentException("bad value for response header " + name + ": "
                        + (c > 0xFF ? "not latin-1 (encode it per RFC 8187)" : "control character " + (int) c));
            }
        }
    }

    static boolean isTokenChar(char c) {
        if (c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
            return true;
        }
        return "!#$%&'*+-.^_`|~".indexOf(c) >= 0;
    }

    private static String quote(String s) {
        return s == null ? "None" : "'" + s.replace("\r", "\\r").replace("\n", "\\n") + "'";
    }

    public int code() {
        return code;
    }

    /** The status as the app wrote it, e.g. {@code 404 Not Found}. */
    public String status() {
        return status;
    }

    /** Names and values alternating, hop-by-hop headers removed. */
    public List<String> headers() {
        return headers;
    }

    /** The app's Content-Length, or -1. */
    public long contentLength() {
        return contentLength;
    }

    /** Whether the app asked for the connection to close after this response. */
    public boolean close() {
        return close;
    }

    public boolean hasDate() {
        return hasDate;
    }

    /** 1xx, 204 and 304 responses never have a body. */
    public boolean bodyForbidden() {
        return code < 200 || code == 204 || code == 304;
    }
}
