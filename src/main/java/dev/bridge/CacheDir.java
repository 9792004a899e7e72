package dev.bridge;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;

/**
 * Where the bridge keeps what it builds once and reuses across runs (the workers' class-data archive, the
 * native module): {@code $XDG_CACHE_HOME/bridge}, by default {@code ~/.cache/bridge}.
 */
public final class CacheDir {

    private CacheDir() {}

    /**
     * The cache directory, created if need be, or null when none can be written. A user whose home is not theirs
     * to write (www-data's /var/www, under --uid) gets a directory of their own in the temp directory instead.
     */
    public static Path writable() {
        String home = System.getenv().getOrDefault("XDG_CACHE_HOME", System.getProperty("user.home") + File.separator + ".cache");
        Path dir = ownDirectory(Path.of(home, "bridge"));
        return dir != null ? dir : ownDirectory(Path.of(System.getProperty("java.io.tmpdir"), "bridge-" + System.getProperty("user.name")));
    }

    /** {@code dir}, created if need be, when this process may write it and, in a shared place, owns it. */
    private static Path ownDirectory(Path dir) {
        try {
            Files.createDirectories(dir);
            if (!Files.isWritable(dir) || Files.isSymbolicLink(dir)
                    || !Files.getOwner(dir, LinkOption.NOFOLLOW_LINKS).getName().equals(System.getProperty("user.name"))) {
                return null;
            }
            return dir;
        } catch (IOException | SecurityException | UnsupportedOperationException e) {
            return null;
        }
    }
}
