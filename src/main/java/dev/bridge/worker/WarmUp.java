package dev.bridge.worker;

import dev.bridge.config.Config;
import dev.bridge.config.ListenAddress;
import dev.bridge.http.HttpInitializer;
import dev.bridge.python.PythonThreads;
import dev.bridge.transport.WorkerChannels;
import dev.bridge.uwsgi.UwsgiInitializer;
import dev.bridge.wsgi.AppResponseHead;
import dev.bridge.wsgi.RequestBody;
import dev.bridge.wsgi.ResponseSink;
import dev.bridge.wsgi.WsgiExchange;
import dev.bridge.wsgi.WsgiRequest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandler;
import io.netty.channel.EventLoop;
import io.netty.channel.embedded.EmbeddedChannel;
import org.slf4j.Logger;
import org.slf4j.helpers.NOPLogger;

import java.io.ByteArrayOutputStream;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.function.Function;

/**
 * A request through the worker's code before it says READY, so that its first real requests do not pay for
 * class initialisation and first calls: the first request of a fresh worker took 25-50 ms on an idle machine
 * (1 ms afterwards), and 110-320 ms under the load of a reload, where it was each reload's slowest request.
 * The app itself is never called: a warm-up must have no effect a user can see. One request is enough for
 * that. Three hundred (so that the JIT compiles the request path) cost 150-250 ms of CPU per worker: on an
 * idle machine a cold burst of 60 requests then took 25-33 ms instead of 37-50, but in a reload under load,
 * where that CPU is taken from the serving workers, the new version came 2.6 s after the signal instead of
 * 1.3 s, and the slowest request was no faster. A standby, which waits for a slot, has that time: it runs
 * {@value #STANDBY_ROUNDS} rounds, paced, before anyone waits for it.
 *
 * <ul>
 *   <li>{@link #pipelines}: an HTTP request, and a uwsgi one when a uwsgi listener is configured, through the
 *       real protocol handlers on an embedded channel, answered with a canned response in place of Python.
 *       Runs on the worker's main thread, while Python boots on another (once), or while a standby waits
 *       (many rounds).</li>
 *   <li>{@link #python}: one exchange through the shim on a Python thread, answered by the shim's own tiny
 *       app; its completion runs on the worker's event loop (not accepting yet) into a sink that drops it.</li>
 * </ul>
 */
final class WarmUp {

    /** Longest wait for the Python part, in milliseconds: a warm-up never holds a worker back for long. */
    static final long PYTHON_TIMEOUT_MILLIS = 2000;

    private static final byte[] HTTP_REQUEST = "GET /warm-up HTTP/1.1\r\nHost: warm-up\r\n\r\n".getBytes(StandardCharsets.US_ASCII);
    private static final String ENVIRON = "REQUEST_METHOD\0GET\0PATH_INFO\0/warm-up\0QUERY_STRING\0\0SERVER_PROTOCOL\0HTTP/1.1";
    /** "200 OK", one header, body "ok", packed as the shim packs responses. */
    private static final byte[] CANNED = packed();
    private static final byte[] UWSGI_REQUEST = uwsgiRequest();
    /**
     * Requests per protocol a standby runs through its handlers: a standby has time to spare before it is
     * needed, enough for the JIT to compile the request path (C1 compiles a method after about 200 calls),
     * so a reload's new workers do not serve their first requests in the interpreter.
     */
    static final int STANDBY_ROUNDS = 500;
    /**
     * A standby's pause after each slice of {@value #SLICE_ROUNDS} rounds, in milliseconds: its warm-up then
     * leaves the CPU to the workers most of the time instead of taking a whole one for a quarter of a second
     * (unpaced, the workers' slowest requests while a standby warmed up took 110-140 ms under load).
     */
    static final long STANDBY_PAUSE_MILLIS = 20;
    /** Rounds between a standby's pauses, each also a moment to stop early. */
    static final int SLICE_ROUNDS = 10;

    private WarmUp() {}

    /**
     * The protocol handlers, on embedded channels, {@code rounds} requests each, in slices of
     * {@value #SLICE_ROUNDS} with a pause of {@code pauseMillis} after each; it ends early, after a slice,
     * once {@code enough} says so. Worker main thread.
     *
     * @return the last responses written, HTTP first (latin-1), for tests
     */
    static List<String> pipelines(Config config, int rounds, long pauseMillis, BooleanSupplier enough)
            throws InterruptedException {
        Logger quiet = NOPLogger.NOP_LOGGER;
        boolean uwsgi = config.listeners().stream().anyMatch(l -> l.protocol() == ListenAddress.Protocol.UWSGI);
        List<String> responses = new ArrayList<>();
        for (int i = 1; i <= rounds; i++) {
            responses.clear();
            responses.add(run(config, channels -> new HttpInitializer(config, channels, quiet), HTTP_REQUEST));
            if (uwsgi) {
                responses.add(run(config, channels -> new UwsgiInitializer(config, channels, quiet), UWSGI_REQUEST));
            }
            if (i % SLICE_ROUNDS == 0 && i < rounds) {
                if (enough.getAsBoolean()) {
                    break;
                }
                Thread.sleep(pauseMillis);
            }
        }
        return responses;
    }

    private static String run(Config config, Function<WorkerChannels, ChannelHandler> initializer, byte[] request) {
        EmbeddedChannel ch = new EmbeddedChannel();
        WorkerChannels channels = new WorkerChannels(ch.eventLoop(), exchange -> exchange.complete(CANNED), config.pythonThreads());
        ch.pipeline().addLast(initializer.apply(channels));
        ch.pipeline().fireChannelActive();
        ch.writeInbound(Unpooled.wrappedBuffer(request));
        ch.runPendingTasks();
        StringBuilder out = new StringBuilder();
        for (ByteBuf b; (b = ch.readOutbound()) != null; b.release()) {
            out.append(b.toString(StandardCharsets.ISO_8859_1));
        }
        ch.finishAndReleaseAll();
        return out.toString();
    }

    /**
     * One exchange through the shim with its own app. Worker main thread, after Python booted and before
     * READY.
     *
     * @return whether it was answered within {@value #PYTHON_TIMEOUT_MILLIS} ms
     */
    static boolean python(PythonThreads python, EventLoop loop, Config config, Logger log) throws InterruptedException {
        CountDownLatch done = new CountDownLatch(1);
        RequestBody body = new RequestBody(ByteBufAllocator.DEFAULT, config.spillThreshold(), 0);
        WsgiRequest request = new WsgiRequest(ENVIRON, body, "GET /warm-up HTTP/1.1", "warm-up", System.nanoTime());
        python.submit(WsgiExchange.warmUp(request, new DroppingSink(done), loop, log));
        boolean answered = done.await(PYTHON_TIMEOUT_MILLIS, TimeUnit.MILLISECONDS);
        body.release();
        return answered;
    }

    /** Takes a whole response and drops it. Event loop. */
    private record DroppingSink(CountDownLatch done) implements ResponseSink {
        @Override
        public void full(AppResponseHead head, byte[] data, int offset) {}

        @Override
        public ChannelFuture start(AppResponseHead head, byte[] first) {
            throw new IllegalStateException("the warm-up app does not stream");
        }

        @Override
        public ChannelFuture chunk(byte[] data) {
            throw new IllegalStateException("the warm-up app does not stream");
        }

        @Override
        public void end() {}

        @Override
        public void sendfile(AppResponseHead head, FileChannel file, long offset, long count) {
            throw new IllegalStateException("the warm-up app sends no file");
        }

        @Override
        public void abort(String why) {}

        @Override
        public void pythonDone() {
            done.countDown();
        }
    }

    private static byte[] packed() {
        String head = "200 OK\0Content-Type\0text/plain";
        return (1 + " " + head.length() + "\0" + head + "ok").getBytes(StandardCharsets.ISO_8859_1);
    }

    /** GET /warm-up as nginx's uwsgi_params send it, in the uwsgi protocol. */
    private static byte[] uwsgiRequest() {
        ByteArrayOutputStream vars = new ByteArrayOutputStream();
        String[] kv = {"REQUEST_METHOD", "GET", "REQUEST_URI", "/warm-up", "PATH_INFO", "/warm-up", "QUERY_STRING", "",
                "SERVER_PROTOCOL", "HTTP/1.1", "REMOTE_ADDR", "127.0.0.1", "REMOTE_PORT", "1", "SERVER_NAME", "warm-up",
                "SERVER_PORT", "80", "HTTP_HOST", "warm-up"};
        for (String s : kv) {
            byte[] b = s.getBytes(StandardCharsets.US_ASCII);
            vars.write(b.length & 0xff);
            vars.write(b.length >>> 8);
            vars.writeBytes(b);
        }
        int n = vars.size();
        ByteArrayOutputStream packet = new ByteArrayOutputStream();
        packet.writeBytes(new byte[]{0, (byte) n, (byte) (n >>> 8), 0});
        packet.writeBytes(vars.toByteArray());
        return packet.toByteArray();
    }
}
