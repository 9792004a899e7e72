package dev.bridge.master;

import dev.bridge.ExitCode;
import dev.bridge.config.ConfigException;
import dev.bridge.config.Settings;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * {@code java -jar bridge.jar reload --pidfile FILE [--timeout S]}: asks the master for a reload (SIGHUP)
 * and waits for that reload's outcome, so a deploy script can tell success from failure by the exit
 * status: 0 when the new generation serves, 1 when it failed to boot (the old one goes on serving) or no
 * outcome came in time, 2 for bad usage. Runs on the main thread of its own short-lived JVM.
 */
public final class ReloadCommand {

    /** How long to wait for the outcome when --timeout is not given, in seconds. */
    static final int DEFAULT_TIMEOUT = 120;
    /** The longest --timeout, in seconds: a day. */
    static final int MAX_TIMEOUT = 86_400;
    private static final int SIGHUP = 1;
    /** The master computes a reload's start from a monotonic clock: it may read up to a millisecond early. */
    private static final long CLOCK_SLACK_MILLIS = 5;

    private ReloadCommand() {}

    public static int run(List<String> args) {
        String pidfile = null;
        int timeout = DEFAULT_TIMEOUT;
        for (int i = 0; i + 1 < args.size(); i += 2) {
            switch (args.get(i)) {
                case "--pidfile" -> pidfile = args.get(i + 1);
                case "--timeout" -> {
                    try {
                        timeout = (int) Settings.longIn("--timeout", args.get(i + 1), 1, MAX_TIMEOUT);
                    } catch (ConfigException e) {
                        System.err.println("bridge reload: " + e.getMessage());
                        return ExitCode.USAGE;
                    }
                }
                default -> {
                    System.err.println("bridge reload: unknown flag " + args.get(i));
                    return ExitCode.USAGE;
                }
            }
        }
        if (pidfile == null || args.size() % 2 != 0) {
            System.err.println("usage: java -jar bridge.jar reload --pidfile FILE [--timeout S]");
            return ExitCode.USAGE;
        }
        long pid;
        try {
            pid = Long.parseLong(Files.readString(Path.of(pidfile)).trim());
        } catch (IOException | NumberFormatException e) {
            System.err.println("bridge reload: cannot read the master's pid from " + pidfile + ": " + e.getMessage());
            return ExitCode.USAGE;
        }
        Path status = Path.of(pidfile + ".reload");
        String[] before = read(status);
        long lastGeneration = before == null ? 0 : Long.parseLong(before[0]);
        long asked = System.currentTimeMillis();
        if (Posix.kill(pid, SIGHUP) != 0) {
            System.err.println("bridge reload: no master with pid " + pid + " (from " + pidfile + ")");
            return 1;
        }
        long deadline = asked + timeout * 1000L;
        while (System.currentTimeMillis() < deadline) {
            String[] s = read(status);
            // Ours is a newer generation than the status showed, started after we asked: a reload that was
            // running (or had just ended) when we asked is not ours, even if it ended a moment later.
            if (s != null && Long.parseLong(s[0]) > lastGeneration && Long.parseLong(s[2]) >= asked - CLOCK_SLACK_MILLIS
                    && !s[1].equals("running")) {
                System.out.println("reload " + s[1] + ": " + s[3]);
                return s[1].equals("ok") ? ExitCode.OK : 1;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                return 1;
            }
        }
        System.err.println("bridge reload: no outcome within " + timeout + " s (see the server's log)");
        return 1;
    }

    private static String[] read(Path status) {
        try {
            String[] s = Files.readString(status).trim().split(" ", 4);
            return s.length == 4 ? s : null;
        } catch (IOException e) {
            return null;
        }
    }
}
