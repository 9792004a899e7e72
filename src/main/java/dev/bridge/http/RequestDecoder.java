package dev.bridge.http;

import dev.bridge.config.Config;
import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;

/**
 * Netty's HTTP/1.1 request decoder, configured strictly: request line up to {@link Config#MAX_REQUEST_LINE}
 * bytes, header block up to {@code --max-header-size}, CRLF line endings only (a bare CR or LF is an
 * error), header names and values validated (NUL and other control characters are errors),
 * Content-Length together with Transfer-Encoding rejected (RFC 9112 6.3), differing repeated
 * Content-Length values rejected; then the rules of {@link HeadRules}. Every violation becomes a failed
 * {@code DecoderResult} that {@link HttpConnection} answers with its status (4xx, 5xx). Event loop only.
 */
final class RequestDecoder extends HttpRequestDecoder {

    private final Config config;
    private HttpMessage current;
    private int contentLengths;
    /** Requests whose Content-Length header was repeated (Netty keeps only the first value for HTTP/1.0). */
    private final Set<HttpMessage> repeatedLength = Collections.newSetFromMap(new IdentityHashMap<>());

    /** Largest piece of a request body handed on at once, in bytes. */
    static final int MAX_CHUNK_SIZE = 64 * 1024;

    RequestDecoder(Config config) {
        super(new HttpDecoderConfig()
                .setMaxInitialLineLength(Config.MAX_REQUEST_LINE)
                .setMaxHeaderSize(config.maxHeaderSize())
                .setMaxChunkSize(MAX_CHUNK_SIZE)
                .setValidateHeaders(true)
                .setStrictLineParsing(true)
                .setUseRfc9112TransferEncoding(true)
                .setAllowDuplicateContentLengths(true));
        this.config = config;
    }

    @Override
    protected HttpMessage createMessage(String[] initialLine) throws Exception {
        if (!initialLine[2].startsWith("HTTP/")) {
            throw new IllegalArgumentException("bad protocol " + initialLine[2] + " (it is case-sensitive)");
        }
        current = super.createMessage(initialLine);
        contentLengths = 0;
        return current;
    }

    @Override
    protected AsciiString splitHeaderName(byte[] sb, int start, int length) {
        AsciiString name = super.splitHeaderName(sb, start, length);
        if (name.contentEqualsIgnoreCase(HttpHeaderNames.CONTENT_LENGTH) && ++contentLengths == 2) {
            repeatedLength.add(current);
        }
        return name;
    }

    /**
     * For HTTP/1.0, Netty takes the first of several Content-Length headers and drops the others: the
     * rest of a longer body would then be read as the next request (request smuggling). Since the other
     * values are gone by then, any repeat fails an HTTP/1.0 request (RFC 9112 6.3); for HTTP/1.1 Netty
     * itself fails differing values and accepts identical ones.
     */
    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf buffer, List<Object> out) throws Exception {
        int before = out.size();
        super.decode(ctx, buffer, out);
        for (int i = before; i < out.size(); i++) {
            if (out.get(i) instanceof HttpRequest req && req.decoderResult().isSuccess()) {
                HeadRules.Rejection broken = repeatedLength.remove(req) && req.protocolVersion() == HttpVersion.HTTP_1_0
                        ? new HeadRules.Rejection(400, "several Content-Length headers in an HTTP/1.0 request")
                        : HeadRules.check(req, config);
                if (broken != null) {
                    req.setDecoderResult(DecoderResult.failure(broken));
                }
            }
        }
        repeatedLength.clear();
    }
}
