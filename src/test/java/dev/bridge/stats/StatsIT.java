package dev.bridge.stats;

import dev.bridge.master.MasterTesting;
import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import dev.bridge.uwsgi.Packets;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The stats server with its real consumers: uwsgitop (PyPI; a curses program, read from a tmux pane) and
 * Telegraf's uwsgi input (a Go module) pointed at it while load runs, then compared with what the test sent
 * and with /proc; promtool on /metrics; /health/ready through a reload and a stop. The tools are installed by
 * scripts/setup (.tools, Debian's prometheus and tmux).
 */
class StatsIT {

    private static final String APP = "stats_app";
    private static final Pattern TELEGRAF_WORKER = Pattern.compile(
            "uwsgi_workers,source=\\S+,worker_id=(\\d+) (\\S+)");

    /** Requests per worker pid, as the app's answers said, and the body bytes they carried. */
    private final Map<Long, AtomicLong> served = new ConcurrentHashMap<>();
    private final AtomicLong bodyBytes = new AtomicLong();

    @Test
    void uwsgitopAndTelegrafShowRequestsStatusAndMemoryPerWorker() throws Exception {
        int statsPort = freePort();
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "2", "--disable-logging",
                "--uwsgi-socket", "127.0.0.1:0", "--stats", "127.0.0.1:" + statsPort)) {
            awaitWorkers(server, 2);
            AtomicBoolean stop = new AtomicBoolean();
            List<Thread> load = new ArrayList<>();
            for (int i = 0; i < 3; i++) {
                Thread t = new Thread(() -> {
                    while (!stop.get()) {
                        httpGet(server.port(), "/");
                    }
                });
                t.start();
                load.add(t);
            }
            // While the load runs: both tools read the server and see its two workers.
            String top = uwsgitopScreen("127.0.0.1:" + statsPort);
            String telegraf = telegraf("tcp://127.0.0.1:" + statsPort);
            stop.set(true);
            for (Thread t : load) {
                t.join();
            }
            assertTrue(top.contains("uwsgi-") && top.contains(" - req: "), "uwsgitop's header:\n" + top);
            for (long pid : served.keySet()) {
                assertTrue(top.contains(" " + pid + " "), "uwsgitop under load shows worker " + pid + ":\n" + top);
                assertTrue(telegraf.contains("pid=" + pid + "i"), "Telegraf under load reads worker " + pid + ":\n" + telegraf);
            }

            // Then a known mix: exceptions, and uwsgi requests served by the C loop.
            for (int i = 0; i < 3; i++) {
                assertEquals(500, httpStatus(server.port(), "/boom"));
            }
            for (int i = 0; i < 5; i++) {
                uwsgiGet(server.uwsgiPort(), "/");
            }
            long total = served.values().stream().mapToLong(AtomicLong::get).sum() + 3;

            String json = rawStats(statsPort);
            for (Map.Entry<Long, AtomicLong> e : served.entrySet()) {
                assertTrue(json.contains("\"pid\":" + e.getKey() + ",\"accepting\":1,\"requests\":"
                        + requestsOf(json, e.getKey())), json);
            }
            long exceptions = 0;
            for (long pid : served.keySet()) {
                exceptions += number(json, "\"pid\":" + pid + ",.*?\"exceptions\":(\\d+)");
            }
            assertEquals(3, exceptions, "the app's exceptions, summed over the workers: " + json);

            top = uwsgitopScreen("127.0.0.1:" + statsPort);
            assertTrue(top.contains(" - req: " + total + " - "), "uwsgitop's total is what was sent (" + total + "):\n" + top);
            telegraf = telegraf("tcp://127.0.0.1:" + statsPort);
            Map<Long, String> rows = new java.util.HashMap<>();
            for (String line : top.split("\n")) {
                String[] cols = line.trim().split("\\s+");
                if (cols.length > 10 && cols[0].matches("\\d+") && cols[2].matches("\\d+")) {
                    rows.put(Long.parseLong(cols[2]), line);
                }
            }
            for (long pid : served.keySet()) {
                long expected = served.get(pid).get() + (json.contains("\"pid\":" + pid) ? errorsOf(json, pid) : 0);
                // uwsgitop: WID % PID REQ RPS EXC SIG STATUS AVG RSS VSZ TX ...
                String[] cols = rows.get(pid).trim().split("\\s+");
                assertEquals(expected, Long.parseLong(cols[3]), "uwsgitop's REQ for " + pid + ":\n" + top);
                assertEquals("idle", cols[7], "uwsgitop's STATUS for " + pid + ":\n" + top);
                assertClose(rssOf(pid), megabytes(cols[9]), "uwsgitop's RSS for " + pid + ": " + cols[9]);
                // Telegraf: one uwsgi_workers line per worker
                String fields = telegrafFields(telegraf, pid);
                assertTrue(fields.contains("requests=" + expected + "i"), "Telegraf's requests for " + pid + ": " + fields);
                assertTrue(fields.contains("status=\"idle\""), "Telegraf's status for " + pid + ": " + fields);
                assertClose(rssOf(pid), number(fields, "rss=(\\d+)i"), "Telegraf's rss for " + pid);
            }
        }
    }

    @Test
    void metricsPassPromtoolCountThroughAReloadAndReadinessTurnsWithinATenthOfASecondOfSigterm() throws Exception {
        Path dir = Files.createTempDirectory("bridge-stats-it");
        Path stats = dir.resolve("stats.sock");
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "2", "--disable-logging",
                "--uwsgi-socket", "127.0.0.1:0", "--stats", stats.toString(), "--stats-http")) {
            awaitWorkers(server, 2);
            assertTrue(MasterTesting.await(Duration.ofSeconds(10), () -> unixGet(stats, "/health/ready").startsWith("HTTP/1.1 200")),
                    "ready once both workers serve");
            for (int i = 0; i < 40; i++) {
                httpGet(server.port(), "/");
            }
            for (int i = 0; i < 2; i++) {
                assertEquals(500, httpStatus(server.port(), "/boom"));
            }
            for (int i = 0; i < 7; i++) {
                uwsgiGet(server.uwsgiPort(), "/");
            }
            String metrics = body(unixGet(stats, "/metrics"));
            promtool(metrics);
            assertEquals(40, sample(metrics, "bridge_requests_total{protocol=\"http\",status=\"2xx\"}"), metrics);
            assertEquals(2, sample(metrics, "bridge_requests_total{protocol=\"http\",status=\"5xx\"}"), metrics);
            assertEquals(7, sample(metrics, "bridge_requests_total{protocol=\"uwsgi\",status=\"2xx\"}"), metrics);
            assertEquals(42, sample(metrics, "bridge_request_duration_seconds_count{protocol=\"http\"}"), metrics);
            assertEquals(7, sample(metrics, "bridge_request_duration_seconds_bucket{protocol=\"uwsgi\",le=\"+Inf\"}"), metrics);
            assertEquals(2, sample(metrics, "bridge_app_exceptions_total"), metrics);
            assertEquals(bodyBytes.get(), sample(metrics, "bridge_response_body_bytes_total{protocol=\"http\"}")
                    - 2 * "Internal Server Error\n".length(), metrics);
            for (long pid : served.keySet()) {
                assertTrue(metrics.contains("bridge_worker_rss_bytes{worker=\"") && metrics.contains(",pid=\"" + pid + "\"} "),
                        "RSS of worker " + pid + ":\n" + metrics);
            }

            // A reload: ready all along (the old generation serves until the new one does); nothing counted is lost
            // when the old workers exit.
            AtomicBoolean polling = new AtomicBoolean(true);
            List<String> notReady = new ArrayList<>();
            Thread poll = new Thread(() -> {
                while (polling.get()) {
                    String r = unixGet(stats, "/health/ready");
                    if (!r.startsWith("HTTP/1.1 200")) {
                        notReady.add(r);
                    }
                }
            });
            poll.start();
            MasterTesting.signal(server.process().pid(), "HUP");
            assertTrue(server.awaitLog("reload done", Duration.ofSeconds(60)), server.log());
            assertTrue(MasterTesting.await(Duration.ofSeconds(15), () -> server.log().split("retired|exited").length > 2));
            Thread.sleep(1500); // the old workers' last stats lines
            polling.set(false);
            poll.join();
            assertEquals(List.of(), notReady, "/health/ready during a reload");
            metrics = body(unixGet(stats, "/metrics"));
            promtool(metrics);
            assertEquals(1, sample(metrics, "bridge_reloads_total{outcome=\"ok\"}"), metrics);
            assertEquals(1, sample(metrics, "bridge_reload_duration_seconds_count"), metrics);
            assertEquals(2, sample(metrics, "bridge_generation"), metrics);
            assertEquals(40, sample(metrics, "bridge_requests_total{protocol=\"http\",status=\"2xx\"}"),
                    "the old generation's requests stay counted: " + metrics);
            assertEquals(7, sample(metrics, "bridge_requests_total{protocol=\"uwsgi\",status=\"2xx\"}"), metrics);

            // A stop with a request in flight: 503 within 100 ms of SIGTERM, alive while the drain goes on.
            Thread slow = new Thread(() -> assertEquals(200, httpStatus(server.port(), "/sleep?ms=2000")));
            slow.start();
            Thread.sleep(300);
            long sent = System.nanoTime();
            MasterTesting.signal(server.process().pid(), "TERM");
            long turned = -1;
            while (System.nanoTime() - sent < TimeUnit.SECONDS.toNanos(2)) {
                if (unixGet(stats, "/health/ready").startsWith("HTTP/1.1 503")) {
                    turned = System.nanoTime();
                    break;
                }
            }
            assertTrue(turned > 0, "/health/ready turned 503 after SIGTERM");
            long millis = TimeUnit.NANOSECONDS.toMillis(turned - sent);
            assertTrue(millis < 100, "/health/ready turned 503 " + millis + " ms after SIGTERM");
            assertTrue(unixGet(stats, "/health/live").startsWith("HTTP/1.1 200"), "the master answers while it drains");
            slow.join();
            assertEquals(0, server.process().waitFor(20, TimeUnit.SECONDS) ? server.process().exitValue() : -1);
        }
    }

    @Test
    void eachIsolatedInterpreterIsACore() throws Exception {
        int statsPort = freePort();
        try (BridgeServer server = BridgeServer.start("--venv", BridgeServer.interpretersVenv().toString(),
                "--module", APP, "--interpreters", "2", "--disable-logging", "--stats", "127.0.0.1:" + statsPort)) {
            // Two clients at once, each request sleeping, so both interpreters serve.
            List<Thread> clients = new ArrayList<>();
            for (int c = 0; c < 2; c++) {
                Thread t = new Thread(() -> {
                    for (int i = 0; i < 10; i++) {
                        assertEquals(200, httpStatus(server.port(), "/sleep?ms=20"));
                    }
                });
                t.start();
                clients.add(t);
            }
            for (Thread t : clients) {
                t.join();
            }
            String json = rawStats(statsPort);
            Matcher cores = Pattern.compile("\\{\"id\":(\\d+),\"requests\":(\\d+),").matcher(
                    json.substring(json.indexOf("\"cores\":")));
            long sum = 0;
            int n = 0;
            while (cores.find()) {
                assertTrue(Long.parseLong(cores.group(2)) > 0, "interpreter " + cores.group(1) + " served: " + json);
                sum += Long.parseLong(cores.group(2));
                n++;
            }
            assertEquals(2, n, "one core per interpreter: " + json);
            assertEquals(20, sum, json);
            assertTrue(json.contains("\"interpreters_per_worker\":2"), json);
        }
    }

    @Test
    void aStatsAddressInUseIsOneLineAndExitStatus3() throws Exception {
        try (ServerSocket taken = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            Process p = BridgeServer.launch(List.of("--module", APP, "--chdir", BridgeServer.testApps().toString(),
                    "--http", "127.0.0.1:0", "--stats", "127.0.0.1:" + taken.getLocalPort()));
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(30, TimeUnit.SECONDS));
            assertEquals(3, p.exitValue(), out);
            assertTrue(out.contains("cannot start: cannot listen on --stats 127.0.0.1:" + taken.getLocalPort() + ": "), out);
            assertTrue(!out.contains("\tat ") && !out.contains("Exception"), "no Java stack: " + out);
        }
    }

    // ---- the load and the requests the test keeps count of ----

    private void httpGet(int port, String path) {
        try (RawHttp http = new RawHttp(port, 10_000)) {
            RawHttp.Response r = http.exchange("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            assertEquals(200, r.status());
            served.computeIfAbsent(Long.parseLong(r.text().trim()), k -> new AtomicLong()).incrementAndGet();
            bodyBytes.addAndGet(r.body().length);
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private static int httpStatus(int port, String path) {
        try (RawHttp http = new RawHttp(port, 10_000)) {
            return http.exchange("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").status();
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    private void uwsgiGet(int port, String path) throws IOException {
        try (Socket s = new Socket("127.0.0.1", port)) {
            s.setSoTimeout(10_000);
            s.getOutputStream().write(Packets.get(path));
            String response = new String(s.getInputStream().readAllBytes(), StandardCharsets.ISO_8859_1);
            assertTrue(response.startsWith("HTTP/1.1 200"), response);
            long pid = Long.parseLong(response.substring(response.indexOf("\r\n\r\n") + 4).trim());
            served.computeIfAbsent(pid, k -> new AtomicLong()).incrementAndGet();
        }
    }

    // ---- the consumers ----

    private static Path tools() {
        return BridgeServer.root().resolve(".tools");
    }

    /** uwsgitop's screen a moment after it started (it refreshes every second), from a tmux pane. */
    private static String uwsgitopScreen(String address) throws Exception {
        String session = "bridge-stats-it-" + ProcessHandle.current().pid();
        run(List.of("tmux", "new-session", "-d", "-s", session, "-x", "220", "-y", "30",
                tools().resolve("venv/bin/uwsgitop") + " " + address + "; echo uwsgitop exited with status $?; sleep 60"));
        try {
            Thread.sleep(2500);
            return run(List.of("tmux", "capture-pane", "-p", "-t", session));
        } finally {
            run(List.of("tmux", "kill-session", "-t", session));
        }
    }

    /** What Telegraf's uwsgi input reads, in line protocol ({@code telegraf --test}). */
    private static String telegraf(String server) throws Exception {
        Path conf = Files.createTempFile("bridge-telegraf", ".conf");
        Files.writeString(conf, "[agent]\n  omit_hostname = true\n[[inputs.uwsgi]]\n  servers = [\"" + server
                + "\"]\n  timeout = \"5s\"\n[[outputs.file]]\n  files = [\"stdout\"]\n");
        return run(List.of(tools().resolve("bin/telegraf").toString(), "--config", conf.toString(), "--test"));
    }

    private static String telegrafFields(String out, long pid) {
        Matcher m = TELEGRAF_WORKER.matcher(out);
        while (m.find()) {
            if (m.group(2).contains("pid=" + pid + "i")) {
                return m.group(2);
            }
        }
        throw new AssertionError("no uwsgi_workers line for pid " + pid + " in:\n" + out);
    }

    private static void promtool(String metrics) throws Exception {
        Process p = new ProcessBuilder("promtool", "check", "metrics").redirectErrorStream(true).start();
        p.getOutputStream().write(metrics.getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), "promtool check metrics:\n" + out);
        assertEquals("", out.trim(), "promtool has nothing to say about /metrics");
    }

    private static String run(List<String> cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), cmd + " did not finish");
        assertEquals(0, p.exitValue(), cmd + ":\n" + out);
        return out;
    }

    // ---- reading the answers ----

    private static String rawStats(int port) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5000);
            s.setSoTimeout(5000);
            return new String(s.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        }
    }

    /** A whole HTTP/1.1 exchange with the stats server on its unix socket ("" if it cannot connect). */
    private static String unixGet(Path socket, String path) {
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            ch.connect(UnixDomainSocketAddress.of(socket));
            ch.write(ByteBuffer.wrap(("GET " + path + " HTTP/1.1\r\nHost: stats\r\nConnection: close\r\n\r\n")
                    .getBytes(StandardCharsets.US_ASCII)));
            InputStream in = java.nio.channels.Channels.newInputStream(ch);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            return "";
        }
    }

    private static String body(String response) {
        assertTrue(response.startsWith("HTTP/1.1 200"), response);
        return response.substring(response.indexOf("\r\n\r\n") + 4);
    }

    private static long sample(String metrics, String series) {
        for (String line : metrics.split("\n")) {
            if (line.startsWith(series + " ")) {
                return Math.round(Double.parseDouble(line.substring(series.length() + 1)));
            }
        }
        throw new AssertionError("no " + series + " in:\n" + metrics);
    }

    private static long number(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertTrue(m.find(), regex + " in " + text);
        return Long.parseLong(m.group(1));
    }

    private long requestsOf(String json, long pid) {
        return served.get(pid).get() + errorsOf(json, pid);
    }

    /** The /boom requests a worker answered (each raised once). */
    private static long errorsOf(String json, long pid) {
        return number(json, "\"pid\":" + pid + ",.*?\"exceptions\":(\\d+)");
    }

    private static long rssOf(long pid) throws IOException {
        for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
            if (line.startsWith("VmRSS:")) {
                return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        }
        throw new AssertionError("no VmRSS for " + pid);
    }

    /** uwsgitop's human size ("68.0M") in bytes. */
    private static long megabytes(String human) {
        assertTrue(human.endsWith("M"), human);
        return (long) (Double.parseDouble(human.substring(0, human.length() - 1)) * 1024 * 1024);
    }

    /** Memory read a moment apart by two readers agrees within 5%. */
    private static void assertClose(long expected, long actual, String what) {
        assertTrue(Math.abs(expected - actual) <= expected / 20, what + ": " + actual + " vs /proc's " + expected);
    }

    private static void awaitWorkers(BridgeServer server, int n) throws InterruptedException {
        assertTrue(MasterTesting.await(Duration.ofSeconds(60),
                () -> server.log().split("\\) ready \\(generation").length > n), server.log());
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }
}
