package dev.bridge.config;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses the command line into a {@link Config}. Every flag is declared once in {@link #OPTIONS}, which
 * also produces {@code --help}; a bad flag or value is a {@link ConfigException} with one readable line.
 *
 * <p>Flags take their value as the next argument or after {@code =} ({@code --threads 4}, {@code --threads=4}).
 */
public final class CommandLine {

    /** What the parse produced: a config to run, or a request for help. */
    public sealed interface Result permits Run, Help {}

    public record Run(Config config) implements Result {}

    public record Help(String text) implements Result {}

    private static final class Builder {
        String module;
        final List<ListenAddress> listeners = new ArrayList<>();
        int threads = Config.DEFAULT_THREADS;
        int interpreters = Config.DEFAULT_INTERPRETERS;
        String chdir;
        final List<String> pythonPaths = new ArrayList<>();
        String python;
        String venv;
        long limitBody;
        int maxHeaderSize = Config.DEFAULT_MAX_HEADER_SIZE;
        long spillThreshold = Config.DEFAULT_SPILL_THRESHOLD;
        int headerTimeout = Config.DEFAULT_HEADER_TIMEOUT;
        int keepaliveTimeout = Config.DEFAULT_KEEPALIVE_TIMEOUT;
        int gracefulTimeout = Config.DEFAULT_GRACEFUL_TIMEOUT;
        boolean accessLog = true;
        List<String> jvmArgs = Config.DEFAULT_JVM_ARGS;
        int workers = Config.DEFAULT_WORKERS;
        int backlog = Config.DEFAULT_BACKLOG;
        int chmodSocket = -1;
        boolean reusePort;
        long maxRequests;
        long maxRequestsJitter;
        long reloadOnRss;
        int maxWorkerLifetime;
        int harakiri;
        int bootTimeout = Config.DEFAULT_BOOT_TIMEOUT;
        String pidfile;
        Config.ReloadMode reloadMode = Config.ReloadMode.ALL;
        int reloadMercy = Config.DEFAULT_RELOAD_MERCY;
        /** Null: as many as workers. */
        Integer standby;
        int pythonNice = Config.DEFAULT_PYTHON_NICE;
        final List<String> touchReload = new ArrayList<>();
        int bufferSize = Config.DEFAULT_BUFFER_SIZE;
        final List<Cidr> trustedProxies = new ArrayList<>();
        Config.UwsgiLoop uwsgiLoop = Config.UwsgiLoop.NATIVE;
        ListenAddress stats;
        boolean statsHttp;
        boolean statsPublic;
        String logFormat;
        String logto;
    }

    private interface Setter {
        void set(Builder b, String flag, String value) throws ConfigException;
    }

    private record Option(String arg, String defaultText, String help, Setter setter) {
        boolean takesValue() {
            return arg != null;
        }
    }

    /** Most isolated interpreters per worker: a bound against typos (each interpreter costs about 20 MB). */
    private static final int MAX_INTERPRETERS = 256;

    private static final Map<String, Option> OPTIONS = new LinkedHashMap<>();

    private static void option(String name, String arg, String defaultText, String help, Setter setter) {
        OPTIONS.put(name, new Option(arg, defaultText, help, setter));
    }

    static {
        option("--module", "MOD[:APP]", "required",
                "WSGI app: pkg.mod:callable, mod (tries 'application', then 'app'), or path/to/file.py:callable",
                (b, f, v) -> b.module = v);
        option("--http", "HOST:PORT", Config.DEFAULT_HTTP + " if no listener is given",
                "HTTP/1.1 listener (repeatable); :PORT means every IPv4 interface",
                (b, f, v) -> b.listeners.add(ListenAddress.parse(ListenAddress.Protocol.HTTP, f, v)));
        option("--workers", "N", "the number of CPUs (" + Config.DEFAULT_WORKERS + ")",
                "worker processes, each with its own Python", (b, f, v) -> b.workers = intIn(f, v, 1, 1024));
        option("--processes", "N", "as --workers", "alias of --workers (uWSGI's name)",
                (b, f, v) -> b.workers = intIn(f, v, 1, 1024));
        option("--uwsgi-socket", "HOST:PORT|PATH", "none",
                "uwsgi protocol listener for nginx's uwsgi_pass, TCP or unix socket (repeatable)",
                (b, f, v) -> b.listeners.add(ListenAddress.parse(ListenAddress.Protocol.UWSGI, f, v)));
        option("--buffer-size", "BYTES", String.valueOf(Config.DEFAULT_BUFFER_SIZE),
                "largest uwsgi vars block (request line, headers, cookies) accepted",
                (b, f, v) -> b.bufferSize = intIn(f, v, 4096, 65535));
        option("--trusted-proxy", "CIDR", String.join(" ", Config.DEFAULT_TRUSTED_PROXIES),
                "peers whose X-Forwarded-For / X-Forwarded-Proto set REMOTE_ADDR / wsgi.url_scheme (repeatable)",
                (b, f, v) -> b.trustedProxies.add(Cidr.parse(f, v)));
        option("--threads", "N", String.valueOf(Config.DEFAULT_THREADS),
                "Python threads per worker, sharing its interpreter and GIL; helps apps that wait on I/O",
                (b, f, v) -> b.threads = intIn(f, v, 1, 512));
        option("--interpreters", "N", String.valueOf(Config.DEFAULT_INTERPRETERS),
                "isolated Python interpreters per worker, each with its own GIL, thread and copy of the app "
                        + "(Python " + Config.MIN_INTERPRETERS_PYTHON + "+): N run in parallel in one JVM",
                (b, f, v) -> b.interpreters = intIn(f, v, 1, MAX_INTERPRETERS));
        option("--chdir", "DIR", "none", "change to DIR before loading the app (also put first on sys.path)",
                (b, f, v) -> b.chdir = v);
        option("--pythonpath", "DIR", "none", "add DIR to sys.path (repeatable)",
                (b, f, v) -> b.pythonPaths.add(v));
        option("--python", "EXE", "none", "the Python to embed (must have Jep installed)",
                (b, f, v) -> b.python = v);
        option("--venv", "DIR", "$VIRTUAL_ENV, then python3 on PATH", "use the Python and packages of this virtualenv",
                (b, f, v) -> b.venv = v);
        option("--limit-body", "BYTES", "0 (no limit)", "largest request body; larger gets 413",
                (b, f, v) -> b.limitBody = longIn(f, v, 0, Long.MAX_VALUE));
        option("--max-header-size", "BYTES", String.valueOf(Config.DEFAULT_MAX_HEADER_SIZE),
                "largest request header block; larger gets 431 (request line: " + Config.MAX_REQUEST_LINE + " bytes, else 414)",
                (b, f, v) -> b.maxHeaderSize = intIn(f, v, 1024, 16 * 1024 * 1024));
        option("--spill-threshold", "BYTES", String.valueOf(Config.DEFAULT_SPILL_THRESHOLD),
                "request bodies larger than this are written to a temp file instead of memory",
                (b, f, v) -> b.spillThreshold = longIn(f, v, 0, Integer.MAX_VALUE));
        option("--header-timeout", "S", String.valueOf(Config.DEFAULT_HEADER_TIMEOUT),
                "seconds a client has to send a whole request once it started one",
                (b, f, v) -> b.headerTimeout = intIn(f, v, 1, 3600));
        option("--keepalive-timeout", "S", String.valueOf(Config.DEFAULT_KEEPALIVE_TIMEOUT),
                "seconds an idle keep-alive connection stays open",
                (b, f, v) -> b.keepaliveTimeout = intIn(f, v, 1, 3600));
        option("--graceful-timeout", "S", String.valueOf(Config.DEFAULT_GRACEFUL_TIMEOUT),
                "seconds in-flight requests get to finish on SIGTERM",
                (b, f, v) -> b.gracefulTimeout = intIn(f, v, 0, 3600));
        option("--listen", "N", String.valueOf(Config.DEFAULT_BACKLOG), "accept queue length of each listener",
                (b, f, v) -> b.backlog = intIn(f, v, 1, 65535));
        option("--chmod-socket", "MODE", "the umask's", "permissions of unix socket listeners, octal (e.g. 660)",
                (b, f, v) -> b.chmodSocket = octal(f, v));
        option("--reuse-port", null, "off",
                "each worker binds its own SO_REUSEPORT socket instead of sharing the master's (see README: connections queued on a closing socket are lost)",
                (b, f, v) -> b.reusePort = true);
        option("--max-requests", "N", "0 (never)", "replace a worker after N requests (the new one starts first)",
                (b, f, v) -> b.maxRequests = longIn(f, v, 0, Long.MAX_VALUE / 2));
        option("--max-requests-jitter", "N", "0", "add up to N requests to --max-requests, at random per worker",
                (b, f, v) -> b.maxRequestsJitter = longIn(f, v, 0, Long.MAX_VALUE / 2));
        option("--reload-on-rss", "MB", "0 (never)", "replace a worker whose resident memory exceeds MB MiB",
                (b, f, v) -> b.reloadOnRss = longIn(f, v, 0, 1 << 30));
        option("--max-worker-lifetime", "S", "0 (never)", "replace a worker after S seconds",
                (b, f, v) -> b.maxWorkerLifetime = intIn(f, v, 0, Integer.MAX_VALUE));
        option("--harakiri", "S", "0 (never)", "kill and replace a worker whose request runs longer than S seconds",
                (b, f, v) -> b.harakiri = intIn(f, v, 0, 86400));
        option("--boot-timeout", "S", String.valueOf(Config.DEFAULT_BOOT_TIMEOUT),
                "seconds a new worker has to load the app and report ready",
                (b, f, v) -> b.bootTimeout = intIn(f, v, 1, 3600));
        option("--pidfile", "FILE", "none", "write the master's pid to FILE (removed on exit)",
                (b, f, v) -> b.pidfile = v);
        option("--reload-mode", "all|chain", "all",
                "on reload, boot a whole new generation before the old retires (all), or one worker at a time (chain)",
                (b, f, v) -> b.reloadMode = switch (v.trim().toLowerCase(java.util.Locale.ROOT)) {
                    case "all" -> Config.ReloadMode.ALL;
                    case "chain" -> Config.ReloadMode.CHAIN;
                    default -> throw new ConfigException(f + " " + v + ": expected all or chain");
                });
        option("--reload-mercy", "S", String.valueOf(Config.DEFAULT_RELOAD_MERCY),
                "seconds a replaced worker gets to finish its requests before it is killed",
                (b, f, v) -> b.reloadMercy = intIn(f, v, 1, 86400));
        option("--standby", "N", "as many as --workers",
                "worker JVMs kept booted without Python, each ready to become a worker: a reload, respawn or "
                        + "recycling then loads only Python and the app (0: start every worker from scratch)",
                (b, f, v) -> b.standby = intIn(f, v, 0, 1024));
        option("--uwsgi-loop", "native|netty", "native",
                "who serves --uwsgi-socket listeners: native, a request loop in C on each Python thread (accept, "
                        + "read, app, write, close; built for the chosen Python at first start, see README); netty, "
                        + "the worker's event loop, as for HTTP",
                (b, f, v) -> b.uwsgiLoop = switch (v.trim().toLowerCase(java.util.Locale.ROOT)) {
                    case "native" -> Config.UwsgiLoop.NATIVE;
                    case "netty" -> Config.UwsgiLoop.NETTY;
                    default -> throw new ConfigException(f + " " + v + ": expected native or netty");
                });
        option("--python-nice", "N|auto", "auto",
                "run the Python threads N nice levels below the worker's event loop: on a busy machine, requests "
                        + "and responses keep moving for a light app; a CPU-bound app loses throughput. auto: each "
                        + "worker does it (5 levels) only when its event loop is the busier stage and waits for a CPU",
                (b, f, v) -> b.pythonNice = pythonNice(f, v));
        option("--touch-reload", "FILE", "none", "reload when FILE's modification time changes (repeatable)",
                (b, f, v) -> b.touchReload.add(v));
        option("--disable-logging", null, "off", "no access log line per request",
                (b, f, v) -> b.accessLog = false);
        option("--log-format", "FORMAT|json", "the bridge's: ADDR \"REQUEST\" STATUS SIZE MSECSms",
                "access log line: uWSGI's %(name) fields (" + dev.bridge.logging.AccessLogFormat.fieldNames()
                        + "), or json: one JSON object per line",
                (b, f, v) -> b.logFormat = v);
        option("--logto", "FILE", "stderr",
                "append the log (master, workers, app output, access lines) to FILE; SIGUSR1 reopens it (logrotate)",
                (b, f, v) -> b.logto = v);
        option("--stats", "HOST:PORT|PATH", "none",
                "stats server: uWSGI's JSON document to each connection (uwsgitop, uwsgi_exporter, Telegraf); "
                        + "loopback or a unix socket unless --stats-public",
                (b, f, v) -> b.stats = ListenAddress.parse(ListenAddress.Protocol.UWSGI, f, v)); // UWSGI: a unix path is allowed
        option("--stats-http", null, "off",
                "the stats server speaks HTTP: the JSON at /, Prometheus text at /metrics, /health/live, /health/ready",
                (b, f, v) -> b.statsHttp = true);
        option("--stats-public", null, "off", "allow a --stats address other hosts can reach",
                (b, f, v) -> b.statsPublic = true);
        option("--jvm-args", "'FLAGS'", String.join(" ", Config.DEFAULT_JVM_ARGS),
                "JVM flags for worker processes, replacing the defaults",
                (b, f, v) -> b.jvmArgs = v.isBlank() ? List.of() : List.of(v.trim().split("\\s+")));
        option("--help", null, null, "show this help and exit", (b, f, v) -> {});
    }

    private CommandLine() {}

    public static Result parse(List<String> args) throws ConfigException {
        Builder b = new Builder();
        for (int i = 0; i < args.size(); i++) {
            String arg = args.get(i);
            String name = arg;
            String value = null;
            int eq = arg.indexOf('=');
            if (arg.startsWith("--") && eq > 0) {
                name = arg.substring(0, eq);
                value = arg.substring(eq + 1);
            }
            if (name.equals("--help") || name.equals("-h")) {
                return new Help(help());
            }
            Option opt = OPTIONS.get(name);
            if (opt == null) {
                throw new ConfigException("unknown " + (arg.startsWith("-") ? "flag " : "argument ") + arg + " (see --help)");
            }
            if (opt.takesValue() && value == null) {
                if (i + 1 >= args.size()) {
                    throw new ConfigException(name + " needs a value: " + name + " " + opt.arg());
                }
                value = args.get(++i);
            } else if (!opt.takesValue() && value != null) {
                throw new ConfigException(name + " takes no value");
            }
            opt.setter().set(b, name, value);
        }
        if (b.module == null || b.module.isBlank()) {
            throw new ConfigException("--module is required, e.g. --module myapp:application (see --help)");
        }
        if (b.listeners.isEmpty()) {
            b.listeners.add(ListenAddress.parse(ListenAddress.Protocol.HTTP, "--http", Config.DEFAULT_HTTP));
        }
        if (b.chdir != null && !java.nio.file.Files.isDirectory(java.nio.file.Path.of(b.chdir))) {
            throw new ConfigException("--chdir " + b.chdir + ": no such directory");
        }
        if (b.trustedProxies.isEmpty()) {
            for (String c : Config.DEFAULT_TRUSTED_PROXIES) {
                b.trustedProxies.add(Cidr.parse("--trusted-proxy", c));
            }
        }
        if (b.interpreters > 1 && b.threads > 1) {
            throw new ConfigException("--threads " + b.threads + " and --interpreters " + b.interpreters
                    + " cannot be combined: each isolated interpreter runs on one thread of its own");
        }
        if (b.python != null && b.venv != null) {
            throw new ConfigException("give --python or --venv, not both");
        }
        Observability observability = observability(b);
        return new Run(new Config(b.module, b.listeners, b.workers, b.threads, b.interpreters, b.chdir, b.pythonPaths, b.python, b.venv,
                b.limitBody, b.maxHeaderSize, b.spillThreshold, b.headerTimeout, b.keepaliveTimeout,
                b.gracefulTimeout, b.accessLog, b.jvmArgs, b.backlog, b.chmodSocket, b.reusePort, b.maxRequests,
                b.maxRequestsJitter, b.reloadOnRss, b.maxWorkerLifetime, b.harakiri, b.bootTimeout, b.pidfile,
                b.reloadMode, b.reloadMercy, b.standby == null ? b.workers : b.standby, b.pythonNice, b.touchReload,
                b.bufferSize, b.trustedProxies, b.uwsgiLoop, observability));
    }

    private static Observability observability(Builder b) throws ConfigException {
        if (b.stats == null && (b.statsHttp || b.statsPublic)) {
            throw new ConfigException((b.statsHttp ? "--stats-http" : "--stats-public") + " needs --stats ADDRESS");
        }
        if (b.stats != null && !b.stats.isUnix() && !b.statsPublic) {
            java.net.InetSocketAddress a = b.stats.socketAddress();
            if (a.isUnresolved() || !a.getAddress().isLoopbackAddress()) {
                throw new ConfigException("--stats " + b.stats.host() + ":" + b.stats.port() + " can be reached from other hosts: use a loopback address "
                        + "(127.0.0.1:PORT) or a unix socket, or add --stats-public");
            }
        }
        if (b.logFormat != null && !b.logFormat.equals(Observability.JSON)) {
            dev.bridge.logging.AccessLogFormat.compile(b.logFormat); // a bad field is reported at load
        }
        return new Observability(b.stats, b.statsHttp, b.statsPublic, b.logFormat, b.logto);
    }

    /** The text of {@code --help}: every flag, its value and its default. */
    public static String help() {
        StringBuilder sb = new StringBuilder();
        sb.append("usage: java -jar bridge.jar --module MOD[:APP] [--http HOST:PORT] [flags]\n\n");
        sb.append("Serves a Python WSGI app (PEP 3333) with CPython embedded through Jep.\n\nflags:\n");
        for (Map.Entry<String, Option> e : OPTIONS.entrySet()) {
            Option o = e.getValue();
            String left = "  " + e.getKey() + (o.takesValue() ? " " + o.arg() : "");
            sb.append(String.format("%-32s %s%n", left, o.help()));
            if (o.defaultText() != null) {
                sb.append(String.format("%-32s (default: %s)%n", "", o.defaultText()));
            }
        }
        return sb.toString();
    }

    private static int octal(String flag, String value) throws ConfigException {
        try {
            int mode = Integer.parseInt(value.trim(), 8);
            if (mode >= 0 && mode <= 0777) {
                return mode;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        throw new ConfigException(flag + " " + value + ": expected octal permission bits such as 660");
    }

    private static int pythonNice(String flag, String value) throws ConfigException {
        if (value.equals("auto")) {
            return Config.PYTHON_NICE_AUTO;
        }
        if (!value.trim().matches("-?\\d+")) {
            throw new ConfigException(flag + " " + value + ": expected auto or a whole number");
        }
        return intIn(flag, value, 0, Config.MAX_NICE);
    }

    private static int intIn(String flag, String value, int min, int max) throws ConfigException {
        return (int) longIn(flag, value, min, max);
    }

    private static long longIn(String flag, String value, long min, long max) throws ConfigException {
        long n;
        try {
            n = Long.parseLong(value.trim());
        } catch (NumberFormatException e) {
            throw new ConfigException(flag + " " + value + ": expected a whole number");
        }
        if (n < min || n > max) {
            throw new ConfigException(flag + " " + value + ": must be between " + min + " and " + max);
        }
        return n;
    }
}
