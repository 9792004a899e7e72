package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import dev.bridge.uwsgi.Packets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Taking away what the bridge relies on, under load or not: its master (kill -9), the directory request bodies
 * spill to, a client that never ends its body, and thousands of idle connections.
 */
class ChaosIT {

    @TempDir
    Path dir;

    /** kill -9 of the master under load: its workers notice and exit, none keeps serving, a new master serves at once. */
    @Test
    void workersOfAKilledMasterExitAndANewMasterServesAtOnce() throws Exception {
        int port;
        Set<Long> workers;
        try (BridgeServer server = BridgeServer.start("--module", "master_app", "--workers", "2");
             MasterTesting.Load load = new MasterTesting.Load(server.port(), "/sleep?ms=5", 16, 10_000)) {
            port = server.port();
            MasterTesting.awaitReady(server, 2, Duration.ofSeconds(60));
            assertTrue(MasterTesting.await(Duration.ofSeconds(20), () -> load.results().size() > 200), "load runs");
            workers = new java.util.HashSet<>(MasterTesting.workerProcesses(server).keySet());
            workers.addAll(MasterTesting.idleStandbys(server));
            MasterTesting.signal(server.process().pid(), "KILL");
            long killed = System.nanoTime();
            assertTrue(MasterTesting.awaitGone(workers, Duration.ofSeconds(10)).isEmpty(), "every worker and standby exits");
            long took = (System.nanoTime() - killed) / 1_000_000;
            System.out.println("ChaosIT: the workers of a killed master were gone after " + took + " ms");
            assertTrue(took < 2_000, "the workers noticed within a second or so: " + took + " ms\n" + server.log());
            load.stop();
        }
        try (BridgeServer again = BridgeServer.start("--module", "master_app", "--workers", "2",
                "--http", "127.0.0.1:" + port)) {
            long t0 = System.nanoTime();
            assertTrue(MasterTesting.okText(port, "/", 10_000).matches("\\d+"));
            assertTrue((System.nanoTime() - t0) / 1_000_000 < 1_000, "a restarted master serves at once");
        }
    }

    /**
     * The spill directory unwritable: a body too large for memory gets a 500 over HTTP, a closed connection from the
     * C uwsgi loop (which nginx answers with 502), one log line each, and the worker serves on.
     */
    @Test
    void aBodyThatCannotSpillGetsA500AndTheWorkerLivesOn() throws Exception {
        // A directory under a regular file: nobody, not even root, can create or write it.
        Path gone = Files.writeString(dir.resolve("a-file"), "").resolve("spill");
        try (BridgeServer server = BridgeServer.start("--module", "nginx_app", "--spill-threshold", "1000",
                "--uwsgi-socket", "127.0.0.1:0", "--jvm-args", "-Xmx64m -Djava.io.tmpdir=" + gone)) {
            long pid = server.process().pid();
            String body = "x".repeat(5000);
            try (RawHttp http = new RawHttp(server.port(), 10_000)) {
                RawHttp.Response r = http.exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n" + body);
                assertEquals(500, r.status(), r.toString());
            }
            String uwsgi = uwsgiPost(server.uwsgiPort(), body);
            // The C loop refuses as it refuses any request it cannot take: it closes (nginx then answers 502).
            assertEquals("", uwsgi);
            assertTrue(server.log().contains("500 cannot store the request body"), server.log());
            assertTrue(server.log().contains("refused: cannot store the request body (O_TMPFILE in the spill directory)"),
                    server.log());
            // A small body, kept in memory, is served by the same worker.
            try (RawHttp http = new RawHttp(server.port(), 10_000)) {
                RawHttp.Response r = http.exchange("POST /echo HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello");
                assertEquals(200, r.status());
                assertEquals("hello", r.text());
            }
            assertTrue(MasterTesting.alive(pid));
            assertTrue(!server.log().contains("exited"), "no worker died:\n" + server.log());
        }
    }

    /** A chunked body that never ends, with no --limit-body: cut at --header-timeout, its spill file removed. */
    @Test
    void anEndlessChunkedBodyIsCutAtTheHeaderTimeout() throws Exception {
        Path spill = Files.createDirectories(dir.resolve("spill"));
        try (BridgeServer server = BridgeServer.start("--module", "nginx_app", "--header-timeout", "2",
                "--spill-threshold", "10000", "--jvm-args", "-Xmx64m -Djava.io.tmpdir=" + spill);
             Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", server.port()), 5_000);
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            out.write("POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
            byte[] chunk = ("1000\r\n" + "y".repeat(4096) + "\r\n").getBytes(StandardCharsets.US_ASCII);
            long t0 = System.nanoTime();
            long sent = 0;
            try {
                while (System.nanoTime() - t0 < Duration.ofSeconds(8).toNanos()) {
                    out.write(chunk);
                    sent += 4096;
                    Thread.sleep(2);
                }
            } catch (IOException cut) {
                // the server closed the connection: what this test waits for
            }
            long ms = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(ms < 6_000, "cut after " + ms + " ms, " + sent + " bytes");
            InputStream in = s.getInputStream();
            String answer = new String(readSome(in), StandardCharsets.ISO_8859_1);
            assertTrue(answer.startsWith("HTTP/1.1 408 Request Timeout"), answer);
            assertTrue(MasterTesting.await(Duration.ofSeconds(5), () -> listing(spill).isEmpty()),
                    "spill files left: " + listing(spill));
            assertTrue(MasterTesting.okText(server.port(), "/hello", 10_000).length() > 0, "the worker serves on");
        }
    }

    /** Thousands of idle connections: a request still gets its answer at once, and they are closed in time. */
    @Test
    void thousandsOfIdleConnectionsDoNotKeepARequestWaiting() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "nginx_app", "--header-timeout", "3",
                "--keepalive-timeout", "3")) {
            List<Socket> idle = new ArrayList<>();
            try {
                for (int i = 0; i < 3000; i++) {
                    Socket s = new Socket();
                    s.connect(new InetSocketAddress("127.0.0.1", server.port()), 5_000);
                    idle.add(s);
                }
                long t0 = System.nanoTime();
                assertTrue(MasterTesting.okText(server.port(), "/hello", 10_000).length() > 0);
                long ms = (System.nanoTime() - t0) / 1_000_000;
                System.out.println("ChaosIT: a request beside 3000 idle connections took " + ms + " ms");
                assertTrue(ms < 1_000, "took " + ms + " ms");
                // A connection that never sent a byte is closed once --keepalive-timeout has passed.
                Socket first = idle.get(0);
                first.setSoTimeout(10_000);
                assertEquals(-1, first.getInputStream().read(), "closed by the server");
            } finally {
                for (Socket s : idle) {
                    s.close();
                }
            }
            assertTrue(MasterTesting.okText(server.port(), "/hello", 10_000).length() > 0);
        }
    }

    /**
     * kill -9 in the middle of a reload: a new worker killed while it boots aborts the reload and the old generation
     * serves on without a failed request; an old worker killed while the new ones boot loses only the requests it
     * had (its connections), is replaced, and the reload completes; the next reload is clean.
     */
    @Test
    void workersKilledInTheMiddleOfAReloadLoseOnlyTheirOwnRequests() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "master_app", "--workers", "2");
             MasterTesting.Load load = new MasterTesting.Load(server.port(), "/sleep?ms=2", 8, 10_000)) {
            MasterTesting.awaitReady(server, 2, Duration.ofSeconds(60));
            assertTrue(MasterTesting.await(Duration.ofSeconds(20), () -> load.results().size() > 200), "load runs");
            long master = server.process().pid();
            // 1. A new worker killed while it boots.
            int became = MasterTesting.matches(server.log(), MasterTesting.BECAME).size();
            MasterTesting.signal(master, "HUP");
            assertTrue(MasterTesting.awaitLog(server, MasterTesting.BECAME, became + 1, Duration.ofSeconds(30)), server.log());
            long booting = Long.parseLong(MasterTesting.matches(server.log(), MasterTesting.BECAME).get(became).group(2));
            MasterTesting.signal(booting, "KILL");
            assertTrue(server.awaitLog("reload aborted", Duration.ofSeconds(30)), server.log());
            int before = load.results().size();
            assertTrue(MasterTesting.await(Duration.ofSeconds(10), () -> load.results().size() > before + 100));
            assertEquals(List.of(), load.failures(), "the old generation served on: " + MasterTesting.describe(load.failures()));
            // 2. An old worker killed while the new generation boots: only its own connections see a failure.
            MasterTesting.signal(master, "HUP");
            assertTrue(server.awaitLog("reload to generation 3", Duration.ofSeconds(30)), server.log());
            long victim = MasterTesting.workerProcesses(server).keySet().iterator().next();
            MasterTesting.signal(victim, "KILL");
            assertTrue(server.awaitLog("reload done: generation 3", Duration.ofSeconds(60)), server.log());
            List<MasterTesting.Result> lost = load.failures();
            assertTrue(lost.stream().allMatch(r -> r.connPid() == victim || r.connPid() == 0),
                    "failures on other workers' connections: " + MasterTesting.describe(lost));
            // 3. The next reload is clean.
            int lostBefore = lost.size();
            MasterTesting.signal(master, "HUP");
            assertTrue(server.awaitLog("reload done: generation 4", Duration.ofSeconds(60)), server.log());
            Thread.sleep(500);
            assertTrue(load.stop());
            assertEquals(lostBefore, load.failures().size(), MasterTesting.describe(load.failures()));
            System.out.println("ChaosIT: a worker killed mid-reload lost " + lostBefore + " request(s) of "
                    + load.results().size());
        }
    }

    private static String uwsgiPost(int port, String body) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.setSoTimeout(10_000);
            s.getOutputStream().write(Packets.nginxPost("/echo", body.getBytes(StandardCharsets.US_ASCII)));
            s.shutdownOutput();
            try {
                return Packets.readUntilEnd(s);
            } catch (IOException reset) {
                return "";
            }
        }
    }

    private static byte[] readSome(InputStream in) {
        try {
            return in.readAllBytes();
        } catch (IOException reset) {
            return new byte[0];
        }
    }

    private static List<Path> listing(Path dir) {
        try (var s = Files.list(dir)) {
            return s.toList();
        } catch (IOException e) {
            return List.of();
        }
    }
}
