package dev.bridge.worker;

import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.EventLoop;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.channel.epoll.EpollDomainSocketChannel;
import io.netty.handler.codec.LineBasedFrameDecoder;
import io.netty.handler.codec.string.StringDecoder;
import io.netty.handler.codec.string.StringEncoder;

import java.nio.charset.StandardCharsets;
import java.util.function.Consumer;

/**
 * The worker's end of its control channel to the master: a unix socket the worker inherited, carrying one
 * text line per message (see {@link dev.bridge.master.Control}). Commands from the master, and the loss of
 * the master (EOF: a worker whose master is gone drains and exits, so no orphan serves stale code), are
 * handed to the worker's main thread as events. Runs on the worker's event loop.
 */
final class MasterLink {

    private final Channel channel;

    private MasterLink(Channel channel) {
        this.channel = channel;
    }

    /** Wraps the inherited descriptor; {@code events} receives each command, and {@code GONE} at EOF. */
    static MasterLink open(EventLoop loop, int fd, Consumer<String> events) throws InterruptedException {
        Channel ch = new EpollDomainSocketChannel(fd);
        ch.pipeline()
                .addLast(new LineBasedFrameDecoder(1024))
                .addLast(new StringDecoder(StandardCharsets.UTF_8))
                .addLast(new StringEncoder(StandardCharsets.UTF_8))
                .addLast(new SimpleChannelInboundHandler<String>() {
                    @Override
                    protected void channelRead0(ChannelHandlerContext ctx, String line) {
                        events.accept(line.trim());
                    }

                    @Override
                    public void channelInactive(ChannelHandlerContext ctx) {
                        events.accept(dev.bridge.master.Control.GONE);
                    }

                    @Override
                    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
                        ctx.close();
                    }
                });
        loop.register(ch).sync();
        return new MasterLink(ch);
    }

    /** Sends one message; any thread. */
    void send(String line) {
        channel.writeAndFlush(line + "\n");
    }
}
