package dev.bridge.testing;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * The environ as the conformance app's {@code /env} route reports it: one line per key,
 * {@code KEY TAB TYPE TAB ascii(value) TAB hex}, where hex is the value's latin-1 bytes for str values
 * ({@code !} if the str is not latin-1, i.e. not a native string), empty otherwise. Lines whose key
 * starts with {@code @} are facts about the objects (e.g. {@code @input.read}).
 */
public final class EnvDump {

    /** One environ entry. {@code type} is Python's type name, {@code repr} its ascii() text. */
    public record Entry(String key, String type, String repr, String hex) {
        /** The exact str value (one char per byte), or null for non-str values. */
        public String value() {
            if (!type.equals("str") || hex.equals("!")) {
                return null;
            }
            return new String(HexFormat.of().parseHex(hex), StandardCharsets.ISO_8859_1);
        }

        public boolean isNativeString() {
            return type.equals("str") && !hex.equals("!");
        }
    }

    private final Map<String, Entry> entries = new LinkedHashMap<>();
    private final String raw;

    public EnvDump(String body) {
        this.raw = body;
        for (String line : body.split("\n")) {
            if (line.isEmpty()) {
                continue;
            }
            String[] f = line.split("\t", -1);
            if (f.length != 4) {
                throw new IllegalArgumentException("bad env line: " + line);
            }
            entries.put(f[0], new Entry(f[0], f[1], f[2], f[3]));
        }
    }

    public boolean has(String key) {
        return entries.containsKey(key);
    }

    public Entry entry(String key) {
        Entry e = entries.get(key);
        if (e == null) {
            throw new AssertionError("environ has no key " + key + "; environ:\n" + raw);
        }
        return e;
    }

    /** The str value of a key (asserting it exists and is a native str). */
    public String str(String key) {
        Entry e = entry(key);
        if (!e.isNativeString()) {
            throw new AssertionError(key + " is not a native str: type " + e.type() + " " + e.repr());
        }
        return e.value();
    }

    public String type(String key) {
        return entry(key).type();
    }

    public String repr(String key) {
        return entry(key).repr();
    }

    public Map<String, Entry> entries() {
        return entries;
    }

    @Override
    public String toString() {
        return raw;
    }
}
