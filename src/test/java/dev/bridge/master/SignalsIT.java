package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.api.Test;

import java.time.Duration;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.bridge.master.MasterTesting.APP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Signals to the master: SIGTTIN / SIGTTOU change the worker count, SIGUSR1 logs stats, SIGHUP replaces every worker. */
class SignalsIT {

    private static final Duration BOOT = Duration.ofSeconds(40);

    @Test
    void ttinAddsAWorkerAndTtouRemovesOne() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "2")) {
            long master = server.process().pid();
            MasterTesting.awaitReady(server, 2, BOOT);
            assertEquals(Set.of(1, 2), new HashSet<>(MasterTesting.workerProcesses(server).values()));

            MasterTesting.signal(master, "TTIN");
            assertTrue(MasterTesting.await(BOOT, () -> MasterTesting.readyWorkers(server.log()).containsValue(3)),
                    "SIGTTIN: no worker 3 became ready; log:\n" + server.log());
            assertTrue(MasterTesting.await(Duration.ofSeconds(5), () -> MasterTesting.workerProcesses(server).size() == 3),
                    "SIGTTIN: expected 3 worker processes: " + MasterTesting.workerProcesses(server));
            assertEquals(Set.of(1, 2, 3), new HashSet<>(MasterTesting.workerProcesses(server).values()));

            MasterTesting.signal(master, "TTOU");
            assertTrue(MasterTesting.await(Duration.ofSeconds(15), () -> MasterTesting.workerProcesses(server).size() == 2),
                    "SIGTTOU: expected 2 worker processes: " + MasterTesting.workerProcesses(server) + "; log:\n" + server.log());
            assertEquals(Set.of(1, 2), new HashSet<>(MasterTesting.workerProcesses(server).values()), "the highest number goes");

            MasterTesting.signal(master, "TTOU");
            assertTrue(MasterTesting.await(Duration.ofSeconds(15), () -> MasterTesting.workerProcesses(server).size() == 1),
                    "SIGTTOU: expected 1 worker process: " + MasterTesting.workerProcesses(server) + "; log:\n" + server.log());
            // Never below one worker.
            MasterTesting.signal(master, "TTOU");
            Thread.sleep(1000);
            Map<Long, Integer> left = MasterTesting.workerProcesses(server);
            assertEquals(List.of(1), List.copyOf(left.values()), "one worker, number 1, after a SIGTTOU too many: " + left);
            long only = left.keySet().iterator().next();
            for (int i = 0; i < 5; i++) {
                assertEquals(only, MasterTesting.pidOf(server.port(), "/", 10_000), "the remaining worker serves");
            }
            // No respawn of the removed slots happened behind our back.
            Thread.sleep(1500);
            assertEquals(left, MasterTesting.workerProcesses(server), "the worker set is stable");
        }
    }

    private static final Pattern STATS_HEADER = Pattern.compile("SIGUSR1: (\\d+) worker process\\(es\\)");

    @Test
    void usr1LogsOneStatsLinePerWorkerWithItsRequestCount() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "2")) {
            long master = server.process().pid();
            Map<Long, Integer> workers = MasterTesting.awaitReady(server, 2, BOOT);
            Map<Long, Integer> served = new HashMap<>();
            for (int i = 0; i < 12; i++) {
                served.merge(MasterTesting.pidOf(server.port(), "/", 10_000), 1, Integer::sum);
            }
            Thread.sleep(2500); // heartbeats carry the counters every second
            MasterTesting.signal(master, "USR1");
            assertTrue(MasterTesting.awaitLog(server, STATS_HEADER, 1, Duration.ofSeconds(5)),
                    "no stats after SIGUSR1; log:\n" + server.log());
            Thread.sleep(300);
            String log = server.log();
            List<String> lines = MasterTesting.lines(log);
            int header = -1;
            for (int i = 0; i < lines.size(); i++) {
                if (STATS_HEADER.matcher(lines.get(i)).find()) {
                    header = i;
                }
            }
            long total = 0;
            for (long pid : workers.keySet()) {
                String line = lines.subList(header, lines.size()).stream()
                        .filter(l -> l.contains("(pid " + pid + ")")).findFirst().orElse(null);
                assertTrue(line != null, "no stats line for worker pid " + pid + " after SIGUSR1; log:\n" + log);
                Matcher m = Pattern.compile("(\\d+) request\\(s\\)").matcher(line);
                assertTrue(m.find(), "the stats line has a request count: " + line);
                long count = Long.parseLong(m.group(1));
                assertEquals(served.getOrDefault(pid, 0).longValue(), count,
                        "requests served by pid " + pid + " (we counted " + served + "): " + line);
                total += count;
            }
            assertEquals(12, total, "requests counted over all workers");
        }
    }

    @Test
    void hupReplacesEveryWorkerWhileRequestsKeepSucceeding() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "2", "--disable-logging")) {
            long master = server.process().pid();
            Set<Long> old = new LinkedHashSet<>(MasterTesting.awaitReady(server, 2, BOOT).keySet());
            MasterTesting.Load load = new MasterTesting.Load(server.port(), "/sleep?ms=5", 3, 10_000);
            Set<Long> fresh;
            long hup;
            try {
                Thread.sleep(1000);
                MasterTesting.signal(master, "HUP");
                hup = System.nanoTime();
                Pattern generation2 = Pattern.compile("worker \\d+ \\(pid \\d+\\) ready \\(generation 2\\)");
                assertTrue(MasterTesting.awaitLog(server, generation2, 2, BOOT),
                        "SIGHUP: two workers of generation 2 did not become ready; log:\n" + server.log());
                Set<Long> oldPids = old;
                assertTrue(MasterTesting.awaitGone(oldPids, Duration.ofSeconds(15)).isEmpty(),
                        "the old workers are still running; log:\n" + server.log());
                Thread.sleep(1000); // the new generation alone serves for a while
            } finally {
                assertTrue(load.stop(), "a client thread hung");
            }
            String context = MasterTesting.describe(load.failures()) + "\nlog:\n" + server.log();
            assertEquals(List.of(), load.failures(), "requests fail during a SIGHUP reload: " + context);
            fresh = new LinkedHashSet<>(MasterTesting.workerProcesses(server).keySet());
            assertEquals(2, fresh.size(), "2 workers after the reload: " + fresh);
            for (long pid : fresh) {
                assertFalse(old.contains(pid), "worker " + pid + " was not replaced; " + context);
            }
            assertEquals(Set.of(1, 2), new HashSet<>(MasterTesting.workerProcesses(server).values()), "numbers kept");
            Set<Long> servedAfter = new HashSet<>();
            long settled = System.nanoTime() - 500_000_000L;
            load.results().stream().filter(r -> r.ok() && r.start() > settled).forEach(r -> servedAfter.add(r.pid()));
            assertFalse(servedAfter.isEmpty(), "requests were served at the end; " + context);
            assertTrue(fresh.containsAll(servedAfter), "late requests are served by the new workers " + fresh + ", not " + servedAfter);
            assertTrue(load.results().stream().filter(r -> r.start() > hup).count() > 50, "too few requests after SIGHUP; " + context);
        }
    }
}
