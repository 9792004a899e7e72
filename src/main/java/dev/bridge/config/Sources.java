package dev.bridge.config;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Where settings come from besides the command line: an ini file ({@code --ini FILE}, section {@code [bridge]})
 * and the environment ({@code BRIDGE_} and the setting's name in upper case, dashes as underscores). Each source
 * gives occurrences of settings; a setting takes its value from the highest source that gives it (the command
 * line, then the environment, then the file), all of that source's occurrences (a repeatable one keeps them all,
 * in order). The master passes the result to its workers as flags ({@link Config#args()}), so a worker reads
 * the same settings even if the file or the environment changed since.
 */
final class Sources {

    /** One occurrence of a setting: its text (null for a switch given), where it came from, for errors and --print-config. */
    record Occurrence(Setting<?> setting, String text, String where) {}

    /** The ini file's section. */
    static final String SECTION = "bridge";
    /** Environment variables of the bridge's own that are not settings (what the master tells a worker). */
    private static final List<String> INTERNAL = List.of("BRIDGE_WORKER_ID", "BRIDGE_GENERATION", "BRIDGE_LEARNT_NICE",
            "BRIDGE_LISTEN_FDS", "BRIDGE_CONTROL_FD", "BRIDGE_UPGRADE_FROM", "BRIDGE_UPGRADE_FD");

    private Sources() {}

    /** Every setting by the name an ini key or a variable uses (aliases included). */
    static Map<String, Setting<?>> byName() {
        Map<String, Setting<?>> names = new LinkedHashMap<>();
        for (Setting<?> s : Settings.all()) {
            names.put(s.name(), s);
            for (String alias : s.aliases()) {
                names.put(alias, s);
            }
        }
        return names;
    }

    /**
     * The occurrences in an ini file ({@code FILE}, or {@code FILE:SECTION} as uWSGI has it, SECTION then read in
     * place of {@code [uwsgi]}): its {@code [uwsgi]} section read as uWSGI would ({@link UwsgiIni}), then
     * its {@code [bridge]} section (so what it says wins): {@code name = value} lines, {@code #} and {@code ;}
     * comments, a repeated name for a repeatable setting; a switch takes true/false (also yes/no, on/off, 1/0).
     * Other sections are skipped. {@code env} serves uWSGI's {@code $(VARIABLE)}; {@code warnings} gets a line
     * per uWSGI option not honoured.
     */
    static List<Occurrence> ini(String spec, Map<String, String> env, List<String> warnings) throws ConfigException {
        // uWSGI's FILE:SECTION reads another section than [uwsgi] (a file of several environments).
        Path file = Path.of(spec);
        String uwsgiSection = UwsgiIni.SECTION;
        int colon = spec.lastIndexOf(':');
        if (colon > 0 && !Files.exists(file)) {
            file = Path.of(spec.substring(0, colon));
            uwsgiSection = spec.substring(colon + 1);
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new ConfigException("--ini " + file + ": cannot read it (" + e.getMessage() + ")");
        }
        Map<String, Setting<?>> names = byName();
        List<Occurrence> out = new ArrayList<>();
        List<UwsgiIni.Line> uwsgi = new ArrayList<>();
        String section = null;
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            String where = file + ":" + (i + 1);
            if (line.isEmpty() || line.startsWith("#") || line.startsWith(";")) {
                continue;
            }
            if (line.startsWith("[") && line.endsWith("]")) {
                section = line.substring(1, line.length() - 1).strip();
                continue;
            }
            int eq = line.indexOf('=');
            if (uwsgiSection.equals(section)) {
                uwsgi.add(eq < 0 ? new UwsgiIni.Line(i + 1, line, null)
                        : new UwsgiIni.Line(i + 1, line.substring(0, eq).strip(), line.substring(eq + 1).strip()));
                continue;
            }
            if (!SECTION.equals(section)) {
                continue;
            }
            if (eq <= 0) {
                throw new ConfigException(where + ": expected name = value, got: " + line);
            }
            String key = line.substring(0, eq).strip();
            String value = line.substring(eq + 1).strip();
            Setting<?> s = names.get(key.startsWith("--") ? key.substring(2) : key);
            if (s == null) {
                throw new ConfigException(where + ": " + key + " is not a setting (see --help)");
            }
            occurrence(out, s, value, where + ": " + key);
        }
        List<Occurrence> all = new ArrayList<>(UwsgiIni.read(file, uwsgi, env, warnings));
        all.addAll(out);
        return all;
    }

    /**
     * The occurrences in the environment: {@code BRIDGE_NAME}; a repeatable setting takes one value per line.
     * Variables named BRIDGE_ that are no setting are reported, one line each, to {@code warnings}.
     */
    static List<Occurrence> environment(Map<String, String> env, List<String> warnings) throws ConfigException {
        Map<String, Setting<?>> byVariable = new LinkedHashMap<>();
        for (Setting<?> s : Settings.all()) {
            byVariable.put(s.environmentName(), s);
        }
        List<Occurrence> out = new ArrayList<>();
        for (Map.Entry<String, String> e : new java.util.TreeMap<>(env).entrySet()) {
            if (!e.getKey().startsWith("BRIDGE_") || INTERNAL.contains(e.getKey())) {
                continue;
            }
            Setting<?> s = byVariable.get(e.getKey());
            if (s == null) {
                warnings.add(e.getKey() + " is not a setting of the bridge (ignored)");
                continue;
            }
            for (String value : s.isRepeatable() ? e.getValue().split("\n") : new String[] {e.getValue()}) {
                occurrence(out, s, value, e.getKey());
            }
        }
        return out;
    }

    /** One occurrence of {@code s}; a switch's value says whether it is on. */
    static void occurrence(List<Occurrence> out, Setting<?> s, String value, String where) throws ConfigException {
        if (s.takesValue()) {
            out.add(new Occurrence(s, value, where));
            return;
        }
        switch (value.toLowerCase(Locale.ROOT)) {
            case "true", "yes", "on", "1" -> out.add(new Occurrence(s, null, where));
            case "false", "no", "off", "0" -> { } // the default: off
            default -> throw new ConfigException(where + " " + value + ": expected true or false");
        }
    }
}
