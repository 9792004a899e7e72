package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.TimeUnit;

import static dev.bridge.master.MasterTesting.APP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * SIGTERM is a graceful stop: requests in flight finish, connections already queued are served (not reset),
 * then the master exits 0 and no worker is left.
 */
class GracefulStopIT {

    private static final Duration BOOT = Duration.ofSeconds(40);

    @Test
    void sigtermServesInFlightAndQueuedRequestsThenExitsZero() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "2")) {
            long master = server.process().pid();
            MasterTesting.awaitReady(server, 2, BOOT);
            Set<Long> workers = new LinkedHashSet<>(MasterTesting.workerProcesses(server).keySet());
            assertEquals(2, workers.size(), "worker processes: " + workers);
            int port = server.port();

            // 4 slow requests on 2 single-threaded workers: two run, two wait in the workers.
            List<RawHttp> slow = new ArrayList<>();
            List<RawHttp> queued = new ArrayList<>();
            try {
                for (int i = 0; i < 4; i++) {
                    slow.add(new RawHttp(port, 25_000).send("GET /sleep?ms=1500 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
                }
                Thread.sleep(300);
                // 20 more connections, each with its request sent, right before SIGTERM.
                for (int i = 0; i < 20; i++) {
                    queued.add(new RawHttp(port, 25_000).send("GET /sleep?ms=20 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
                }
                long term = System.nanoTime();
                server.process().toHandle().destroy(); // SIGTERM (Process.destroy() would also close our end of its log)

                List<String> problems = new ArrayList<>();
                List<RawHttp> all = new ArrayList<>(slow);
                all.addAll(queued);
                for (int i = 0; i < all.size(); i++) {
                    String what = (i < slow.size() ? "slow request " + i : "queued request " + (i - slow.size()));
                    try {
                        RawHttp.Response r = all.get(i).read();
                        if (r.status() != 200) {
                            problems.add(what + ": " + r.statusLine());
                        }
                    } catch (IOException e) {
                        problems.add(what + ": " + e);
                    }
                }
                long served = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - term);
                assertTrue(problems.isEmpty(), problems.size() + " of 24 requests did not get a 200 after SIGTERM: "
                        + problems + "\nlog:\n" + server.log());
                assertTrue(served < 20_000, "requests took " + served + " ms to finish after SIGTERM");
            } finally {
                for (RawHttp h : slow) {
                    h.close();
                }
                for (RawHttp h : queued) {
                    h.close();
                }
            }

            assertTrue(server.process().waitFor(20, TimeUnit.SECONDS), "the master did not exit after SIGTERM:\n" + server.log());
            assertEquals(0, server.process().exitValue(), "exit code after SIGTERM; log:\n" + server.log());
            Set<Long> left = MasterTesting.awaitGone(workers, Duration.ofSeconds(2));
            assertTrue(left.isEmpty(), "worker processes left after the master exited: " + left);
            assertThrows(IOException.class, () -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
                }
            }, "the port still accepts connections after the master exited");
        }
    }

    /**
     * Connections that are in the kernel's accept queue when SIGTERM arrives are served. The workers are
     * paused (SIGSTOP) while the connections are made, so nobody has accepted them when the stop begins.
     */
    @Test
    void connectionsWaitingInTheAcceptQueueAtSigtermAreServed() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "2")) {
            long master = server.process().pid();
            MasterTesting.awaitReady(server, 2, BOOT);
            Set<Long> workers = new LinkedHashSet<>(MasterTesting.workerProcesses(server).keySet());
            int port = server.port();
            List<RawHttp> queued = new ArrayList<>();
            try {
                for (long w : workers) {
                    MasterTesting.signal(w, "STOP");
                }
                try {
                    for (int i = 0; i < 20; i++) {
                        queued.add(new RawHttp(port, 20_000).send("GET /sleep?ms=20 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
                    }
                    server.process().toHandle().destroy(); // SIGTERM (Process.destroy() would also close our end of its log)
                    assertTrue(server.awaitLog("SIGTERM", Duration.ofSeconds(5)), "the master saw SIGTERM:\n" + server.log());
                    Thread.sleep(200);
                } finally {
                    for (long w : workers) {
                        MasterTesting.signal(w, "CONT");
                    }
                }
                List<String> problems = new ArrayList<>();
                for (int i = 0; i < queued.size(); i++) {
                    try {
                        RawHttp.Response r = queued.get(i).read();
                        if (r.status() != 200) {
                            problems.add("queued request " + i + ": " + r.statusLine());
                        }
                    } catch (IOException e) {
                        problems.add("queued request " + i + ": " + e);
                    }
                }
                assertTrue(problems.isEmpty(), problems.size() + " of 20 queued connections were not served after SIGTERM: "
                        + problems + "\nlog:\n" + server.log());
            } finally {
                for (RawHttp h : queued) {
                    h.close();
                }
            }
            assertTrue(server.process().waitFor(20, TimeUnit.SECONDS), "the master did not exit after SIGTERM:\n" + server.log());
            assertEquals(0, server.process().exitValue(), "exit code after SIGTERM; log:\n" + server.log());
            assertTrue(MasterTesting.awaitGone(workers, Duration.ofSeconds(2)).isEmpty(), "worker processes left");
        }
    }

    /** A request that outlives --graceful-timeout does not hold the stop up: the worker goes, the client is not left hanging. */
    @Test
    void gracefulTimeoutBoundsTheStop() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "1", "--graceful-timeout", "2")) {
            long master = server.process().pid();
            MasterTesting.awaitReady(server, 1, BOOT);
            Set<Long> workers = new LinkedHashSet<>(MasterTesting.workerProcesses(server).keySet());
            try (RawHttp slow = new RawHttp(server.port(), 20_000)) {
                slow.send("GET /sleep?ms=15000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
                Thread.sleep(500);
                long term = System.nanoTime();
                server.process().toHandle().destroy(); // SIGTERM
                assertTrue(server.process().waitFor(10, TimeUnit.SECONDS),
                        "the master was still running 10 s after SIGTERM with --graceful-timeout 2:\n" + server.log());
                long tookMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - term);
                assertTrue(tookMillis < 6000, "the stop took " + tookMillis + " ms with --graceful-timeout 2:\n" + server.log());
                assertEquals(0, server.process().exitValue(), "exit code after SIGTERM; log:\n" + server.log());
                assertTrue(MasterTesting.awaitGone(workers, Duration.ofSeconds(2)).isEmpty(), "worker processes left");
                String outcome;
                try {
                    outcome = slow.read().statusLine();
                } catch (IOException closed) {
                    outcome = "closed";
                }
                assertTrue(!outcome.contains(" 200 "), "a request cut by the graceful timeout answered " + outcome);
            }
        }
    }
}
