package dev.bridge.http;

import dev.bridge.testing.HalfClosingChannel;

import dev.bridge.config.CommandLine;
import dev.bridge.config.Config;
import dev.bridge.config.ConfigException;
import dev.bridge.transport.WorkerChannels;
import dev.bridge.wsgi.WsgiExchange;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.ReferenceCountUtil;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real HTTP pipeline ({@link HttpInitializer}: read marker, {@link RequestDecoder}, {@link HttpConnection})
 * on an {@link EmbeddedChannel}, with Python replaced at the {@link WorkerChannels} boundary by
 * {@link FakePython}. By default each request is served as soon as it is dispatched (on the test thread,
 * as a Python thread would); with {@link #holdPython()} dispatched requests wait for {@link #runPython()}.
 *
 * <p>The channel is a {@link DuplexChannel} unless asked otherwise, as the server's socket channels are, so
 * the graceful close (shutdownOutput, then close after the linger delay) is the one production takes.
 */
final class Pipeline implements AutoCloseable {

    static final InetSocketAddress LOCAL = new InetSocketAddress("127.0.0.1", 8000);
    static final InetSocketAddress REMOTE = new InetSocketAddress("10.1.2.3", 54321);

    /** An embedded channel with TCP-like addresses that cannot half-close. */
    static class TestChannel extends EmbeddedChannel {
        @Override
        protected SocketAddress localAddress0() {
            return isActive() ? LOCAL : null;
        }

        @Override
        protected SocketAddress remoteAddress0() {
            return isActive() ? REMOTE : null;
        }
    }

    final EmbeddedChannel channel;
    final WorkerChannels workers;
    final FakePython python;
    final CapturingLogger log = new CapturingLogger();
    final Config config;
    private final ArrayDeque<WsgiExchange> waiting = new ArrayDeque<>();
    private boolean hold;
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Pipeline(FakePython.App app, String... flags) {
        this(app, true, flags);
    }

    Pipeline(FakePython.App app, boolean duplex, String... flags) {
        config = config(flags);
        python = new FakePython(app);
        channel = duplex ? new HalfClosingChannel(LOCAL, REMOTE, false) : new TestChannel();
        workers = new WorkerChannels(channel.eventLoop(), this::dispatched, config.threads());
        channel.pipeline().addLast(new HttpInitializer(config, workers, log));
        // The channel was active before the handlers were added: tell them now, as accept would.
        channel.pipeline().fireChannelActive();
    }

    /** A config from command-line flags (logging off unless asked); --module is supplied. */
    static Config config(String... flags) {
        List<String> args = new ArrayList<>(List.of("--module", "app:application", "--disable-logging"));
        args.addAll(List.of(flags));
        try {
            return ((CommandLine.Run) CommandLine.parse(args)).config();
        } catch (ConfigException e) {
            throw new IllegalArgumentException(e);
        }
    }

    private void dispatched(WsgiExchange exchange) {
        if (hold) {
            waiting.add(exchange);
        } else {
            exchange.run(python, python.router);
        }
    }

    /** From now on dispatched requests wait in {@link #waitingInPython()} until {@link #runPython()}. */
    Pipeline holdPython() {
        hold = true;
        return this;
    }

    int waitingInPython() {
        return waiting.size();
    }

    /** Serves the oldest held request, then lets the event loop finish it. */
    Pipeline runPython() {
        WsgiExchange ex = waiting.poll();
        if (ex == null) {
            throw new AssertionError("no request is waiting for Python");
        }
        ex.run(python, python.router);
        channel.runPendingTasks();
        return this;
    }

    Pipeline send(String latin1) {
        return send(latin1.getBytes(StandardCharsets.ISO_8859_1));
    }

    Pipeline send(byte[] bytes) {
        channel.writeInbound(Unpooled.wrappedBuffer(bytes));
        channel.runPendingTasks();
        channel.checkException();
        return this;
    }

    /** Everything written to the client so far (cumulative). */
    byte[] output() {
        for (Object msg = channel.readOutbound(); msg != null; msg = channel.readOutbound()) {
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

    String outputText() {
        return new String(output(), StandardCharsets.ISO_8859_1);
    }

    Responses responses() {
        return new Responses(output());
    }

    /** Lets the linger delay of a graceful close pass. */
    void passLinger() {
        channel.advanceTimeBy(HttpConnection.LINGER_SECONDS, TimeUnit.SECONDS);
        channel.runScheduledPendingTasks();
        channel.runPendingTasks();
    }

    boolean outputShutdown() {
        return channel instanceof HalfClosingChannel d && d.outputShutdown;
    }

    int writesAfterShutdown() {
        return channel instanceof HalfClosingChannel d ? d.writesAfterShutdown : 0;
    }

    /** Whether the connection is being closed or is closed: output shut down, or the channel closed. */
    boolean closing() {
        return outputShutdown() || !channel.isOpen();
    }

    @Override
    public void close() {
        output();
        channel.finishAndReleaseAll();
    }
}
