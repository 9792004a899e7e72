package dev.bridge.stats;

import dev.bridge.config.ListenAddress;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.DomainSocketAddress;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.timeout.ReadTimeoutHandler;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * The master's stats server ({@code --stats}). Raw, as uWSGI's: each connection gets the JSON document, then
 * the close. With {@code --stats-http}: HTTP/1.1 with {@code GET /} (the same JSON), {@code /metrics}
 * (Prometheus text), {@code /health/live} and {@code /health/ready}. Every question goes to the master's
 * main thread ({@code questions}), which answers through the {@link Answer} callback from its own thread;
 * the server only reads requests and writes answers. Its handlers run on the master's Netty event loop.
 */
public final class StatsServer {

    /** What is asked. */
    public enum Question { JSON, METRICS, LIVE, READY }

    /** An answer: an HTTP status (200, 503) and a body. */
    public record Answer(int status, String contentType, String body) {}

    /** Longest request head the HTTP mode reads, in bytes. */
    static final int MAX_REQUEST_BYTES = 8192;
    /** Seconds a client has to send its request (HTTP mode). */
    static final int READ_TIMEOUT_SECONDS = 10;

    public static final String JSON_TYPE = "application/json";
    /** The Prometheus text exposition format, version 0.0.4. */
    public static final String METRICS_TYPE = "text/plain; version=0.0.4; charset=utf-8";
    public static final String TEXT_TYPE = "text/plain; charset=utf-8";

    private final Channel server;
    private final Path unixPath;

    private StatsServer(Channel server, Path unixPath) {
        this.server = server;
        this.unixPath = unixPath;
    }

    /**
     * Binds {@code address} and serves questions by handing them to {@code questions} with a callback for the
     * answer (callable from any thread). Throws IOException with a readable message if it cannot bind.
     */
    public static StatsServer start(EventLoopGroup group, ListenAddress address, boolean http,
                                    BiConsumer<Question, Consumer<Answer>> questions) throws IOException {
        ServerBootstrap b = new ServerBootstrap().group(group).childHandler(new ChannelInitializer<Channel>() {
            @Override
            protected void initChannel(Channel ch) {
                if (http) {
                    ch.pipeline().addLast(new ReadTimeoutHandler(READ_TIMEOUT_SECONDS), new HttpServerCodec(),
                            new HttpObjectAggregator(MAX_REQUEST_BYTES), new HttpHandler(questions));
                } else {
                    ch.pipeline().addLast(new RawHandler(questions));
                }
            }
        });
        Path unix = null;
        try {
            if (address.isUnix()) {
                unix = Path.of(address.unixPath());
                dev.bridge.transport.Listeners.removeStaleSocket(unix);
                b.channel(EpollServerDomainSocketChannel.class);
                return new StatsServer(b.bind(new DomainSocketAddress(address.unixPath())).sync().channel(), unix);
            }
            b.channel(EpollServerSocketChannel.class);
            return new StatsServer(b.bind(address.socketAddress()).sync().channel(), null);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted");
        } catch (Exception e) {
            // Netty says "bind(..) failed with error(-98): Address already in use": the reason is what counts
            String why = String.valueOf(e.getMessage());
            int cut = why.lastIndexOf("): ");
            why = cut >= 0 ? why.substring(cut + 3) : why;
            throw new IOException("cannot listen on --stats " + (address.isUnix() ? address.unixPath()
                    : address.host() + ":" + address.port()) + ": " + why, e);
        }
    }

    /** Where it listens, for the log: {@code 127.0.0.1:9191} or the socket's path. */
    public String where() {
        return unixPath != null ? unixPath.toString()
                : server.localAddress() instanceof java.net.InetSocketAddress a ? a.getAddress().getHostAddress() + ":" + a.getPort()
                : String.valueOf(server.localAddress());
    }

    /** Stops listening and removes its socket file. Any thread. */
    public void close() {
        server.close().syncUninterruptibly();
        if (unixPath != null) {
            try {
                Files.deleteIfExists(unixPath);
            } catch (IOException ignored) {
                // nothing more to do at exit
            }
        }
    }

    /** uWSGI's stats protocol: the document as soon as the peer connects, then close. */
    private static final class RawHandler extends ChannelInboundHandlerAdapter {
        private final BiConsumer<Question, Consumer<Answer>> questions;

        RawHandler(BiConsumer<Question, Consumer<Answer>> questions) {
            this.questions = questions;
        }

        @Override
        public void channelActive(ChannelHandlerContext ctx) {
            questions.accept(Question.JSON, a -> ctx.writeAndFlush(Unpooled.copiedBuffer(a.body(), StandardCharsets.UTF_8))
                    .addListener(ChannelFutureListener.CLOSE));
        }

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            io.netty.util.ReferenceCountUtil.release(msg); // nothing is expected from the peer
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }

    private static final class HttpHandler extends SimpleChannelInboundHandler<FullHttpRequest> {
        private final BiConsumer<Question, Consumer<Answer>> questions;

        HttpHandler(BiConsumer<Question, Consumer<Answer>> questions) {
            this.questions = questions;
        }

        @Override
        protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
            boolean keepAlive = io.netty.handler.codec.http.HttpUtil.isKeepAlive(request);
            boolean head = request.method().equals(HttpMethod.HEAD);
            if (!request.decoderResult().isSuccess()) {
                respond(ctx, new Answer(400, TEXT_TYPE, "bad request\n"), false, false);
                return;
            }
            if (!request.method().equals(HttpMethod.GET) && !head) {
                respond(ctx, new Answer(405, TEXT_TYPE, "only GET and HEAD\n"), keepAlive, false);
                return;
            }
            String path = request.uri();
            int q = path.indexOf('?');
            path = q >= 0 ? path.substring(0, q) : path;
            Question question = switch (path) {
                case "/" -> Question.JSON;
                case "/metrics" -> Question.METRICS;
                case "/health/live" -> Question.LIVE;
                case "/health/ready" -> Question.READY;
                default -> null;
            };
            if (question == null) {
                respond(ctx, new Answer(404, TEXT_TYPE, "not found: try /, /metrics, /health/live or /health/ready\n"),
                        keepAlive, head);
                return;
            }
            // One question at a time per connection: a pipelined one waits, so answers keep their order.
            ctx.channel().config().setAutoRead(false);
            questions.accept(question, a -> ctx.channel().eventLoop().execute(() -> {
                respond(ctx, a, keepAlive, head);
                ctx.channel().config().setAutoRead(true);
            }));
        }

        private static void respond(ChannelHandlerContext ctx, Answer a, boolean keepAlive, boolean head) {
            byte[] body = a.body().getBytes(StandardCharsets.UTF_8);
            DefaultFullHttpResponse r = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
                    HttpResponseStatus.valueOf(a.status()), head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(body));
            r.headers().set(HttpHeaderNames.CONTENT_TYPE, a.contentType())
                    .set(HttpHeaderNames.CONTENT_LENGTH, body.length)
                    .set(HttpHeaderNames.CACHE_CONTROL, HttpHeaderValues.NO_CACHE);
            if (!keepAlive) {
                r.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
            }
            var written = ctx.writeAndFlush(r);
            if (!keepAlive) {
                written.addListener(ChannelFutureListener.CLOSE);
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
