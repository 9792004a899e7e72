package dev.bridge.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The real server, started from target/bridge.jar as a subprocess with the project's .venv, listening on a
 * free loopback port (it binds port 0 and logs the port it got). Integration tests talk to it over real
 * sockets. Close it to stop it (SIGTERM, then SIGKILL after a grace period).
 */
public final class BridgeServer implements AutoCloseable {

    private static final Pattern LISTENING = Pattern.compile("listening on http://([^ ]+):(\\d+)");
    private static final Pattern UWSGI_LISTENING = Pattern.compile("listening on uwsgi://([^ ]+):(\\d+)");
    private static final Duration BOOT_TIMEOUT = Duration.ofSeconds(30);

    private final Process process;
    private final List<String> lines = new ArrayList<>();
    private final CountDownLatch ready = new CountDownLatch(1);
    private volatile int port = -1;
    private volatile int uwsgiPort = -1;

    private BridgeServer(Process process) {
        this.process = process;
        Thread reader = new Thread(this::readLog, "bridge-log");
        reader.setDaemon(true);
        reader.start();
    }

    /** The project root (holds target/bridge.jar, .venv, python-samples). */
    public static Path root() {
        return Path.of(System.getProperty("bridge.root", ".")).toAbsolutePath();
    }

    public static Path jar() {
        return Path.of(System.getProperty("bridge.jar", root().resolve("target/bridge.jar").toString()));
    }

    /**
     * The second virtualenv scripts/setup makes, from a CPython 3.13 with a shared libpython, for the tests of
     * {@code --interpreters}. Missing, it fails the test that asks for it (those tests never skip).
     */
    public static Path interpretersVenv() {
        Path venv = root().resolve(".venv-3.13");
        if (!Files.isExecutable(venv.resolve("bin/python"))) {
            throw new IllegalStateException(venv + " is missing: run scripts/setup (it makes it from a CPython 3.13)");
        }
        return venv;
    }

    /**
     * The virtualenv scripts/setup makes from Debian's /usr/bin/python3, which any user can run (pyenv's Pythons
     * live in root's home): for the tests of {@code --uid}. Missing, it fails the test that asks for it.
     */
    public static Path systemVenv() {
        Path venv = root().resolve(".venv-system");
        if (!Files.isExecutable(venv.resolve("bin/python"))) {
            throw new IllegalStateException(venv + " is missing: run scripts/setup (it makes it from /usr/bin/python3)");
        }
        return venv;
    }

    /** Directory of the Python apps used by the tests (src/test/python). */
    public static Path testApps() {
        return root().resolve("src/test/python");
    }

    /** Runs {@code java -jar bridge.jar --venv .venv ARGS} without waiting for anything. */
    public static Process launch(List<String> args) throws IOException {
        return launch(args, java.util.Map.of());
    }

    /** {@link #launch(List)} with these variables added to the environment. */
    public static Process launch(List<String> args, java.util.Map<String, String> env) throws IOException {
        return launch(jar(), args, env);
    }

    /** {@link #launch(List, java.util.Map)} from another copy of the jar. */
    public static Process launch(Path jar, List<String> args, java.util.Map<String, String> env) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar", jar.toString()));
        if (!args.contains("--venv") && !args.contains("--python")) {
            cmd.add("--venv");
            cmd.add(root().resolve(".venv").toString());
        }
        cmd.addAll(args);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().remove("VIRTUAL_ENV");
        pb.environment().putAll(env);
        return pb.start();
    }

    /**
     * Starts the server with the given flags plus {@code --http 127.0.0.1:0} (unless a listener is given)
     * and {@code --workers 1} (unless a count is given), and waits until a worker serves.
     */
    public static BridgeServer start(String... args) throws IOException, InterruptedException {
        return start(java.util.Map.of(), args);
    }

    /** {@link #start(String...)} with these variables added to the server's environment. */
    public static BridgeServer start(java.util.Map<String, String> env, String... args) throws IOException, InterruptedException {
        return start(jar(), env, args);
    }

    /** {@link #start(java.util.Map, String...)} from another copy of the jar. */
    public static BridgeServer start(Path jar, java.util.Map<String, String> env, String... args)
            throws IOException, InterruptedException {
        List<String> all = new ArrayList<>(List.of(args));
        if (!all.contains("--workers")) {
            all.add("--workers");
            all.add("1");
        }
        if (!all.contains("--http")) {
            all.add("--http");
            all.add("127.0.0.1:0");
        }
        if (!all.contains("--chdir") && Files.isDirectory(testApps())) {
            all.add("--chdir");
            all.add(testApps().toString());
        }
        BridgeServer server = new BridgeServer(launch(jar, all, env));
        if (!server.ready.await(BOOT_TIMEOUT.toSeconds(), TimeUnit.SECONDS) || server.port < 0 || !server.process.isAlive()) {
            server.close();
            throw new IllegalStateException("the server did not become ready; its log:\n" + server.log());
        }
        return server;
    }

    /**
     * Starts the server with exactly these flags (and --venv .venv unless a Python is given) and waits until a
     * worker serves; for listeners other than a loopback TCP port, {@link #port()} stays -1.
     */
    public static BridgeServer startAsGiven(java.util.Map<String, String> env, List<String> args)
            throws IOException, InterruptedException {
        BridgeServer server = new BridgeServer(launch(args, env));
        if (!server.ready.await(BOOT_TIMEOUT.toSeconds(), TimeUnit.SECONDS) || !server.process.isAlive()) {
            server.close();
            throw new IllegalStateException("the server did not become ready; its log:\n" + server.log());
        }
        return server;
    }

    private void readLog() {
        try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                synchronized (lines) {
                    lines.add(line);
                    lines.notifyAll();
                }
                Matcher m = LISTENING.matcher(line);
                if (m.find() && port < 0) {
                    port = Integer.parseInt(m.group(2));
                }
                Matcher u = UWSGI_LISTENING.matcher(line);
                if (u.find() && uwsgiPort < 0) {
                    uwsgiPort = Integer.parseInt(u.group(2));
                }
                if (line.contains(" ready: ")) {
                    ready.countDown();
                }
            }
        } catch (IOException ignored) {
            // the process ended
        } finally {
            ready.countDown();
        }
    }

    public int port() {
        return port;
    }

    /** The port of the first TCP --uwsgi-socket listener (from the master's "listening on uwsgi://..."), or -1. */
    public int uwsgiPort() {
        return uwsgiPort;
    }

    public Process process() {
        return process;
    }

    /** Everything the server logged so far. */
    public String log() {
        synchronized (lines) {
            return String.join("\n", lines);
        }
    }

    /** Waits until a log line contains {@code text}; returns whether it appeared in time. */
    public boolean awaitLog(String text, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (lines) {
            while (lines.stream().noneMatch(l -> l.contains(text))) {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                if (left <= 0) {
                    return false;
                }
                lines.wait(left);
            }
            return true;
        }
    }

    /** Sends SIGTERM and waits for the exit code. */
    public int stop(Duration timeout) throws InterruptedException {
        process.destroy();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            process.waitFor();
        }
        return process.exitValue();
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            stop(Duration.ofSeconds(10));
        }
    }

    /** Reads a file of the test apps directory, for tests that compare bodies with files. */
    public static byte[] readTestApp(String name) throws IOException {
        return Files.readAllBytes(testApps().resolve(name));
    }
}
