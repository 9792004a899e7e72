package dev.bridge.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Runs {@code java -jar bridge.jar} exactly as given (no flags added, environment under the test's control),
 * for tests of start-up: app loading, Python discovery, bad usage. Every wait is bounded.
 */
public final class Launch {

    private static final Pattern LISTENING = Pattern.compile("listening on http://([^ ]+):(\\d+)");

    /** What a finished (or stopped) run printed, and its exit code (-1 if it had to be killed). */
    public record Result(int exitCode, String output, boolean ready, int port) {
        public List<String> lines() {
            List<String> out = new ArrayList<>();
            for (String l : output.split("\n")) {
                if (!l.isBlank()) {
                    out.add(l);
                }
            }
            return out;
        }
    }

    private Launch() {}

    /** The java of this JVM. */
    public static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    /**
     * Starts the server with exactly {@code args}, in directory {@code dir}, with the environment changed by
     * {@code env} (null values remove a variable). VIRTUAL_ENV is removed unless {@code env} sets it.
     */
    public static Process start(List<String> args, Path dir, Consumer<Map<String, String>> env) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(java(), "-jar", BridgeServer.jar().toString()));
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        if (dir != null) {
            pb.directory(dir.toFile());
        }
        pb.environment().remove("VIRTUAL_ENV");
        if (env != null) {
            env.accept(pb.environment());
        }
        return pb.start();
    }

    /** Runs until the process exits (at most {@code timeoutSeconds}, then it is killed and the exit code is -1). */
    public static Result run(List<String> args, Path dir, Consumer<Map<String, String>> env, int timeoutSeconds)
            throws IOException, InterruptedException {
        Process p = start(args, dir, env);
        p.getOutputStream().close();
        StringBuilder out = new StringBuilder();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (out) {
                        out.append(line).append('\n');
                    }
                }
            } catch (IOException ignored) {
                // ended
            }
        });
        reader.setDaemon(true);
        reader.start();
        boolean exited = p.waitFor(timeoutSeconds, TimeUnit.SECONDS);
        if (!exited) {
            p.destroyForcibly();
            p.waitFor(10, TimeUnit.SECONDS);
        }
        reader.join(5000);
        synchronized (out) {
            return new Result(exited ? p.exitValue() : -1, out.toString(), false, -1);
        }
    }

    /**
     * Starts the server, waits (at most {@code timeoutSeconds}) until it is ready or exits, lets {@code whileUp}
     * talk to it (given the port) if it became ready, then stops it with SIGTERM. The result's exit code is the
     * one it exited with by itself, or -1 if it was still running (and so was stopped).
     */
    public static Result serve(List<String> args, Path dir, Consumer<Map<String, String>> env, int timeoutSeconds,
                               PortUser whileUp) throws Exception {
        Process p = start(args, dir, env);
        p.getOutputStream().close();
        StringBuilder out = new StringBuilder();
        int[] port = {-1};
        boolean[] ready = {false};
        Object signal = new Object();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    synchronized (signal) {
                        out.append(line).append('\n');
                        Matcher m = LISTENING.matcher(line);
                        if (m.find() && port[0] < 0) {
                            port[0] = Integer.parseInt(m.group(2));
                        }
                        if (line.contains(" ready: ")) {
                            ready[0] = true;
                        }
                        signal.notifyAll();
                    }
                }
            } catch (IOException ignored) {
                // ended
            } finally {
                synchronized (signal) {
                    signal.notifyAll();
                }
            }
        });
        reader.setDaemon(true);
        reader.start();
        long deadline = System.currentTimeMillis() + timeoutSeconds * 1000L;
        synchronized (signal) {
            while (!ready[0] && reader.isAlive() && System.currentTimeMillis() < deadline) {
                signal.wait(Math.max(1, deadline - System.currentTimeMillis()));
            }
        }
        boolean wasReady;
        int portSeen;
        synchronized (signal) {
            wasReady = ready[0];
            portSeen = port[0];
        }
        int exit = -1;
        try {
            if (wasReady && portSeen > 0 && whileUp != null) {
                whileUp.use(portSeen);
            }
        } finally {
            if (p.isAlive()) {
                p.destroy();
                if (!p.waitFor(10, TimeUnit.SECONDS)) {
                    p.destroyForcibly();
                    p.waitFor(10, TimeUnit.SECONDS);
                }
            } else {
                exit = p.exitValue();
            }
            reader.join(5000);
        }
        synchronized (signal) {
            return new Result(exit, out.toString(), wasReady, portSeen);
        }
    }

    @FunctionalInterface
    public interface PortUser {
        void use(int port) throws Exception;
    }
}
