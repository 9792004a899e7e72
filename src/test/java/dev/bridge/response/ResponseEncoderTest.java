package dev.bridge.response;

import dev.bridge.wsgi.AppResponseHead;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ResponseEncoderTest {

    private final ByteBufAllocator alloc = new UnpooledByteBufAllocator(false);
    private final ResponseEncoder encoder = new ResponseEncoder();
    private final List<ByteBuf> buffers = new ArrayList<>();

    @AfterEach
    void release() {
        buffers.forEach(ByteBuf::release);
    }

    private String head(AppResponseHead head, boolean http10, ResponseEncoder.Framing framing, long length, boolean keepAlive) {
        ByteBuf buf = encoder.head(alloc, head, http10, framing, length, keepAlive, 0);
        buffers.add(buf);
        return buf.toString(StandardCharsets.ISO_8859_1).replace(encoder.date(), "DATE");
    }

    private static AppResponseHead app3(String status) {
        return AppResponseHead.parse(status, "", 0);
    }

    private static AppResponseHead app(String... headers) {
        return AppResponseHead.parse("200 OK", String.join("\0", headers), headers.length / 2);
    }

    @Test
    void shouldWriteLengthFramedKeepAliveHead() {
        assertEquals("HTTP/1.1 200 OK\r\nX-A: 1\r\nDate: DATE\r\nContent-Length: 12\r\n\r\n",
                head(app("X-A", "1"), false, ResponseEncoder.Framing.LENGTH, 12, true));
    }

    @Test
    void shouldNotAddContentLengthWhenAppGaveOne() {
        assertEquals("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nDate: DATE\r\n\r\n",
                head(app("Content-Length", "3"), false, ResponseEncoder.Framing.LENGTH, 3, true));
    }

    @Test
    void shouldWriteChunkedHead() {
        assertEquals("HTTP/1.1 200 OK\r\nDate: DATE\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n",
                head(app(), false, ResponseEncoder.Framing.CHUNKED, -1, false));
    }

    @Test
    void shouldAnswerHttp10ClientsAsHttp11WithTheirKeepAliveRules() {
        assertEquals("HTTP/1.1 200 OK\r\nDate: DATE\r\nContent-Length: 0\r\nConnection: keep-alive\r\n\r\n",
                head(app(), true, ResponseEncoder.Framing.LENGTH, 0, true));
        assertEquals("HTTP/1.1 200 OK\r\nDate: DATE\r\n\r\n",
                head(app(), true, ResponseEncoder.Framing.CLOSE, -1, false));
    }

    @Test
    void shouldMirrorHttp10ForTheUwsgiProtocol() {
        ByteBuf buf = ResponseEncoder.mirroringVersion().head(alloc, app(), true, ResponseEncoder.Framing.CLOSE, -1, false, 0);
        try {
            assertTrue(buf.toString(StandardCharsets.ISO_8859_1).startsWith("HTTP/1.0 200 OK\r\n"));
        } finally {
            buf.release();
        }
    }

    @Test
    void shouldKeepTheSpaceAfterACodeWithoutReason() {
        assertTrue(head(app3("200"), false, ResponseEncoder.Framing.NONE, 0, true).startsWith("HTTP/1.1 200 \r\n"));
    }

    @Test
    void shouldWriteNoFramingHeadersForNone() {
        assertEquals("HTTP/1.1 200 OK\r\nDate: DATE\r\n\r\n", head(app(), false, ResponseEncoder.Framing.NONE, 5, true));
    }

    @Test
    void shouldNotAddDateWhenAppGaveOne() {
        String h = head(app("date", "Thu, 01 Jan 1970 00:00:00 GMT"), false, ResponseEncoder.Framing.NONE, 0, true);
        assertEquals("HTTP/1.1 200 OK\r\ndate: Thu, 01 Jan 1970 00:00:00 GMT\r\n\r\n", h);
    }

    @Test
    void shouldWriteLatin1HeaderValuesAsSingleBytes() {
        ByteBuf buf = encoder.head(alloc, app("X-Name", "caf\u00e9"), false, ResponseEncoder.Framing.NONE, 0, true, 0);
        buffers.add(buf);
        byte[] bytes = new byte[buf.readableBytes()];
        buf.getBytes(0, bytes);
        String s = new String(bytes, StandardCharsets.ISO_8859_1);
        assertTrue(s.contains("X-Name: caf\u00e9\r\n"), s);
        assertEquals(s.length(), bytes.length);
    }

    @Test
    void shouldFrameChunks() {
        ByteBuf buf = alloc.buffer();
        buffers.add(buf);
        ResponseEncoder.chunk(buf, "hello world, this is long".getBytes(StandardCharsets.US_ASCII), 19);
        ResponseEncoder.lastChunk(buf);
        assertEquals("13\r\nhello world, this i\r\n0\r\n\r\n", buf.toString(StandardCharsets.US_ASCII));
    }

    @Test
    void shouldFormatDateAsImfFixdate() {
        assertTrue(encoder.date().matches("(Mon|Tue|Wed|Thu|Fri|Sat|Sun), \\d{2} [A-Z][a-z]{2} \\d{4} \\d{2}:\\d{2}:\\d{2} GMT"),
                encoder.date());
    }
}
