package dev.bridge.response;

import dev.bridge.transport.WorkerChannels;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;

/**
 * What an HTTP and a uwsgi connection share: registration with the worker's {@link WorkerChannels} while
 * the channel is open, the response in flight (at most one {@link HttpResponder} at a time), and the
 * backpressure signal when Python is done with a request. A subclass releases what input it holds in
 * {@link #releaseInput} when the channel closes. Event loop only.
 */
public abstract class ServedConnection extends ChannelInboundHandlerAdapter
        implements WorkerChannels.Connection, HttpResponder.Owner {

    protected final WorkerChannels channels;
    protected ChannelHandlerContext ctx;
    /** The response being produced, or null. */
    protected HttpResponder active;

    protected ServedConnection(WorkerChannels channels) {
        this.channels = channels;
    }

    /** The channel closed: release request bodies this connection still holds. */
    protected abstract void releaseInput();

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) {
        channels.register(this);
        ctx.fireChannelActive();
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) {
        channels.unregister(this);
        releaseInput();
        ctx.fireChannelInactive();
    }

    @Override
    public ChannelHandlerContext ctx() {
        return ctx;
    }

    @Override
    public boolean isActive(HttpResponder r) {
        return active == r;
    }

    @Override
    public void pythonDone() {
        channels.pythonDone();
    }
}
