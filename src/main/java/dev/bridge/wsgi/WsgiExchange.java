package dev.bridge.wsgi;

import io.netty.channel.ChannelFuture;
import io.netty.channel.EventLoop;
import jep.Interpreter;
import org.slf4j.Logger;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * One request on its way through Python. {@link #run} is called on a Python thread, which calls the shim's
 * {@code handle()}; when the app streams, the shim calls back {@link #send}, {@link #write} and
 * {@link #sendfile} (also on that thread) through the thread's {@link ExchangeRouter}. Everything that touches the connection is handed to the event loop, into
 * the request's {@link ResponseSink}.
 *
 * <p>Streaming has flow control: a Python thread that has more than {@value #HIGH_WATER} bytes not yet
 * written to the socket waits, and gives up (the client is cut off) after {@value #WRITE_STALL_SECONDS} s
 * without progress.
 */
public final class WsgiExchange {

    /** Bytes queued for the socket above which a streaming app waits. */
    static final long HIGH_WATER = 1 << 20;
    /** Seconds a streaming write may wait for the client to read before the connection is cut. */
    static final long WRITE_STALL_SECONDS = 60;

    private static final byte[] ERROR_BODY = "Internal Server Error\n".getBytes(StandardCharsets.US_ASCII);

    private final WsgiRequest request;
    private final ResponseSink sink;
    private final EventLoop loop;
    private final Logger log;
    /** The shim function called: {@code handle}, or {@code warm} (the shim's own app) for a warm-up. */
    private final String entry;
    private final Object lock = new Object();
    private long pending;
    private boolean broken;
    private boolean started;

    public WsgiExchange(WsgiRequest request, ResponseSink sink, EventLoop loop, Logger log) {
        this(request, sink, loop, log, "handle");
    }

    private WsgiExchange(WsgiRequest request, ResponseSink sink, EventLoop loop, Logger log, String entry) {
        this.request = request;
        this.sink = sink;
        this.loop = loop;
        this.log = log;
        this.entry = entry;
    }

    /** An exchange that goes through the shim like any other but is answered by the shim's own app, never the app's. */
    public static WsgiExchange warmUp(WsgiRequest request, ResponseSink sink, EventLoop loop, Logger log) {
        return new WsgiExchange(request, sink, loop, log, "warm");
    }

    public boolean isWarmUp() {
        return entry.equals("warm");
    }

    /** Answers with a response packed as the shim packs them, without Python (the worker's warm-up). Any thread. */
    public void complete(byte[] packed) {
        Runnable then = completion(packed);
        loop.execute(() -> {
            then.run();
            sink.pythonDone();
        });
    }

    /**
     * Serves the request with the interpreter of the calling Python thread. What is left to do with the
     * result (parsing the head, framing, writing) happens on the event loop, in one task, so the Python
     * thread is free as soon as Python returns.
     */
    public void run(Interpreter interp, ExchangeRouter router) {
        Runnable last;
        router.route(this);
        try {
            Object result = interp.invoke(entry, request.environ(), request.body().forPython());
            last = completion(result);
        } catch (Throwable e) {
            log.error("internal error serving " + request.summary(), e);
            last = started ? () -> sink.abort("internal error") : this::internalError;
        }
        router.route(null);
        Runnable then = last;
        loop.execute(() -> {
            then.run();
            sink.pythonDone();
        });
    }

    /** What to do on the event loop with the shim's result: packed bytes, null (streamed) or False (abort). */
    private Runnable completion(Object result) {
        if (result == null) {
            return sink::end;
        }
        if (!(result instanceof byte[] packed)) {
            return () -> sink.abort("the app failed after the response had begun");
        }
        return () -> {
            PackedResponse r;
            try {
                r = PackedResponse.parse(packed);
            } catch (IllegalArgumentException e) {
                log.error("bad response from the app for " + request.summary() + ": " + e.getMessage());
                internalError();
                return;
            }
            sink.full(r.head(), packed, r.bodyOffset());
        };
    }

    private void internalError() {
        sink.full(AppResponseHead.INTERNAL_ERROR, ERROR_BODY, 0);
    }

    /** {@code METHOD target PROTOCOL} of the request, for logs. */
    public String summary() {
        return request.summary();
    }

    /** Called by the shim with the first non-empty chunk: commits the head. */
    public void send(String status, String headers, int count, byte[] data) throws IOException {
        AppResponseHead head = AppResponseHead.parse(status, headers, count);
        reserve(data.length);
        started = true;
        loop.execute(() -> track(sink.start(head, data), data.length));
    }

    /** Called by the shim for each further chunk; blocks while the client is behind. */
    public void write(byte[] data) throws IOException {
        reserve(data.length);
        loop.execute(() -> track(sink.chunk(data), data.length));
    }

    /** Called by the shim for a wsgi.file_wrapper around a regular file: sends it with sendfile(). */
    public void sendfile(String status, String headers, int count, int fd, long offset, long length) throws IOException {
        AppResponseHead head = AppResponseHead.parse(status, headers, count);
        // A new open file description of the same file: the app may close its own as soon as we return.
        FileChannel file = FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.READ);
        started = true;
        loop.execute(() -> sink.sendfile(head, file, offset, length));
    }

    private void reserve(int n) throws IOException {
        synchronized (lock) {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(WRITE_STALL_SECONDS);
            while (pending > HIGH_WATER && !broken) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    broken = true;
                    loop.execute(() -> sink.abort("the client stopped reading for " + WRITE_STALL_SECONDS + " s"));
                    break;
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(lock, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IOException("interrupted");
                }
            }
            if (broken) {
                throw new IOException("the client connection is gone");
            }
            pending += n;
        }
    }

    private void track(ChannelFuture f, int n) {
        f.addListener(done -> {
            synchronized (lock) {
                pending -= n;
                if (!done.isSuccess()) {
                    broken = true;
                }
                lock.notifyAll();
            }
        });
    }
}
