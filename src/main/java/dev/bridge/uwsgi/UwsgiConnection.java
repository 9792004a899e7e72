package dev.bridge.uwsgi;

import dev.bridge.config.Config;
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
import io.netty.channel.unix.DomainSocketChannel;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * One uwsgi connection: one request (vars, then the body, buffered or spilled like HTTP bodies), handed to
 * Python; the response is raw HTTP (status line from SERVER_PROTOCOL), framed by Content-Length when it is
 * known and by the close otherwise, and the connection closes after it. A ping is answered with a pong.
 * Bad input or a stalled client: the connection is closed and the reason logged once. Event loop only.
 */
final class UwsgiConnection extends ServedConnection {

    /** While draining, how long a connection that sent nothing is kept, in milliseconds. */
    static final long DRAIN_SILENT_MILLIS = 1000;
    /** A pong: modifier1 100, datasize 0. */
    private static final byte[] PONG = {100, 0, 0, 0};

    private final Config config;
    private final ResponseEncoder encoder;
    private final Logger log;
    private UwsgiPacket.Request head;
    private RequestBody body;
    private boolean done;
    private boolean draining;
    private boolean bytesSeen;
    private final long openedAt = System.nanoTime();

    UwsgiConnection(Config config, WorkerChannels channels, ResponseEncoder encoder, Logger log) {
        super(channels);
        this.config = config;
        this.encoder = encoder;
        this.log = log;
    }

    @Override
    protected void releaseInput() {
        if (body != null && active == null) {
            body.release();
            body = null;
        }
    }

    /** The peer half-closed: a request in Python is still answered; otherwise there is nothing left to do. */
    @Override
    public void userEventTriggered(ChannelHandlerContext ctx, Object evt) {
        if (evt instanceof io.netty.channel.socket.ChannelInputShutdownEvent && active == null) {
            ctx.close();
        }
        ctx.fireUserEventTriggered(evt);
    }

    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
        if (!(cause instanceof IOException)) {
            log.warn("uwsgi connection error: " + cause);
        }
        ctx.close();
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        try {
            if (done) {
                return;
            }
            if (msg instanceof UwsgiPacket.Request r) {
                onRequest(r);
            } else if (msg instanceof ByteBuf piece && body != null) {
                try {
                    body.append(piece);
                } catch (IOException e) {
                    fail("cannot store the request body: " + e.getMessage());
                }
            } else if (msg == UwsgiPacket.END && body != null) {
                dispatch();
            } else if (msg instanceof UwsgiPacket.Ping) {
                done = true;
                ctx.writeAndFlush(Unpooled.wrappedBuffer(PONG)).addListener(f -> ctx.close());
            } else if (msg instanceof UwsgiPacket.Bad bad) {
                fail(bad.reason());
            }
        } finally {
            ReferenceCountUtil.release(msg);
        }
    }

    private void onRequest(UwsgiPacket.Request r) {
        if (config.limitBody() > 0 && r.contentLength() > config.limitBody()) {
            done = true;
            log.info("uwsgi request from " + peer() + ": body of " + r.contentLength() + " bytes over --limit-body: 413");
            byte[] text = "413 Content Too Large\n".getBytes(StandardCharsets.US_ASCII);
            ByteBuf buf = encoder.head(ctx.alloc(), AppResponseHead.error(413, "Content Too Large"), false,
                    ResponseEncoder.Framing.LENGTH, text.length, false, text.length);
            buf.writeBytes(text);
            ctx.writeAndFlush(buf).addListener(f -> closeGracefully());
            return;
        }
        head = r;
        body = new RequestBody(ctx.alloc(), config.spillThreshold(), r.contentLength());
    }

    private void dispatch() {
        done = true;
        String environ = UwsgiEnviron.build(head);
        if (environ == null) {
            body.release();
            body = null;
            fail("no REQUEST_METHOD among the vars");
            return;
        }
        String method = head.vars().get("REQUEST_METHOD");
        String protocol = head.vars().getOrDefault("SERVER_PROTOCOL", "HTTP/1.1");
        String summary = method + " " + head.vars().getOrDefault("REQUEST_URI", head.vars().getOrDefault("PATH_INFO", "")) + " " + protocol;
        String client = head.vars().getOrDefault("REMOTE_ADDR", "-") + ":" + head.vars().getOrDefault("REMOTE_PORT", "-");
        WsgiRequest request = new WsgiRequest(environ, body, summary, client, System.nanoTime());
        active = new HttpResponder(this, channels.uwsgiCounters(), config, encoder, log, request, method.equals("HEAD"),
                protocol.equals("HTTP/1.0"), false, false);
        channels.dispatch(new WsgiExchange(request, active, ctx.channel().eventLoop(), log));
    }

    /** Logs why, once, and closes: the peer sent something that is not a uwsgi request we can serve. */
    private void fail(String reason) {
        done = true;
        if (body != null) {
            body.release();
            body = null;
        }
        log.warn("uwsgi request from " + peer() + " refused: " + reason + "; closing the connection");
        ctx.close();
    }

    private String peer() {
        return ctx.channel() instanceof DomainSocketChannel ? "unix socket " + ctx.channel().localAddress()
                : String.valueOf(ctx.channel().remoteAddress());
    }

    private void closeGracefully() {
        WorkerChannels.closeGracefully(ctx.channel());
    }

    @Override
    public boolean draining() {
        return true; // one request per connection: never kept alive
    }

    @Override
    public void responseDone(HttpResponder r, boolean keepAlive) {
        if (active == r) {
            active = null;
            r.request().body().release();
            // The request was read to its last byte (a request is dispatched only then), so a plain close
            // loses nothing: no unread input to turn it into a reset. It spares the peer's FIN round trip.
            ctx.close();
        }
    }

    @Override
    public void responseFailed(HttpResponder r, boolean abort) {
        if (active == r) {
            active = null;
            r.request().body().release();
            if (abort) {
                ctx.channel().config().setOption(ChannelOption.SO_LINGER, 0);
            }
            ctx.close();
        }
    }

    @Override
    public void sweep(long now) {
        if (done) {
            return;
        }
        if (now - openedAt > TimeUnit.SECONDS.toNanos(config.headerTimeout())) {
            fail("the request was not received within " + config.headerTimeout() + " s");
        } else if (draining && !bytesSeen && now - openedAt > TimeUnit.MILLISECONDS.toNanos(DRAIN_SILENT_MILLIS)) {
            ctx.close(); // accepted but never spoke: nothing to lose
        }
    }

    /**
     * A draining worker finishes every request that has begun to arrive (closing with unread input would
     * reset it: nginx's 502); a connection that has sent nothing is closed after {@value #DRAIN_SILENT_MILLIS} ms.
     */
    @Override
    public void drain(long keepAliveUntilNanos) {
        draining = true; // one request per connection: nothing is kept alive anyway
    }

    /** A handler to put before the decoder: notes that the peer has sent something. */
    ChannelInboundHandlerAdapter readMarker() {
        return new ChannelInboundHandlerAdapter() {
            @Override
            public void channelRead(ChannelHandlerContext c, Object msg) {
                bytesSeen = true;
                c.fireChannelRead(msg);
            }
        };
    }
}
