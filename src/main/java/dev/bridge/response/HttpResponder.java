package dev.bridge.response;

import dev.bridge.config.Config;
import dev.bridge.logging.AccessLog;
import dev.bridge.logging.AccessLogFormat;
import dev.bridge.stats.RequestCounters;
import dev.bridge.wsgi.AppResponseHead;
import dev.bridge.wsgi.ResponseSink;
import dev.bridge.wsgi.WsgiRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.DefaultFileRegion;
import org.slf4j.Logger;

import java.io.IOException;
import java.nio.channels.FileChannel;

/**
 * The response to one request, written as HTTP/1.x: framing (Content-Length, chunked or close-delimited),
 * the keep-alive decision, the access log line. Used by the HTTP/1.1 connection and by the uwsgi
 * protocol, whose responses are raw HTTP too. Event loop only; a responder whose connection moved on
 * (closed, aborted) ignores calls.
 */
public final class HttpResponder implements ResponseSink {

    /** The connection a responder writes to. Event loop only. */
    public interface Owner {
        ChannelHandlerContext ctx();

        /** Whether this responder's response is still the one the connection waits for. */
        boolean isActive(HttpResponder r);

        /** Responses that begin now close the connection ({@code Connection: close}): the worker is retiring. */
        boolean draining();

        /** The response is written; the connection may serve the next request if {@code keepAlive}. */
        void responseDone(HttpResponder r, boolean keepAlive);

        /** The response could not be completed: the connection must be cut ({@code abort}) or is gone. */
        void responseFailed(HttpResponder r, boolean abort);

        /** Python finished the request. */
        void pythonDone();
    }

    private final Owner owner;
    private final RequestCounters counters;
    private final Config config;
    private final ResponseEncoder encoder;
    private final Logger log;
    final WsgiRequest request;
    private final boolean headRequest;
    private final boolean http10;
    private final boolean chunkedAllowed;
    private boolean keepAlive;
    private ResponseEncoder.Framing framing;
    private long declaredLength = -1;
    private long sent;
    private int status;
    private boolean finished;

    /**
     * @param http10         the client speaks HTTP/1.0 (the status line answers in kind)
     * @param keepAlive      the client wants the connection kept (the response may still close it)
     * @param chunkedAllowed a streamed body without Content-Length may be chunked (else it is close-delimited)
     */
    public HttpResponder(Owner owner, RequestCounters counters, Config config, ResponseEncoder encoder, Logger log,
                         WsgiRequest request, boolean headRequest, boolean http10, boolean keepAlive,
                         boolean chunkedAllowed) {
        this.owner = owner;
        this.counters = counters;
        this.config = config;
        this.encoder = encoder;
        this.log = log;
        this.request = request;
        this.headRequest = headRequest;
        this.http10 = http10;
        this.keepAlive = keepAlive;
        this.chunkedAllowed = chunkedAllowed;
    }

    public WsgiRequest request() {
        return request;
    }

    private boolean current() {
        return owner.isActive(this) && !finished;
    }


    @Override
    public void full(AppResponseHead head, byte[] data, int offset) {
        if (!current()) {
            return;
        }
        status = head.code();
        int available = data.length - offset;
        boolean noBody = headRequest || head.bodyForbidden();
        long length = head.contentLength() >= 0 ? head.contentLength() : available;
        int bodyBytes = noBody ? 0 : (int) Math.min(length, available);
        if (!noBody && head.contentLength() >= 0 && head.contentLength() != available) {
            log.error("the app declared Content-Length " + head.contentLength() + " but sent "
                    + available + " bytes for " + request.summary());
            keepAlive = false;
        }
        ResponseEncoder.Framing f = noBody && head.contentLength() < 0 && (available == 0 || head.bodyForbidden())
                ? ResponseEncoder.Framing.NONE : ResponseEncoder.Framing.LENGTH;
        keepAlive &= !head.close() && !owner.draining();
        ByteBuf buf = encoder.head(owner.ctx().alloc(), head, http10, f, length, keepAlive, bodyBytes);
        buf.writeBytes(data, offset, bodyBytes);
        sent = bodyBytes;
        finish(owner.ctx().writeAndFlush(buf));
    }

    @Override
    public ChannelFuture start(AppResponseHead head, byte[] first) {
        if (!current()) {
            return owner.ctx().newFailedFuture(new IOException("connection gone"));
        }
        status = head.code();
        declaredLength = head.contentLength();
        if (headRequest || head.bodyForbidden()) {
            framing = ResponseEncoder.Framing.NONE;
        } else if (declaredLength >= 0) {
            framing = ResponseEncoder.Framing.LENGTH;
        } else if (!http10 && chunkedAllowed) {
            framing = ResponseEncoder.Framing.CHUNKED;
        } else {
            framing = ResponseEncoder.Framing.CLOSE;
            keepAlive = false;
        }
        keepAlive &= !head.close() && !owner.draining();
        ByteBuf buf = encoder.head(owner.ctx().alloc(), head, http10, framing, declaredLength, keepAlive, first.length + 16);
        writeBody(buf, first);
        return owner.ctx().writeAndFlush(buf);
    }

    @Override
    public ChannelFuture chunk(byte[] data) {
        if (!current()) {
            return owner.ctx().newFailedFuture(new IOException("connection gone"));
        }
        ByteBuf buf = owner.ctx().alloc().buffer(data.length + 16);
        writeBody(buf, data);
        return owner.ctx().writeAndFlush(buf);
    }

    private void writeBody(ByteBuf buf, byte[] data) {
        int n = data.length;
        switch (framing) {
            case NONE -> n = 0;
            case LENGTH -> {
                if (sent + n > declaredLength) {
                    n = (int) Math.max(0, declaredLength - sent);
                    log.error("the app sent more than its Content-Length " + declaredLength + " for "
                            + request.summary() + ": the excess is dropped");
                    keepAlive = false;
                }
                buf.writeBytes(data, 0, n);
            }
            case CHUNKED -> {
                if (n > 0) {
                    ResponseEncoder.chunk(buf, data, n);
                }
            }
            case CLOSE -> buf.writeBytes(data, 0, n);
        }
        sent += n;
    }

    @Override
    public void end() {
        if (!current()) {
            return;
        }
        if (framing == ResponseEncoder.Framing.LENGTH && sent < declaredLength) {
            abort("the app sent " + sent + " of its declared Content-Length " + declaredLength + " bytes");
            return;
        }
        ByteBuf buf = Unpooled.EMPTY_BUFFER;
        if (framing == ResponseEncoder.Framing.CHUNKED) {
            buf = owner.ctx().alloc().buffer(5);
            ResponseEncoder.lastChunk(buf);
        }
        finish(owner.ctx().writeAndFlush(buf));
    }

    @Override
    public void sendfile(AppResponseHead head, FileChannel file, long offset, long count) {
        if (!current()) {
            closeQuietly(file);
            return;
        }
        status = head.code();
        boolean noBody = headRequest || head.bodyForbidden();
        long length = head.contentLength() >= 0 ? Math.min(head.contentLength(), count) : count;
        if (head.contentLength() > count) {
            log.error("the app declared Content-Length " + head.contentLength() + " for a file of "
                    + count + " bytes for " + request.summary());
        }
        keepAlive &= !head.close() && !owner.draining() && !(head.contentLength() > count);
        ByteBuf buf = encoder.head(owner.ctx().alloc(), head, http10, ResponseEncoder.Framing.LENGTH,
                length, keepAlive, 0);
        if (noBody || length == 0) {
            closeQuietly(file);
            finish(owner.ctx().writeAndFlush(buf));
            return;
        }
        owner.ctx().write(buf);
        sent = length;
        finish(owner.ctx().writeAndFlush(new DefaultFileRegion(file, offset, length)));
    }

    @Override
    public void abort(String why) {
        if (!current()) {
            return;
        }
        finished = true;
        log.error("aborting the response to " + request.summary() + ": " + why);
        ended(status == 0 ? 500 : status);
        owner.responseFailed(this, true);
    }

    @Override
    public void pythonDone() {
        owner.pythonDone();
    }

    private void finish(ChannelFuture written) {
        finished = true;
        boolean keep = keepAlive;
        written.addListener((ChannelFutureListener) f -> {
            ended(status);
            if (f.isSuccess()) {
                owner.responseDone(this, keep);
            } else {
                owner.responseFailed(this, false);
            }
        });
    }

    /** The response is over (written, or given up on): it is counted and logged. */
    private void ended(int code) {
        long nanos = System.nanoTime() - request.startNanos();
        counters.end(code, sent, nanos / 1000);
        accessLog(code, nanos);
    }

    private void accessLog(int code, long nanos) {
        if (!config.accessLog() || !log.isInfoEnabled()) { // a silenced logger (the warm-up's): no access line
            return;
        }
        AccessLogFormat format = AccessLogFormat.of(config.observability().logFormat());
        if (format != null) {
            AccessLog.served(format, request, code, sent, nanos);
        } else {
            double ms = nanos / 1e6;
            log.info(String.format("%s \"%s\" %d %d %.2fms", request.client(),
                    request.summary(), code, sent, ms));
        }
    }

    private static void closeQuietly(FileChannel file) {
        try {
            file.close();
        } catch (IOException ignored) {
            // nothing to do
        }
    }
}
