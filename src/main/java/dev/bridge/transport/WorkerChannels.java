package dev.bridge.transport;

import dev.bridge.wsgi.WsgiExchange;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
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
 * A sweep every {@value #SWEEP_MILLIS} ms lets connections enforce their timeouts.
 *
 * <p>Everything runs on the worker's single event loop, so none of this state needs locks.
 */
public final class WorkerChannels {

    /** How often connections check their deadlines, in milliseconds. */
    static final long SWEEP_MILLIS = 1000;

    /** A connection as the registry sees it. */
    public interface Connection {
        /** Enforces the connection's timeouts. */
        void sweep(long nowNanos);

        /** Finish what is in flight, then close; idle connections close now. */
        void drain();
    }

    private final EventLoop loop;
    private final Consumer<WsgiExchange> python;
    private final int pauseAt;
    private final List<Channel> servers = new ArrayList<>();
    private final Set<Connection> connections = new HashSet<>();
    private int inFlight;
    private boolean paused;
    private boolean draining;
    private Promise<Void> drained;

    public WorkerChannels(EventLoop loop, Consumer<WsgiExchange> python, int threads) {
        this.loop = loop;
        this.python = python;
        this.pauseAt = threads + 1;
        loop.scheduleAtFixedRate(this::sweep, SWEEP_MILLIS, SWEEP_MILLIS, TimeUnit.MILLISECONDS);
    }

    public EventLoop loop() {
        return loop;
    }

    public void addServer(Channel server) {
        servers.add(server);
    }

    public void register(Connection c) {
        connections.add(c);
        if (draining) {
            c.drain();
        }
    }

    public void unregister(Connection c) {
        connections.remove(c);
        if (draining && connections.isEmpty()) {
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
        if (!paused && inFlight >= pauseAt) {
            paused = true;
            setAccepting(false);
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
     * drains every connection. The future completes when the last connection has closed.
     */
    public Future<Void> drain() {
        Promise<Void> p = loop.newPromise();
        loop.execute(() -> {
            if (!draining) {
                draining = true;
                drained = p;
                for (Channel s : servers) {
                    s.close();
                }
                for (Connection c : List.copyOf(connections)) {
                    c.drain();
                }
            }
            if (connections.isEmpty()) {
                drained.trySuccess(null);
            } else if (drained != p) {
                drained.addListener(f -> p.trySuccess(null));
            }
        });
        return p;
    }

    public int connectionCount() {
        return connections.size();
    }
}
