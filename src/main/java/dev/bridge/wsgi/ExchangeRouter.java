package dev.bridge.wsgi;

import java.io.IOException;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Java object the shim calls when an app streams. One per Python thread, handed to Python once
 * ({@code bridge_wsgi.bind}) and pointed at the thread's current {@link WsgiExchange} before each request:
 * wrapping a new Java object for Python on every request would cost more than the rest of the crossing.
 * Used only on its Python thread.
 */
public final class ExchangeRouter {

    private WsgiExchange current;
    /** The worker's count of the app's exceptions, shared by its Python threads. */
    private final AtomicLong exceptions;

    public ExchangeRouter(AtomicLong exceptions) {
        this.exceptions = exceptions;
    }

    void route(WsgiExchange exchange) {
        current = exchange;
    }

    /** The exchange being served, or null between requests. */
    public WsgiExchange current() {
        return current;
    }

    /** The shim logged an exception of the app (in a request, or in its response's close()). */
    public void appFailed() {
        exceptions.incrementAndGet();
    }

    public void send(String status, String headers, int count, byte[] data) throws IOException {
        current.send(status, headers, count, data);
    }

    public void write(byte[] data) throws IOException {
        current.write(data);
    }

    public void sendfile(String status, String headers, int count, int fd, long offset, long length) throws IOException {
        current.sendfile(status, headers, count, fd, offset, length);
    }
}
