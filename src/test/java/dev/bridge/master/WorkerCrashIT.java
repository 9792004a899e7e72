package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static dev.bridge.master.MasterTesting.APP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Crashes: kill -9 of workers under sustained load (service goes on, the slot comes back, nobody hangs), and
 * kill -9 of the master (its workers drain and exit: no orphans).
 */
class WorkerCrashIT {

    private static final Duration BOOT = Duration.ofSeconds(40);

    @Test
    void killedWorkersUnderLoadAreReplacedAndServiceContinues() throws Exception {
        long seed = System.nanoTime();
        Random random = new Random(seed);
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "3", "--disable-logging")) {
            long master = server.process().pid();
            MasterTesting.awaitReady(server, 3, BOOT);
            Map<Long, Long> killedAt = new HashMap<>(); // victim pid -> System.nanoTime() right after kill -9
            Map<Long, Integer> victimSlot = new HashMap<>();
            MasterTesting.Load load = new MasterTesting.Load(server.port(), "/sleep?ms=5", 4, 10_000);
            try {
                Thread.sleep(1500);
                for (int round = 0; round < 2; round++) {
                    // A random worker among those the master reported ready and that are alive.
                    Map<Long, Integer> ready = MasterTesting.readyWorkers(server.log());
                    List<Long> candidates = new ArrayList<>();
                    MasterTesting.workerProcesses(server).forEach((pid, slot) -> {
                        if (ready.containsKey(pid) && !killedAt.containsKey(pid)) {
                            candidates.add(pid);
                        }
                    });
                    assertFalse(candidates.isEmpty(), "no ready worker to kill; log:\n" + server.log());
                    long victim = candidates.get(random.nextInt(candidates.size()));
                    victimSlot.put(victim, ready.get(victim));
                    MasterTesting.signal(victim, "KILL");
                    killedAt.put(victim, System.nanoTime());
                    Thread.sleep(3000);
                }
            } finally {
                assertTrue(load.stop(), "a client thread hung (seed " + seed + ")");
            }
            long lastKill = killedAt.values().stream().max(Long::compare).orElseThrow();
            long firstKill = killedAt.values().stream().min(Long::compare).orElseThrow();
            List<MasterTesting.Result> results = load.results();
            List<MasterTesting.Result> failures = load.failures();
            String context = "seed " + seed + ", victims " + killedAt.keySet() + ", " + MasterTesting.describe(failures)
                    + "\nlog:\n" + server.log();

            // Only requests on a connection the killed worker held may fail, and they fail fast.
            for (MasterTesting.Result f : failures) {
                Long killed = killedAt.get(f.connPid());
                boolean onVictimConnection = killed != null
                        || (f.connPid() == 0 && killedAt.values().stream().anyMatch(k -> f.connOpened() < k));
                assertTrue(onVictimConnection, "a request failed that no killed worker held: " + f + "; " + context);
                long killTime = killed != null ? killed
                        : killedAt.values().stream().filter(k -> f.connOpened() < k).min(Long::compare).orElseThrow();
                assertTrue(f.end() - killTime < TimeUnit.SECONDS.toNanos(2),
                        "a request on the killed worker took more than 2 s after the kill to fail: " + f + "; " + context);
                assertFalse(f.error() != null && f.error().contains("Timeout"), "a request hung: " + f + "; " + context);
            }
            assertTrue(failures.size() <= 4 * killedAt.size(),
                    "more failures than requests that can be in flight on the killed workers; " + context);

            // Service went on: requests succeeded right after each kill, and nothing failed after the last one.
            for (long k : killedAt.values()) {
                long after = results.stream().filter(r -> r.ok() && r.start() > k && r.end() < k + TimeUnit.MILLISECONDS.toNanos(2500)).count();
                assertTrue(after >= 20, "only " + after + " requests succeeded in the 2.5 s after a kill; " + context);
            }
            long lateFailures = failures.stream().filter(f -> f.start() > lastKill + TimeUnit.SECONDS.toNanos(1)).count();
            assertEquals(0, lateFailures, "requests failed more than a second after the last kill; " + context);
            assertTrue(results.stream().filter(r -> r.start() > firstKill).count() > 100, "too few requests after the kills; " + context);

            // Each slot came back: the master logged the death (with the signal) and a new worker of that number.
            for (Map.Entry<Long, Integer> v : victimSlot.entrySet()) {
                long pid = v.getKey();
                int slot = v.getValue();
                assertTrue(server.log().contains("worker " + slot + " (pid " + pid + ") was killed by signal 9"),
                        "the master did not log the death of worker " + slot + " (pid " + pid + "); " + context);
                assertTrue(MasterTesting.await(BOOT, () -> MasterTesting.readyAfter(server.log(), "(pid " + pid + ") was killed", slot) != 0),
                        "no new worker " + slot + " became ready after pid " + pid + " was killed; " + context);
                assertFalse(MasterTesting.alive(pid), "killed worker " + pid + " still alive");
            }
            assertTrue(MasterTesting.await(BOOT, () -> MasterTesting.workerProcesses(server).size() == 3),
                    "expected 3 worker processes again: " + MasterTesting.workerProcesses(server) + "; " + context);
            Map<Long, Integer> now = MasterTesting.workerProcesses(server);
            assertEquals(Set.of(1, 2, 3), new java.util.HashSet<>(now.values()), "worker numbers 1..3 are kept: " + now);
            for (long pid : now.keySet()) {
                assertFalse(killedAt.containsKey(pid), "a killed pid is listed as a worker: " + now);
            }
            // And the whole set serves.
            for (int i = 0; i < 10; i++) {
                long pid = MasterTesting.pidOf(server.port(), "/", 10_000);
                assertTrue(now.containsKey(pid), "answered by pid " + pid + ", not a current worker " + now);
            }
        }
    }

    @Test
    void workersDrainAndExitWhenTheMasterIsKilled() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "2")) {
            long master = server.process().pid();
            MasterTesting.awaitReady(server, 2, BOOT);
            Set<Long> workers = new LinkedHashSet<>(MasterTesting.workerProcesses(server).keySet());
            assertEquals(2, workers.size(), "worker processes: " + workers);
            int port = server.port();
            CompletableFuture<RawHttp.Response> slow = CompletableFuture.supplyAsync(() -> {
                try {
                    return MasterTesting.get(port, "/sleep?ms=1500", 15_000);
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            Thread.sleep(400); // the request is in the app by now
            MasterTesting.signal(master, "KILL");
            long killed = System.nanoTime();
            assertTrue(server.process().waitFor(5, TimeUnit.SECONDS), "the master survived kill -9");

            // The request in flight finishes (the worker drains), then every worker exits.
            RawHttp.Response r = slow.get(15, TimeUnit.SECONDS);
            assertEquals(200, r.status(), "the in-flight request of an orphaned worker: " + r.statusLine());
            Set<Long> left = MasterTesting.awaitGone(workers, Duration.ofSeconds(5));
            assertTrue(left.isEmpty(), "workers still running "
                    + TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - killed) + " ms after kill -9 of the master: "
                    + left + "\nlog:\n" + server.log());
            assertTrue(server.log().contains("the master is gone"), "workers log the loss of their master:\n" + server.log());

            // Nobody holds the listener any more: nothing stale answers.
            assertThrows(IOException.class, () -> {
                try (Socket s = new Socket()) {
                    s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
                }
            }, "a connection was accepted after the master and its workers are gone");
        }
    }
}
