package dev.bridge.transport;

import dev.bridge.stats.RequestCounters;
import dev.bridge.wsgi.WsgiExchange;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.EventLoop;
import io.netty.channel.socket.DuplexChannel;
import io.netty.util.concurrent.Future;
import io.netty.util.concurrent.Promise;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A worker's listeners and connections, and the backpressure between them and the Python threads.
 *
 * <p>When the requests handed to Python and not yet finished exceed the threads plus one waiting request,
 * the worker stops accepting: new connections then wait in the kernel's accept queue, where another worker
 * can take them, instead of piling up here. Each connection has at most one request in Python at a time.
 * {@value #MAX_ACCEPT_PAUSE_MILLIS} ms after a pause began, however often resumes and pauses alternated
 * meanwhile, a round of accepting happens anyway: otherwise keep-alive connections already accepted, which
 * keep the Python threads busy, would starve the connections waiting in the queue. The round lasts until the
 * listener's next accept loop is over (a batch of up to 16 connections; if none waits, the round ends with
 * the next one that arrives): a request arriving meanwhile on a connection already accepted does not end
 * it, or the round would take a single connection (the event loop reads those connections before the
 * listener). Both mistakes were made: the 30 connections a load generator opens at once waited up to 0.7 s.
 * A sweep every {@value #SWEEP_MILLIS} ms lets connections enforce their timeouts.
 *
 * <p>Everything runs on the worker's single event loop, so none of this state needs locks.
 */
public final class WorkerChannels {

    /** How often connections check their deadlines, in milliseconds. */
    static final long SWEEP_MILLIS = 1000;
    /** How often connections are checked while draining, so idle ones close soon after their grace. */
    static final long DRAIN_SWEEP_MILLIS = 100;
    /** After a response that closes the connection, how long to wait for the client's FIN, in seconds. */
    public static final int LINGER_SECONDS = 2;
    /** A stop's accept sweep ends once nothing was accepted for this long, in milliseconds... */
    static final long QUIET_MILLIS = 50;
    /** ...or after this long at most. */
    static final long MAX_ACCEPT_SWEEP_MILLIS = 2000;
    /** Longest stretch without accepting while busy, in milliseconds. */
    static final long MAX_ACCEPT_PAUSE_MILLIS = 25;
    /**
     * When a newer worker takes over, how long the retiring one may go on answering requests on its
     * keep-alive connections, in milliseconds: each connection gets its own moment within this window
     * (evenly spread) after which its next response says {@code Connection: close}. The clients then
     * reconnect to the new workers a few at a time instead of all in the same millisecond, which queued
     * 60 first requests on a cold JVM (the slowest requests of a reload, 110-320 ms). With new workers born
     * from standbys, 1000 ms rather than 500 brought each reload's slowest request in all mode (2 workers,
     * 60 clients, 2 CPUs) from 47-251 ms to 32-120 ms, three runs of 10 reloads each, alternated.
     */
    public static final long RETIRE_SPREAD_MILLIS = 1000;

    /** A connection as the registry sees it. */
    public interface Connection {
        /** Enforces the connection's timeouts. */
        void sweep(long nowNanos);

        /**
         * Finish what is in flight, then close; idle connections close soon. Until {@code keepAliveUntilNanos}
         * (System.nanoTime) requests may still be answered with keep-alive.
         */
        void drain(long keepAliveUntilNanos);
    }

    private final EventLoop loop;
    private final Consumer<WsgiExchange> python;
    /** What the event loop served, per protocol (the C loops count their own). */
    private final RequestCounters http = new RequestCounters();
    private final RequestCounters uwsgi = new RequestCounters();
    private final int pauseAt;
    private final List<Channel> servers = new ArrayList<>();
    private final Set<Connection> connections = new HashSet<>();
    private int inFlight;
    private boolean paused;
    /** An accept round is scheduled (at most {@value #MAX_ACCEPT_PAUSE_MILLIS} ms after a pause began). */
    private boolean roundScheduled;
    /** An accept round is on: one batch is accepted whatever the load, until the listener's accept loop ends. */
    private boolean acceptRound;
    private boolean draining;
    /** Accepting regardless of load, just before draining. */
    private boolean sweeping;
    private long lastAccept;
    private long spreadMillis;
    private Promise<Void> drained;

    public WorkerChannels(EventLoop loop, Consumer<WsgiExchange> python, int threads) {
        this.loop = loop;
        this.python = python;
        this.pauseAt = threads + 1;
        loop.scheduleAtFixedRate(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }

    /** The counters of the HTTP requests this event loop answered. */
    public RequestCounters httpCounters() {
        return http;
    }

    /** The counters of the uwsgi requests this event loop answered ({@code --uwsgi-loop netty}). */
    public RequestCounters uwsgiCounters() {
        return uwsgi;
    }

    public EventLoop loop() {
        return loop;
    }

    /** Adds a listener, not accepting yet. */
    public void addServer(Channel server) {
        servers.add(server);
        server.pipeline().addFirst(new ChannelInboundHandlerAdapter() {
            @Override
            public void channelReadComplete(ChannelHandlerContext ctx) {
                acceptLoopDone();
                ctx.fireChannelReadComplete();
            }
        });
    }

    /** Starts accepting on every listener (the master said SERVE). */
    public void startAccepting() {
        if (!draining && !paused) {
            setAccepting(true);
        }
    }

    public void register(Connection c) {
        connections.add(c);
        lastAccept = System.nanoTime();
        if (draining) {
            c.drain(System.nanoTime());
        }
    }

    public void unregister(Connection c) {
        connections.remove(c);
        if (draining && connections.isEmpty() && drained != null) {
            drained.trySuccess(null);
        }
    }

    public boolean draining() {
        return draining;
    }

    /** Hands a request to the Python threads. */
    public void dispatch(WsgiExchange exchange) {
        inFlight++;
        python.accept(exchange);
        if (!acceptRound) {
            pauseIfBusy();
        }
    }

    private void pauseIfBusy() {
        if (!paused && !sweeping && !draining && inFlight >= pauseAt) {
            paused = true;
            setAccepting(false);
            if (!roundScheduled) {
                // Counted from this pause on, however often resumes and pauses alternate meanwhile: under
                // load they do all the time, and a timer restarted by each pause would never fire.
                roundScheduled = true;
                loop.schedule(this::startAcceptRound, MAX_ACCEPT_PAUSE_MILLIS, TimeUnit.MILLISECONDS);
            }
        }
    }

    private void startAcceptRound() {
        roundScheduled = false;
        if (paused && !draining && !sweeping) {
            paused = false;
            acceptRound = true; // one accept round; pauses again after it if still busy
            setAccepting(true);
        }
    }

    /** A listener's accept loop is over (whether it took connections or found none). */
    void acceptLoopDone() {
        if (acceptRound) {
            acceptRound = false;
            pauseIfBusy();
        }
    }

    /** A Python thread finished a request. */
    public void pythonDone() {
        inFlight--;
        if (paused && inFlight < pauseAt) {
            paused = false;
            setAccepting(!draining);
        }
    }

    private void setAccepting(boolean on) {
        for (Channel s : servers) {
            s.config().setAutoRead(on);
        }
    }

    private void sweep() {
        long now = System.nanoTime();
        for (Connection c : List.copyOf(connections)) {
            c.sweep(now);
        }
    }

    /**
     * Stops accepting (closing this process's listener descriptors only: the sockets may be shared) and
     * drains every connection: in-flight requests finish and are answered with {@code Connection: close},
     * idle connections close. The future completes when the last connection has closed.
     *
     * @param acceptSweepMillis how long to go on accepting first, whatever the load, so connections
     *                          already waiting in the kernel's queue are served rather than reset when the
     *                          socket closes (a graceful stop); 0 when newer workers accept them (a reload)
     * @param spreadMillis      the window over which keep-alive connections are told to close, in
     *                          milliseconds ({@link #RETIRE_SPREAD_MILLIS} when newer workers take over)
     */
    public Future<Void> drain(long acceptSweepMillis, long spreadMillis) {
        Promise<Void> p = loop.newPromise();
        loop.execute(() -> {
            if (drained != null) {
                drained.addListener(f -> p.trySuccess(null));
                return;
            }
            drained = p;
            this.spreadMillis = spreadMillis;
            if (acceptSweepMillis > 0) {
                sweeping = true;
                setAccepting(true);
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MAX_ACCEPT_SWEEP_MILLIS);
                loop.schedule(() -> endSweep(until), acceptSweepMillis, TimeUnit.MILLISECONDS);
            } else {
                closeAndDrain();
            }
        });
        return p;
    }

    /** The sweep goes on while connections keep coming out of the queue (a loaded machine accepts slowly). */
    private void endSweep(long until) {
        long now = System.nanoTime();
        if (now - lastAccept < TimeUnit.MILLISECONDS.toNanos(QUIET_MILLIS) && now - until < 0) {
            loop.schedule(() -> endSweep(until), QUIET_MILLIS, TimeUnit.MILLISECONDS);
            return;
        }
        closeAndDrain();
    }

    private void closeAndDrain() {
        draining = true;
        loop.scheduleAtFixedRate(this::sweep, DRAIN_SWEEP_MILLIS, DRAIN_SWEEP_MILLIS, TimeUnit.MILLISECONDS);
        for (Channel s : servers) {
            s.close();
        }
        List<Connection> all = List.copyOf(connections);
        long now = System.nanoTime();
        for (int i = 0; i < all.size(); i++) {
            all.get(i).drain(now + TimeUnit.MILLISECONDS.toNanos(spreadMillis) * i / all.size());
        }
        if (connections.isEmpty()) {
            drained.trySuccess(null);
        }
    }

    /**
     * Closes an accepted connection without losing what was sent: half-close (our FIN follows the last
     * response), keep reading so the client's FIN arrives (the connection handler closes on it), close
     * anyway after {@value #LINGER_SECONDS} s. Closing at once with unread input would send a RST, which
     * can destroy the response before the client has read it. Event loop.
     */
    public static void closeGracefully(Channel ch) {
        if (!ch.isActive()) {
            return;
        }
        ch.config().setAutoRead(true);
        if (ch instanceof DuplexChannel duplex) {
            duplex.shutdownOutput().addListener(f -> {
                var linger = ch.eventLoop().schedule(() -> ch.close(), LINGER_SECONDS, TimeUnit.SECONDS);
                ch.closeFuture().addListener(c -> linger.cancel(false)); // the client's FIN usually comes first
            });
        } else {
            ch.close();
        }
    }

    public int connectionCount() {
        return connections.size();
    }
}
