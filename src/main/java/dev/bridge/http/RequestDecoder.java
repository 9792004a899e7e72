package dev.bridge.http;

import dev.bridge.config.Config;
import io.netty.handler.codec.http.HttpDecoderConfig;
import io.netty.handler.codec.http.HttpRequestDecoder;

/**
 * Netty's HTTP/1.1 request decoder, configured strictly: request line up to {@link Config#MAX_REQUEST_LINE}
 * bytes, header block up to {@code --max-header-size}, CRLF line endings only (a bare CR or LF is an
 * error), header names and values validated (NUL and other control characters are errors),
 * Content-Length together with Transfer-Encoding rejected (RFC 9112 6.3), differing repeated
 * Content-Length values rejected. Every violation becomes a failed {@code DecoderResult} that
 * {@link HttpConnection} answers with 4xx. Event loop only.
 */
final class RequestDecoder extends HttpRequestDecoder {

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
    }
}
