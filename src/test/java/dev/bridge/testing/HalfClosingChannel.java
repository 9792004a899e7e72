package dev.bridge.testing;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;

import java.io.ByteArrayOutputStream;
import java.net.SocketAddress;

/**
 * An embedded channel that can half-close like the server's accepted sockets, so a pipeline under test
 * takes production's graceful close (shutdownOutput, then close after the linger delay). It records
 * {@code shutdownOutput} and counts non-empty writes after it, and has TCP-like addresses.
 */
public class HalfClosingChannel extends EmbeddedChannel implements DuplexChannel {

    private final SocketAddress local;
    private final SocketAddress remote;
    private final boolean addressesWhenClosed;
    public boolean outputShutdown;
    public int writesAfterShutdown;

    /**
     * @param addressesWhenClosed whether the addresses stay known after the close (as an accepted epoll
     *                            channel's do), or read null as an embedded channel's would
     */
    public HalfClosingChannel(SocketAddress local, SocketAddress remote, boolean addressesWhenClosed) {
        this.local = local;
        this.remote = remote;
        this.addressesWhenClosed = addressesWhenClosed;
    }

    /**
     * Moves every buffer {@code ch} has written to the client into {@code out} (releasing it): what a
     * client would have read so far. Anything but a ByteBuf is an error.
     */
    public static byte[] collectOutbound(EmbeddedChannel ch, ByteArrayOutputStream out) {
        for (Object msg = ch.readOutbound(); msg != null; msg = ch.readOutbound()) {
            try {
                if (!(msg instanceof ByteBuf b)) {
                    throw new AssertionError("unexpected outbound message " + msg);
                }
                byte[] bytes = new byte[b.readableBytes()];
                b.readBytes(bytes);
                out.writeBytes(bytes);
            } finally {
                ReferenceCountUtil.release(msg);
            }
        }
        return out.toByteArray();
    }

    @Override
    protected SocketAddress localAddress0() {
        return addressesWhenClosed || isActive() ? local : null;
    }

    @Override
    protected SocketAddress remoteAddress0() {
        return addressesWhenClosed || isActive() ? remote : null;
    }

    @Override
    protected void handleOutboundMessage(Object msg) {
        if (outputShutdown && !(msg instanceof ByteBuf b && !b.isReadable())) {
            writesAfterShutdown++;
        }
        super.handleOutboundMessage(msg);
    }

    @Override
    public boolean isInputShutdown() {
        return false;
    }

    @Override
    public ChannelFuture shutdownInput() {
        throw new UnsupportedOperationException();
    }

    @Override
    public ChannelFuture shutdownInput(ChannelPromise promise) {
        throw new UnsupportedOperationException();
    }

    @Override
    public boolean isOutputShutdown() {
        return outputShutdown;
    }

    @Override
    public ChannelFuture shutdownOutput() {
        return shutdownOutput(newPromise());
    }

    @Override
    public ChannelFuture shutdownOutput(ChannelPromise promise) {
        outputShutdown = true;
        return promise.setSuccess();
    }

    @Override
    public boolean isShutdown() {
        return outputShutdown;
    }

    @Override
    public ChannelFuture shutdown() {
        throw new UnsupportedOperationException();
    }

    @Override
    public ChannelFuture shutdown(ChannelPromise promise) {
        throw new UnsupportedOperationException();
    }
}
