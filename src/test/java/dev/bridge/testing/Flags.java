package dev.bridge.testing;

import java.util.List;

/** What the server's {@code --help} offers, for tests that adapt to flags added later (e.g. --workers). */
public final class Flags {

    private static volatile String help;

    private Flags() {}

    public static synchronized String help() throws Exception {
        if (help == null) {
            help = Launch.run(List.of("--help"), null, null, 30).output();
        }
        return help;
    }

    /** Whether {@code --help} lists the flag. */
    public static boolean has(String flag) throws Exception {
        return help().contains(flag + " ") || help().contains(flag + "\n") || help().contains(flag + "=");
    }
}
