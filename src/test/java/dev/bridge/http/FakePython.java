package dev.bridge.http;

import dev.bridge.wsgi.ExchangeRouter;
import dev.bridge.wsgi.WsgiExchange;
import jep.Interpreter;
import jep.JepException;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A {@link jep.Interpreter} that stands in for the shim ({@code bridge_wsgi.handle}): it records what Java
 * hands to Python and answers with what the {@link App} returns, in the shim's result format (packed
 * bytes for a whole response, see {@link dev.bridge.wsgi.PackedResponse}; null after streaming; false to
 * abort). Streaming apps reach the exchange through {@link #router}, as the shim does.
 */
public final class FakePython implements Interpreter {

    /** Results other than a whole response, as in bridge_wsgi.py. */
    public static final Object STREAMED = null;
    public static final Object ABORT = Boolean.FALSE;

    /** The thread's router, as bound into the shim. */
    public final ExchangeRouter router = new ExchangeRouter(new java.util.concurrent.atomic.AtomicLong());

    /** One call of {@code handle(meta, body)} as Python would see it. */
    public record Call(String meta, Map<String, String> environ, Object bodyArg, byte[] body, int bodyCapacity,
                WsgiExchange exchange) {
        public String env(String key) {
            return environ.get(key);
        }
    }

    /** The app behind the fake shim. */
    @FunctionalInterface
    public interface App {
        Object handle(Call call) throws Exception;
    }

    public final List<Call> calls = new ArrayList<>();
    private final ArrayDeque<WsgiExchange> waiting = new ArrayDeque<>();
    private boolean hold;
    private final App app;

    public FakePython(App app) {
        this.app = app;
    }

    /**
     * Where the worker hands requests to Python: served at once, on the test thread as a Python thread
     * would, or kept waiting after {@link #hold()} until {@link #runNext()}.
     */
    public void dispatch(WsgiExchange exchange) {
        if (hold) {
            waiting.add(exchange);
        } else {
            exchange.run(this, router);
        }
    }

    /** From now on dispatched requests wait until {@link #runNext()}. */
    public void hold() {
        hold = true;
    }

    public int waiting() {
        return waiting.size();
    }

    /** Serves the oldest waiting request. */
    public void runNext() {
        WsgiExchange ex = waiting.poll();
        if (ex == null) {
            throw new AssertionError("no request is waiting for Python");
        }
        ex.run(this, router);
    }

    /** A whole response in the shim's format; headers are name, value pairs. */
    public static byte[] full(String status, byte[] body, String... headers) {
        byte[] head = (status + "\0" + String.join("\0", headers)).getBytes(StandardCharsets.ISO_8859_1);
        byte[] prefix = ((headers.length / 2) + " " + head.length + "\0").getBytes(StandardCharsets.US_ASCII);
        byte[] packed = new byte[prefix.length + head.length + body.length];
        System.arraycopy(prefix, 0, packed, 0, prefix.length);
        System.arraycopy(head, 0, packed, prefix.length, head.length);
        System.arraycopy(body, 0, packed, prefix.length + head.length, body.length);
        return packed;
    }

    public static byte[] full(String status, String body, String... headers) {
        return full(status, body.getBytes(StandardCharsets.ISO_8859_1), headers);
    }

    public static final App OK = call -> full("200 OK", "ok", "Content-Type", "text/plain");

    /** Answers with PATH_INFO as the body, to tell pipelined responses apart. */
    public static final App ECHO_PATH = call -> full("200 OK", call.env("PATH_INFO"), "Content-Type", "text/plain");

    /** Streams {@code chunks} through the exchange the way the shim does, then returns STREAMED. */
    public static App streaming(String status, String[] headers, String... chunks) {
        return call -> {
            call.exchange().send(status, String.join("\0", headers), headers.length / 2,
                    chunks[0].getBytes(StandardCharsets.ISO_8859_1));
            for (int i = 1; i < chunks.length; i++) {
                call.exchange().write(chunks[i].getBytes(StandardCharsets.ISO_8859_1));
            }
            return STREAMED;
        };
    }

    /** Splits the meta string {@code KEY\0value\0...} as the shim does. */
    static Map<String, String> parseMeta(String meta) {
        String[] parts = meta.split("\0", -1);
        Map<String, String> env = new LinkedHashMap<>();
        for (int i = 0; i + 1 < parts.length; i += 2) {
            if (env.put(parts[i], parts[i + 1]) != null) {
                throw new AssertionError("environ key given twice: " + parts[i]);
            }
        }
        return env;
    }

    @Override
    public Object invoke(String name, Object... args) throws JepException {
        if (!name.equals("handle") || args.length != 2) {
            throw new JepException("unexpected call " + name + " with " + args.length + " arguments");
        }
        String meta = (String) args[0];
        Object bodyArg = args[1];
        byte[] body;
        int capacity = -1;
        if (bodyArg == null) {
            body = new byte[0];
        } else if (bodyArg instanceof ByteBuffer bb) {
            // Python wraps it in a memoryview, which spans the whole capacity.
            capacity = bb.capacity();
            ByteBuffer d = bb.duplicate();
            body = new byte[d.remaining()];
            d.get(body);
        } else if (bodyArg instanceof String path) {
            try {
                body = Files.readAllBytes(Path.of(path));
            } catch (IOException e) {
                throw new JepException(e);
            }
        } else {
            throw new JepException("unexpected body argument " + bodyArg.getClass());
        }
        Call call = new Call(meta, parseMeta(meta), bodyArg, body, capacity, router.current());
        calls.add(call);
        try {
            return app.handle(call);
        } catch (JepException e) {
            throw e;
        } catch (Exception e) {
            throw new JepException(e);
        }
    }

    @Override
    public Object invoke(String name, Map<String, Object> kwargs) {
        throw new UnsupportedOperationException();
    }

    @Override
    public Object invoke(String name, Object[] args, Map<String, Object> kwargs) {
        throw new UnsupportedOperationException();
    }

    @Override
    public boolean eval(String str) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void exec(String str) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void runScript(String script) {
        throw new UnsupportedOperationException();
    }

    @Override
    public Object getValue(String str) {
        throw new UnsupportedOperationException();
    }

    @Override
    public <T> T getValue(String str, Class<T> clazz) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void set(String name, Object v) {
        throw new UnsupportedOperationException();
    }

    @Override
    public void close() {
    }
}
