package dev.bridge.python;

import dev.bridge.Log;
import dev.bridge.ThreadCpu;
import dev.bridge.config.Config;
import dev.bridge.logging.AccessLog;
import dev.bridge.logging.AccessLogFormat;
import dev.bridge.stats.RequestCounters;
import dev.bridge.stats.WorkerStats;
import dev.bridge.wsgi.ExchangeRouter;
import dev.bridge.wsgi.WsgiExchange;
import jep.Interpreter;
import jep.JepConfig;
import jep.JepException;
import jep.MainInterpreter;
import jep.SharedInterpreter;
import jep.SubInterpreter;
import jep.SubInterpreterOptions;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The Python threads of a worker. Each is a platform thread that owns one Jep interpreter (interpreters are
 * thread-bound: any call from another thread fails), loads the shim, then takes requests from one shared
 * queue. With {@code --threads}, each owns a {@link SharedInterpreter}: they share CPython's main interpreter,
 * its modules and its GIL; the first thread boots Python and imports the app, the others start after it. With
 * {@code --interpreters N}, each owns a {@link SubInterpreter} created isolated (PEP 684: its own GIL, its own
 * modules, C extensions checked for support), boots it and imports the app into it, all N at once. Once
 * ready to serve, each thread lowers its own scheduling priority by the nice levels it was started with
 * (the import runs at the worker's priority, so a reload is not slowed down), and by what
 * {@link #lowerPriority} asks later, before its next request.
 *
 * <p>With the native module built for this Python ({@link NativeModule}), each thread serves the requests it
 * takes from the queue through its C {@code Handler} (the environ, {@code start_response} and the app's result
 * in C), else through the shim's {@code handle()}. With {@link NativeLoops} (uwsgi listeners served in C), a
 * thread does not wait on the queue: it waits in its C loop, which serves uwsgi connections itself and comes
 * back to Java when the queue has a request for it (the wake pipe), when the accepting state changed (its
 * control pipe), or after a second of nothing.
 *
 * <p>{@link #submit} may be called from any thread (the event loop does); everything else runs on the
 * Python threads or, for {@link #start} and {@link #stop}, on the worker's main thread.
 */
public final class PythonThreads {

    /** Raised by {@link #start} when the native module cannot be used; the message is one line. */
    public static final class NativeLoadException extends Exception {
        public NativeLoadException(String message) {
            super(message, null, false, false);
        }
    }

    /** Raised by {@link #start} when the app cannot be loaded; the message is one line, the traceback is logged. */
    public static final class AppLoadException extends Exception {
        public AppLoadException(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Stack size of a Python thread, in bytes: what CPython's recursion limits assume (the main thread's and
     * pthreads' default, 8 MiB), not the workers' -Xss512k. With 512 KiB, a request body of 5,000 nested JSON
     * arrays made json.loads overflow the stack and the worker die of SIGSEGV, where CPython raises
     * RecursionError. Only the pages a thread touches cost memory.
     */
    static final long PYTHON_STACK_BYTES = 8L << 20;

    private static final WsgiExchange STOP = new WsgiExchange(null, null, null, null);
    /** Marks a boot error of the native module, not of the app. */
    private static final String NATIVE_ERROR = "native:";

    private final Config config;
    private final PythonRuntime runtime;
    private final Map<String, String> environ;
    /** The C request loops, or null when every request comes through the queue. */
    private final NativeLoops loops;
    private final BlockingQueue<WsgiExchange> queue = new LinkedBlockingQueue<>();
    private final List<Thread> threads = new ArrayList<>();
    /** Exceptions the app raised, as the shim logged them. */
    private final AtomicLong exceptions = new AtomicLong();
    /** Per thread: the request it runs, for heartbeats (harakiri) and stats; read from any thread. */
    private final List<Busy> busy = new ArrayList<>();
    /** Linux thread ids of the Python threads, in start order; written before each thread reports booted. */
    private final List<Long> nativeIds = new CopyOnWriteArrayList<>();
    /** Nice levels below the event loop that each thread should have reached before its next request. */
    private volatile int niceLevels;

    /** What one Python thread is doing, and has done. */
    private static final class Busy {
        volatile long since;
        volatile String summary;
        /** Requests it took from the queue (its one writer is its thread). */
        volatile long served;
        /** Its C loop's status block, or null. */
        volatile NativeLoops.Slot loop;
    }

    /**
     * @param environ    set in {@code os.environ} before the app is imported: the worker's identity, which a
     *                   standby JVM learns only after it started (its process environment does not have it)
     * @param niceLevels nice levels below the event loop the threads go to once the app is imported
     */
    public PythonThreads(Config config, PythonRuntime runtime, Map<String, String> environ, int niceLevels,
                         NativeLoops loops) {
        this.config = config;
        this.runtime = runtime;
        this.environ = Map.copyOf(environ);
        this.niceLevels = niceLevels;
        this.loops = loops;
    }

    /**
     * Initialises CPython and starts every thread: with {@code --threads}, the first loads the app and the
     * others follow it; with {@code --interpreters}, each loads the app into its own interpreter, all at once.
     * Returns once every thread has booted.
     *
     * @throws AppLoadException the app could not be loaded (its traceback is in the log)
     * @throws JepException     Jep itself failed (e.g. its native library cannot be loaded)
     */
    public void start() throws AppLoadException, NativeLoadException, JepException {
        MainInterpreter.setJepLibraryPath(runtime.jepLibrary());
        // Jep imports its own Python package while it creates an interpreter: it must be on the path.
        SharedInterpreter.setConfig(new JepConfig().addIncludePaths(runtime.sitePackages().toArray(String[]::new)));
        boolean isolated = config.isolatedInterpreters();
        List<CompletableFuture<String>> boots = new ArrayList<>();
        for (int i = 0; i < config.pythonThreads(); i++) {
            CompletableFuture<String> booted = new CompletableFuture<>();
            boots.add(booted);
            int index = i;
            Busy b = new Busy();
            busy.add(b);
            Thread t = new Thread(null, () -> serve(index, b, booted), "python-" + i, PYTHON_STACK_BYTES);
            threads.add(t);
            t.start();
            // The main interpreter's threads wait for the first to load the app; isolated ones each load it.
            if (!isolated) {
                awaitBoot(booted);
            }
        }
        for (CompletableFuture<String> booted : boots) {
            awaitBoot(booted);
        }
    }

    /** Returns once one thread has booted; throws what its boot failed with. Main thread. */
    private static void awaitBoot(CompletableFuture<String> booted)
            throws AppLoadException, NativeLoadException, JepException {
        String error;
        try {
            error = booted.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new JepException("interrupted while starting Python");
        } catch (ExecutionException e) {
            throw e.getCause() instanceof JepException je ? je : new JepException(e.getCause());
        }
        if (error != null && error.startsWith(NATIVE_ERROR)) {
            throw new NativeLoadException(error.substring(NATIVE_ERROR.length()));
        }
        if (error != null) {
            throw new AppLoadException(error);
        }
    }

    /** Queues a request for the next free Python thread. Any thread. */
    public void submit(WsgiExchange exchange) {
        queue.add(exchange);
        if (loops != null) {
            loops.wakeOne();
        }
    }

    /** Lets each thread finish its current request, then ends it. Main thread. */
    public void stop(long timeoutMillis) throws InterruptedException {
        for (int i = 0; i < threads.size(); i++) {
            submit(STOP);
        }
        long deadline = System.currentTimeMillis() + timeoutMillis;
        for (Thread t : threads) {
            t.join(Math.max(1, deadline - System.currentTimeMillis()));
        }
    }

    /**
     * Asks every Python thread to run {@code levels} nice levels below the event loop (more than it was
     * started with); each does it itself before its next request. Linux lets a thread lose priority, not
     * win it back without privilege: this only ever goes down. Any thread.
     */
    public void lowerPriority(int levels) {
        niceLevels = Math.max(niceLevels, levels);
    }

    /** The Linux thread ids of the Python threads (to read their CPU use in /proc). Any thread. */
    public List<Long> nativeIds() {
        return List.copyOf(nativeIds);
    }

    /** Requests Python has finished. Any thread. */
    public long served() {
        long n = loops == null ? 0 : loops.served();
        for (Busy b : busy) {
            n += b.served;
        }
        return n;
    }

    /** Exceptions the app raised. Any thread. */
    public long exceptions() {
        return exceptions.get();
    }

    /** Per Python thread, in start order: requests served (from the queue and in its C loop) and whether busy. Any thread. */
    public List<WorkerStats.Core> cores() {
        List<WorkerStats.Core> cores = new ArrayList<>();
        for (Busy b : busy) {
            NativeLoops.Slot slot = b.loop;
            long requests = b.served + (slot == null ? 0 : NativeLoops.served(slot));
            cores.add(new WorkerStats.Core(requests, b.since != 0 || (slot != null && NativeLoops.busySince(slot) != 0)));
        }
        return cores;
    }

    /** Adds what the C loops counted to {@code uwsgi} (a {@link RequestCounters} block). Any thread. */
    public void addLoopCounters(long[] uwsgi) {
        if (loops != null) {
            loops.addCounters(uwsgi);
        }
    }

    /** The start (epoch ms) of the longest-running request, or 0 when every thread is idle. Any thread. */
    public long oldestBusySince() {
        long oldest = loops == null ? 0 : loops.oldestBusySince();
        for (Busy b : busy) {
            long since = b.since;
            if (since != 0 && (oldest == 0 || since < oldest)) {
                oldest = since;
            }
        }
        return oldest;
    }

    /** The summary (METHOD target PROTOCOL) of the request that started at {@code since}, or null. */
    public String busySummary(long since) {
        for (Busy b : busy) {
            if (b.since == since && since != 0) {
                return b.summary;
            }
        }
        return loops == null ? null : loops.busySummary(since);
    }

    private void serve(int index, Busy busy, CompletableFuture<String> booted) {
        boolean isolated = config.isolatedInterpreters();
        Interpreter interp = null;
        try {
            interp = isolated ? new SubInterpreter(new JepConfig()
                    .addIncludePaths(runtime.sitePackages().toArray(String[]::new))
                    .setSubInterpreterOptions(SubInterpreterOptions.isolated().setAllowDaemonThreads(true)))
                    : new SharedInterpreter();
            if (isolated || index == 0) {
                interp.set("_bridge_shim_source", shimSource());
                interp.exec("""
                        import sys, types
                        _m = types.ModuleType('bridge_wsgi')
                        _m.__file__ = 'bridge_wsgi.py'
                        exec(compile(_bridge_shim_source, 'bridge_wsgi.py', 'exec'), _m.__dict__)
                        sys.modules['bridge_wsgi'] = _m
                        del _m, _bridge_shim_source
                        """);
                interp.exec("from bridge_wsgi import boot as _bridge_boot");
                String error = (String) interp.invoke("_bridge_boot", bootSettings(index));
                if (error != null) {
                    booted.complete(error);
                    return;
                }
            }
            interp.exec("from bridge_wsgi import handle, warm, bind, lower_priority, load_native, native_loop, native_run");
            boolean nativeCore = !runtime.nativeModule().isEmpty();
            if (nativeCore) {
                Object error = interp.invoke("load_native", runtime.nativeModule());
                if (error != null) {
                    booted.complete(NATIVE_ERROR + "cannot load the native request core " + runtime.nativeModule() + " ("
                            + error + "): remove it to have it rebuilt at the next start"
                            + (loops != null ? ", or use --uwsgi-loop netty" : ""));
                    return;
                }
            }
            ExchangeRouter router = new ExchangeRouter(exceptions);
            interp.invoke("bind", router);
            if (nativeCore) {
                // WsgiExchange calls "handle": from now on this thread's C Handler, not the shim's handle().
                interp.exec("import bridge_wsgi as _bridge\nhandle = _bridge._local.handler\ndel _bridge");
            }
            if (loops != null) {
                String error = startLoop(interp, busy, index);
                if (error != null) {
                    booted.complete(NATIVE_ERROR + error);
                    return;
                }
            }
            int nice = lowerTo(interp, 0);
            nativeIds.add(ThreadCpu.currentThreadId());
            booted.complete(null);
            boolean accepting = false;
            while (true) {
                WsgiExchange exchange;
                if (loops == null) {
                    exchange = queue.take();
                } else {
                    int code = ((Number) interp.invoke("native_run", accepting)).intValue();
                    if (code == NativeLoops.RUN_CONTROL) {
                        accepting = loops.acknowledge();
                    }
                    exchange = code == NativeLoops.RUN_WORK ? queue.poll() : null;
                }
                if (exchange == STOP) {
                    return;
                }
                if (nice != niceLevels) {
                    nice = lowerTo(interp, nice);
                }
                if (exchange == null) {
                    continue;
                }
                busy.summary = exchange.summary();
                busy.since = System.currentTimeMillis();
                exchange.run(interp, router);
                busy.since = 0;
                if (!exchange.isWarmUp()) {
                    busy.served = busy.served + 1;
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Throwable e) {
            if (!booted.completeExceptionally(e)) {
                Log.get().error("Python thread " + Thread.currentThread().getName() + " failed", e);
            }
        } finally {
            // An isolated interpreter is never finalized: closing several at once aborts CPython 3.13 (a
            // double free), and the worker exits right after its Python threads end. That is also why daemon
            // threads are allowed (CPython forbids them in isolated interpreters, which it cannot stop at
            // finalization): libraries start them (sentry-sdk's transport, logging's QueueListener).
            if (interp != null && !isolated) {
                try {
                    interp.close();
                } catch (JepException e) {
                    Log.get().warn("Python thread " + Thread.currentThread().getName() + " did not close: " + e.getMessage());
                }
            }
        }
    }

    /** Makes the calling Python thread's C request loop; returns null, or why the native module cannot be used. */
    private String startLoop(Interpreter interp, Busy busy, int index) throws java.io.IOException {
        NativeLoops.Slot slot = loops.slot();
        busy.loop = slot;
        AccessLogFormat format = AccessLogFormat.of(config.observability().logFormat());
        Object error = interp.invoke("native_loop", loops.listeners(), loops.wakeFd(),
                slot.control()[0].intValue(), slot.status(), Math.min(config.bufferSize(), MAX_UWSGI_BLOCK),
                config.limitBody(), config.spillThreshold(), config.headerTimeout(), config.accessLog(),
                System.getProperty("java.io.tmpdir"), format == null ? "" : format.nativeSpec(), AccessLog.workerId(),
                index, String.join(",", config.uwsgiAllowFrom().stream().map(String::valueOf).toList()));
        return error == null ? null : "cannot start the native uwsgi loop (" + error + "); use --uwsgi-loop netty";
    }

    /** Largest uwsgi vars block there can be, in bytes: its size is a 16-bit field. */
    private static final int MAX_UWSGI_BLOCK = 65535;

    /** Lowers the calling Python thread from {@code nice} to {@link #niceLevels}; returns the latter. */
    private int lowerTo(Interpreter interp, int nice) {
        int levels = niceLevels;
        if (levels > nice) {
            Object error = interp.invoke("lower_priority", levels - nice);
            if (error != null) {
                Log.get().warn("Python thread " + Thread.currentThread().getName() + " keeps the event loop's priority: "
                        + error);
            }
        }
        return levels;
    }

    private String bootSettings(int index) {
        StringBuilder sb = new StringBuilder();
        sb.append("tag=").append(config.isolatedInterpreters() ? interpreterTag(Log.tag(), index) : Log.tag()).append('\n');
        sb.append("module=").append(config.module()).append('\n');
        // Absolute: the working directory is the process's, and isolated interpreters each change to it.
        sb.append("chdir=").append(config.chdir() == null ? "" : Path.of(config.chdir()).toAbsolutePath()).append('\n');
        sb.append("pythonpath=").append(String.join(File.pathSeparator, config.pythonPaths())).append('\n');
        sb.append("sys_path=").append(String.join(File.pathSeparator, runtime.sysPath())).append('\n');
        sb.append("site_packages=").append(String.join(File.pathSeparator, runtime.sitePackages())).append('\n');
        sb.append("multithread=").append(config.multithread() ? 1 : 0).append('\n');
        sb.append("multiprocess=").append(config.multiprocess() ? 1 : 0).append('\n');
        environ.forEach((k, v) -> sb.append("environ.").append(k).append('=').append(v).append('\n'));
        return sb.toString();
    }

    /** The log tag of isolated interpreter {@code index} of a worker: {@code worker-1.2[pid]} for the second. */
    static String interpreterTag(String workerTag, int index) {
        int bracket = workerTag.indexOf('[');
        String suffix = "." + (index + 1);
        return bracket < 0 ? workerTag + suffix : workerTag.substring(0, bracket) + suffix + workerTag.substring(bracket);
    }

    private static String shimSource() throws IOException {
        try (InputStream in = PythonThreads.class.getResourceAsStream("/python/bridge_wsgi.py")) {
            if (in == null) {
                throw new IOException("bridge_wsgi.py missing from the jar");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
    }
}
