package dev.bridge.config;

import java.util.List;

/**
 * The whole configuration, immutable and validated at load ({@link CommandLine#parse}).
 *
 * <p>Units are in the names' Javadoc; defaults are the named constants below.
 *
 * @param module          WSGI app spec: {@code pkg.mod:callable}, {@code mod} or {@code path/file.py:callable}
 * @param listeners       HTTP and uwsgi listeners, in command-line order
 * @param workers         worker processes
 * @param threads         Python threads per worker, sharing the worker's one interpreter (and its GIL)
 * @param interpreters    isolated Python interpreters per worker, each with its own GIL and its own thread;
 *                        1 = the worker's main interpreter only
 * @param chdir           directory the worker changes to before loading the app, or null
 * @param pythonPaths     directories put in front of {@code sys.path}
 * @param python          explicit Python executable ({@code --python}), or null
 * @param venv            explicit virtualenv directory ({@code --venv}), or null
 * @param limitBody       largest request body accepted, in bytes; 0 = no limit
 * @param maxHeaderSize   largest request header block, in bytes
 * @param spillThreshold  request bodies larger than this many bytes go to a temp file, not memory
 * @param headerTimeout   seconds a client has to send a whole request once it started one
 * @param keepaliveTimeout seconds an idle keep-alive connection is kept open
 * @param gracefulTimeout seconds in-flight requests get to finish on a graceful stop
 * @param accessLog       whether one line per request is logged
 * @param jvmArgs         JVM flags for worker processes (replace the defaults)
 * @param backlog         accept queue length of each listener, in connections
 * @param chmodSocket     permission bits of unix socket listeners, or -1 for the umask's
 * @param reusePort       each worker binds its own SO_REUSEPORT socket instead of sharing the master's
 * @param maxRequests     a worker is replaced after this many requests; 0 = never
 * @param maxRequestsJitter up to this many requests added to maxRequests, per worker, at random
 * @param reloadOnRss     a worker is replaced when its resident memory exceeds this many MiB; 0 = never
 * @param maxWorkerLifetime a worker is replaced after this many seconds; 0 = never
 * @param harakiri        a request running longer than this many seconds gets its worker killed; 0 = never
 * @param bootTimeout     seconds a new worker has to load the app and report ready
 * @param pidfile         file the master writes its pid to, or null
 * @param reloadMode      how a reload replaces workers: all at once, or one slot at a time
 * @param reloadMercy     seconds a replaced worker gets to finish its requests before SIGKILL
 * @param standby         worker JVMs the master keeps booted without Python, to become workers when needed
 * @param pythonNice      nice levels the Python threads run below the worker's event loop (0: the same priority),
 *                        or {@link #PYTHON_NICE_AUTO}: the worker decides while it serves
 * @param touchReload     files whose modification triggers a reload
 * @param bufferSize      largest uwsgi vars block accepted, in bytes
 * @param trustedProxies  peers whose X-Forwarded-For and X-Forwarded-Proto are believed
 * @param uwsgiLoop       who serves uwsgi listeners: the C request loop on the Python threads, or Netty
 * @param observability   the stats server and the access log's format and file
 */
public record Config(
        String module,
        List<ListenAddress> listeners,
        int workers,
        int threads,
        int interpreters,
        String chdir,
        List<String> pythonPaths,
        String python,
        String venv,
        long limitBody,
        int maxHeaderSize,
        long spillThreshold,
        int headerTimeout,
        int keepaliveTimeout,
        int gracefulTimeout,
        boolean accessLog,
        List<String> jvmArgs,
        int backlog,
        int chmodSocket,
        boolean reusePort,
        long maxRequests,
        long maxRequestsJitter,
        long reloadOnRss,
        int maxWorkerLifetime,
        int harakiri,
        int bootTimeout,
        String pidfile,
        ReloadMode reloadMode,
        int reloadMercy,
        int standby,
        int pythonNice,
        List<String> touchReload,
        int bufferSize,
        List<Cidr> trustedProxies,
        UwsgiLoop uwsgiLoop,
        Observability observability) {

    /**
     * {@code native}: each Python thread serves the uwsgi listeners itself, in C (native/), one connection at
     * a time; {@code netty}: the worker's event loop reads and writes them and hands requests to the Python
     * threads, as for HTTP.
     */
    public enum UwsgiLoop { NATIVE, NETTY }

    /** {@code all}: a whole new generation boots, then the old one retires; {@code chain}: one slot at a time. */
    public enum ReloadMode { ALL, CHAIN }

    /** Listener used when none is given: gunicorn's default. */
    public static final String DEFAULT_HTTP = "127.0.0.1:8000";
    /** Worker processes: one per CPU. */
    public static final int DEFAULT_WORKERS = Runtime.getRuntime().availableProcessors();
    /** Accept queue length of each listener, in connections. */
    public static final int DEFAULT_BACKLOG = 1024;
    /** Seconds a new worker has to import the app and report ready. */
    public static final int DEFAULT_BOOT_TIMEOUT = 60;
    /** Seconds a replaced worker gets to finish its requests before it is killed. */
    public static final int DEFAULT_RELOAD_MERCY = 60;
    /** Largest uwsgi vars block, in bytes: nginx sends up to 64 KiB (big cookies). */
    public static final int DEFAULT_BUFFER_SIZE = 64 * 1024;
    /** Peers trusted to set X-Forwarded-For/Proto when --trusted-proxy is not given: loopback. */
    public static final List<String> DEFAULT_TRUSTED_PROXIES = List.of("127.0.0.0/8", "::1");
    /** Python threads per worker. */
    public static final int DEFAULT_THREADS = 1;
    /**
     * Isolated interpreters per worker: 1, the main interpreter only, so {@code --workers N} means N processes
     * each with one Python, as in uWSGI and gunicorn, and any C extension loads (see README, Interpreters).
     */
    public static final int DEFAULT_INTERPRETERS = 1;
    /** The oldest CPython whose isolated interpreters we run (3.12.1 crashed with two running Flask). */
    public static final String MIN_INTERPRETERS_PYTHON = "3.13";
    /**
     * {@code --python-nice auto}: each worker watches how its threads share the CPUs and moves its Python
     * threads below its event loop only when the event loop is the busier stage and is kept waiting for a CPU
     * (see dev.bridge.worker.AutoNice). On a machine whose CPUs are all busy, the scheduler keeps the event
     * loop (the worker's busiest thread when the app is light) waiting 25-45 ms at a time, and a whole
     * worker's finished responses wait with it; 5 nice levels fix that for a light app (scripts/reload-check,
     * 2 workers, 64 clients, 2 CPUs: the slowest of 400,000 requests 20-33 ms instead of 73-80 ms), but cost
     * a CPU-bound app a fifth of its throughput at saturation (Flask, 2 workers, wrk c64: 10.0k instead of
     * 12.7k req/s), its Python threads being the ones that should not wait. Deciding per worker from what it
     * measures gets the first without the second; the master starts the next workers where the last one
     * that decided found their place.
     */
    public static final int PYTHON_NICE_AUTO = -1;
    /** Nice levels the Python threads run below the event loop unless told: decided by each worker. */
    public static final int DEFAULT_PYTHON_NICE = PYTHON_NICE_AUTO;
    /** Highest nice value Linux has: a thread cannot be made less important than this. */
    public static final int MAX_NICE = 19;
    /** Longest request line, in bytes (longer: 414). Not configurable: nothing legitimate comes close. */
    public static final int MAX_REQUEST_LINE = 8192;
    /** Largest header block, in bytes (larger: 431). nginx's large_client_header_buffers allow 32 KiB. */
    public static final int DEFAULT_MAX_HEADER_SIZE = 64 * 1024;
    /** Bodies above this many bytes are spilled to a temp file (1 MiB). */
    public static final long DEFAULT_SPILL_THRESHOLD = 1024 * 1024;
    /** Seconds to receive a whole request (head and body) once it began: slow clients get closed. */
    public static final int DEFAULT_HEADER_TIMEOUT = 30;
    /** Idle keep-alive timeout in seconds: longer than the 60 s of common proxies, so the proxy closes first. */
    public static final int DEFAULT_KEEPALIVE_TIMEOUT = 75;
    /** Seconds in-flight requests get on a graceful stop (SIGTERM). */
    public static final int DEFAULT_GRACEFUL_TIMEOUT = 30;
    /**
     * Worker JVM flags: a small heap that starts at 8 MB (the live heap is about 5 MB; starting at the
     * 64 MB maximum costs ~20 MB of resident memory per worker), Serial GC and C1 only. The app's Python
     * dominates a worker's time and memory; these halve a worker's footprint against the JVM defaults.
     */
    public static final List<String> DEFAULT_JVM_ARGS = List.of(
            "-Xms8m", "-Xmx64m", "-Xss512k", "-XX:+UseSerialGC",
            "-XX:TieredStopAtLevel=1", "-XX:ReservedCodeCacheSize=32m");

    public Config {
        listeners = List.copyOf(listeners);
        pythonPaths = List.copyOf(pythonPaths);
        jvmArgs = List.copyOf(jvmArgs);
        touchReload = List.copyOf(touchReload);
        trustedProxies = List.copyOf(trustedProxies);
    }

    /** Whether some listener is uwsgi and served by the C request loop ({@code --uwsgi-loop native}). */
    public boolean servesUwsgiNatively() {
        return uwsgiLoop == UwsgiLoop.NATIVE
                && listeners.stream().anyMatch(l -> l.protocol() == ListenAddress.Protocol.UWSGI);
    }

    /** Whether each Python thread of a worker runs its own isolated interpreter. */
    public boolean isolatedInterpreters() {
        return interpreters > 1;
    }

    /** The Python threads of a worker: one per interpreter, or {@code --threads} sharing the main one. */
    public int pythonThreads() {
        return isolatedInterpreters() ? interpreters : threads;
    }

    /** True when one app object may be called by several threads at once (wsgi.multithread). */
    public boolean multithread() {
        return threads > 1;
    }

    /**
     * True when another copy of the app, with state of its own, serves requests at the same time
     * (wsgi.multiprocess): in another worker process, or in another isolated interpreter of this one.
     */
    public boolean multiprocess() {
        return workers > 1 || interpreters > 1;
    }
}
