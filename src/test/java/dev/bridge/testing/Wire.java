package dev.bridge.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Helpers for conformance tests over {@link RawHttp}: building requests, reading heads with every header line
 * kept, reading a connection to its end and telling how it ended (clean EOF, reset, or still open).
 */
public final class Wire {

    private Wire() {}

    /** How a connection's byte stream ended. */
    public enum End { EOF, RESET, TIMEOUT }

    /** Everything read until the connection ended (or the read timed out). */
    public record Drained(byte[] bytes, End end) {
        public String text() {
            return new String(bytes, StandardCharsets.ISO_8859_1);
        }
    }

    /** A response head with every header line in order (names as sent). */
    public record Head(String statusLine, int status, List<String[]> headers) {
        public List<String> all(String name) {
            return headers.stream().filter(h -> h[0].equalsIgnoreCase(name)).map(h -> h[1]).collect(Collectors.toList());
        }

        public String first(String name) {
            List<String> v = all(name);
            return v.isEmpty() ? null : v.get(0);
        }

        public boolean has(String name) {
            return first(name) != null;
        }
    }

    /** {@code GET target HTTP/1.1} with {@code Host: 127.0.0.1} and the given extra header lines. */
    public static String get(String target, String... headers) {
        return request("GET", target, "HTTP/1.1", null, headers);
    }

    /** A request with a Content-Length body (latin-1), Host header added. */
    public static String post(String target, String body, String... headers) {
        return request("POST", target, "HTTP/1.1", body, headers);
    }

    public static String request(String method, String target, String version, String body, String... headers) {
        StringBuilder sb = new StringBuilder();
        sb.append(method).append(' ').append(target).append(' ').append(version).append("\r\n");
        boolean hasHost = false;
        for (String h : headers) {
            hasHost |= h.regionMatches(true, 0, "Host:", 0, 5);
        }
        if (!hasHost && version.equals("HTTP/1.1")) {
            sb.append("Host: 127.0.0.1\r\n");
        }
        for (String h : headers) {
            sb.append(h).append("\r\n");
        }
        if (body != null) {
            sb.append("Content-Length: ").append(body.getBytes(StandardCharsets.ISO_8859_1).length).append("\r\n");
        }
        sb.append("\r\n");
        if (body != null) {
            sb.append(body);
        }
        return sb.toString();
    }

    /** Bytes in latin-1. */
    public static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    public static String latin1(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    /** Concatenates byte arrays. */
    public static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** Encodes a body as a chunked message body with chunks of the given size and a last chunk. */
    public static byte[] chunked(byte[] body, int chunkSize) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < body.length; i += chunkSize) {
            int n = Math.min(chunkSize, body.length - i);
            out.writeBytes(bytes(Integer.toHexString(n) + "\r\n"));
            out.write(body, i, n);
            out.writeBytes(bytes("\r\n"));
        }
        out.writeBytes(bytes("0\r\n\r\n"));
        return out.toByteArray();
    }

    /** Reads a status line and the header lines that follow it, keeping repeated headers. */
    public static Head readHead(RawHttp c) throws IOException {
        String status = c.line();
        if (status == null) {
            throw new IOException("connection closed before a response");
        }
        List<String[]> headers = new ArrayList<>();
        String l;
        while ((l = c.line()) != null && !l.isEmpty()) {
            int colon = l.indexOf(':');
            if (colon < 0) {
                throw new IOException("malformed header line: " + l);
            }
            headers.add(new String[] {l.substring(0, colon), l.substring(colon + 1).trim()});
        }
        if (l == null) {
            throw new IOException("connection closed inside a response head");
        }
        String[] parts = status.split(" ", 3);
        if (parts.length < 2 || !parts[0].startsWith("HTTP/1.")) {
            throw new IOException("not a status line: " + status);
        }
        return new Head(status, Integer.parseInt(parts[1]), headers);
    }

    /** Reads whatever the server still sends until EOF, a reset, or the socket's read timeout. */
    public static Drained drain(RawHttp c) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[65536];
        try {
            InputStream in = c.socket().getInputStream();
            while (true) {
                int n = in.read(buf);
                if (n < 0) {
                    return new Drained(out.toByteArray(), End.EOF);
                }
                out.write(buf, 0, n);
            }
        } catch (SocketTimeoutException e) {
            return new Drained(out.toByteArray(), End.TIMEOUT);
        } catch (SocketException e) {
            return new Drained(out.toByteArray(), End.RESET);
        } catch (IOException e) {
            return new Drained(out.toByteArray(), End.RESET);
        }
    }

    /** Asserts that the server closes the connection (EOF or reset) within the socket's read timeout, sending nothing more. */
    public static void assertClosed(RawHttp c, String why) {
        Drained d = drain(c);
        assertTrue(d.end() != End.TIMEOUT, why + ": the connection is still open (nothing more within the read timeout)");
        assertEquals("", d.text(), why + ": unexpected bytes after the response");
    }

    /** A fresh connection gets a normal answer: the server is alive and serving. */
    public static void assertServes(int port) throws IOException {
        try (RawHttp c = new RawHttp(port, 10_000)) {
            RawHttp.Response r = c.exchange(get("/path?alive", "Connection: close"));
            assertEquals(200, r.status(), "a fresh connection after the previous test must be served");
            assertEquals("GET /path?alive", r.text());
        }
    }

    /** Sends one GET on a fresh connection and reads the response. */
    public static RawHttp.Response fetch(int port, String target, String... headers) throws IOException {
        try (RawHttp c = new RawHttp(port, 10_000)) {
            String[] all = new String[headers.length + 1];
            System.arraycopy(headers, 0, all, 0, headers.length);
            all[headers.length] = "Connection: close";
            return c.exchange(get(target, all));
        }
    }

    /** Fetches a text body on a fresh connection, asserting 200. */
    public static String text(int port, String target) throws IOException {
        RawHttp.Response r = fetch(port, target);
        assertEquals(200, r.status(), "GET " + target + ": " + r.text());
        return r.text();
    }

    /** The value of a header in a {@link RawHttp.Response}, lower-cased name. */
    public static String header(RawHttp.Response r, String name) {
        return r.headers().get(name.toLowerCase(Locale.ROOT));
    }

    /** Fails with the message if the condition did not become true within the timeout. */
    public static void eventually(long timeoutMillis, String what, ThrowingBool condition) throws Exception {
        long deadline = System.currentTimeMillis() + timeoutMillis;
        while (System.currentTimeMillis() < deadline) {
            if (condition.get()) {
                return;
            }
            Thread.sleep(100);
        }
        if (!condition.get()) {
            fail(what + " (waited " + timeoutMillis + " ms)");
        }
    }

    @FunctionalInterface
    public interface ThrowingBool {
        boolean get() throws Exception;
    }

    /** Percent-encodes a query value (RFC 3986 unreserved kept). */
    public static String q(String s) {
        return java.net.URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}
