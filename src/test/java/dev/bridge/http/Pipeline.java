package dev.bridge.http;

import dev.bridge.testing.HalfClosingChannel;
import dev.bridge.testing.TestConfig;

import dev.bridge.config.Config;
import dev.bridge.transport.WorkerChannels;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.DuplexChannel;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;
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
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    Pipeline(FakePython.App app, String... flags) {
        this(app, true, flags);
    }

    Pipeline(FakePython.App app, boolean duplex, String... flags) {
        config = TestConfig.of(flags);
        python = new FakePython(app);
        channel = duplex ? new HalfClosingChannel(LOCAL, REMOTE, false) : new TestChannel();
        channel.freezeTime(); // timers follow advanceTimeBy only, however slow the machine
        workers = new WorkerChannels(channel.eventLoop(), python::dispatch, config.threads());
        channel.pipeline().addLast(new HttpInitializer(config, workers, log));
        // The channel was active before the handlers were added: tell them now, as accept would.
        channel.pipeline().fireChannelActive();
    }

    /** From now on dispatched requests wait in {@link #waitingInPython()} until {@link #runPython()}. */
    Pipeline holdPython() {
        python.hold();
        return this;
    }

    int waitingInPython() {
        return python.waiting();
    }

    /** Serves the oldest held request, then lets the event loop finish it. */
    Pipeline runPython() {
        python.runNext();
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
        return HalfClosingChannel.collectOutbound(channel, out);
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
