package dev.bridge;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Where the bridge keeps what it builds once and reuses across runs (the workers' class-data archive, the
 * native module): {@code $XDG_CACHE_HOME/bridge}, by default {@code ~/.cache/bridge}.
 */
public final class CacheDir {

    private CacheDir() {}

    /** The cache directory, created if need be, or null when it cannot be written. */
    public static Path writable() {
        try {
            String home = System.getenv().getOrDefault("XDG_CACHE_HOME", System.getProperty("user.home") + File.separator + ".cache");
            Path dir = Files.createDirectories(Path.of(home, "bridge"));
            return Files.isWritable(dir) ? dir : null;
        } catch (IOException | SecurityException e) {
            return null;
        }
    }
}
