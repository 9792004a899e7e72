package dev.bridge.master;

import dev.bridge.config.ConfigException;
import org.slf4j.Logger;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * {@code --logto FILE}: the whole log (the master's and the workers' lines, the apps' output, the access lines)
 * appended to FILE instead of going to stderr. The master makes FILE its descriptors 1 and 2 before it spawns
 * anything, and every worker inherits them. On SIGUSR1 (logrotate's {@code postrotate}, once it renamed FILE)
 * the master opens FILE anew, and tells each worker to do the same ({@link Control#REOPEN}). Reopening is
 * dup2 onto 1 and 2, which swaps a descriptor at once: a line written meanwhile lands whole in the renamed file
 * or in the new one, and none is lost.
 *
 * <p>The master calls it on its main thread, a worker on its event loop (the REOPEN line).
 */
public final class LogFile {

    private final String path;

    private LogFile(String path) {
        this.path = path;
    }

    /**
     * Opens {@code path} (relative to the current directory) as this process's stdout and stderr; null when
     * there is no {@code --logto}.
     *
     * @throws ConfigException when it cannot be opened (one line: the launcher prints it and exits with usage's code)
     */
    static LogFile open(String path) throws ConfigException {
        if (path == null) {
            return null;
        }
        String absolute = Path.of(path).toAbsolutePath().normalize().toString();
        if (absolute.indexOf('\n') >= 0) {
            throw new ConfigException("--logto " + path + ": a file name with a line break is not supported");
        }
        int rc = Posix.reopenStdio(absolute.getBytes(StandardCharsets.UTF_8));
        if (rc < 0) {
            throw new ConfigException("--logto " + path + ": cannot open it for appending ("
                    + Posix.strerror(-rc) + ")");
        }
        return new LogFile(absolute);
    }

    /** Opens the file anew (it was renamed); on failure, logs a warning and the old file stays the log. */
    void reopen(Logger log) {
        int rc = Posix.reopenStdio(path.getBytes(StandardCharsets.UTF_8));
        if (rc < 0) {
            log.warn("--logto: cannot reopen " + path + " (" + Posix.strerror(-rc)
                    + "): logging on to the file it replaced");
        } else {
            log.info("SIGUSR1: reopened the log file " + path);
        }
    }

    /** What tells a worker to reopen the file: {@code REOPEN path}. */
    String command() {
        return Control.REOPEN + " " + path;
    }

    /**
     * In a worker, what the master's {@code REOPEN path} asks: opens that file anew as stdout and stderr, and says
     * so there (each process's first line in the new file); on failure, logs a warning and the old file stays.
     */
    public static void reopen(String line, Logger log) {
        String file = line.substring(Control.REOPEN.length()).trim();
        int rc = Posix.reopenStdio(file.getBytes(StandardCharsets.UTF_8));
        if (rc < 0) {
            log.warn("--logto: cannot reopen " + file + " (" + Posix.strerror(-rc)
                    + "): logging on to the file it replaced");
        } else {
            log.info("reopened the log file " + file + " (the master's REOPEN)");
        }
    }
}
