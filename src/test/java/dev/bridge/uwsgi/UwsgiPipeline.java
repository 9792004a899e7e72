package dev.bridge.uwsgi;

import dev.bridge.config.Config;
import dev.bridge.http.CapturingLogger;
import dev.bridge.http.FakePython;
import dev.bridge.http.Responses;
import dev.bridge.testing.HalfClosingChannel;
import dev.bridge.testing.TestConfig;
import dev.bridge.transport.WorkerChannels;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.channel.socket.ChannelInputShutdownEvent;
import org.slf4j.event.Level;

import java.io.ByteArrayOutputStream;
import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The real uwsgi pipeline ({@link UwsgiInitializer}: {@link UwsgiDecoder}, {@link UwsgiConnection}) on an
 * {@link EmbeddedChannel} that can half-close like the server's sockets, with Python replaced by
 * {@link FakePython} at the {@link WorkerChannels} boundary (as in the HTTP tests' Pipeline). Every buffer
 * the pipeline allocates comes from a {@link TrackingAllocator}, and every buffer the test sends is kept,
 * so {@link #assertNothingLeaked()} can check that all were released.
 */
final class UwsgiPipeline implements AutoCloseable {

    /** Lingering after the response: closed this long after the output was shut down. */
    static final int LINGER_SECONDS = WorkerChannels.LINGER_SECONDS;

    static final InetSocketAddress LOCAL = new InetSocketAddress("127.0.0.1", 3031);
    static final InetSocketAddress REMOTE = new InetSocketAddress("127.0.0.1", 40000);

    /** Like an accepted epoll channel, it still knows its addresses once closed. */
    final HalfClosingChannel channel = new HalfClosingChannel(LOCAL, REMOTE, true);
    /** The connection handler, kept: the pipeline forgets its handlers once the channel is closed. */
    private final WorkerChannels.Connection connection;
    final TrackingAllocator alloc = new TrackingAllocator();
    final WorkerChannels workers;
    final FakePython python;
    final CapturingLogger log = new CapturingLogger();
    final Config config;
    private final List<ByteBuf> sent = new ArrayList<>();
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();

    UwsgiPipeline(FakePython.App app, String... flags) {
        config = TestConfig.of(flags);
        python = new FakePython(app);
        channel.config().setAllocator(alloc);
        channel.freezeTime(); // timers follow advanceTimeBy only, however slow the machine
        workers = new WorkerChannels(channel.eventLoop(), python::dispatch, config.threads());
        channel.pipeline().addLast(new UwsgiInitializer(config, workers, log));
        connection = (WorkerChannels.Connection) channel.pipeline().get("uwsgi");
        // The channel was active before the handlers were added: tell them now, as accept would.
        channel.pipeline().fireChannelActive();
    }

    /** From now on dispatched requests wait in {@link #waitingInPython()} until {@link #runPython()}. */
    UwsgiPipeline holdPython() {
        python.hold();
        return this;
    }

    int waitingInPython() {
        return python.waiting();
    }

    /** Serves the oldest held request, then lets the event loop finish it. */
    UwsgiPipeline runPython() {
        python.runNext();
        channel.runPendingTasks();
        return this;
    }

    /** One read of the socket. */
    UwsgiPipeline send(byte[] bytes) {
        ByteBuf b = Unpooled.wrappedBuffer(bytes);
        sent.add(b);
        if (channel.isOpen()) {
            channel.writeInbound(b);
        } else {
            b.release(); // a closed socket reads nothing
        }
        channel.runPendingTasks();
        channel.checkException();
        return this;
    }

    /** {@code bytes} in several reads, cut at the given offsets. */
    UwsgiPipeline sendSplit(byte[] bytes, int... cuts) {
        int from = 0;
        for (int cut : cuts) {
            send(Packets.slice(bytes, from, cut));
            from = cut;
        }
        return send(Packets.slice(bytes, from, bytes.length));
    }

    /** The client closes its end (EOF, then the channel is gone). */
    UwsgiPipeline clientCloses() {
        channel.close();
        channel.runPendingTasks();
        channel.checkException();
        return this;
    }

    /** The client shuts its output down (its FIN, with half-closure allowed as the listeners do). */
    UwsgiPipeline clientHalfCloses() {
        channel.pipeline().fireUserEventTriggered(ChannelInputShutdownEvent.INSTANCE);
        channel.runPendingTasks();
        channel.checkException();
        return this;
    }

    /** Everything written to the client so far (cumulative). */
    byte[] output() {
        return HalfClosingChannel.collectOutbound(channel, out);
    }

    Responses responses() {
        return new Responses(output());
    }

    /** The one response this connection wrote; fails if there is anything after it. */
    Responses.Response response() {
        Responses rs = responses();
        Responses.Response r = rs.next();
        if (rs.hasMore()) {
            throw new AssertionError("more bytes after the response: " + rs.rest());
        }
        return r;
    }

    WorkerChannels.Connection connection() {
        return connection;
    }

    /** Runs the connection's timeout check as if {@code seconds} had passed since it opened. */
    void sweepAfter(int seconds) {
        connection().sweep(System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds));
        channel.runPendingTasks();
    }

    /** Lets the linger delay of a graceful close pass. */
    void passLinger() {
        channel.advanceTimeBy(LINGER_SECONDS + 1, TimeUnit.SECONDS);
        channel.runScheduledPendingTasks();
        channel.runPendingTasks();
    }

    boolean outputShutdown() {
        return channel.outputShutdown;
    }

    /** The connection is being closed or is closed: output shut down, or the channel closed. */
    boolean closing() {
        return channel.outputShutdown || !channel.isOpen();
    }

    List<String> warnings() {
        return log.messages(Level.WARN);
    }

    /** Every message logged at WARN or ERROR, for assertion messages. */
    List<String> problems() {
        List<String> all = new ArrayList<>(log.messages(Level.WARN));
        all.addAll(log.messages(Level.ERROR));
        return all;
    }

    /** Closes the channel as the end of a test would, then checks every buffer was released. */
    void assertNothingLeaked() {
        output();
        channel.finishAndReleaseAll();
        channel.runPendingTasks();
        List<String> leaked = alloc.unreleased();
        if (!leaked.isEmpty()) {
            throw new AssertionError("buffers allocated by the pipeline and never released: " + leaked);
        }
        for (ByteBuf b : sent) {
            if (b.refCnt() != 0) {
                throw new AssertionError("a buffer read from the socket was never released (refCnt " + b.refCnt() + ")");
            }
        }
        if (workers.connectionCount() != 0) {
            throw new AssertionError("the connection is still registered with the worker after it closed");
        }
    }

    @Override
    public void close() {
        output();
        channel.finishAndReleaseAll();
    }
}
