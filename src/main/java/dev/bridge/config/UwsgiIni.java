package dev.bridge.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * An ini file's {@code [uwsgi]} section, read as uWSGI reads it and mapped onto the bridge's settings, so a
 * uWSGI user's file starts the bridge unchanged. Each option uWSGI has is one of: the same setting here, mapped
 * to one, implied (the bridge always does it), ignored (harmless, one warning line), or refused (honouring it
 * is not possible and ignoring it is not safe: an error). Options this table does not know give a warning line
 * (an error under uWSGI's {@code strict}). The README's table is checked against {@link #options()}.
 *
 * <p>Values take uWSGI's magic: {@code %d} (the file's directory, with a trailing slash), {@code %n}, {@code %s},
 * {@code %p}, {@code %c}, {@code %e}, {@code %k} (CPUs), {@code %h}, {@code %%}, {@code %(option)} (a value set
 * above, also a placeholder of the user's own) and {@code $(VARIABLE)} (the environment). A line without
 * {@code =} is a switch given ({@code master}).
 */
final class UwsgiIni {

    /** The ini section this reads. */
    static final String SECTION = "uwsgi";

    /** How the bridge takes a uWSGI option. */
    enum Kind {
        /** A setting of the same name. */
        SUPPORTED,
        /** Another setting of the bridge, or several options make one. */
        MAPPED,
        /** What the bridge always does: accepted silently when on. */
        IMPLIED,
        /** Not honoured, and harmless to ignore: one warning line. */
        IGNORED,
        /** Not honoured, and unsafe to ignore: an error. */
        REFUSED
    }

    /** One uWSGI option: how the bridge takes it, and the setting or the reason. */
    record Option(String name, Kind kind, Setting<?> setting, String note) {}

    /** A line of the section: its number in the file, the option's name, its value (null: a bare switch). */
    record Line(int number, String key, String value) {}

    private static final Map<String, Option> OPTIONS = new LinkedHashMap<>();
    /** Option names that start families uWSGI has many of (route-if, hook-pre-app, exec-as-root...): refused. */
    private static final Map<String, String> REFUSED_PREFIXES = new LinkedHashMap<>();

    static {
        supported(Settings.CHDIR, Settings.THREADS, Settings.HARAKIRI, Settings.MAX_REQUESTS, Settings.RELOAD_ON_RSS,
                Settings.BUFFER_SIZE, Settings.TOUCH_RELOAD, Settings.PIDFILE, Settings.STATS, Settings.STATS_HTTP,
                Settings.UID, Settings.GID, Settings.ENV, Settings.DISABLE_LOGGING, Settings.LOGTO, Settings.LOG_FORMAT,
                Settings.LISTEN, Settings.CHMOD_SOCKET, Settings.CHOWN_SOCKET, Settings.WORKERS,
                Settings.PYTHONPATH, Settings.UWSGI_SOCKET, Settings.MAX_WORKER_LIFETIME, Settings.RELOAD_MERCY,
                Settings.MODULE);
        mapped(Settings.WORKERS, "--workers", "processes", "p");
        mapped(Settings.UWSGI_SOCKET, "--uwsgi-socket (--http under protocol = http)", "socket", "s");
        mapped(Settings.HTTP, "--http: the workers serve HTTP themselves (no router process)", "http-socket", "http");
        mapped(Settings.MODULE, "with callable (default application): --module MOD:CALLABLE", "wsgi");
        mapped(Settings.MODULE, "with callable: --module FILE.py:CALLABLE", "wsgi-file", "file");
        mapped(Settings.MODULE, "the callable of module or wsgi-file (default application)", "callable");
        mapped(null, "http makes socket lines HTTP listeners; uwsgi is the default; others refused", "protocol");
        mapped(Settings.VENV, "--venv", "home", "virtualenv", "venv", "pyhome", "H");
        mapped(Settings.PYTHONPATH, "--pythonpath", "python-path", "pp");
        mapped(Settings.MAX_REQUESTS_JITTER, "--max-requests-jitter", "max-requests-delta");
        mapped(Settings.RELOAD_MERCY, "--reload-mercy", "worker-reload-mercy");
        mapped(Settings.PIDFILE, "--pidfile (written by the master once it runs as --uid)", "pidfile2");
        mapped(Settings.LIMIT_BODY, "--limit-body", "limit-post");
        mapped(Settings.LOG_FORMAT, "--log-format", "logformat");
        mapped(null, "unknown options become errors", "strict");
        implied("master", "the bridge always runs a master");
        implied("die-on-term", "SIGTERM always stops the bridge gracefully");
        implied("vacuum", "the bridge always removes its unix sockets and pidfile at exit");
        implied("lazy-apps", "each worker always loads the app itself");
        implied("lazy", "each worker always loads the app itself");
        implied("enable-threads", "Python threads always run");
        implied("single-interpreter", "one interpreter per worker unless --interpreters");
        implied("need-app", "a worker whose app does not load never serves");
        implied("thunder-lock", "the kernel wakes one worker per connection");
        implied("plugin", "python, python3, pythonXY: the only one there is (another plugin is refused)");
        implied("plugins", "as plugin");
        implied("hook-master-start", "only unix_signal:15 gracefully_kill_them_all, what SIGTERM does here");
        ignored("show-config", "--print-config shows every setting and where it came from");
        ignored("auto-procname", "process names are not changed");
        ignored("procname-prefix", "process names are not changed");
        ignored("procname-prefix-spaced", "process names are not changed");
        ignored("memory-report", "--stats reports each worker's memory");
        ignored("harakiri-verbose", "harakiri kills are always logged");
        ignored("log-4xx", "the access log has every request (or none with disable-logging)");
        ignored("log-5xx", "the access log has every request (or none with disable-logging)");
        ignored("log-x-forwarded-for", "the access log's address is the client a --trusted-proxy names (loopback by default)");
        ignored("post-buffering", "bodies are always read before the app runs (larger than --spill-threshold: to a temp file)");
        ignored("wsgi-disable-file-wrapper", "the bridge's wsgi.file_wrapper reads any file-like object");
        ignored("offload-threads", "responses are written by each worker's event loop");
        ignored("static-map", "static files are not served: let nginx serve them (see README)");
        ignored("static-expires", "static files are not served");
        ignored("static-gzip-all", "static files are not served");
        ignored("static-gzip-dir", "static files are not served");
        ignored("cheaper", "always --workers workers");
        ignored("cheaper-initial", "always --workers workers");
        ignored("cheaper-step", "always --workers workers");
        ignored("cheaper-algo", "always --workers workers");
        ignored("limit-as", "no address space limit (see --reload-on-rss)");
        ignored("max-fd", "the limit on descriptors is the one the bridge starts with");
        ignored("manage-script-name", "no mount points: SCRIPT_NAME is what the front server sends");
        ignored("ignore-sigpipe", "a client gone is never an error here");
        ignored("ignore-write-errors", "a client gone is never an error here");
        ignored("disable-write-exception", "a client gone is never an error here");
        ignored("py-autoreload", "use --touch-reload");
        ignored("reuse-port", "the master binds each socket once (the bridge's --reuse-port is another thing)");
        refused("daemonize", "the bridge stays in the foreground: run it under systemd (see README), log with logto");
        refused("daemonize2", "the bridge stays in the foreground: run it under systemd (see README), log with logto");
        refused("emperor", "no emperor mode: one bridge per app, each a systemd unit");
        refused("https", "no TLS: terminate it in nginx");
        refused("https-socket", "no TLS: terminate it in nginx");
        refused("ssl-socket", "no TLS: terminate it in nginx");
        refused("shared-socket", "not supported: give the address to socket or http-socket");
        refused("fastcgi-socket", "no FastCGI: use socket (uwsgi) or http-socket");
        refused("mount", "one app per bridge: mount points would serve the wrong app");
        refused("add-header", "response headers the app does not send (security headers?): set them in nginx");
        refused("attach-daemon", "the bridge runs no other programs: give them a systemd unit of their own");
        refused("attach-daemon2", "the bridge runs no other programs: give them a systemd unit of their own");
        refused("smart-attach-daemon", "the bridge runs no other programs: give them a systemd unit of their own");
        refused("cron", "the bridge runs no other programs: use a systemd timer");
        refused("spooler", "no spooler");
        refused("mule", "no mules");
        refused("ini", "no included files: merge them into one");
        refused("inherit", "no included files: merge them into one");
        refused("unshare", "no namespaces");
        refused("chroot", "no chroot");
        REFUSED_PREFIXES.put("route", "routing rules (rewrites, redirects, basicauth) are not applied: move them to nginx");
        REFUSED_PREFIXES.put("hook-", "hooks run commands the bridge would not run");
        REFUSED_PREFIXES.put("exec-", "hooks run commands the bridge would not run");
        REFUSED_PREFIXES.put("if-", "conditional blocks are not read: write the options out");
        refused("endif", "conditional blocks are not read: write the options out");
        refused("for", "loops are not read: write the options out");
        refused("endfor", "loops are not read: write the options out");
    }

    private UwsgiIni() {}

    /** Every option of the table, in the README's order. */
    static List<Option> options() {
        List<Option> all = new ArrayList<>(OPTIONS.values());
        REFUSED_PREFIXES.forEach((prefix, why) -> all.add(new Option(prefix + "*", Kind.REFUSED, null, why)));
        return all;
    }

    /**
     * The settings a {@code [uwsgi]} section gives, in the file's order; {@code warnings} gets one line per
     * option not honoured. {@code env} serves {@code $(VARIABLE)}.
     */
    static List<Sources.Occurrence> read(Path file, List<Line> lines, Map<String, String> env, List<String> warnings)
            throws ConfigException {
        Map<String, String> values = new LinkedHashMap<>(); // each option's last value, for %(option)
        Set<String> referenced = new HashSet<>();
        List<Line> expanded = new ArrayList<>();
        for (Line l : lines) {
            String key = l.key().startsWith("--") ? l.key().substring(2) : l.key();
            key = key.replace('_', '-');
            String value = l.value() == null ? null : expand(file, l, values, referenced, env);
            values.put(key, value == null ? "true" : value);
            expanded.add(new Line(l.number(), key, value));
        }
        boolean strict = false;
        for (Line l : expanded) {
            strict |= l.key().equals("strict") && on(file, l);
        }
        List<Sources.Occurrence> out = new ArrayList<>();
        boolean httpProtocol = false;
        Line module = null;
        Line wsgiFile = null;
        Line callable = null;
        for (Line l : expanded) {
            if (l.key().equals("protocol")) {
                httpProtocol = switch (l.value() == null ? "" : l.value().strip()) {
                    case "http" -> true;
                    case "uwsgi" -> false;
                    default -> throw new ConfigException(where(file, l) + " " + l.value()
                            + ": the bridge speaks uwsgi and http only");
                };
            }
        }
        for (Line l : expanded) {
            String where = where(file, l);
            Option o = OPTIONS.get(l.key());
            if (o == null) {
                String prefix = REFUSED_PREFIXES.keySet().stream().filter(l.key()::startsWith).findFirst().orElse(null);
                if (prefix != null) {
                    throw new ConfigException(where + ": not supported: " + REFUSED_PREFIXES.get(prefix));
                }
                if (referenced.contains(l.key())) {
                    continue; // a placeholder of the user's own, used as %(name)
                }
                if (strict) {
                    throw new ConfigException(where + ": not an option the bridge knows (strict is on)");
                }
                warnings.add(where + ": not an option the bridge knows (ignored)");
                continue;
            }
            switch (o.kind()) {
                case REFUSED -> throw new ConfigException(where + ": not supported: " + o.note());
                case IGNORED -> warnings.add(where + ": ignored: " + o.note());
                case IMPLIED -> implied(file, l, o, warnings);
                case SUPPORTED, MAPPED -> {
                    switch (l.key()) {
                        case "module", "wsgi" -> module = l;
                        case "wsgi-file", "file" -> wsgiFile = l;
                        case "callable" -> callable = l;
                        case "protocol", "strict" -> { }
                        case "socket", "s" -> Sources.occurrence(out,
                                httpProtocol ? Settings.HTTP : Settings.UWSGI_SOCKET, text(where, l), where);
                        case "chmod-socket" -> Sources.occurrence(out, o.setting(),
                                l.value() == null || isTrue(l.value()) ? "666" : l.value(), where); // uWSGI's bare default
                        default -> Sources.occurrence(out, o.setting(), o.setting().takesValue() ? text(where, l)
                                : (l.value() == null ? "true" : l.value()), where);
                    }
                }
            }
        }
        app(file, module, wsgiFile, callable, out);
        if (!expanded.isEmpty() && out.stream().noneMatch(o -> o.setting() == Settings.WORKERS)) {
            // uWSGI runs one process unless told: apps that keep state in memory count on it.
            out.add(0, new Sources.Occurrence(Settings.WORKERS, "1", file + ": [uwsgi] (uWSGI's default: 1 process)"));
        }
        return out;
    }

    /** module or wsgi-file, with callable (uWSGI's default: application), as one --module. */
    private static void app(Path file, Line module, Line wsgiFile, Line callable, List<Sources.Occurrence> out)
            throws ConfigException {
        if (module != null && wsgiFile != null) {
            throw new ConfigException(where(file, wsgiFile) + ": give module or wsgi-file, not both");
        }
        Line app = module != null ? module : wsgiFile;
        if (app == null) {
            if (callable != null) {
                throw new ConfigException(where(file, callable) + ": callable needs module or wsgi-file");
            }
            return;
        }
        String where = where(file, app);
        String value = text(where, app).strip();
        if (!value.contains(":")) {
            value += ":" + (callable == null ? "application" : text(where(file, callable), callable).strip());
        }
        Sources.occurrence(out, Settings.MODULE, value, where);
    }

    private static void implied(Path file, Line l, Option o, List<String> warnings) throws ConfigException {
        String where = where(file, l);
        switch (l.key()) {
            case "plugin", "plugins" -> {
                for (String p : text(where, l).split("[,\\s]+")) {
                    if (!p.isEmpty() && !p.matches("python[0-9]*")) {
                        throw new ConfigException(where + " " + p + ": the bridge serves Python WSGI apps only");
                    }
                }
            }
            case "hook-master-start" -> {
                if (!text(where, l).strip().replaceAll("\\s+", " ").equals("unix_signal:15 gracefully_kill_them_all")) {
                    throw new ConfigException(where + ": not supported: hooks run commands the bridge would not run");
                }
            }
            default -> {
                if (!on(file, l)) {
                    warnings.add(where + ": ignored (off): " + o.note());
                }
            }
        }
    }

    private static final Pattern MAGIC = Pattern.compile("%\\(([^)]*)\\)|\\$\\(([^)]*)\\)|%(.)");

    /** The value with uWSGI's magic variables replaced. */
    private static String expand(Path file, Line l, Map<String, String> values, Set<String> referenced,
                                 Map<String, String> env) throws ConfigException {
        Path abs = file.toAbsolutePath().normalize();
        String name = abs.getFileName().toString();
        int dot = name.lastIndexOf('.');
        Matcher m = MAGIC.matcher(l.value());
        StringBuilder sb = new StringBuilder();
        while (m.find()) {
            String replacement;
            if (m.group(1) != null) {
                String option = m.group(1).replace('_', '-');
                replacement = values.get(option);
                if (replacement == null) {
                    throw new ConfigException(where(file, l) + ": %(" + m.group(1) + ") is not set above this line");
                }
                referenced.add(option);
            } else if (m.group(2) != null) {
                replacement = env.getOrDefault(m.group(2), "");
            } else {
                Path dir = abs.getParent();
                replacement = switch (m.group(3).charAt(0)) {
                    case 'd' -> dir + "/";
                    case 'p' -> abs.toString();
                    case 's' -> name;
                    case 'n' -> dot > 0 ? name.substring(0, dot) : name;
                    case 'e' -> dot > 0 ? name.substring(dot + 1) : "";
                    case 'c' -> dir.getFileName() == null ? "/" : dir.getFileName().toString();
                    case 'k' -> String.valueOf(Runtime.getRuntime().availableProcessors());
                    case 'h' -> hostname();
                    case '%' -> "%";
                    default -> throw new ConfigException(where(file, l) + ": %" + m.group(3)
                            + " is a magic variable the bridge does not know (it knows %d %p %s %n %e %c %k %h %%)");
                };
            }
            m.appendReplacement(sb, Matcher.quoteReplacement(replacement));
        }
        m.appendTail(sb);
        return sb.toString();
    }

    private static String hostname() {
        try {
            return java.net.InetAddress.getLocalHost().getHostName();
        } catch (java.net.UnknownHostException e) {
            return "localhost";
        }
    }

    private static String where(Path file, Line l) {
        return file + ":" + l.number() + ": " + l.key();
    }

    private static String text(String where, Line l) throws ConfigException {
        if (l.value() == null || l.value().isBlank()) {
            throw new ConfigException(where + ": needs a value");
        }
        return l.value();
    }

    private static boolean on(Path file, Line l) throws ConfigException {
        if (l.value() == null) {
            return true;
        }
        String v = l.value().strip().toLowerCase(Locale.ROOT);
        if (isTrue(v)) {
            return true;
        }
        if (List.of("false", "no", "off", "0").contains(v)) {
            return false;
        }
        throw new ConfigException(where(file, l) + " " + l.value() + ": expected true or false");
    }

    private static boolean isTrue(String v) {
        return List.of("true", "yes", "on", "1").contains(v.strip().toLowerCase(Locale.ROOT));
    }

    // ---- the table ----

    private static void supported(Setting<?>... settings) {
        for (Setting<?> s : settings) {
            OPTIONS.put(s.name(), new Option(s.name(), Kind.SUPPORTED, s, s.flag()));
        }
    }

    private static void mapped(Setting<?> s, String note, String... names) {
        for (String name : names) {
            OPTIONS.put(name, new Option(name, Kind.MAPPED, s, note));
        }
    }

    private static void implied(String name, String why) {
        OPTIONS.put(name, new Option(name, Kind.IMPLIED, null, why));
    }

    private static void ignored(String name, String why) {
        OPTIONS.put(name, new Option(name, Kind.IGNORED, null, why));
    }

    private static void refused(String name, String why) {
        OPTIONS.put(name, new Option(name, Kind.REFUSED, null, why));
    }
}
