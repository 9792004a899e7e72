package dev.bridge.config;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Parses the command line into a {@link Config}. Every flag is a setting declared once in {@link Settings},
 * which also produces {@code --help}; a bad flag or value is a {@link ConfigException} with one readable line.
 *
 * <p>Flags take their value as the next argument or after {@code =} ({@code --threads 4}, {@code --threads=4}).
 */
public final class CommandLine {

    /** What the parse produced: a config to run, or text to print before exiting (--help, --print-config). */
    public sealed interface Result permits Run, Help {}

    public record Run(Config config) implements Result {}

    public record Help(String text) implements Result {}

    private CommandLine() {}

    /** Each setting by its flag, aliases included. */
    private static final Map<String, Setting<?>> BY_FLAG = new LinkedHashMap<>();

    static {
        for (Setting<?> s : Settings.all()) {
            BY_FLAG.put(s.flag(), s);
            for (String alias : s.aliases()) {
                BY_FLAG.put("--" + alias, s);
            }
        }
    }

    /** Parses the command line alone (a worker's: the master passes it every setting as a flag). */
    public static Result parse(List<String> args) throws ConfigException {
        return load(args, Map.of(), new ArrayList<>());
    }

    /**
     * Reads the settings from the command line, the environment ({@code BRIDGE_NAME}) and the ini file
     * ({@code --ini}, or {@code BRIDGE_INI}), in that order of precedence; {@code warnings} gets a line per
     * BRIDGE_ variable that is no setting. {@code --print-config} returns the effective settings and their sources
     * as text to print.
     */
    public static Result load(List<String> args, Map<String, String> env, List<String> warnings) throws ConfigException {
        List<Sources.Occurrence> flags = new ArrayList<>();
        boolean print = false;
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
            if (name.equals(PRINT_CONFIG)) {
                print = true;
                continue;
            }
            Setting<?> setting = BY_FLAG.get(name);
            if (setting == null) {
                throw new ConfigException("unknown " + (arg.startsWith("-") ? "flag " : "argument ") + arg + " (see --help)");
            }
            if (setting.takesValue() && value == null) {
                if (i + 1 >= args.size()) {
                    throw new ConfigException(name + " needs a value: " + name + " " + setting.arg());
                }
                value = args.get(++i);
            } else if (!setting.takesValue() && value != null) {
                throw new ConfigException(name + " takes no value");
            }
            flags.add(new Sources.Occurrence(setting, value, name));
        }
        List<Sources.Occurrence> environment = Sources.environment(env, warnings);
        String ini = last(flags, Settings.INI);
        ini = ini != null ? ini : last(environment, Settings.INI);
        List<Sources.Occurrence> file = ini == null ? List.of() : Sources.ini(ini, env, warnings);
        // Per setting, the occurrences of the highest source that has it.
        Map<Setting<?>, List<Sources.Occurrence>> effective = new LinkedHashMap<>();
        for (List<Sources.Occurrence> source : List.of(file, environment, flags)) {
            Map<Setting<?>, List<Sources.Occurrence>> here = new LinkedHashMap<>();
            for (Sources.Occurrence o : source) {
                if (!o.setting().isRepeatable()) {
                    here.remove(o.setting()); // the last one in a source wins
                }
                here.computeIfAbsent(o.setting(), k -> new ArrayList<>()).add(o);
            }
            effective.putAll(here);
        }
        Map<Setting<?>, Object> given = new IdentityHashMap<>();
        List<String> workerArgs = new ArrayList<>();
        Map<Setting<?>, String> origins = new IdentityHashMap<>();
        for (Setting<?> setting : Settings.all()) {
            List<Sources.Occurrence> occurrences = effective.get(setting);
            if (occurrences == null) {
                continue;
            }
            for (Sources.Occurrence o : occurrences) {
                apply(given, setting, o.where(), o.text());
                if (setting == Settings.INI) {
                    continue; // a worker gets what the file said as flags: it must not read the file again
                }
                workerArgs.add(setting.flag());
                if (o.text() != null) {
                    workerArgs.add(o.text());
                }
            }
            origins.put(setting, String.join(", ", occurrences.stream().map(Sources.Occurrence::where).distinct().toList()));
        }
        Config config = build(given, workerArgs);
        return print ? new Help(printConfig(config, origins)) : new Run(config);
    }

    /** One occurrence of a setting, {@code where} naming it in errors. */
    private static <T> void apply(Map<Setting<?>, Object> given, Setting<T> setting, String where, String value)
            throws ConfigException {
        @SuppressWarnings("unchecked")
        T current = given.containsKey(setting) ? (T) given.get(setting) : setting.initial();
        given.put(setting, setting.parse(where, value, current));
    }

    /** {@code --print-config}: prints the effective settings and where each came from, then exits. */
    static final String PRINT_CONFIG = "--print-config";

    private static String last(List<Sources.Occurrence> occurrences, Setting<?> setting) {
        String value = null;
        for (Sources.Occurrence o : occurrences) {
            if (o.setting() == setting) {
                value = o.text();
            }
        }
        return value;
    }

    /** Each setting's effective value and its source: the flag, BRIDGE_NAME, FILE:LINE, or "default". */
    private static String printConfig(Config config, Map<Setting<?>, String> origins) {
        StringBuilder sb = new StringBuilder();
        for (Setting<?> s : Settings.all()) {
            Object v = config.get(s);
            String value = v == null ? "(" + s.defaultText() + ")" : s == Settings.CHMOD_SOCKET
                    ? ((Integer) v < 0 ? "(" + s.defaultText() + ")" : Integer.toOctalString((Integer) v)) : v instanceof List<?> l
                    ? String.join(" ", l.stream().map(String::valueOf).toList()) : String.valueOf(v);
            sb.append(String.format("%-22s %-40s %s%n", s.name(), value, origins.getOrDefault(s, "default")));
        }
        return sb.toString();
    }

    /** The defaults that depend on what was given, and the rules that tie settings together. */
    private static Config build(Map<Setting<?>, Object> given, List<String> workerArgs) throws ConfigException {
        Config c = new Config(given, workerArgs);
        if (c.module() == null || c.module().isBlank()) {
            throw new ConfigException("--module is required, e.g. --module myapp:application (see --help)");
        }
        if (c.listeners().isEmpty()) {
            given.put(Settings.HTTP, List.of(ListenAddress.parse(ListenAddress.Protocol.HTTP, "--http", Config.DEFAULT_HTTP)));
        }
        if (c.trustedProxies().isEmpty()) {
            given.put(Settings.TRUSTED_PROXY, cidrs(Settings.TRUSTED_PROXY, Config.DEFAULT_TRUSTED_PROXIES));
        }
        if (c.uwsgiAllowFrom().isEmpty()) {
            given.put(Settings.UWSGI_ALLOW_FROM, cidrs(Settings.UWSGI_ALLOW_FROM, Config.DEFAULT_UWSGI_ALLOW_FROM));
        }
        if (c.chdir() != null && !java.nio.file.Files.isDirectory(java.nio.file.Path.of(c.chdir()))) {
            throw new ConfigException("--chdir " + c.chdir() + ": no such directory");
        }
        if (c.interpreters() > 1 && c.threads() > 1) {
            throw new ConfigException("--threads " + c.threads() + " and --interpreters " + c.interpreters()
                    + " cannot be combined: each isolated interpreter runs on one thread of its own");
        }
        if (c.python() != null && c.venv() != null) {
            throw new ConfigException("give --python or --venv, not both");
        }
        checkStats(c.observability());
        return new Config(given, workerArgs);
    }

    private static List<Cidr> cidrs(Setting<?> setting, List<String> blocks) throws ConfigException {
        List<Cidr> out = new ArrayList<>();
        for (String cidr : blocks) {
            out.add(Cidr.parse(setting.flag(), cidr));
        }
        return List.copyOf(out);
    }

    private static void checkStats(Observability o) throws ConfigException {
        if (o.stats() == null && (o.statsHttp() || o.statsPublic())) {
            throw new ConfigException((o.statsHttp() ? "--stats-http" : "--stats-public") + " needs --stats ADDRESS");
        }
        if (o.stats() != null && !o.stats().isUnix() && !o.statsPublic()) {
            java.net.InetSocketAddress a = o.stats().socketAddress();
            if (a.isUnresolved() || !a.getAddress().isLoopbackAddress()) {
                throw new ConfigException("--stats " + o.stats().host() + ":" + o.stats().port() + " can be reached from "
                        + "other hosts: use a loopback address (127.0.0.1:PORT) or a unix socket, or add --stats-public");
            }
        }
    }

    /** The text of {@code --help}: every flag, its value and its default. */
    public static String help() {
        StringBuilder sb = new StringBuilder();
        sb.append("usage: java -jar bridge.jar --module MOD[:APP] [--http HOST:PORT] [flags]\n\n");
        sb.append("Serves a Python WSGI app (PEP 3333) with CPython embedded through Jep.\n\nflags:\n");
        for (Setting<?> s : Settings.all()) {
            line(sb, s.flag(), s.arg(), s.help(), s.defaultText());
            for (String alias : s.aliases()) {
                line(sb, "--" + alias, s.arg(), "alias of " + s.flag() + " (uWSGI's name)", "as " + s.flag());
            }
        }
        line(sb, PRINT_CONFIG, null, "show every setting's effective value and where it came from, and exit", "off");
        line(sb, "--help", null, "show this help and exit", null);
        return sb.toString();
    }

    private static void line(StringBuilder sb, String flag, String arg, String help, String defaultText) {
        String left = "  " + flag + (arg != null ? " " + arg : "");
        sb.append(String.format("%-32s %s%n", left, help));
        if (defaultText != null) {
            sb.append(String.format("%-32s (default: %s)%n", "", defaultText));
        }
    }
}
