package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.LocalDateTime;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;

/**
 * Helpers for the master's integration tests: processes and signals, the master's log, one-shot requests,
 * and a small load generator over raw keep-alive sockets that records every request.
 *
 * <p>The app is {@code src/test/python/master_app.py}: {@code /} answers the worker's pid,
 * {@code /sleep?ms=N} sleeps first, {@code /environ} shows wsgi.multiprocess.
 */
public final class MasterTesting {

    static final String APP = "master_app";

    /** {@code worker 1 (pid 123) ready (generation 1)}, logged by the master. */
    static final Pattern READY = Pattern.compile("master\\[\\d+\\] - worker (\\d+) \\(pid (\\d+)\\) ready \\(generation (\\d+)\\)");
    /** The master gave a standby a slot: "worker N (pid P): standby (pid P) becomes worker N". */
    static final Pattern BECAME = Pattern.compile("master\\[\\d+\\] - worker (\\d+) \\(pid (\\d+)\\): standby");
    /** Every mention of a worker by the master: {@code worker 1 (pid 123)}. */
    static final Pattern WORKER_MENTION = Pattern.compile("worker (\\d+) \\(pid (\\d+)\\)");
    /** The tag of a worker's own log lines: {@code worker-1[123]}. */
    static final Pattern WORKER_TAG = Pattern.compile("worker-(\\d+)\\[(\\d+)\\]");
    private static final DateTimeFormatter LOG_TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss.SSS");

    private MasterTesting() {}

    // ---- processes ------------------------------------------------------------------------------------

    /** True if the process exists and is not a zombie (an orphan's zombie may linger if nobody reaps it). */
    static boolean alive(long pid) {
        try {
            String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
            String afterName = stat.substring(stat.lastIndexOf(')') + 2);
            char state = afterName.charAt(0);
            return state != 'Z' && state != 'X';
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    /** The command line of a process, arguments separated by spaces, or "" if it is gone. */
    static String commandLine(long pid) {
        try {
            return new String(Files.readAllBytes(Path.of("/proc/" + pid + "/cmdline")), StandardCharsets.UTF_8).replace('\0', ' ');
        } catch (IOException e) {
            return "";
        }
    }

    /** {@link #workerProcesses(long, String)} of a running server. */
    static Map<Long, Integer> workerProcesses(BridgeServer server) {
        return workerProcesses(server.process().pid(), server.log());
    }

    /**
     * Live worker processes of a master, by pid, with their slot: from {@code -Dbridge.worker=N} in ps, or,
     * for a process started as a standby ({@code -Dbridge.worker=standby}), from the master's log line that
     * made it worker N. A standby not yet given a slot is no worker.
     */
    static Map<Long, Integer> workerProcesses(long masterPid, String log) {
        Map<Long, Integer> out = new LinkedHashMap<>();
        Optional<ProcessHandle> master = ProcessHandle.of(masterPid);
        if (master.isEmpty()) {
            return out;
        }
        Map<Long, Integer> became = standbysGivenASlot(log);
        Pattern slot = Pattern.compile("-Dbridge\\.worker=(\\d+|standby)");
        master.get().children().forEach(child -> {
            Matcher m = slot.matcher(commandLine(child.pid()));
            if (!m.find() || !alive(child.pid())) {
                return;
            }
            Integer n = m.group(1).equals("standby") ? became.get(child.pid()) : Integer.valueOf(m.group(1));
            if (n != null) {
                out.put(child.pid(), n);
            }
        });
        return out;
    }

    /** Live standbys of a master that were not given a slot yet. */
    static Set<Long> idleStandbys(BridgeServer server) {
        Set<Long> out = new HashSet<>();
        Map<Long, Integer> became = standbysGivenASlot(server.log());
        ProcessHandle.of(server.process().pid()).ifPresent(master -> master.children().forEach(child -> {
            if (commandLine(child.pid()).contains("-Dbridge.worker=standby ") && alive(child.pid()) && !became.containsKey(child.pid())) {
                out.add(child.pid());
            }
        }));
        return out;
    }

    /** Processes started as standbys that the master made workers, by pid, with their slot (from the log). */
    private static Map<Long, Integer> standbysGivenASlot(String log) {
        Map<Long, Integer> out = new HashMap<>();
        for (Matcher m : matches(log, BECAME)) {
            out.put(Long.parseLong(m.group(2)), Integer.parseInt(m.group(1)));
        }
        return out;
    }

    /** Sends a signal by name (TERM, KILL, HUP, USR1, TTIN, TTOU, ...) with kill(1). */
    public static void signal(long pid, String name) throws IOException, InterruptedException {
        Process kill = new ProcessBuilder("kill", "-" + name, Long.toString(pid)).redirectErrorStream(true).start();
        if (!kill.waitFor(10, TimeUnit.SECONDS)) {
            kill.destroyForcibly();
            throw new IOException("kill -" + name + " " + pid + " did not finish");
        }
        String out = new String(kill.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (kill.exitValue() != 0) {
            throw new IOException("kill -" + name + " " + pid + " failed: " + out);
        }
        // kill(1) returns before the signal takes effect: a process told to STOP could still accept a
        // connection the test then expects another process to take. Wait until all its threads are stopped.
        if (name.equals("STOP") && !await(Duration.ofSeconds(5), () -> allThreadsStopped(pid))) {
            throw new IOException("kill -STOP " + pid + ": its threads did not stop within 5 s");
        }
    }

    private static boolean allThreadsStopped(long pid) {
        try (var tasks = Files.list(Path.of("/proc", Long.toString(pid), "task"))) {
            return tasks.allMatch(t -> {
                try {
                    String stat = Files.readString(t.resolve("stat"));
                    return stat.substring(stat.lastIndexOf(')') + 2).startsWith("T");
                } catch (IOException e) {
                    return true; // the thread is gone
                }
            });
        } catch (IOException e) {
            return false;
        }
    }

    /** Polls {@code condition} every 50 ms until it holds or the timeout passes; returns its last value. */
    public static boolean await(Duration timeout, BooleanSupplier condition) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (true) {
            if (condition.getAsBoolean()) {
                return true;
            }
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            Thread.sleep(50);
        }
    }

    /** Waits until none of the pids is alive; returns those still alive at the timeout. */
    static Set<Long> awaitGone(Set<Long> pids, Duration timeout) throws InterruptedException {
        await(timeout, () -> pids.stream().noneMatch(MasterTesting::alive));
        return pids.stream().filter(MasterTesting::alive).collect(Collectors.toCollection(LinkedHashSet::new));
    }

    // ---- the log --------------------------------------------------------------------------------------

    static List<String> lines(String log) {
        return log.isEmpty() ? List.of() : List.of(log.split("\n"));
    }

    /** Every match of {@code p} in the log, in order. */
    static List<Matcher> matches(String log, Pattern p) {
        List<Matcher> out = new ArrayList<>();
        for (String line : lines(log)) {
            Matcher m = p.matcher(line);
            if (m.find()) {
                out.add(m);
            }
        }
        return out;
    }

    /** Workers the master reported ready: pid to slot, in the order they became ready. */
    static Map<Long, Integer> readyWorkers(String log) {
        Map<Long, Integer> out = new LinkedHashMap<>();
        for (Matcher m : matches(log, READY)) {
            out.put(Long.parseLong(m.group(2)), Integer.parseInt(m.group(1)));
        }
        return out;
    }

    /** The pid of the worker of {@code slot} the master reported ready in generation {@code generation}, or 0. */
    public static long readyPid(String log, int slot, int generation) {
        for (Matcher m : matches(log, READY)) {
            if (Integer.parseInt(m.group(1)) == slot && Integer.parseInt(m.group(3)) == generation) {
                return Long.parseLong(m.group(2));
            }
        }
        return 0;
    }

    /** The pid of the first worker of {@code slot} reported ready after the first line containing {@code marker}, or 0. */
    static long readyAfter(String log, String marker, int slot) {
        boolean seen = false;
        for (String line : lines(log)) {
            if (!seen) {
                seen = line.contains(marker);
                continue;
            }
            Matcher m = READY.matcher(line);
            if (m.find() && Integer.parseInt(m.group(1)) == slot) {
                return Long.parseLong(m.group(2));
            }
        }
        return 0;
    }

    /** Waits until the master has reported {@code count} workers ready (over the whole log). */
    static Map<Long, Integer> awaitReady(BridgeServer server, int count, Duration timeout) throws InterruptedException {
        if (!await(timeout, () -> readyWorkers(server.log()).size() >= count)) {
            throw new AssertionError("expected " + count + " workers ready within " + timeout + "; the log:\n" + server.log());
        }
        return readyWorkers(server.log());
    }

    /**
     * Starts the server with {@code args}, {@code --workers N} and {@code extra}, and waits until the master
     * has reported those N workers ready.
     */
    static BridgeServer startReady(int workers, Duration timeout, List<String> args, String... extra) throws Exception {
        List<String> all = new ArrayList<>(args);
        all.addAll(List.of("--workers", Integer.toString(workers)));
        all.addAll(List.of(extra));
        BridgeServer server = BridgeServer.start(all.toArray(String[]::new));
        awaitReady(server, workers, timeout);
        return server;
    }

    /** Waits until {@code p} matches at least {@code count} log lines. */
    static boolean awaitLog(BridgeServer server, Pattern p, int count, Duration timeout) throws InterruptedException {
        return await(timeout, () -> matches(server.log(), p).size() >= count);
    }

    /** Every pid that appears as a worker in the log (master's mentions and workers' own tags). */
    static Set<Long> workerPidsInLog(String log) {
        Set<Long> out = new LinkedHashSet<>();
        for (Pattern p : List.of(WORKER_MENTION, WORKER_TAG)) {
            for (String line : lines(log)) {
                Matcher m = p.matcher(line);
                while (m.find()) {
                    out.add(Long.parseLong(m.group(2)));
                }
            }
        }
        return out;
    }

    /** The time stamp a log line starts with, in milliseconds (only differences are meaningful). */
    static long logMillis(String line) {
        LocalDateTime t = LocalDateTime.parse(line.substring(0, 23), LOG_TIME);
        return t.toLocalDate().toEpochDay() * 86_400_000L + t.toLocalTime().toNanoOfDay() / 1_000_000L;
    }

    // ---- requests -------------------------------------------------------------------------------------

    /** One GET on a new connection ({@code Connection: close}), with a bounded read. */
    static RawHttp.Response get(int port, String path, int timeoutMillis) throws IOException {
        try (RawHttp http = new RawHttp(port, timeoutMillis)) {
            return http.exchange("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        }
    }

    /** GET and expect a 200 whose body is a pid; returns it. */
    static long pidOf(int port, String path, int timeoutMillis) throws IOException {
        return Long.parseLong(okText(port, path, timeoutMillis).trim());
    }

    /** The body of GET {@code path}, which must answer 200. */
    static String okText(int port, String path, int timeoutMillis) throws IOException {
        RawHttp.Response r = get(port, path, timeoutMillis);
        if (r.status() != 200) {
            throw new AssertionError("GET " + path + ": " + r.statusLine() + " " + r.text());
        }
        return r.text();
    }

    /** Launches the jar with the given flags (no waiting), and collects its output. */
    static final class Launched implements AutoCloseable {
        final Process process;
        private final List<String> lines = Collections.synchronizedList(new ArrayList<>());
        private final Thread reader;

        Launched(List<String> args) throws IOException {
            process = BridgeServer.launch(args);
            reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException ignored) {
                    // ended
                }
            }, "launched-log");
            reader.setDaemon(true);
            reader.start();
        }

        /** Waits for the exit (killing the process if it takes longer); returns the exit code, or -1 on timeout. */
        int awaitExit(Duration timeout) throws InterruptedException {
            if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
                return -1;
            }
            reader.join(5000);
            return process.exitValue();
        }

        /** The port the master logged it listens on, or -1 if it has not yet. */
        int port() {
            Matcher m = Pattern.compile("listening on http://[^ ]+:(\\d+)").matcher(output());
            return m.find() ? Integer.parseInt(m.group(1)) : -1;
        }

        String output() {
            synchronized (lines) {
                return String.join("\n", lines);
            }
        }

        @Override
        public void close() throws InterruptedException {
            if (process.isAlive()) {
                Set<Long> kids = process.descendants().map(ProcessHandle::pid).collect(Collectors.toSet());
                process.destroyForcibly();
                process.waitFor(10, TimeUnit.SECONDS);
                for (long k : kids) {
                    ProcessHandle.of(k).ifPresent(ProcessHandle::destroyForcibly);
                }
            }
        }
    }

    // ---- load -----------------------------------------------------------------------------------------

    /**
     * What one request of a {@link Load} did.
     *
     * @param connection  the client connection it used (a number unique in the load)
     * @param connOpened  when that connection was opened (System.nanoTime)
     * @param connPid     the worker pid that had answered on that connection before this request, or 0
     * @param start       when the request was sent (System.nanoTime)
     * @param end         when it completed or failed (System.nanoTime)
     * @param status      the HTTP status, or 0 if it failed
     * @param pid         the worker pid that answered, or 0
     * @param error       what went wrong, or null
     */
    record Result(int thread, long connection, long connOpened, long connPid, long start, long end, int status,
                  long pid, String error) {
        boolean ok() {
            return status == 200 && error == null;
        }

        @Override
        public String toString() {
            return "thread " + thread + " connection " + connection + " (to pid " + connPid + ") status " + status
                    + " pid " + pid + " took " + (end - start) / 1_000_000 + " ms" + (error == null ? "" : ": " + error);
        }
    }

    /**
     * N client threads, each sending GET {@code path} in a loop on a keep-alive connection (as wrk or a proxy
     * would), reconnecting when the server closes it or a request fails. Reads time out after
     * {@code readTimeoutMillis}: a hang shows as a failure, never as a stuck test.
     */
    static final class Load implements AutoCloseable {
        private final int port;
        private final String path;
        private final int readTimeoutMillis;
        private final List<Thread> threads = new ArrayList<>();
        private final AtomicBoolean stop = new AtomicBoolean();
        private final List<Result> results = Collections.synchronizedList(new ArrayList<>());
        private final java.util.concurrent.atomic.AtomicLong connections = new java.util.concurrent.atomic.AtomicLong();

        Load(int port, String path, int threadCount, int readTimeoutMillis) {
            this.port = port;
            this.path = path;
            this.readTimeoutMillis = readTimeoutMillis;
            for (int i = 0; i < threadCount; i++) {
                int n = i;
                Thread t = new Thread(() -> run(n), "load-" + i);
                t.setDaemon(true);
                threads.add(t);
            }
            threads.forEach(Thread::start);
        }

        private void run(int thread) {
            RawHttp http = null;
            long conn = 0;
            long opened = 0;
            long connPid = 0;
            while (!stop.get()) {
                long start = System.nanoTime();
                try {
                    if (http == null) {
                        conn = connections.incrementAndGet();
                        opened = System.nanoTime();
                        connPid = 0;
                        http = new RawHttp(port, readTimeoutMillis);
                    }
                    start = System.nanoTime();
                    RawHttp.Response r = http.exchange("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
                    long pid = 0;
                    String error = null;
                    try {
                        pid = Long.parseLong(r.text().trim());
                    } catch (NumberFormatException e) {
                        error = "body is not a pid: " + r.text();
                    }
                    results.add(new Result(thread, conn, opened, connPid, start, System.nanoTime(), r.status(), pid, error));
                    connPid = pid;
                    if ("close".equalsIgnoreCase(r.header("connection")) || r.status() != 200) {
                        http.close();
                        http = null;
                    }
                } catch (IOException e) {
                    results.add(new Result(thread, conn, opened, connPid, start, System.nanoTime(), 0, 0,
                            e.getClass().getSimpleName() + ": " + e.getMessage()));
                    if (http != null) {
                        try {
                            http.close();
                        } catch (IOException ignored) {
                            // closing a broken socket
                        }
                    }
                    http = null;
                    try {
                        Thread.sleep(5); // no tight loop while nothing accepts
                    } catch (InterruptedException ie) {
                        return;
                    }
                }
            }
            if (http != null) {
                try {
                    http.close();
                } catch (IOException ignored) {
                    // done
                }
            }
        }

        List<Result> results() {
            synchronized (results) {
                return new ArrayList<>(results);
            }
        }

        List<Result> failures() {
            return results().stream().filter(r -> !r.ok()).toList();
        }

        /** Pids that answered, in the order they first did. */
        Set<Long> pids() {
            return results().stream().filter(Result::ok).map(Result::pid).collect(Collectors.toCollection(LinkedHashSet::new));
        }

        /** Stops the threads (each finishes its request, bounded by the read timeout); true if all ended. */
        boolean stop() throws InterruptedException {
            stop.set(true);
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(readTimeoutMillis + 5000L);
            for (Thread t : threads) {
                t.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime())));
            }
            return threads.stream().noneMatch(Thread::isAlive);
        }

        @Override
        public void close() throws InterruptedException {
            stop();
        }
    }

    /** A short description of failures for assertion messages (the first few, and the count). */
    static String describe(List<Result> failures) {
        return failures.size() + " failure(s)" + (failures.isEmpty() ? "" : ": "
                + failures.stream().limit(10).map(Result::toString).collect(Collectors.joining("; ")));
    }
}
