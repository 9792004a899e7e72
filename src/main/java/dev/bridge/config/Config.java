package dev.bridge.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The whole configuration, immutable and validated at load ({@link CommandLine#parse}). Each setting is
 * declared once, in {@link Settings} (its name, default, help and checks); this class reads the values by
 * setting, so no two values of the same type can be swapped by position. Units are in {@link Settings}' help
 * and the constants' Javadoc below.
 */
public final class Config {

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
    /** Peers that may speak uwsgi to a TCP listener when --uwsgi-allow-from is not given: loopback (gunicorn's too). */
    public static final List<String> DEFAULT_UWSGI_ALLOW_FROM = List.of("127.0.0.0/8", "::1");
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
    /** Most header fields a request may carry: gunicorn's default (limit_request_fields). */
    public static final int DEFAULT_LIMIT_REQUEST_FIELDS = 100;
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

    private final Map<Setting<?>, Object> values;
    private final List<ListenAddress> listeners;
    private final Observability observability;
    private final List<String> args;

    /**
     * The values of the settings as given, the others at their defaults; checked by the caller.
     *
     * @param args the flags that give a worker this configuration
     */
    Config(Map<Setting<?>, Object> given, List<String> args) {
        this.args = List.copyOf(args);
        this.values = new LinkedHashMap<>(); // Setting has identity equality; the values compare with equals()
        for (Setting<?> s : Settings.all()) {
            values.put(s, given.containsKey(s) ? given.get(s) : s.initial());
        }
        List<ListenAddress> all = new ArrayList<>(get(Settings.HTTP));
        all.addAll(get(Settings.UWSGI_SOCKET));
        this.listeners = List.copyOf(all);
        this.observability = new Observability(get(Settings.STATS), get(Settings.STATS_HTTP), get(Settings.STATS_PUBLIC),
                get(Settings.LOG_FORMAT), get(Settings.LOGTO));
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Config c && values.equals(c.values);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }

    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("Config[");
        for (Setting<?> s : Settings.all()) {
            sb.append(sb.length() > 7 ? ", " : "").append(s.name()).append('=').append(values.get(s));
        }
        return sb.append(']').toString();
    }

    /** Whether a listener was given; without one the default is used, unless systemd passed sockets. */
    public boolean listenersGiven() {
        return args.contains(Settings.HTTP.flag()) || args.contains(Settings.UWSGI_SOCKET.flag());
    }

    /** This configuration with these listeners instead (the master's, once it took over sockets passed to it). */
    public Config withListeners(List<ListenAddress> listeners) {
        Map<Setting<?>, Object> given = new java.util.IdentityHashMap<>(values);
        List<String> flags = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            if (args.get(i).equals(Settings.HTTP.flag()) || args.get(i).equals(Settings.UWSGI_SOCKET.flag())) {
                i++; // and its value
            } else {
                flags.add(args.get(i));
            }
        }
        for (ListenAddress.Protocol protocol : ListenAddress.Protocol.values()) {
            Setting<List<ListenAddress>> setting = protocol == ListenAddress.Protocol.HTTP ? Settings.HTTP : Settings.UWSGI_SOCKET;
            List<ListenAddress> these = listeners.stream().filter(l -> l.protocol() == protocol).toList();
            given.put(setting, these);
            these.forEach(l -> flags.addAll(List.of(setting.flag(), l.spec())));
        }
        return new Config(given, flags);
    }

    /**
     * This configuration as flags, each setting given (from the command line, the environment or the ini file)
     * written as {@code --name value}: what the master passes its workers.
     */
    public List<String> args() {
        return args;
    }

    /** The value of a setting. */
    @SuppressWarnings("unchecked")
    public <T> T get(Setting<T> setting) {
        return (T) values.get(setting);
    }

    public String module() {
        return get(Settings.MODULE);
    }

    /** HTTP and uwsgi listeners: the --http ones, then the --uwsgi-socket ones, each in command-line order. */
    public List<ListenAddress> listeners() {
        return listeners;
    }

    public int workers() {
        return get(Settings.WORKERS);
    }

    public int threads() {
        return get(Settings.THREADS);
    }

    public int interpreters() {
        return get(Settings.INTERPRETERS);
    }

    public String chdir() {
        return get(Settings.CHDIR);
    }

    public List<String> pythonPaths() {
        return get(Settings.PYTHONPATH);
    }

    public String python() {
        return get(Settings.PYTHON);
    }

    public String venv() {
        return get(Settings.VENV);
    }

    public long limitBody() {
        return get(Settings.LIMIT_BODY);
    }

    public int limitRequestFields() {
        return get(Settings.LIMIT_REQUEST_FIELDS);
    }

    public int maxHeaderSize() {
        return get(Settings.MAX_HEADER_SIZE);
    }

    public long spillThreshold() {
        return get(Settings.SPILL_THRESHOLD);
    }

    public int headerTimeout() {
        return get(Settings.HEADER_TIMEOUT);
    }

    public int keepaliveTimeout() {
        return get(Settings.KEEPALIVE_TIMEOUT);
    }

    public int gracefulTimeout() {
        return get(Settings.GRACEFUL_TIMEOUT);
    }

    /** Whether one line per request is logged. */
    public boolean accessLog() {
        return !get(Settings.DISABLE_LOGGING);
    }

    public List<String> jvmArgs() {
        return get(Settings.JVM_ARGS);
    }

    /** Accept queue length of each listener, in connections. */
    public int backlog() {
        return get(Settings.LISTEN);
    }

    /** Permission bits of unix socket listeners, or -1 for the umask's. */
    public int chmodSocket() {
        return get(Settings.CHMOD_SOCKET);
    }

    public boolean reusePort() {
        return get(Settings.REUSE_PORT);
    }

    public long maxRequests() {
        return get(Settings.MAX_REQUESTS);
    }

    public long maxRequestsJitter() {
        return get(Settings.MAX_REQUESTS_JITTER);
    }

    public long reloadOnRss() {
        return get(Settings.RELOAD_ON_RSS);
    }

    public int maxWorkerLifetime() {
        return get(Settings.MAX_WORKER_LIFETIME);
    }

    public int harakiri() {
        return get(Settings.HARAKIRI);
    }

    public int bootTimeout() {
        return get(Settings.BOOT_TIMEOUT);
    }

    public String pidfile() {
        return get(Settings.PIDFILE);
    }

    public ReloadMode reloadMode() {
        return get(Settings.RELOAD_MODE);
    }

    public int reloadMercy() {
        return get(Settings.RELOAD_MERCY);
    }

    /** Standby worker JVMs: as many as workers unless given. */
    public int standby() {
        Integer n = get(Settings.STANDBY);
        return n == null ? workers() : n;
    }

    /** Nice levels of the Python threads below the event loop, or {@link #PYTHON_NICE_AUTO}. */
    public int pythonNice() {
        return get(Settings.PYTHON_NICE);
    }

    public List<String> touchReload() {
        return get(Settings.TOUCH_RELOAD);
    }

    public int bufferSize() {
        return get(Settings.BUFFER_SIZE);
    }

    /** Peers that may speak uwsgi to a TCP listener (a unix socket's peers always may). */
    public List<Cidr> uwsgiAllowFrom() {
        return get(Settings.UWSGI_ALLOW_FROM);
    }

    public List<Cidr> trustedProxies() {
        return get(Settings.TRUSTED_PROXY);
    }

    public UwsgiLoop uwsgiLoop() {
        return get(Settings.UWSGI_LOOP);
    }

    /** --env: the variables added to the workers' environment, in order (a later one for a key wins). */
    public Map<String, String> env() {
        Map<String, String> env = new LinkedHashMap<>();
        for (String entry : get(Settings.ENV)) {
            int eq = entry.indexOf('=');
            env.put(entry.substring(0, eq), entry.substring(eq + 1));
        }
        return env;
    }

    public Observability observability() {
        return observability;
    }

    /** Whether some listener is uwsgi and served by the C request loop ({@code --uwsgi-loop native}). */
    public boolean servesUwsgiNatively() {
        return uwsgiLoop() == UwsgiLoop.NATIVE
                && listeners.stream().anyMatch(l -> l.protocol() == ListenAddress.Protocol.UWSGI);
    }

    /** Whether each Python thread of a worker runs its own isolated interpreter. */
    public boolean isolatedInterpreters() {
        return interpreters() > 1;
    }

    /** The Python threads of a worker: one per interpreter, or {@code --threads} sharing the main one. */
    public int pythonThreads() {
        return isolatedInterpreters() ? interpreters() : threads();
    }

    /** True when one app object may be called by several threads at once (wsgi.multithread). */
    public boolean multithread() {
        return threads() > 1;
    }

    /**
     * True when another copy of the app, with state of its own, serves requests at the same time
     * (wsgi.multiprocess): in another worker process, or in another isolated interpreter of this one.
     */
    public boolean multiprocess() {
        return workers() > 1 || interpreters() > 1;
    }
}
