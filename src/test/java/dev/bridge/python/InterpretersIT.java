package dev.bridge.python;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Launch;
import dev.bridge.testing.Nginx;
import dev.bridge.testing.RawHttp;
import dev.bridge.uwsgi.Packets;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.CookieManager;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --interpreters N} against a real CPython 3.13 (the .venv-3.13 that scripts/setup makes): requests
 * spread over isolated interpreters on both protocols, each with its own module globals and its own log tag;
 * workers times interpreters; the refusals (an older Python: exit 2; a C extension that refuses isolated
 * interpreters: exit 4), each one line; Django's admin. The app is src/test/python/interpreters_app.py.
 */
class InterpretersIT {

    private static final Pattern ANSWER = Pattern.compile("pid=(\\d+) interpreter=(\\d+) served=(\\d+)");
    private static final Pattern JAVA_FRAME = Pattern.compile("\\n\\s+at [a-z]+\\.[\\w.$]+\\(");
    private static final int TIMEOUT_MILLIS = 20_000;

    private static BridgeServer start(String... flags) throws Exception {
        List<String> args = new ArrayList<>(List.of("--venv", BridgeServer.interpretersVenv().toString(),
                "--module", "interpreters_app:application"));
        args.addAll(List.of(flags));
        return BridgeServer.start(args.toArray(String[]::new));
    }

    private static String httpGet(int port, String path) throws IOException {
        try (RawHttp http = new RawHttp(port, TIMEOUT_MILLIS)) {
            RawHttp.Response r = http.exchange("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
            assertEquals(200, r.status(), r.statusLine() + " " + r.text());
            return r.text();
        }
    }

    private static String uwsgiGet(int port, String path) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), TIMEOUT_MILLIS);
            s.setSoTimeout(TIMEOUT_MILLIS);
            s.getOutputStream().write(Packets.get(path));
            String r = Packets.readUntilEnd(s);
            assertTrue(r.startsWith("HTTP/1.1 200 OK\r\n"), r);
            return r.substring(r.indexOf("\r\n\r\n") + 4);
        }
    }

    private interface Get {
        String get(String path) throws IOException;
    }

    /** Sends {@code count} slow requests at once; returns the answers (pid, interpreter, served). */
    private static List<Matcher> concurrently(int count, Get get) throws Exception {
        ExecutorService pool = Executors.newFixedThreadPool(count);
        try {
            List<Future<String>> answers = new ArrayList<>();
            for (int i = 0; i < count; i++) {
                answers.add(pool.submit(() -> get.get("/sleep?ms=600")));
            }
            List<Matcher> out = new ArrayList<>();
            for (Future<String> f : answers) {
                Matcher m = ANSWER.matcher(f.get());
                assertTrue(m.find(), m.toString());
                out.add(m);
            }
            return out;
        } finally {
            pool.shutdownNow();
        }
    }

    private static Set<String> copies(List<Matcher> answers) {
        Set<String> out = new TreeSet<>();
        answers.forEach(m -> out.add(m.group(1) + "/" + m.group(2)));
        return out;
    }

    /**
     * One worker, two interpreters: two slow requests at once run in parallel on the two interpreters, over
     * HTTP and over the C uwsgi loop; each interpreter counts its own requests (module globals are per
     * interpreter); each loaded the app and prints under its own tag; the environ says multiprocess.
     */
    @Test
    void oneWorkerServesFromTwoIsolatedInterpretersOnBothProtocols() throws Exception {
        try (BridgeServer server = start("--interpreters", "2", "--uwsgi-socket", "127.0.0.1:0")) {
            assertTrue(server.log().contains("with 2 isolated interpreters"), server.log());
            for (Get get : List.<Get>of(path -> httpGet(server.port(), path), path -> uwsgiGet(server.uwsgiPort(), path))) {
                long t0 = System.nanoTime();
                List<Matcher> answers = concurrently(2, get);
                long took = (System.nanoTime() - t0) / 1_000_000;
                assertEquals(2, copies(answers).size(), "two interpreters of one pid answered: " + copies(answers));
                assertEquals(1, answers.stream().map(m -> m.group(1)).distinct().count(), "one worker process");
                assertTrue(took < 1100, "two 600 ms requests on two interpreters took " + took + " ms (in turn: 1200+)");
            }
            // Per-interpreter globals: each counts only its own requests, so the highest counts add up to all sent.
            Map<String, Integer> highest = new HashMap<>();
            int sent = 4;
            for (int i = 0; i < 20; i++, sent++) {
                Matcher m = ANSWER.matcher(httpGet(server.port(), "/"));
                assertTrue(m.find());
                highest.merge(m.group(2), Integer.parseInt(m.group(3)), Math::max);
            }
            assertEquals(sent, highest.values().stream().mapToInt(Integer::intValue).sum(),
                    "each interpreter's counter " + highest + " counts its own requests");
            assertEquals("multiprocess=True multithread=False", httpGet(server.port(), "/environ"));
            // Daemon threads are allowed (CPython forbids them in isolated interpreters, which we never finalize),
            // subprocesses work, os.fork does not (CPython's isolated interpreters refuse it).
            assertEquals("daemon_thread=yes subprocess=yes fork=no(RuntimeError)", httpGet(server.port(), "/features"));
            Set<String> printers = new TreeSet<>();
            for (int i = 0; i < 40 && printers.size() < 2; i++) {
                Matcher m = ANSWER.matcher(httpGet(server.port(), "/print"));
                assertTrue(m.find());
                printers.add(m.group(2));
            }
            assertEquals(2, printers.size(), "both interpreters printed");
            for (String interpreter : printers) {
                Pattern line = Pattern.compile("OUT worker-1\\.[12]\\[\\d+\\] - hello from interpreter " + interpreter + "\\b");
                assertTrue(server.awaitLog("hello from interpreter " + interpreter, Duration.ofSeconds(5))
                        && line.matcher(server.log()).find(), "interpreter " + interpreter + "'s stdout is in the log, tagged:\n" + server.log());
            }
            // The access log: HTTP lines come from the worker's event loop, uwsgi lines from each interpreter's C loop.
            assertTrue(Pattern.compile("INFO worker-1\\[\\d+\\] - \\S+ \"GET /sleep\\?ms=600 HTTP/1\\.1\" 200 ")
                    .matcher(server.log()).find(), server.log());
            Matcher uwsgiLines = Pattern.compile("INFO worker-1\\.([12])\\[\\d+\\] - \\S+ \"GET /sleep\\?ms=600 HTTP/1\\.1\" 200 ")
                    .matcher(server.log());
            Set<String> uwsgiTags = new TreeSet<>();
            while (uwsgiLines.find()) {
                uwsgiTags.add(uwsgiLines.group(1));
            }
            assertEquals(Set.of("1", "2"), uwsgiTags, "each interpreter's C loop logs its uwsgi requests:\n" + server.log());
            Matcher loaded = Pattern.compile("OUT worker-1\\.([12])\\[\\d+\\] - interpreter \\d+ of pid \\d+ loaded the app").matcher(server.log());
            Set<String> tags = new TreeSet<>();
            while (loaded.find()) {
                tags.add(loaded.group(1));
            }
            assertEquals(Set.of("1", "2"), tags, "each interpreter loaded the app:\n" + server.log());
        }
    }

    /**
     * Two workers of two interpreters each: four copies of the app serve, on both protocols. Which worker
     * accepts a connection is the kernel's choice, so rounds of four concurrent requests go on until all four
     * answered (or five rounds passed).
     */
    @Test
    void workersTimesInterpreters() throws Exception {
        try (BridgeServer server = start("--workers", "2", "--interpreters", "2", "--uwsgi-socket", "127.0.0.1:0")) {
            assertTrue(awaitReady(server, 2), server.log());
            for (Get get : List.<Get>of(path -> httpGet(server.port(), path), path -> uwsgiGet(server.uwsgiPort(), path))) {
                Set<String> seen = new TreeSet<>();
                for (int round = 0; round < 5 && seen.size() < 4; round++) {
                    seen.addAll(copies(concurrently(4, get)));
                }
                assertEquals(4, seen.size(), "two processes x two interpreters answered: " + seen);
                assertEquals(2, seen.stream().map(c -> c.split("/")[0]).distinct().count(), "two processes: " + seen);
            }
        }
    }

    private static boolean awaitReady(BridgeServer server, int workers) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
        while (System.nanoTime() < deadline) {
            if (Pattern.compile(" ready \\(generation 1\\)").matcher(server.log()).results().count() >= workers) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }

    @Test
    void aPythonOlderThan313IsRefusedInOneLine() throws Exception {
        Launch.Result r = Launch.run(List.of("--venv", BridgeServer.root().resolve(".venv").toString(),
                "--module", "interpreters_app", "--chdir", BridgeServer.testApps().toString(),
                "--http", "127.0.0.1:0", "--interpreters", "2"), null, null, 60);
        assertEquals(2, r.exitCode(), r.output());
        assertEquals(1, r.lines().size(), "one line:\n" + r.output());
        assertTrue(r.output().startsWith("bridge: error: --interpreters 2 needs Python 3.13 or newer"), r.output());
        assertTrue(r.output().contains("is 3.11"), "it says which Python it found:\n" + r.output());
    }

    /**
     * ujson (PyPI) has a single-phase init: CPython refuses it in an isolated interpreter. The boot fails with
     * one line naming it and saying to run processes, exit code 4; with processes, the same app serves.
     */
    @Test
    void aCExtensionThatRefusesIsolatedInterpretersFailsTheBootInOneLine() throws Exception {
        List<String> args = List.of("--venv", BridgeServer.interpretersVenv().toString(),
                "--module", "refuses_interpreters", "--chdir", BridgeServer.testApps().toString(),
                "--http", "127.0.0.1:0", "--workers", "1", "--standby", "0");
        List<String> isolated = new ArrayList<>(args);
        isolated.addAll(List.of("--interpreters", "2"));
        Launch.Result r = Launch.run(isolated, null, null, 60);
        assertEquals(4, r.exitCode(), r.output());
        List<String> errors = r.lines().stream().filter(l -> l.contains(" ERROR worker-")).toList();
        assertEquals(1, errors.size(), "one line from the worker:\n" + r.output());
        assertTrue(errors.get(0).endsWith("refuses_interpreters imports ujson, a C extension that cannot load in an "
                + "isolated interpreter: run processes instead (--interpreters 1 --workers N)"), r.output());
        assertFalse(JAVA_FRAME.matcher(r.output()).find(), "no Java stack:\n" + r.output());
        assertFalse(r.output().contains("Traceback"), "no traceback:\n" + r.output());

        Launch.Result processes = Launch.serve(args, null, null, 60,
                port -> assertEquals("{\"ok\":true}", httpGet(port, "/")));
        assertTrue(processes.ready(), "with processes the same app serves:\n" + processes.output());
    }

    /**
     * PEP 3333 under wsgiref.validate (warnings as errors, src/test/python/nginx_app.py) in each of two isolated
     * interpreters, directly and through nginx's uwsgi_pass with Debian's stock uwsgi_params.
     */
    @Test
    void pep3333ValidatedDirectlyAndThroughNginx() throws Exception {
        Path dir = Files.createTempDirectory("bridge-interp-nginx");
        Path socket = dir.resolve("app.sock");
        try (BridgeServer server = BridgeServer.start("--venv", BridgeServer.interpretersVenv().toString(),
                "--module", "nginx_app", "--interpreters", "2", "--uwsgi-socket", socket.toString())) {
            int port = Nginx.freePort();
            String servers = "  server {\n    listen 127.0.0.1:" + port + ";\n    location / {\n"
                    + "      include /etc/nginx/uwsgi_params;\n      uwsgi_pass unix:" + socket + ";\n    }\n  }\n";
            try (Nginx nginx = Nginx.start(dir, servers, port)) {
                for (int p : new int[]{server.port(), port}) {
                    // Six at once on two interpreters: validation holds while they run in parallel.
                    List<CompletableFuture<String>> answers = new ArrayList<>();
                    for (int i = 0; i < 6; i++) {
                        answers.add(CompletableFuture.supplyAsync(() -> {
                            try (RawHttp http = new RawHttp(p, TIMEOUT_MILLIS)) {
                                RawHttp.Response r = http.exchange("POST /validated HTTP/1.1\r\nHost: localhost\r\n"
                                        + "Content-Type: text/plain\r\nContent-Length: 7\r\nConnection: close\r\n\r\na=1&b=2");
                                return r.status() + " " + r.text();
                            } catch (IOException e) {
                                return e.toString();
                            }
                        }));
                    }
                    for (CompletableFuture<String> a : answers) {
                        assertEquals("200 validated POST 7", a.get(), "port " + p + ":\n" + server.log());
                    }
                }
                assertEquals(List.of(), nginx.upstreamErrors(0));
            }
        } finally {
            Files.walk(dir).sorted(java.util.Comparator.reverseOrder()).forEach(f -> f.toFile().delete());
        }
    }

    /** The Django sample's admin (sqlite, CSRF, session cookie) served by two isolated interpreters. */
    @Test
    void djangoAdminLogin() throws Exception {
        Path django = BridgeServer.root().resolve("python-samples/django_project");
        try (BridgeServer server = BridgeServer.start("--venv", BridgeServer.interpretersVenv().toString(),
                "--chdir", django.toString(), "--module", "mysite.wsgi:application", "--interpreters", "2")) {
            HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                    .cookieHandler(new CookieManager()).build();
            String base = "http://127.0.0.1:" + server.port();
            // Several logins at once, so that both interpreters serve parts of them.
            List<CompletableFuture<String>> sessions = new ArrayList<>();
            for (int i = 0; i < 4; i++) {
                HttpClient own = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                        .cookieHandler(new CookieManager()).build();
                sessions.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        return adminLogin(own, base);
                    } catch (Exception e) {
                        return e.toString();
                    }
                }));
            }
            for (CompletableFuture<String> s : sessions) {
                assertEquals("ok", s.get(), server.log());
            }
            assertEquals("ok", adminLogin(client, base));
            assertFalse(server.log().contains("ERR worker-"), "nothing went to stderr:\n" + server.log());
        }
    }

    private static String adminLogin(HttpClient client, String base) throws Exception {
        if (send(client, base + "/admin/", null).statusCode() != 302) {
            return "/admin/ did not redirect to the login";
        }
        HttpResponse<String> login = send(client, base + "/admin/login/", null);
        Matcher m = Pattern.compile("name=\"csrfmiddlewaretoken\" value=\"([^\"]+)\"").matcher(login.body());
        if (login.statusCode() != 200 || !m.find()) {
            return "login form: " + login.statusCode();
        }
        String form = "csrfmiddlewaretoken=" + m.group(1) + "&username=admin&password=admin&next=/admin/";
        HttpResponse<String> posted = send(client, base + "/admin/login/", form);
        if (posted.statusCode() != 302) {
            return "login POST: " + posted.statusCode() + " " + posted.body();
        }
        HttpResponse<String> admin = send(client, base + "/admin/", null);
        return admin.statusCode() == 200 && admin.body().contains("Site administration") ? "ok" : "admin: " + admin.statusCode();
    }

    private static HttpResponse<String> send(HttpClient client, String url, String form) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(Duration.ofMillis(TIMEOUT_MILLIS));
        if (form != null) {
            b.header("Content-Type", "application/x-www-form-urlencoded").header("Referer", url)
                    .POST(HttpRequest.BodyPublishers.ofString(form));
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }
}
