package dev.bridge.http;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A strict reader of the bytes a connection wrote: one response after another, framed the way a client
 * would frame them (1xx, 204, 304 and responses to HEAD have no body; else chunked, Content-Length, or
 * everything up to the end). Anything malformed is an {@link AssertionError}.
 */
public final class Responses {

    public record Response(String version, int status, String reason, List<Map.Entry<String, String>> headers,
                    byte[] body, boolean chunked) {

        /** The first value of a header (name matched case-insensitively), or null. */
        public String header(String name) {
            for (Map.Entry<String, String> h : headers) {
                if (h.getKey().equalsIgnoreCase(name)) {
                    return h.getValue();
                }
            }
            return null;
        }

        public List<String> all(String name) {
            return headers.stream().filter(h -> h.getKey().equalsIgnoreCase(name)).map(Map.Entry::getValue).toList();
        }

        public String text() {
            return new String(body, StandardCharsets.ISO_8859_1);
        }
    }

    private final byte[] data;
    private int pos;

    public Responses(byte[] data) {
        this.data = data;
    }

    public boolean hasMore() {
        return pos < data.length;
    }

    /** Bytes not read yet, as text. */
    public String rest() {
        return new String(data, pos, data.length - pos, StandardCharsets.ISO_8859_1);
    }

    public Response next() {
        return next(false);
    }

    /** Reads one response; {@code toHead}: it answers a HEAD request, so it has no body whatever its headers say. */
    public Response next(boolean toHead) {
        if (!hasMore()) {
            throw new AssertionError("expected a response, but there are no more bytes");
        }
        String statusLine = line();
        String[] parts = statusLine.split(" ", 3);
        if (parts.length < 2 || !parts[0].matches("HTTP/1\\.[01]") || !parts[1].matches("\\d{3}")) {
            throw new AssertionError("bad status line: " + statusLine);
        }
        int status = Integer.parseInt(parts[1]);
        List<Map.Entry<String, String>> headers = new ArrayList<>();
        for (String line = line(); !line.isEmpty(); line = line()) {
            int colon = line.indexOf(':');
            if (colon <= 0) {
                throw new AssertionError("bad header line: " + line);
            }
            headers.add(Map.entry(line.substring(0, colon), line.substring(colon + 1).trim()));
        }
        Response head = new Response(parts[0], status, parts.length > 2 ? parts[2] : "", headers, new byte[0], false);
        if (toHead || status < 200 || status == 204 || status == 304) {
            return head;
        }
        String te = head.header("Transfer-Encoding");
        String cl = head.header("Content-Length");
        if (te != null) {
            if (!te.equalsIgnoreCase("chunked") || cl != null) {
                throw new AssertionError("bad framing: Transfer-Encoding " + te + ", Content-Length " + cl);
            }
            return withBody(head, chunkedBody(), true);
        }
        if (cl != null) {
            int n = Integer.parseInt(cl);
            if (pos + n > data.length) {
                throw new AssertionError("Content-Length " + n + " but only " + (data.length - pos) + " bytes follow");
            }
            byte[] body = new byte[n];
            System.arraycopy(data, pos, body, 0, n);
            pos += n;
            return withBody(head, body, false);
        }
        byte[] body = new byte[data.length - pos];
        System.arraycopy(data, pos, body, 0, body.length);
        pos = data.length;
        return withBody(head, body, false);
    }

    private static Response withBody(Response r, byte[] body, boolean chunked) {
        return new Response(r.version(), r.status(), r.reason(), r.headers(), body, chunked);
    }

    private byte[] chunkedBody() {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        while (true) {
            String sizeLine = line();
            if (!sizeLine.matches("[0-9a-f]+")) {
                throw new AssertionError("bad chunk size line: " + sizeLine);
            }
            int n = Integer.parseInt(sizeLine, 16);
            if (n == 0) {
                if (!line().isEmpty()) {
                    throw new AssertionError("trailers after the last chunk");
                }
                return out.toByteArray();
            }
            if (pos + n + 2 > data.length) {
                throw new AssertionError("truncated chunk");
            }
            out.write(data, pos, n);
            pos += n;
            if (!line().isEmpty()) {
                throw new AssertionError("chunk data not followed by CRLF");
            }
        }
    }

    private String line() {
        for (int i = pos; i + 1 < data.length; i++) {
            if (data[i] == '\r' && data[i + 1] == '\n') {
                String s = new String(data, pos, i - pos, StandardCharsets.ISO_8859_1);
                pos = i + 2;
                return s;
            }
            if (data[i] == '\n' || data[i] == '\r') {
                throw new AssertionError("bare CR or LF in a response head at byte " + i);
            }
        }
        throw new AssertionError("incomplete line: " + rest());
    }
}
