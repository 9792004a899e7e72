package dev.bridge.uwsgi;

import dev.bridge.config.Config;
import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Launch;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a uwsgi listener does besides parsing, with both request loops ({@code --uwsgi-loop native}, the C loop
 * on the Python threads, and {@code netty}): harakiri, --max-requests, a graceful stop with a request in
 * flight, the access log; and for the C loop, HTTP beside uwsgi on one Python thread, and the one-line
 * refusals when the native module cannot be built or loaded. The app is src/test/python/master_app.py.
 */
class UwsgiLoopIT {

    private static final String APP = "master_app:application";
    private static final Pattern JAVA_FRAME = Pattern.compile("\\n\\s+at [a-z]+\\.[\\w.$]+\\(");

    private static BridgeServer start(Config.UwsgiLoop loop, String... flags) throws Exception {
        List<String> args = new ArrayList<>(List.of("--module", APP, "--uwsgi-socket", "127.0.0.1:0",
                "--uwsgi-loop", loop.name().toLowerCase()));
        args.addAll(List.of(flags));
        BridgeServer server = BridgeServer.start(args.toArray(String[]::new));
        assertTrue(server.uwsgiPort() > 0, server.log());
        return server;
    }

    /** One request over a new connection; everything the worker sent until it closed (latin-1). */
    private static String uwsgi(int port, byte[] packet, int timeoutMillis) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), timeoutMillis);
            s.setSoTimeout(timeoutMillis);
            s.getOutputStream().write(packet);
            return Packets.readUntilEnd(s);
        }
    }

    private static long pid(int port, String uri) throws IOException {
        String r = uwsgi(port, Packets.get(uri), 20_000);
        assertTrue(r.startsWith("HTTP/1.1 200 OK\r\n"), r);
        return Long.parseLong(r.substring(r.indexOf("\r\n\r\n") + 4).trim());
    }

    private static long readyPid(BridgeServer server) {
        Matcher m = Pattern.compile("worker-1\\[(\\d+)\\] - ready: ").matcher(server.log());
        assertTrue(m.find(), server.log());
        return Long.parseLong(m.group(1));
    }

    @ParameterizedTest
    @EnumSource(Config.UwsgiLoop.class)
    void harakiriKillsAWorkerStuckInAUwsgiRequest(Config.UwsgiLoop loop) throws Exception {
        try (BridgeServer server = start(loop, "--harakiri", "2")) {
            long stuck = pid(server.uwsgiPort(), "/");
            long t0 = System.nanoTime();
            String answer = uwsgi(server.uwsgiPort(), Packets.get("/sleep?ms=8000"), 20_000);
            long took = (System.nanoTime() - t0) / 1_000_000;
            assertEquals("", answer, "the stuck request's connection is closed with the worker");
            assertTrue(took >= 1900 && took < 6000, "closed after " + took + " ms for a 2 s --harakiri");
            Pattern harakiri = Pattern.compile("harakiri.*pid " + stuck + "\\D.*/sleep\\?ms=8000");
            assertTrue(harakiri.matcher(server.log()).find(), "the log names the worker and the request:\n" + server.log());
            long next = pid(server.uwsgiPort(), "/");
            assertNotEquals(stuck, next, "a new worker serves");
        }
    }

    @ParameterizedTest
    @EnumSource(Config.UwsgiLoop.class)
    void maxRequestsCountsUwsgiRequests(Config.UwsgiLoop loop) throws Exception {
        try (BridgeServer server = start(loop, "--max-requests", "5", "--disable-logging")) {
            long first = pid(server.uwsgiPort(), "/");
            for (int i = 0; i < 8; i++) {
                pid(server.uwsgiPort(), "/");
            }
            assertTrue(server.awaitLog("requests (--max-requests): starting its replacement", Duration.ofSeconds(10)),
                    "uwsgi requests count towards --max-requests:\n" + server.log());
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            long now = first;
            while (now == first && System.nanoTime() < deadline) {
                now = pid(server.uwsgiPort(), "/");
            }
            assertNotEquals(first, now, "the replacement serves:\n" + server.log());
        }
    }

    @ParameterizedTest
    @EnumSource(Config.UwsgiLoop.class)
    void gracefulStopFinishesTheUwsgiRequestInFlight(Config.UwsgiLoop loop) throws Exception {
        BridgeServer server = start(loop);
        try {
            long worker = readyPid(server);
            CompletableFuture<String> inFlight = CompletableFuture.supplyAsync(() -> {
                try {
                    return uwsgi(server.uwsgiPort(), Packets.get("/sleep?ms=1500"), 20_000);
                } catch (IOException e) {
                    return e.toString();
                }
            });
            Thread.sleep(400); // the request is in the app now
            assertEquals(0, server.stop(Duration.ofSeconds(20)), "a graceful stop exits 0:\n" + server.log());
            String r = inFlight.get();
            assertTrue(r.startsWith("HTTP/1.1 200 OK\r\n") && r.endsWith("\r\n\r\n" + worker),
                    "the request in flight is answered in full: " + r + "\n" + server.log());
        } finally {
            server.close();
        }
    }

    @ParameterizedTest
    @EnumSource(Config.UwsgiLoop.class)
    void accessLogLineIsTheSameWhoeverServes(Config.UwsgiLoop loop) throws Exception {
        try (BridgeServer server = start(loop)) {
            String body = Long.toString(pid(server.uwsgiPort(), "/?x=1"));
            Pattern line = Pattern.compile("INFO worker-1\\[\\d+\\] - 192\\.0\\.2\\.7:50123 \"GET /\\?x=1 HTTP/1\\.1\" 200 "
                    + body.length() + " \\d+\\.\\d\\dms");
            assertTrue(awaitMatch(server, line), "an access log line like the Java path's:\n" + server.log());
        }
    }

    /** With one Python thread, HTTP requests reach it while it waits in the C loop, and uwsgi ones go on. */
    @Test
    void httpAndUwsgiShareOnePythonThread() throws Exception {
        try (BridgeServer server = start(Config.UwsgiLoop.NATIVE, "--threads", "1", "--disable-logging")) {
            long worker = readyPid(server);
            List<CompletableFuture<Long>> all = new ArrayList<>();
            for (int c = 0; c < 4; c++) {
                boolean http = c % 2 == 0;
                all.add(CompletableFuture.supplyAsync(() -> {
                    try {
                        long last = 0;
                        for (int i = 0; i < 50; i++) {
                            if (http) {
                                try (RawHttp h = new RawHttp(server.port(), 10_000)) {
                                    RawHttp.Response r = h.exchange("GET /sleep?ms=1 HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
                                    assertEquals(200, r.status());
                                    last = Long.parseLong(r.text().trim());
                                }
                            } else {
                                last = pid(server.uwsgiPort(), "/sleep?ms=1");
                            }
                        }
                        return last;
                    } catch (IOException e) {
                        throw new RuntimeException(e);
                    }
                }));
            }
            for (CompletableFuture<Long> f : all) {
                assertEquals(worker, f.get());
            }
        }
    }

    @Test
    void withoutACompilerTheLauncherSaysSoInOneLine(@TempDir Path cache) throws Exception {
        Launch.Result r = Launch.run(List.of("--venv", BridgeServer.root().resolve(".venv").toString(),
                        "--module", APP, "--chdir", BridgeServer.testApps().toString(), "--uwsgi-socket", "127.0.0.1:0"),
                null, env -> {
                    env.put("XDG_CACHE_HOME", cache.toString());
                    env.put("CC", "/nonexistent/cc");
                }, 30);
        assertEquals(2, r.exitCode(), r.output());
        assertEquals(1, r.lines().size(), "one line: " + r.output());
        assertTrue(r.output().startsWith("bridge: error: cannot build the native request core: no C compiler (/nonexistent/cc"),
                r.output());
        assertTrue(r.output().contains("--uwsgi-loop netty"), r.output());
    }

    @Test
    void withoutACompilerHttpIsServedByThePythonShimAfterOneWarning(@TempDir Path cache) throws Exception {
        List<String> answers = new ArrayList<>();
        Launch.Result r = Launch.serve(List.of("--venv", BridgeServer.root().resolve(".venv").toString(),
                        "--module", APP, "--chdir", BridgeServer.testApps().toString(), "--http", "127.0.0.1:0"),
                null, env -> {
                    env.put("XDG_CACHE_HOME", cache.toString());
                    env.put("CC", "/nonexistent/cc");
                }, 30, port -> {
                    try (RawHttp h = new RawHttp(port, 10_000)) {
                        answers.add(h.exchange("GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").statusLine());
                    }
                });
        assertTrue(r.ready(), r.output());
        assertEquals(List.of("HTTP/1.1 200 OK"), answers, r.output());
        assertEquals(1, r.lines().stream().filter(l -> l.contains("warning")).count(), r.output());
        assertTrue(r.lines().get(0).startsWith("bridge: warning: cannot build the native request core: no C compiler"
                + " (/nonexistent/cc"), r.output());
        assertTrue(r.lines().get(0).endsWith("HTTP requests go through the Python shim meanwhile"), r.output());
        assertFalse(JAVA_FRAME.matcher(r.output()).find(), "no Java stack trace:\n" + r.output());
    }

    @Test
    void aCachedModuleThatCannotLoadStopsTheWorkerWithOneLine(@TempDir Path cache) throws Exception {
        List<String> args = List.of("--venv", BridgeServer.root().resolve(".venv").toString(), "--module", APP,
                "--chdir", BridgeServer.testApps().toString(), "--uwsgi-socket", "127.0.0.1:0", "--http", "127.0.0.1:0");
        Launch.Result built = Launch.serve(args, null, env -> env.put("XDG_CACHE_HOME", cache.toString()), 30, p -> {});
        assertTrue(built.ready(), built.output());
        List<Path> modules;
        try (Stream<Path> files = Files.list(cache.resolve("bridge/native"))) {
            modules = files.filter(f -> f.getFileName().toString().startsWith("_bridge_native-")).toList();
        }
        assertEquals(1, modules.size(), "one module built and cached: " + modules);
        Files.writeString(modules.get(0), "not a shared object");
        Launch.Result r = Launch.run(args, null, env -> env.put("XDG_CACHE_HOME", cache.toString()), 30);
        assertEquals(2, r.exitCode(), r.output());
        assertTrue(r.output().contains("cannot load the native request core " + modules.get(0)), r.output());
        assertTrue(r.output().contains("remove it to have it rebuilt at the next start, or use --uwsgi-loop netty"),
                r.output());
        assertFalse(JAVA_FRAME.matcher(r.output()).find(), "no Java stack trace:\n" + r.output());
    }

    private static boolean awaitMatch(BridgeServer server, Pattern p) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(5).toNanos();
        while (System.nanoTime() < deadline) {
            if (p.matcher(server.log()).find()) {
                return true;
            }
            Thread.sleep(50);
        }
        return false;
    }
}
