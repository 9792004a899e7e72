package dev.bridge.config;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Every setting of the bridge, each declared once: name, value, default, help and checks. The command line
 * reads them ({@link CommandLine}), {@code --help} lists them in this order, {@link Config} exposes their
 * values. Rules that tie several settings together are checked in {@link CommandLine#parse}.
 */
public final class Settings {

    private Settings() {}

    /** Most isolated interpreters per worker: a bound against typos (each interpreter costs about 20 MB). */
    static final int MAX_INTERPRETERS = 256;

    private static final List<Setting<?>> ALL = new ArrayList<>();

    public static final Setting<String> MODULE = add(text("module", "MOD[:APP]", "required",
            "WSGI app: pkg.mod:callable, mod (tries 'application', then 'app'), or path/to/file.py:callable"));
    public static final Setting<List<ListenAddress>> HTTP = add(list("http", "HOST:PORT",
            Config.DEFAULT_HTTP + " if no listener is given",
            "HTTP/1.1 listener (repeatable); :PORT means every IPv4 interface",
            (w, v) -> ListenAddress.parse(ListenAddress.Protocol.HTTP, w, v)));
    public static final Setting<Integer> WORKERS = add(integer("workers", "N", Config.DEFAULT_WORKERS,
            "the number of CPUs (" + Config.DEFAULT_WORKERS + ")", "worker processes, each with its own Python", 1, 1024)
            .alias("processes"));
    public static final Setting<List<ListenAddress>> UWSGI_SOCKET = add(list("uwsgi-socket", "HOST:PORT|PATH", "none",
            "uwsgi protocol listener for nginx's uwsgi_pass, TCP or unix socket (repeatable)",
            (w, v) -> ListenAddress.parse(ListenAddress.Protocol.UWSGI, w, v)));
    public static final Setting<Integer> BUFFER_SIZE = add(integer("buffer-size", "BYTES", Config.DEFAULT_BUFFER_SIZE, null,
            "largest uwsgi vars block (request line, headers, cookies) accepted", 4096, 65535));
    public static final Setting<List<Cidr>> TRUSTED_PROXY = add(list("trusted-proxy", "CIDR",
            String.join(" ", Config.DEFAULT_TRUSTED_PROXIES),
            "peers whose X-Forwarded-For / X-Forwarded-Proto set REMOTE_ADDR / wsgi.url_scheme (repeatable)", Cidr::parse));
    public static final Setting<List<Cidr>> UWSGI_ALLOW_FROM = add(list("uwsgi-allow-from", "CIDR",
            String.join(" ", Config.DEFAULT_UWSGI_ALLOW_FROM) + ", and any peer of a unix socket",
            "peers that may speak uwsgi to a TCP --uwsgi-socket, which lets them say REMOTE_ADDR, HTTPS and every "
                    + "header (repeatable); others are closed with one log line", Cidr::parse));
    public static final Setting<Integer> THREADS = add(integer("threads", "N", Config.DEFAULT_THREADS, null,
            "Python threads per worker, sharing its interpreter and GIL; helps apps that wait on I/O", 1, 512));
    public static final Setting<Integer> INTERPRETERS = add(integer("interpreters", "N", Config.DEFAULT_INTERPRETERS, null,
            "isolated Python interpreters per worker, each with its own GIL, thread and copy of the app "
                    + "(Python " + Config.MIN_INTERPRETERS_PYTHON + "+): N run in parallel in one JVM", 1, MAX_INTERPRETERS));
    public static final Setting<String> CHDIR = add(text("chdir", "DIR", "none",
            "change to DIR before loading the app (also put first on sys.path)"));
    public static final Setting<List<String>> PYTHONPATH = add(list("pythonpath", "DIR", "none",
            "add DIR to sys.path (repeatable)", (w, v) -> v));
    public static final Setting<String> PYTHON = add(text("python", "EXE", "none",
            "the Python to embed (must have Jep installed)"));
    public static final Setting<String> VENV = add(text("venv", "DIR", "$VIRTUAL_ENV, then python3 on PATH",
            "use the Python and packages of this virtualenv"));
    public static final Setting<Long> LIMIT_BODY = add(longInt("limit-body", "BYTES", 0, "0 (no limit)",
            "largest request body; larger gets 413", 0, Long.MAX_VALUE));
    public static final Setting<Integer> MAX_HEADER_SIZE = add(integer("max-header-size", "BYTES", Config.DEFAULT_MAX_HEADER_SIZE,
            null, "largest request header block; larger gets 431 (request line: " + Config.MAX_REQUEST_LINE
                    + " bytes, else 414)", 1024, 16 * 1024 * 1024));
    public static final Setting<Integer> LIMIT_REQUEST_FIELDS = add(integer("limit-request-fields", "N",
            Config.DEFAULT_LIMIT_REQUEST_FIELDS, null, "most header fields in a request; more gets 431 (gunicorn's name "
                    + "and default)", 1, 32768));
    public static final Setting<Long> SPILL_THRESHOLD = add(longInt("spill-threshold", "BYTES", Config.DEFAULT_SPILL_THRESHOLD,
            null, "request bodies larger than this are written to a temp file instead of memory", 0, Integer.MAX_VALUE));
    public static final Setting<Integer> HEADER_TIMEOUT = add(integer("header-timeout", "S", Config.DEFAULT_HEADER_TIMEOUT,
            null, "seconds a client has to send a whole request once it started one", 1, 3600));
    public static final Setting<Integer> KEEPALIVE_TIMEOUT = add(integer("keepalive-timeout", "S", Config.DEFAULT_KEEPALIVE_TIMEOUT,
            null, "seconds an idle keep-alive connection stays open", 1, 3600));
    public static final Setting<Integer> GRACEFUL_TIMEOUT = add(integer("graceful-timeout", "S", Config.DEFAULT_GRACEFUL_TIMEOUT,
            null, "seconds in-flight requests get to finish on SIGTERM", 0, 3600));
    public static final Setting<Integer> LISTEN = add(integer("listen", "N", Config.DEFAULT_BACKLOG, null,
            "accept queue length of each listener", 1, 65535));
    public static final Setting<Integer> CHMOD_SOCKET = add(new Setting<>("chmod-socket", "MODE", -1, "the umask's",
            "permissions of unix socket listeners, octal (e.g. 660)", (w, v, c) -> octal(w, v), List.of()));
    public static final Setting<String> CHOWN_SOCKET = add(new Setting<>("chown-socket", "USER[:GROUP]", null,
            "the master's user", "owner of unix socket listeners, names or numbers (e.g. www-data:www-data, so nginx "
                    + "may connect)", (w, v, c) -> owner(w, v), List.of()));
    public static final Setting<String> UID = add(new Setting<>("uid", "USER", null, "who starts it",
            "once the listeners are bound, the master and its workers run as USER (a name or a number; needs root)",
            (w, v, c) -> account(w, v, v, false), List.of()));
    public static final Setting<String> GID = add(new Setting<>("gid", "GROUP", null, "--uid's group",
            "the group the master and its workers run as (a name or a number; needs root)",
            (w, v, c) -> account(w, v, v, true), List.of()));
    public static final Setting<Boolean> REUSE_PORT = add(onOff("reuse-port",
            "each worker binds its own SO_REUSEPORT socket instead of sharing the master's (see README: connections "
                    + "queued on a closing socket are lost)"));
    public static final Setting<Long> MAX_REQUESTS = add(longInt("max-requests", "N", 0, "0 (never)",
            "replace a worker after N requests (the new one starts first)", 0, Long.MAX_VALUE / 2));
    public static final Setting<Long> MAX_REQUESTS_JITTER = add(longInt("max-requests-jitter", "N", 0, null,
            "add up to N requests to --max-requests, at random per worker", 0, Long.MAX_VALUE / 2));
    public static final Setting<Long> RELOAD_ON_RSS = add(longInt("reload-on-rss", "MB", 0, "0 (never)",
            "replace a worker whose resident memory exceeds MB MiB", 0, 1 << 30));
    public static final Setting<Integer> MAX_WORKER_LIFETIME = add(integer("max-worker-lifetime", "S", 0, "0 (never)",
            "replace a worker after S seconds", 0, Integer.MAX_VALUE));
    public static final Setting<Integer> HARAKIRI = add(integer("harakiri", "S", 0, "0 (never)",
            "kill and replace a worker whose request runs longer than S seconds", 0, 86400));
    public static final Setting<Integer> BOOT_TIMEOUT = add(integer("boot-timeout", "S", Config.DEFAULT_BOOT_TIMEOUT, null,
            "seconds a new worker has to load the app and report ready", 1, 3600));
    public static final Setting<String> PIDFILE = add(text("pidfile", "FILE", "none",
            "write the master's pid to FILE (removed on exit)"));
    public static final Setting<Config.ReloadMode> RELOAD_MODE = add(choice("reload-mode", Config.ReloadMode.class,
            Config.ReloadMode.ALL, "on reload, boot a whole new generation before the old retires (all), or one worker "
                    + "at a time (chain)"));
    public static final Setting<Integer> RELOAD_MERCY = add(integer("reload-mercy", "S", Config.DEFAULT_RELOAD_MERCY, null,
            "seconds a replaced worker gets to finish its requests before it is killed", 1, 86400));
    /** Null until given: as many as --workers. */
    public static final Setting<Integer> STANDBY = add(new Setting<>("standby", "N", null, "as many as --workers",
            "worker JVMs kept booted without Python, each ready to become a worker: a reload, respawn or "
                    + "recycling then loads only Python and the app (0: start every worker from scratch)",
            (w, v, c) -> (int) longIn(w, v, 0, 1024), List.of()));
    public static final Setting<Config.UwsgiLoop> UWSGI_LOOP = add(choice("uwsgi-loop", Config.UwsgiLoop.class,
            Config.UwsgiLoop.NATIVE, "who serves --uwsgi-socket listeners: native, a request loop in C on each Python "
                    + "thread (accept, read, app, write, close; built for the chosen Python at first start, see README); "
                    + "netty, the worker's event loop, as for HTTP"));
    public static final Setting<Integer> PYTHON_NICE = add(new Setting<>("python-nice", "N|auto", Config.DEFAULT_PYTHON_NICE,
            "auto", "run the Python threads N nice levels below the worker's event loop: on a busy machine, requests "
                    + "and responses keep moving for a light app; a CPU-bound app loses throughput. auto: each "
                    + "worker does it (5 levels) only when its event loop is the busier stage and waits for a CPU",
            (w, v, c) -> pythonNice(w, v), List.of()));
    public static final Setting<List<String>> TOUCH_RELOAD = add(list("touch-reload", "FILE", "none",
            "reload when FILE's modification time changes (repeatable)", (w, v) -> v));
    public static final Setting<List<String>> ENV = add(list("env", "KEY=VALUE", "none",
            "set KEY in the workers' environment, so in the app's os.environ (repeatable; the last one for a KEY wins)",
            Settings::environmentEntry));
    public static final Setting<Boolean> DISABLE_LOGGING = add(onOff("disable-logging", "no access log line per request"));
    public static final Setting<String> LOG_FORMAT = add(new Setting<>("log-format", "FORMAT|json", null,
            "the bridge's: ADDR \"REQUEST\" STATUS SIZE MSECSms",
            "access log line: uWSGI's %(name) fields (" + dev.bridge.logging.AccessLogFormat.fieldNames()
                    + "), or json: one JSON object per line",
            (w, v, c) -> {
                if (!v.equals(Observability.JSON)) {
                    dev.bridge.logging.AccessLogFormat.compile(v); // a bad field is reported at load
                }
                return v;
            }, List.of()));
    public static final Setting<String> LOGTO = add(new Setting<>("logto", "FILE", null, "stderr",
            "append the log (master, workers, app output, access lines) to FILE; SIGUSR1 reopens it (logrotate)",
            (w, v, c) -> v, List.of()));
    public static final Setting<ListenAddress> STATS = add(new Setting<>("stats", "HOST:PORT|PATH", null, "none",
            "stats server: uWSGI's JSON document to each connection (uwsgitop, uwsgi_exporter, Telegraf); "
                    + "loopback or a unix socket unless --stats-public",
            (w, v, c) -> ListenAddress.parse(ListenAddress.Protocol.UWSGI, w, v), List.of())); // UWSGI: a unix path is allowed
    public static final Setting<Boolean> STATS_HTTP = add(onOff("stats-http",
            "the stats server speaks HTTP: the JSON at /, Prometheus text at /metrics, /health/live, /health/ready"));
    public static final Setting<Boolean> STATS_PUBLIC = add(onOff("stats-public", "allow a --stats address other hosts can reach"));
    public static final Setting<String> INI = add(text("ini", "FILE", "none",
            "read settings from FILE's [bridge] section (name = value) and a uWSGI [uwsgi] section (FILE:SECTION: "
                    + "that section in its place); flags, then BRIDGE_NAME variables, win over it"));
    public static final Setting<List<String>> JVM_ARGS = add(new Setting<>("jvm-args", "'FLAGS'", Config.DEFAULT_JVM_ARGS,
            String.join(" ", Config.DEFAULT_JVM_ARGS), "JVM flags for worker processes, replacing the defaults",
            (w, v, c) -> v.isBlank() ? List.of() : List.of(v.trim().split("\\s+")), List.of()));

    /** Every setting, in --help's order. */
    public static List<Setting<?>> all() {
        return List.copyOf(ALL);
    }

    private static <T> Setting<T> add(Setting<T> s) {
        ALL.add(s);
        return s;
    }

    // ---- kinds of settings ----

    private static Setting<String> text(String name, String arg, String defaultText, String help) {
        return new Setting<>(name, arg, null, defaultText, help, (w, v, c) -> v, List.of());
    }

    private static Setting<Integer> integer(String name, String arg, int initial, String defaultText, String help,
                                            int min, int max) {
        return new Setting<>(name, arg, initial, defaultText == null ? String.valueOf(initial) : defaultText, help,
                (w, v, c) -> (int) longIn(w, v, min, max), List.of());
    }

    private static Setting<Long> longInt(String name, String arg, long initial, String defaultText, String help,
                                         long min, long max) {
        return new Setting<>(name, arg, initial, defaultText == null ? String.valueOf(initial) : defaultText, help,
                (w, v, c) -> longIn(w, v, min, max), List.of());
    }

    /** A switch: off unless given. */
    private static Setting<Boolean> onOff(String name, String help) {
        return new Setting<>(name, null, false, "off", help, (w, v, c) -> true, List.of());
    }

    /** One of an enum's constants, by its lower-case name. */
    private static <E extends Enum<E>> Setting<E> choice(String name, Class<E> type, E initial, String help) {
        List<String> names = java.util.Arrays.stream(type.getEnumConstants()).map(e -> e.name().toLowerCase(Locale.ROOT)).toList();
        return new Setting<>(name, String.join("|", names), initial, initial.name().toLowerCase(Locale.ROOT), help,
                (w, v, c) -> {
                    String want = v.trim().toLowerCase(Locale.ROOT);
                    for (E e : type.getEnumConstants()) {
                        if (e.name().toLowerCase(Locale.ROOT).equals(want)) {
                            return e;
                        }
                    }
                    throw new ConfigException(w + " " + v + ": expected " + String.join(" or ", names));
                }, List.of());
    }

    /** Reads one item of a repeatable setting. */
    private interface ItemParser<E> {
        E parse(String where, String text) throws ConfigException;
    }

    /** Repeatable: each occurrence adds an item. */
    private static <E> Setting<List<E>> list(String name, String arg, String defaultText, String help, ItemParser<E> item) {
        return new Setting<List<E>>(name, arg, List.of(), defaultText, help, (w, v, c) -> {
            List<E> more = new ArrayList<>(c);
            more.add(item.parse(w, v));
            return List.copyOf(more);
        }, List.of()).repeatable();
    }

    // ---- value checks ----

    /** {@code KEY=VALUE} with a key a process environment can hold, and not one of the bridge's own. */
    private static String environmentEntry(String flag, String value) throws ConfigException {
        int eq = value.indexOf('=');
        String key = eq < 0 ? value : value.substring(0, eq);
        if (eq <= 0 || !key.matches("[A-Za-z_][A-Za-z0-9_]*")) {
            throw new ConfigException(flag + " " + value + ": expected KEY=VALUE, KEY being letters, digits and _");
        }
        if (key.startsWith("BRIDGE_")) {
            throw new ConfigException(flag + " " + value + ": BRIDGE_ variables are the bridge's own (the worker's id, "
                    + "generation and descriptors)");
        }
        return value;
    }

    /** {@code USER[:GROUP]}, each part a name that exists or a number. */
    private static String owner(String flag, String value) throws ConfigException {
        int colon = value.indexOf(':');
        if (colon != 0) {
            account(flag, value, colon < 0 ? value : value.substring(0, colon), false);
        }
        if (colon >= 0 && colon + 1 < value.length()) {
            account(flag, value, value.substring(colon + 1), true);
        }
        return value;
    }

    /**
     * A user or group: a number, or a name the system knows (looked up through NSS, as the master will when it
     * changes to it), so a typo is reported at load, with its source.
     */
    private static String account(String flag, String value, String name, boolean group) throws ConfigException {
        if (name.matches("\\d+")) {
            return value;
        }
        var users = java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService();
        try {
            if (group) {
                users.lookupPrincipalByGroupName(name);
            } else {
                users.lookupPrincipalByName(name);
            }
            return value;
        } catch (java.nio.file.attribute.UserPrincipalNotFoundException e) {
            throw new ConfigException(flag + " " + value + ": no such " + (group ? "group " : "user ") + name);
        } catch (java.io.IOException | UnsupportedOperationException e) {
            return value; // no way to look it up here: the master will say
        }
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
        return (int) longIn(flag, value, 0, Config.MAX_NICE);
    }

    /** A whole number between min and max, or one line saying what is wrong with {@code value}. */
    public static long longIn(String flag, String value, long min, long max) throws ConfigException {
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
