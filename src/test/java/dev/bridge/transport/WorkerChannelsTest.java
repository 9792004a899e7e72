package dev.bridge.transport;

import dev.bridge.wsgi.WsgiExchange;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The worker's accept backpressure, timeout sweep and drain, on an embedded event loop. */
class WorkerChannelsTest {

    /** A connection that records what the registry asks of it. */
    static final class FakeConnection implements WorkerChannels.Connection {
        final List<Long> sweeps = new ArrayList<>();
        int drains;
        long keepAliveUntil;

        @Override
        public void sweep(long nowNanos) {
            sweeps.add(nowNanos);
        }

        @Override
        public void drain(long keepAliveUntilNanos) {
            drains++;
            keepAliveUntil = keepAliveUntilNanos;
        }
    }

    private final EmbeddedChannel loopOwner = new EmbeddedChannel();
    private final EmbeddedChannel server = new EmbeddedChannel();
    private final List<WsgiExchange> dispatched = new ArrayList<>();
    private final WorkerChannels channels = new WorkerChannels(loopOwner.eventLoop(), dispatched::add, 2);

    /** Scheduled tasks follow only advanceTimeBy: a slow machine's real time must not fire a timer early. */
    @BeforeEach
    void freezeClock() {
        loopOwner.freezeTime();
    }

    @AfterEach
    void tearDown() {
        loopOwner.finishAndReleaseAll();
        server.finishAndReleaseAll();
    }

    @Test
    void shouldPauseAcceptingAboveThreadsPlusOne() {
        channels.addServer(server);
        channels.dispatch(null);
        channels.dispatch(null);
        assertTrue(server.config().isAutoRead(), "threads busy, nothing waiting yet");
        channels.dispatch(null);
        assertFalse(server.config().isAutoRead(), "paused at threads + 1 in flight");
        assertEquals(3, dispatched.size());
        channels.pythonDone();
        assertTrue(server.config().isAutoRead(), "resumed below threads + 1");
        channels.pythonDone();
        channels.pythonDone();
        assertTrue(server.config().isAutoRead());
    }

    @Test
    void shouldAcceptOnceEvery25MsWhileBusyHoweverOftenPausesAlternate() {
        channels.addServer(server);
        channels.dispatch(null);
        channels.dispatch(null);
        channels.dispatch(null);
        assertFalse(server.config().isAutoRead(), "paused");
        for (int i = 0; i < 4; i++) { // under load, requests end and begin all the time
            loopOwner.advanceTimeBy(WorkerChannels.MAX_ACCEPT_PAUSE_MILLIS / 5, TimeUnit.MILLISECONDS);
            loopOwner.runScheduledPendingTasks();
            channels.pythonDone();
            assertTrue(server.config().isAutoRead(), "resumed below threads + 1");
            channels.dispatch(null);
            assertFalse(server.config().isAutoRead(), "paused again");
        }
        loopOwner.advanceTimeBy(WorkerChannels.MAX_ACCEPT_PAUSE_MILLIS / 5, TimeUnit.MILLISECONDS);
        loopOwner.runScheduledPendingTasks();
        assertTrue(server.config().isAutoRead(), "an accept round " + WorkerChannels.MAX_ACCEPT_PAUSE_MILLIS
                + " ms after the first pause, not after the last");
    }

    @Test
    void shouldKeepAnAcceptRoundOnUntilTheListenersAcceptLoopEnds() {
        channels.addServer(server);
        channels.dispatch(null);
        channels.dispatch(null);
        channels.dispatch(null);
        loopOwner.advanceTimeBy(WorkerChannels.MAX_ACCEPT_PAUSE_MILLIS, TimeUnit.MILLISECONDS);
        loopOwner.runScheduledPendingTasks();
        assertTrue(server.config().isAutoRead(), "the round began");
        channels.dispatch(null);
        assertTrue(server.config().isAutoRead(), "a request on a connection already accepted does not end the round "
                + "before the listener had its turn (it would accept one connection instead of a batch)");
        server.pipeline().fireChannelReadComplete();
        assertFalse(server.config().isAutoRead(), "the listener's accept loop is over: paused again, still busy");
        loopOwner.advanceTimeBy(WorkerChannels.MAX_ACCEPT_PAUSE_MILLIS, TimeUnit.MILLISECONDS);
        loopOwner.runScheduledPendingTasks();
        assertTrue(server.config().isAutoRead(), "and the next round comes " + WorkerChannels.MAX_ACCEPT_PAUSE_MILLIS + " ms later");
    }

    @Test
    void shouldSweepConnectionsEverySecond() {
        FakeConnection c = new FakeConnection();
        channels.register(c);
        loopOwner.advanceTimeBy(WorkerChannels.SWEEP_MILLIS, TimeUnit.MILLISECONDS);
        loopOwner.runScheduledPendingTasks();
        assertEquals(1, c.sweeps.size());
        channels.unregister(c);
        loopOwner.advanceTimeBy(WorkerChannels.SWEEP_MILLIS, TimeUnit.MILLISECONDS);
        loopOwner.runScheduledPendingTasks();
        assertEquals(1, c.sweeps.size(), "unregistered connections are not swept");
    }

    @Test
    void shouldDrainConnectionsAndCompleteWhenTheLastCloses() {
        channels.addServer(server);
        FakeConnection a = new FakeConnection();
        FakeConnection b = new FakeConnection();
        channels.register(a);
        channels.register(b);
        Future<Void> done = channels.drain(0, 0);
        loopOwner.runPendingTasks();
        assertTrue(channels.draining());
        assertFalse(server.isOpen(), "listeners closed");
        assertEquals(1, a.drains);
        assertEquals(1, b.drains);
        assertFalse(done.isDone());
        channels.unregister(a);
        assertFalse(done.isDone());
        channels.unregister(b);
        assertTrue(done.isSuccess());
        assertEquals(0, channels.connectionCount());
    }

    @Test
    void shouldSpreadTheKeepAliveDeadlinesOfARetiringWorkerOverTheWindow() {
        List<FakeConnection> all = new ArrayList<>();
        for (int i = 0; i < 5; i++) {
            FakeConnection c = new FakeConnection();
            all.add(c);
            channels.register(c);
        }
        long before = System.nanoTime();
        channels.drain(0, 500);
        loopOwner.runPendingTasks();
        long after = System.nanoTime();
        List<Long> offsets = all.stream().map(c -> c.keepAliveUntil).sorted().map(t -> t - before).toList();
        for (int i = 0; i < offsets.size(); i++) {
            long expected = TimeUnit.MILLISECONDS.toNanos(100 * i);
            assertTrue(offsets.get(i) >= expected && offsets.get(i) <= expected + (after - before),
                    "connection " + i + " of 5 keeps alive until +" + expected / 1_000_000 + " ms: " + offsets);
        }
        FakeConnection late = new FakeConnection();
        channels.register(late);
        assertTrue(late.keepAliveUntil <= System.nanoTime(), "a connection accepted while draining is not kept alive");
    }

    @Test
    void shouldDrainConnectionRegisteredWhileDraining() {
        channels.drain(0, 0);
        loopOwner.runPendingTasks();
        FakeConnection late = new FakeConnection();
        channels.register(late);
        assertEquals(1, late.drains);
    }

    @Test
    void shouldCompleteDrainAtOnceWithoutConnections() {
        Future<Void> done = channels.drain(0, 0);
        loopOwner.runPendingTasks();
        assertTrue(done.isSuccess());
    }

    @Test
    void shouldCompleteSecondDrainCallToo() {
        FakeConnection c = new FakeConnection();
        channels.register(c);
        Future<Void> first = channels.drain(0, 0);
        Future<Void> second = channels.drain(0, 0);
        loopOwner.runPendingTasks();
        assertEquals(1, c.drains, "a connection is drained once");
        channels.unregister(c);
        loopOwner.runPendingTasks();
        assertTrue(first.isSuccess());
        assertTrue(second.isSuccess());
    }

    @Test
    void shouldNotResumeAcceptingWhileDraining() {
        channels.addServer(server);
        channels.dispatch(null);
        channels.dispatch(null);
        channels.dispatch(null);
        channels.drain(0, 0);
        loopOwner.runPendingTasks();
        channels.pythonDone();
        assertFalse(server.config().isAutoRead());
        assertSame(loopOwner.eventLoop(), channels.loop());
    }
}
