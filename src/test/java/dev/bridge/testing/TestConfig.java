package dev.bridge.testing;

import dev.bridge.config.CommandLine;
import dev.bridge.config.Config;
import dev.bridge.config.ConfigException;

import java.util.ArrayList;
import java.util.List;

/** Configs for unit tests, from command-line flags as a user would give them. */
public final class TestConfig {

    private TestConfig() {}

    /** {@code --module app:application --disable-logging} plus {@code flags} (a later flag wins). */
    public static Config of(String... flags) {
        List<String> args = new ArrayList<>(List.of("--module", "app:application", "--disable-logging"));
        args.addAll(List.of(flags));
        try {
            return ((CommandLine.Run) CommandLine.parse(args)).config();
        } catch (ConfigException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
