package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.bridge.master.MasterTesting.APP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Recycling: --max-requests replaces workers under load without a failed request; --harakiri kills a worker
 * whose request runs too long, names the request in the log, and a respawned worker serves afterwards.
 */
class RecyclingIT {

    private static final Duration BOOT = Duration.ofSeconds(40);

    @Test
    void maxRequestsReplacesWorkersUnderLoadWithoutAFailedRequest() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "2", "--max-requests", "200", "--disable-logging")) {
            long master = server.process().pid();
            Map<Long, Integer> first = MasterTesting.awaitReady(server, 2, BOOT);
            MasterTesting.Load load = new MasterTesting.Load(server.port(), "/sleep?ms=2", 4, 10_000);
            try {
                // At least 4 s, and until a replacement has served (bounded: a loaded machine boots slowly).
                Thread.sleep(4000);
                MasterTesting.await(Duration.ofSeconds(20), () -> !first.keySet().containsAll(load.pids()));
                Thread.sleep(500);
            } finally {
                assertTrue(load.stop(), "a client thread hung");
            }
            List<MasterTesting.Result> results = load.results();
            String context = results.size() + " requests, " + MasterTesting.describe(load.failures()) + "\nlog:\n" + server.log();
            assertTrue(results.size() >= 400, "the load was too light to reach --max-requests: " + context);
            assertEquals(List.of(), load.failures(), "no request fails while workers are recycled: " + context);

            // The log shows the replacements, and new workers served.
            assertTrue(server.log().contains("requests (--max-requests): starting its replacement"),
                    "the master logs a --max-requests replacement: " + context);
            Set<Long> served = load.pids();
            Set<Long> newServers = new LinkedHashSet<>(served);
            newServers.removeAll(first.keySet());
            assertFalse(newServers.isEmpty(), "no replacement worker served a request; pids that served: " + served + "; " + context);
            Map<Long, Integer> readyNow = MasterTesting.readyWorkers(server.log());
            for (long pid : newServers) {
                assertTrue(readyNow.containsKey(pid), "pid " + pid + " served but the master never reported it ready; " + context);
            }
            // Replaced workers exit once drained (retired), and the count settles back at 2.
            Pattern retired = Pattern.compile("worker \\d+ \\(pid (\\d+)\\) exited with status 0 \\(retired\\)");
            assertTrue(MasterTesting.awaitLog(server, retired, 1, Duration.ofSeconds(10)),
                    "a replaced worker exits with status 0 once drained; " + context);
            assertTrue(MasterTesting.await(Duration.ofSeconds(30), () -> MasterTesting.workerProcesses(server).size() == 2),
                    "2 worker processes once the load is over: " + MasterTesting.workerProcesses(server) + "; " + context);
        }
    }

    @Test
    void harakiriKillsAWorkerStuckInARequestAndARespawnedOneServes() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "1", "--harakiri", "2")) {
            Map<Long, Integer> ready = MasterTesting.awaitReady(server, 1, BOOT);
            long stuck = ready.keySet().iterator().next();
            long start = System.nanoTime();
            String outcome;
            try (RawHttp http = new RawHttp(server.port(), 20_000)) {
                RawHttp.Response r = http.exchange("GET /sleep?ms=8000 HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
                outcome = r.statusLine();
                assertTrue(r.status() >= 500, "a request killed by harakiri answered " + r.statusLine());
            } catch (IOException closed) {
                outcome = closed.toString(); // a closed or reset connection is a valid answer
            }
            long tookMillis = (System.nanoTime() - start) / 1_000_000;
            assertTrue(tookMillis < 6000, "the client waited " + tookMillis + " ms (" + outcome
                    + ") for a request over a 2 s --harakiri; log:\n" + server.log());
            assertTrue(tookMillis >= 1900, "harakiri hit after only " + tookMillis + " ms: " + outcome);

            Pattern harakiri = Pattern.compile("harakiri.*pid " + stuck + "\\D.*?(\\d+) s.*?/sleep\\?ms=8000");
            assertTrue(MasterTesting.awaitLog(server, harakiri, 1, Duration.ofSeconds(5)),
                    "the log names the worker, the duration and the path of the request:\n" + server.log());
            Matcher m = MasterTesting.matches(server.log(), harakiri).get(0);
            assertTrue(Integer.parseInt(m.group(1)) >= 2, "the logged duration is at least the limit: " + m.group());

            // Served afterwards by a new worker 1 (this request may wait in the queue while it boots).
            long next = MasterTesting.pidOf(server.port(), "/", 30_000);
            assertNotEquals(stuck, next, "served by the killed worker?");
            assertFalse(MasterTesting.alive(stuck), "the stuck worker is gone");
            assertTrue(MasterTesting.await(Duration.ofSeconds(5), () -> MasterTesting.readyWorkers(server.log()).containsKey(next)),
                    "the master reports the respawned worker ready:\n" + server.log());
            assertEquals(1, MasterTesting.readyWorkers(server.log()).get(next), "the respawned worker is number 1");
            for (int i = 0; i < 5; i++) {
                assertEquals(next, MasterTesting.pidOf(server.port(), "/sleep?ms=100", 10_000));
            }
        }
    }
}
