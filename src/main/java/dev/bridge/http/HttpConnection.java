package dev.bridge.http;

import dev.bridge.config.Config;
import dev.bridge.logging.AccessLog;
import dev.bridge.logging.AccessLogFormat;
import dev.bridge.response.HttpResponder;
import dev.bridge.response.ResponseEncoder;
import dev.bridge.response.ServedConnection;
import dev.bridge.transport.WorkerChannels;
import dev.bridge.wsgi.AppResponseHead;
import dev.bridge.wsgi.RequestBody;
import dev.bridge.wsgi.WsgiExchange;
import dev.bridge.wsgi.WsgiRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOption;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import io.netty.handler.codec.DecoderResult;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.LastHttpContent;
import io.netty.handler.codec.http.TooLongHttpHeaderException;
import io.netty.handler.codec.http.TooLongHttpLineException;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.concurrent.TimeUnit;

/**
 * One HTTP/1.1 connection: receives requests (bodies buffered, spilled to disk when large), hands them
 * to Python one at a time, answers pipelined requests in order, frames responses, keeps the connection
 * alive or closes it gracefully, and enforces the request and keep-alive timeouts.
 *
 * <p>Runs on the worker's event loop only; Python threads reach it through {@link HttpResponder}, whose
 * methods {@link WsgiExchange} calls on the event loop.
 */
final class HttpConnection extends ServedConnection {

    /** Pipelined requests queued on one connection beyond which it stops reading. */
    static final int PIPELINE_LIMIT = 16;
    /** After a response that closes the connection, how long to wait for the client's FIN, in seconds. */
    static final int LINGER_SECONDS = WorkerChannels.LINGER_SECONDS;
    /**
     * While draining, an idle keep-alive connection is closed only once it has been idle this long, in
     * milliseconds. A client may send its next request at the very moment the server closes, and would
     * then see the connection fail; a client that is sending requests gets its next one answered with
     * {@code Connection: close} instead, which never fails.
     */
    static final long DRAIN_IDLE_MILLIS = 2000;

    private final Config config;
    private final ResponseEncoder encoder;
    private final Logger log;

    /** The request whose head arrived and whose body is still coming, or null. */
    private Incoming receiving;
    /** Complete requests waiting for the one in Python to be answered (pipelining). */
    private final ArrayDeque<Incoming> queued = new ArrayDeque<>();
    /** Input is ignored: an error answer is queued or sent, or the connection is closing. */
    private boolean discarding;
    /** The connection is half-closed (our FIN is out) or closed: nothing more is sent. */
    private boolean closing;
    private boolean draining;
    /** While draining, responses begun before this moment (System.nanoTime) may still keep the connection. */
    private long keepAliveUntil;
    /** The client sent its FIN: answer what it asked, then close. */
    private boolean inputClosed;
    /** The request being rejected was HEAD (its error answer has no body), and its summary for the log. */
    private boolean rejectingHead;
    private String rejectedSummary;
    /** When bytes of a not-yet-complete request first arrived (System.nanoTime), or 0. */
    private long requestStartedAt;
    /** When the connection last became idle (System.nanoTime), or 0 while it is busy. */
    private long idleSince = System.nanoTime();

    HttpConnection(Config config, WorkerChannels channels, ResponseEncoder encoder, Logger log) {
        super(channels);
        this.config = config;
        this.encoder = encoder;
        this.log = log;
    }

    /** A handler to put before the decoder: notes when a request starts arriving, for the request timeout. */
    ChannelInboundHandlerAdapter readMarker() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext c, Object msg) {
                if (requestStartedAt == 0 && !discarding) {
                    requestStartedAt = System.nanoTime();
                }
                c.fireChannelRead(msg);
            }
        };
    }

    @Override
    protected void releaseInput() {
        if (receiving != null) {
            receiving.body.release();
            receiving = null;
        }
        for (Incoming q : queued) {
            q.release();
        }
        queued.clear();
    }

    /**
     * The client half-closed (HTTP/1.0 clients and some tools send their request, then FIN). What it
     * asked for is still answered; then the connection closes.
     */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof ChannelInputShutdownEvent) {
            inputClosed = true;
            if (closing || (active == null && queued.isEmpty())) {
                ctx.close();
            }
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof IOException)) {
            log.warn("connection error from " + ctx.channel().remoteAddress() + ": " + cause);
        }
        ctx.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (discarding) {
                return;
            }
            if (msg instanceof HttpRequest req) {
                onHead(req);
            }
            if (msg instanceof HttpContent content && receiving != null) {
                onContent(content);
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onHead(HttpRequest req) {
        rejectingHead = req.method().equals(HttpMethod.HEAD);
        rejectedSummary = req.method().name() + " " + req.uri() + " " + req.protocolVersion().text();
        DecoderResult result = req.decoderResult();
        if (result.isFailure()) {
            reject(statusFor(result.cause()), result.cause().getMessage());
            return;
        }
        if (req.protocolVersion().minorVersion() > 1) {
            req.setProtocolVersion(HttpVersion.HTTP_1_1); // RFC 9110 2.5: answer a higher minor version as 1.1
        }
        boolean chunked = req.headers().contains(HttpHeaderNames.TRANSFER_ENCODING);
        long length = chunked ? -1 : HeadRules.contentLength(req);
        String expect = req.headers().get(HttpHeaderNames.EXPECT);
        receiving = new Incoming(req, new RequestBody(ctx.alloc(), config.spillThreshold(), length));
        if (expect != null && req.protocolVersion() == HttpVersion.HTTP_1_1 && length != 0) {
            // The client waits for this before sending the body; it must not be taken for the answer to
            // an earlier pipelined request, so it waits for those to be answered.
            receiving.continuePending = true;
            sendContinueIfDue();
        }
    }

    private void sendContinueIfDue() {
        if (receiving != null && receiving.continuePending && active == null && queued.isEmpty()) {
            receiving.continuePending = false;
            ctx.writeAndFlush(Unpooled.wrappedBuffer(CONTINUE));
        }
    }

    private static final byte[] CONTINUE = "HTTP/1.1 100 Continue\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    private void onContent(HttpContent content) {
        if (content.decoderResult().isFailure()) {
            Throwable cause = content.decoderResult().cause();
            reject(statusFor(cause), cause.getMessage());
            return;
        }
        Incoming in = receiving;
        try {
            in.body.append(content.content());
        } catch (IOException e) {
            log.error("cannot store a request body: " + e.getMessage());
            reject(500, "cannot store the request body");
            return;
        }
        if (config.limitBody() > 0 && in.body.size() > config.limitBody()) {
            reject(413, "body over --limit-body " + config.limitBody());
            return;
        }
        if (content instanceof LastHttpContent) {
            receiving = null;
            requestStartedAt = 0;
            if (active == null) {
                dispatch(in);
            } else {
                queued.add(in);
                if (queued.size() >= PIPELINE_LIMIT) {
                    ctx.channel().config().setAutoRead(false);
                }
            }
        }
    }

    private static int statusFor(Throwable cause) {
        if (cause instanceof HeadRules.Rejection r) {
            return r.status;
        }
        if (cause instanceof TooLongHttpLineException) {
            return 414;
        }
        if (cause instanceof TooLongHttpHeaderException) {
            return 431;
        }
        if (cause instanceof TooLongFrameException) {
            return 431;
        }
        return 400;
    }

    /** Answers a request we will not serve with an error and closes: after the response in flight, if any. */
    private void reject(int status, String why) {
        if (receiving != null) {
            receiving.body.release();
            receiving = null;
        }
        discarding = true;
        requestStartedAt = 0;
        log.info("rejected request from " + ctx.channel().remoteAddress() + ": " + status + " " + why);
        Incoming error = Incoming.error(status, rejectingHead, rejectedSummary);
        rejectingHead = false;
        rejectedSummary = null;
        if (active == null) {
            writeError(error);
        } else {
            queued.add(error);
        }
    }

    private void writeError(Incoming error) {
        writeError(error.errorStatus, error.errorForHead, error.errorSummary);
    }

    /** Answers with an error of the server's own, logs it like any request, and closes the connection. */
    private void writeError(int status, boolean headRequest, String summary) {
        discarding = true;
        String reason = reason(status);
        AppResponseHead head = AppResponseHead.error(status, reason);
        byte[] body = (status + " " + reason + "\n").getBytes(StandardCharsets.US_ASCII);
        int bodyBytes = headRequest ? 0 : body.length;
        ByteBuf buf = encoder.head(ctx.alloc(), head, false, ResponseEncoder.Framing.LENGTH, body.length, false, bodyBytes);
        buf.writeBytes(body, 0, bodyBytes);
        ctx.writeAndFlush(buf).addListener(f -> closeGracefully());
        channels.httpCounters().end(status, bodyBytes, 0);
        AccessLogFormat format = AccessLogFormat.of(config.observability().logFormat());
        if (config.accessLog() && format != null && log.isInfoEnabled()) { // not with the warm-up's silenced logger
            AccessLog.refused(format, ctx.channel().remoteAddress(), summary, status, bodyBytes);
        } else if (config.accessLog()) {
            log.info(String.format("%s \"%s\" %d %d -", HttpEnviron.client(ctx.channel()), summary == null ? "-" : summary,
                    status, bodyBytes));
        }
    }

    static String reason(int status) {
        return switch (status) {
            case 400 -> "Bad Request";
            case 408 -> "Request Timeout";
            case 413 -> "Content Too Large";
            case 414 -> "URI Too Long";
            case 417 -> "Expectation Failed";
            case 431 -> "Request Header Fields Too Large";
            case 500 -> "Internal Server Error";
            case 501 -> "Not Implemented";
            case 505 -> "HTTP Version Not Supported";
            default -> "Error";
        };
    }

    private void dispatch(Incoming in) {
        String environ = HttpEnviron.build(in.head, in.body.size(), ctx.channel(), config.trustedProxies());
        if (environ == null) {
            in.release();
            log.info("rejected request from " + ctx.channel().remoteAddress() + ": 400 bad request target " + in.head.uri());
            writeError(400, in.head.method().equals(HttpMethod.HEAD), in.head.method().name() + " " + in.head.uri());
            return;
        }
        idleSince = 0;
        boolean http10 = in.head.protocolVersion() == HttpVersion.HTTP_1_0;
        String summary = in.head.method().name() + " " + in.head.uri() + " " + in.head.protocolVersion().text();
        WsgiRequest request = new WsgiRequest(environ, in.body, summary, HttpEnviron.client(ctx.channel()), System.nanoTime());
        HttpResponder responder = new HttpResponder(this, channels.httpCounters(), config, encoder, log, request,
                in.head.method().equals(HttpMethod.HEAD), http10, HttpUtil.isKeepAlive(in.head), true);
        active = responder;
        channels.dispatch(new WsgiExchange(request, responder, ctx.channel().eventLoop(), log));
    }

    @Override
    public boolean draining() {
        return draining && System.nanoTime() - keepAliveUntil >= 0;
    }

    @Override
    public void responseFailed(HttpResponder r, boolean abort) {
        if (active != r) {
            return;
        }
        active = null;
        r.request().body().release();
        if (abort) {
            abortConnection();
        } else {
            ctx.close();
        }
    }

    /** The response in flight is fully written. */
    @Override
    public void responseDone(HttpResponder r, boolean keepAlive) {
        if (active != r) {
            return;
        }
        active = null;
        r.request().body().release();
        if (!keepAlive) { // a response that promised keep-alive is kept to it, even if draining began meanwhile
            closeGracefully();
            return;
        }
        if (inputClosed && queued.isEmpty()) {
            ctx.close();
            return;
        }
        Incoming next = queued.poll();
        if (!ctx.channel().config().isAutoRead() && queued.size() < PIPELINE_LIMIT) {
            ctx.channel().config().setAutoRead(true);
        }
        if (next == null) {
            idleSince = System.nanoTime();
            if (requestStartedAt != 0) {
                requestStartedAt = idleSince; // a partial request's clock starts when we can serve it
            }
            sendContinueIfDue();
        } else if (next.errorStatus != 0) {
            writeError(next);
        } else {
            dispatch(next);
        }
    }

    /** Closes after what was sent has been delivered (see {@link WorkerChannels#closeGracefully}). */
    private void closeGracefully() {
        discarding = true;
        closing = true;
        WorkerChannels.closeGracefully(ctx.channel());
    }

    /** Cuts the connection with a RST: the client must not take a truncated response for a whole one. */
    private void abortConnection() {
        discarding = true;
        closing = true;
        var ch = ctx.channel();
        if (ch.isActive()) {
            ch.config().setOption(ChannelOption.SO_LINGER, 0);
            ch.close();
        }
    }

    @Override
    public void sweep(long now) {
        if (closing) {
            return;
        }
        if (requestStartedAt != 0 && now - requestStartedAt > TimeUnit.SECONDS.toNanos(config.headerTimeout())) {
            if (active != null) {
                return; // judged again when the response in flight is done (the clock restarts then)
            }
            requestStartedAt = 0;
            log.info("request from " + ctx.channel().remoteAddress() + " not received within "
                    + config.headerTimeout() + " s: closing");
            if (receiving != null) {
                receiving.body.release();
                receiving = null;
            }
            writeError(408, false, null);
            return;
        }
        long idleLimit = draining ? TimeUnit.MILLISECONDS.toNanos(DRAIN_IDLE_MILLIS) : TimeUnit.SECONDS.toNanos(config.keepaliveTimeout());
        if (idleSince != 0 && active == null && receiving == null && requestStartedAt == 0 && now - idleSince >= idleLimit) {
            idleSince = 0;
            closeGracefully();
        }
    }

    @Override
    public void drain(long keepAliveUntilNanos) {
        draining = true;
        keepAliveUntil = keepAliveUntilNanos;
        sweep(System.nanoTime());
    }

    /** A request received (or an error to answer in its place, when errorStatus != 0). */
    private static final class Incoming {
        final HttpRequest head;
        final RequestBody body;
        final int errorStatus;
        final boolean errorForHead;
        final String errorSummary;
        /** The client expects "100 Continue" before it sends the body, and has not had it yet. */
        boolean continuePending;

        Incoming(HttpRequest head, RequestBody body) {
            this(head, body, 0, false, null);
        }

        private Incoming(HttpRequest head, RequestBody body, int errorStatus, boolean errorForHead, String errorSummary) {
            this.head = head;
            this.body = body;
            this.errorStatus = errorStatus;
            this.errorForHead = errorForHead;
            this.errorSummary = errorSummary;
        }

        static Incoming error(int status, boolean forHead, String summary) {
            return new Incoming(null, null, status, forHead, summary);
        }

        void release() {
            if (body != null) {
                body.release();
            }
        }
    }

}
