package dev.bridge.transport;

import dev.bridge.config.ListenAddress;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.epoll.EpollServerSocketChannel;

/**
 * Opens a worker's listeners on its event loop. Today a worker binds its own sockets; with the master,
 * workers will instead wrap the listening descriptors they inherit ({@code new EpollServerSocketChannel(fd)}
 * and {@code register()}), never bind, and never call shutdown() on them (the socket is shared).
 * Called on the worker's main thread.
 */
public final class Listeners {

    /** Default accept queue length (connections the kernel holds before a worker accepts them). */
    public static final int DEFAULT_BACKLOG = 1024;

    private Listeners() {}

    /** Binds a TCP listener that does not accept until {@code setAutoRead(true)}. */
    public static Channel bind(EventLoopGroup group, ListenAddress address, ChannelInitializer<Channel> init)
            throws InterruptedException {
        if (address.isUnix()) {
            throw new IllegalArgumentException("unix sockets are for --uwsgi-socket: " + address);
        }
        return new ServerBootstrap()
                .group(group)
                .channelFactory(EpollServerSocketChannel::new)
                .option(ChannelOption.SO_BACKLOG, DEFAULT_BACKLOG)
                .option(ChannelOption.SO_REUSEADDR, true)
                .option(ChannelOption.AUTO_READ, false)
                .childOption(ChannelOption.TCP_NODELAY, true)
                .childHandler(init)
                .bind(address.socketAddress())
                .sync()
                .channel();
    }
}
