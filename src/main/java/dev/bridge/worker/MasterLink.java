package dev.bridge.worker;

import dev.bridge.master.Control;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;

import java.util.function.Consumer;

/**
 * The worker's end of its control channel to the master: a unix socket the worker inherited, carrying one
 * text line per message (see {@link Control}). Commands from the master, and the loss of
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
        Channel ch = Control.channel(fd, events, () -> events.accept(Control.GONE));
        loop.register(ch).sync();
        return new MasterLink(ch);
    }

    /** Sends one message; any thread. */
    void send(String line) {
        channel.writeAndFlush(line + "\n");
    }
}
