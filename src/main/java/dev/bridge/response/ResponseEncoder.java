package dev.bridge.response;

import dev.bridge.wsgi.AppResponseHead;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

import java.nio.charset.StandardCharsets;
import java.time.ZoneOffset;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * Writes response heads and chunk framing as bytes. We write responses ourselves rather than through
 * Netty's encoder: the head and a small body go out in one buffer, one syscall. Event loop only (the
 * cached Date header is not thread-safe).
 */
public final class ResponseEncoder {

    /** How the end of a response body is known to the client. */
    public enum Framing { NONE, LENGTH, CHUNKED, CLOSE }

    private static final DateTimeFormatter HTTP_DATE =
            DateTimeFormatter.ofPattern("EEE, dd MMM yyyy HH:mm:ss 'GMT'", Locale.US);
    private static final byte[] CRLF = {'\r', '\n'};
    private static final byte[] LAST_CHUNK = "0\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private final boolean mirrorVersion;
    private long dateSecond = -1;
    private String date;

    /** For HTTP/1.1 listeners: status lines say HTTP/1.1 whatever 1.x the client speaks (RFC 9110 2.5). */
    public ResponseEncoder() {
        this(false);
    }

    private ResponseEncoder(boolean mirrorVersion) {
        this.mirrorVersion = mirrorVersion;
    }

    /** For the uwsgi protocol: the status line repeats the request's SERVER_PROTOCOL (HTTP/1.0 or 1.1). */
    public static ResponseEncoder mirroringVersion() {
        return new ResponseEncoder(true);
    }

    /**
     * @param http10        whether the request was HTTP/1.0 (keep-alive must then be announced)
     * @param length        Content-Length to add when the app gave none (framing LENGTH), else ignored
     * @param keepAlive     whether the connection stays open after this response
     * @param extraBytes    capacity to reserve after the head (for a body written into the same buffer)
     */
    public ByteBuf head(ByteBufAllocator alloc, AppResponseHead head, boolean http10, Framing framing, long length,
                 boolean keepAlive, int extraBytes) {
        ByteBuf buf = alloc.buffer(256 + extraBytes);
        buf.writeCharSequence(http10 && mirrorVersion ? "HTTP/1.0 " : "HTTP/1.1 ", StandardCharsets.US_ASCII);
        buf.writeCharSequence(head.status(), StandardCharsets.ISO_8859_1);
        if (head.status().length() == 3) {
            buf.writeByte(' '); // status-line = version SP code SP [reason]: the second space is required
        }
        buf.writeBytes(CRLF);
        List<String> h = head.headers();
        for (int i = 0; i < h.size(); i += 2) {
            header(buf, h.get(i), h.get(i + 1));
        }
        if (!head.hasDate()) {
            header(buf, "Date", date());
        }
        if (framing == Framing.LENGTH && head.contentLength() < 0) {
            header(buf, "Content-Length", Long.toString(length));
        } else if (framing == Framing.CHUNKED) {
            header(buf, "Transfer-Encoding", "chunked");
        }
        if (!keepAlive && !http10) {
            header(buf, "Connection", "close");
        } else if (keepAlive && http10) {
            header(buf, "Connection", "keep-alive");
        }
        buf.writeBytes(CRLF);
        return buf;
    }

    private static void header(ByteBuf buf, String name, String value) {
        buf.writeCharSequence(name, StandardCharsets.ISO_8859_1);
        buf.writeByte(':');
        buf.writeByte(' ');
        buf.writeCharSequence(value, StandardCharsets.ISO_8859_1);
        buf.writeBytes(CRLF);
    }

    /** Writes {@code data[0..n)} framed as one chunk of a chunked body. */
    static void chunk(ByteBuf buf, byte[] data, int n) {
        buf.writeCharSequence(Integer.toHexString(n), StandardCharsets.US_ASCII);
        buf.writeBytes(CRLF);
        buf.writeBytes(data, 0, n);
        buf.writeBytes(CRLF);
    }

    static void lastChunk(ByteBuf buf) {
        buf.writeBytes(LAST_CHUNK);
    }

    /** The current time as an HTTP date, recomputed at most once a second. */
    String date() {
        long now = System.currentTimeMillis() / 1000;
        if (now != dateSecond) {
            dateSecond = now;
            date = HTTP_DATE.format(ZonedDateTime.ofInstant(java.time.Instant.ofEpochSecond(now), ZoneOffset.UTC));
        }
        return date;
    }
}
