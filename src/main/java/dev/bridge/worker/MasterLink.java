package dev.bridge.worker;

import dev.bridge.Log;
import dev.bridge.master.Control;
import dev.bridge.master.LogFile;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;

import java.util.function.Consumer;
import java.util.function.Supplier;

/**
 * The worker's end of its control channel to the master: a unix socket the worker inherited, carrying one
 * text line per message (see {@link Control}). Commands from the master, and the loss of
 * the master (EOF: a worker whose master is gone drains and exits, so no orphan serves stale code), are
 * handed to the worker's main thread as events, except {@code STATS}, which the event loop answers at once
 * (the main thread may be busy booting or stopping), and {@code REOPEN} (--logto), which it does at once too.
 * Runs on the worker's event loop.
 */
final class MasterLink {

    private final Channel channel;

    private MasterLink(Channel channel) {
        this.channel = channel;
    }

    /**
     * Wraps the inherited descriptor; {@code events} receives each command, and {@code GONE} at EOF;
     * {@code stats} makes the answer to {@code STATS} (an {@code ST} line).
     */
    static MasterLink open(EventLoop loop, int fd, Consumer<String> events, Supplier<String> stats)
            throws InterruptedException {
        Channel[] self = new Channel[1];
        Channel ch = Control.channel(fd, line -> {
            if (line.equals(Control.STATS)) {
                self[0].writeAndFlush(stats.get() + "\n");
            } else if (line.startsWith(Control.REOPEN + " ")) {
                LogFile.reopen(line, Log.get()); // at once, also while the main thread boots or stops
            } else {
                events.accept(line);
            }
        }, () -> events.accept(Control.GONE));
        self[0] = ch;
        loop.register(ch).sync();
        return new MasterLink(ch);
    }

    /** Sends one message and waits up to {@code millis} for it to be written (a last word before exiting). */
    void sendAndWait(String line, long millis) throws InterruptedException {
        channel.writeAndFlush(line + "\n").await(millis);
    }

    /** Sends one message; any thread. */
    void send(String line) {
        channel.writeAndFlush(line + "\n");
    }
}
