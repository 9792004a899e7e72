package dev.bridge.config;

import java.util.List;
import java.util.Locale;

/**
 * One setting, declared once ({@link Settings}): its name (the flag is {@code --NAME}), the placeholder of its
 * value (null for a switch), its default, its help, and how a value is read and checked. The command line (and
 * any other source of settings) applies values through {@link #apply}; {@link Config} reads the results.
 *
 * @param <T> the type of the value {@link Config} reads
 */
public final class Setting<T> {

    /** Reads one occurrence of a setting into the values so far; {@code where} names it in errors ({@code --threads}). */
    @FunctionalInterface
    interface Parser<T> {
        T parse(String where, String text, T current) throws ConfigException;
    }

    private final String name;
    private final String arg;
    private final T initial;
    private final String defaultText;
    private final String help;
    private final Parser<T> parser;
    private final List<String> aliases;
    private final boolean repeatable;

    Setting(String name, String arg, T initial, String defaultText, String help, Parser<T> parser, List<String> aliases) {
        this(name, arg, initial, defaultText, help, parser, aliases, false);
    }

    private Setting(String name, String arg, T initial, String defaultText, String help, Parser<T> parser,
                    List<String> aliases, boolean repeatable) {
        this.name = name;
        this.arg = arg;
        this.initial = initial;
        this.defaultText = defaultText;
        this.help = help;
        this.parser = parser;
        this.aliases = List.copyOf(aliases);
        this.repeatable = repeatable;
    }

    /** The same setting, each occurrence adding a value (a variable then holds one value per line). */
    Setting<T> repeatable() {
        return new Setting<>(name, arg, initial, defaultText, help, parser, aliases, true);
    }

    boolean isRepeatable() {
        return repeatable;
    }

    /** The same setting also answering to {@code --ALIAS}. */
    Setting<T> alias(String alias) {
        return new Setting<>(name, arg, initial, defaultText, help, parser,
                java.util.stream.Stream.concat(aliases.stream(), java.util.stream.Stream.of(alias)).toList(), repeatable);
    }

    public String name() {
        return name;
    }

    public String flag() {
        return "--" + name;
    }

    /** The environment variable that could set it: {@code BRIDGE_} and the name in upper case, dashes as underscores. */
    public String environmentName() {
        return "BRIDGE_" + name.toUpperCase(Locale.ROOT).replace('-', '_');
    }

    List<String> aliases() {
        return aliases;
    }

    /** The placeholder of its value in --help, or null for a switch. */
    String arg() {
        return arg;
    }

    boolean takesValue() {
        return arg != null;
    }

    /** Its value when not given. */
    T initial() {
        return initial;
    }

    /** How --help shows the default. */
    String defaultText() {
        return defaultText;
    }

    String help() {
        return help;
    }

    /** The value after one more occurrence ({@code text} is null for a switch). */
    T parse(String where, String text, T current) throws ConfigException {
        return parser.parse(where, text, current);
    }
}
