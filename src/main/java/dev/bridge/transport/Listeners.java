package dev.bridge.transport;

import dev.bridge.config.ListenAddress;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.RecvByteBufAllocator;
import io.netty.channel.ServerChannelRecvByteBufAllocator;
import io.netty.channel.epoll.EpollChannelOption;
import io.netty.channel.epoll.EpollServerDomainSocketChannel;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.unix.UnixChannel;

import java.io.IOException;
import java.net.ConnectException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

/**
 * Listening sockets: bound once by the master, adopted by every worker.
 *
 * <p>The master binds them (dev.bridge.master.Posix) but never accepts on them; it only hands their
 * descriptors to the workers it spawns. A worker wraps the descriptor it inherited
 * ({@code new EpollServerSocketChannel(fd)}) and registers it instead of binding. Nobody ever calls
 * shutdown() on a listener: the socket is shared, and shutdown acts on the socket, not on one process's
 * descriptor; a worker stops accepting by closing its own descriptor. With {@code --reuse-port}, each worker
 * binds its own SO_REUSEPORT socket with {@link #bind} instead. Runs on the calling (main) thread.
 */
public final class Listeners {

    /** Default accept queue length (connections the kernel holds until a worker accepts them). */
    public static final int DEFAULT_BACKLOG = 1024;

    private Listeners() {}

    /** Most connections a worker accepts in one go (Netty's default batch for listeners). */
    static final int ACCEPT_BATCH = 16;

    /**
     * Up to {@value #ACCEPT_BATCH} connections accepted per wake-up. Netty's default stops a listener's
     * accept loop after one connection (it takes the descriptor accept returns for a short read), and under
     * load the next accept then waits a whole turn of the event loop: 30 connections opened at once took
     * 0.7 s to be accepted.
     */
    private static RecvByteBufAllocator acceptBatches() {
        ServerChannelRecvByteBufAllocator batches = new ServerChannelRecvByteBufAllocator();
        batches.maxMessagesPerRead(ACCEPT_BATCH);
        return batches.respectMaybeMoreData(false);
    }

    /**
     * Binds a TCP listener of this worker's own (--reuse-port: the master binds the shared ones, unix sockets
     * included, with dev.bridge.master.Posix), or one for a test; it accepts nothing until
     * {@code setAutoRead(true)}.
     */
    public static Channel bind(EventLoopGroup group, ListenAddress address, int backlog, boolean reusePort,
                               ChannelHandler childHandler) throws InterruptedException {
        ServerBootstrap b = bootstrap(group, address, childHandler).option(ChannelOption.SO_BACKLOG, backlog)
                .channelFactory(EpollServerSocketChannel::new).option(ChannelOption.SO_REUSEADDR, true);
        if (reusePort) {
            b.option(EpollChannelOption.SO_REUSEPORT, true);
        }
        return b.bind(address.socketAddress()).sync().channel();
    }

    /** The descriptor of a listener (the C uwsgi loops serve it). */
    public static int fd(Channel listener) {
        return ((UnixChannel) listener).fd().intValue();
    }

    /** Wraps an inherited listening descriptor; the listener does not accept until {@code setAutoRead(true)}. */
    public static Channel adopt(EventLoopGroup group, ListenAddress address, int fd, ChannelHandler childHandler)
            throws InterruptedException {
        return bootstrap(group, address, childHandler)
                .channelFactory(() -> address.isUnix() ? new EpollServerDomainSocketChannel(fd) : new EpollServerSocketChannel(fd))
                .register().sync().channel();
    }

    /**
     * What every listener has, bound here or adopted from the master: it accepts nothing until told to, then
     * accepts in batches; its connections may be half-closed, and TCP ones send without Nagle's delay.
     */
    private static ServerBootstrap bootstrap(EventLoopGroup group, ListenAddress address, ChannelHandler childHandler) {
        ServerBootstrap b = new ServerBootstrap()
                .group(group)
                .option(ChannelOption.AUTO_READ, false)
                .option(ChannelOption.RCVBUF_ALLOCATOR, acceptBatches())
                .childOption(ChannelOption.ALLOW_HALF_CLOSURE, true)
                .childHandler(childHandler);
        if (!address.isUnix()) {
            b.childOption(ChannelOption.TCP_NODELAY, true);
        }
        return b;
    }

    /**
     * Makes way for a unix socket listener at {@code path}: a socket file nobody answers on any more is
     * removed; one that a live server answers on, or a file that is not a socket, is an error.
     */
    public static void removeStaleSocket(Path path) throws IOException {
        if (!Files.exists(path, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        if (!"socket".equals(fileType(path))) {
            throw new IOException("the file exists and is not a socket: not replacing it");
        }
        try (SocketChannel probe = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            probe.connect(UnixDomainSocketAddress.of(path));
            throw new IOException("another server is listening on it");
        } catch (ConnectException stale) {
            Files.delete(path); // nobody answers: a socket file left behind by a server that died
        }
    }

    private static String fileType(Path path) throws IOException {
        Object mode = Files.getAttribute(path, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        return ((Integer) mode & 0170000) == 0140000 ? "socket" : "other";
    }

    /** Sets a unix socket's permission bits (e.g. 0660); -1 leaves the umask's. */
    public static void chmod(Path path, int mode) throws IOException {
        if (mode >= 0) {
            Files.setPosixFilePermissions(path, PosixFilePermissions.fromString(permissions(mode)));
        }
    }

    static String permissions(int mode) {
        StringBuilder sb = new StringBuilder(9);
        for (int shift = 6; shift >= 0; shift -= 3) {
            int bits = (mode >> shift) & 7;
            sb.append((bits & 4) != 0 ? 'r' : '-').append((bits & 2) != 0 ? 'w' : '-').append((bits & 1) != 0 ? 'x' : '-');
        }
        return sb.toString();
    }
}
