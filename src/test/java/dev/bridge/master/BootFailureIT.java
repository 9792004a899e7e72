package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Workers that cannot boot: an app that never imports makes the master give up with the traceback and exit
 * code 4 instead of looping; a worker that dies at boot only for a while is retried with growing delays and
 * recovers.
 */
class BootFailureIT {

    private static final Duration BOOT = Duration.ofSeconds(40);

    @Test
    void anAppThatFailsToImportMakesTheMasterExitWithCode4() throws Exception {
        List<String> args = List.of("--module", "master_broken", "--workers", "3", "--http", "127.0.0.1:0",
                "--chdir", BridgeServer.testApps().toString());
        try (MasterTesting.Launched master = new MasterTesting.Launched(args)) {
            long started = System.nanoTime();
            int code = master.awaitExit(Duration.ofSeconds(45));
            long tookMillis = (System.nanoTime() - started) / 1_000_000;
            String out = master.output();
            assertTrue(code != -1, "the master was still running 45 s after start with an app that cannot import; "
                    + "spawned " + MasterTesting.workerPidsInLog(out).size() + " workers so far; output:\n" + out);
            assertEquals(4, code, "exit code when no worker can load the app (4 = app load error); output:\n" + out);
            assertTrue(out.contains("Traceback (most recent call last)"), "the Python traceback is in the output:\n" + out);
            assertTrue(out.contains("RuntimeError: master_broken fails at import on purpose"),
                    "the exception is in the output:\n" + out);
            assertTrue(out.contains("master_broken.py"), "the traceback names the app's file:\n" + out);

            // No respawn loop: each slot is tried, at most once more after its back-off (while the others still
            // boot), then the master gives up and exits (checked above).
            Set<Long> spawned = MasterTesting.workerPidsInLog(out);
            Map<Integer, Set<Long>> bySlot = new TreeMap<>();
            for (Pattern p : List.of(MasterTesting.WORKER_MENTION, MasterTesting.WORKER_TAG)) {
                for (Matcher m : MasterTesting.matches(out, p)) {
                    bySlot.computeIfAbsent(Integer.parseInt(m.group(1)), k -> new LinkedHashSet<>()).add(Long.parseLong(m.group(2)));
                }
            }
            assertEquals(Set.of(1, 2, 3), bySlot.keySet(), "every slot was tried: " + bySlot + "; output:\n" + out);
            for (Map.Entry<Integer, Set<Long>> e : bySlot.entrySet()) {
                assertTrue(e.getValue().size() <= 2, "worker " + e.getKey() + " was spawned " + e.getValue().size()
                        + " times during start-up: " + e.getValue() + "; output:\n" + out);
            }
            assertTrue(out.contains("giving up"), "the master says it gives up:\n" + out);
            Set<Long> left = MasterTesting.awaitGone(spawned, Duration.ofSeconds(2));
            assertTrue(left.isEmpty(), "worker processes left after the master exited: " + left);
            assertTrue(tookMillis < 30_000, "the master took " + tookMillis + " ms to give up");
        }
    }

    /**
     * "Every worker fails at start-up" means every slot, not as many failures as slots: worker 1 failing twice
     * in a row while worker 2 is still importing (slowly) must not make the master give up.
     */
    @Test
    void oneWorkerFailingRepeatedlyAtStartupDoesNotStopTheOthers() throws Exception {
        List<String> args = List.of("--module", "master_slot1_broken", "--workers", "2", "--http", "127.0.0.1:0",
                "--chdir", BridgeServer.testApps().toString());
        try (MasterTesting.Launched server = new MasterTesting.Launched(args)) {
            long master = server.process.pid();
            Pattern slotOneFailure = Pattern.compile("worker 1 \\(pid \\d+\\) exited with status 4 while booting");
            // Worker 2 takes 8 s to import; meanwhile worker 1 fails, is retried after 1 s, fails again, ...
            boolean ready = MasterTesting.await(BOOT, () -> MasterTesting.readyWorkers(server.output()).size() >= 1
                    || !server.process.isAlive());
            String log = server.output();
            int slotOneFailures = MasterTesting.matches(log, slotOneFailure).size();
            long slotOneProcesses = MasterTesting.matches(log, Pattern.compile("worker-1\\[(\\d+)\\] - cannot load the app"))
                    .stream().map(m -> m.group(1)).distinct().count();
            assertTrue(server.process.isAlive(), () -> "the master gave up (exit code " + server.process.exitValue()
                    + ") after worker 1 failed " + slotOneProcesses + " time(s), while worker 2 was still "
                    + "loading the app; log:\n" + log);
            assertTrue(ready, "worker 2 did not become ready; log:\n" + log);
            assertTrue(slotOneFailures >= 2, "worker 1 was retried during the start-up: " + slotOneFailures + "\n" + log);
            assertEquals(Set.of(2), Set.copyOf(MasterTesting.readyWorkers(log).values()), "worker 2 serves");
            for (int i = 0; i < 3; i++) {
                long pid = MasterTesting.pidOf(server.port(), "/", 10_000);
                assertTrue(MasterTesting.workerProcesses(master, server.output()).containsKey(pid), "served by a worker: " + pid);
            }
            server.process.toHandle().destroy();
            assertEquals(0, server.awaitExit(Duration.ofSeconds(20)), "exit code after SIGTERM");
        }
    }

    /** {@code worker 1 (pid 123) exited with status 7 while booting (2 time(s) in a row): next try in 2.0 s}. */
    private static final Pattern BOOT_FAILURE = Pattern.compile(
            "worker 1 \\(pid (\\d+)\\) exited with status 7 while booting \\((\\d+) time\\(s\\) in a row\\): next try in ([0-9.]+) s");

    @Test
    void aWorkerThatDiesAtBootIsRetriedWithGrowingDelaysAndRecovers() throws Exception {
        Path marker = BridgeServer.testApps().resolve("master_flaky.marker");
        Files.deleteIfExists(marker);
        try (BridgeServer server = BridgeServer.start("--module", "master_flaky", "--workers", "2")) {
            long master = server.process().pid();
            Map<Long, Integer> ready = MasterTesting.awaitReady(server, 2, BOOT);
            long victim = ready.entrySet().stream().filter(e -> e.getValue() == 1).findFirst().orElseThrow().getKey();

            // From now on a new worker dies while importing the app.
            Files.writeString(marker, "crash\n");
            MasterTesting.signal(victim, "KILL");

            // Respawned at once (a new process for slot 1 within a second), and the death is logged with its signal.
            Set<Long> slotOnePids = new LinkedHashSet<>();
            boolean respawned = MasterTesting.await(Duration.ofSeconds(1), () -> {
                MasterTesting.workerProcesses(server).forEach((pid, slot) -> {
                    if (slot == 1 && pid != victim) {
                        slotOnePids.add(pid);
                    }
                });
                return !slotOnePids.isEmpty();
            });
            assertTrue(respawned, "no new worker 1 process within 1 s of the kill; log:\n" + server.log());
            assertTrue(MasterTesting.awaitLog(server, Pattern.compile("worker 1 \\(pid " + victim + "\\) was killed by signal 9"), 1,
                    Duration.ofSeconds(2)), "the master logs the signal that killed the worker:\n" + server.log());

            // Three failed boots in a row; worker 2 serves meanwhile.
            List<String> problems = new ArrayList<>();
            boolean threeFailures = MasterTesting.await(Duration.ofSeconds(40), () -> {
                try {
                    long pid = MasterTesting.pidOf(server.port(), "/", 5000);
                    if (pid == victim) {
                        problems.add("answered by the killed worker");
                    }
                } catch (Exception | AssertionError e) {
                    problems.add(e.toString());
                }
                return MasterTesting.matches(server.log(), BOOT_FAILURE).size() >= 3;
            });
            assertTrue(threeFailures, "expected 3 boot failures of worker 1; log:\n" + server.log());
            Files.deleteIfExists(marker);
            assertTrue(problems.isEmpty(), "requests failed while worker 1 could not boot (worker 2 was serving): "
                    + problems + "\nlog:\n" + server.log());

            // It recovers once the marker is gone.
            assertTrue(MasterTesting.await(Duration.ofSeconds(40),
                            () -> MasterTesting.readyAfter(server.log(), "was killed by signal 9", 1) != 0),
                    "worker 1 did not recover after the marker was removed; log:\n" + server.log());
            String log = server.log();
            long recovered = MasterTesting.readyAfter(log, "was killed by signal 9", 1);

            // The delays grow, and the master waited at least the announced delay before each new try.
            List<String> failureLines = new ArrayList<>();
            List<Double> delays = new ArrayList<>();
            Set<Long> failedPids = new LinkedHashSet<>();
            for (String line : MasterTesting.lines(log)) {
                Matcher m = BOOT_FAILURE.matcher(line);
                if (m.find()) {
                    failureLines.add(line);
                    failedPids.add(Long.parseLong(m.group(1)));
                    delays.add(Double.parseDouble(m.group(3)));
                    assertEquals(failureLines.size(), Integer.parseInt(m.group(2)), "failures are counted in a row: " + line);
                }
            }
            assertEquals(failureLines.size(), failedPids.size(), "each failure is a distinct process: " + failureLines);
            for (int i = 1; i < delays.size(); i++) {
                assertTrue(delays.get(i) >= 2 * delays.get(i - 1) - 0.001 || delays.get(i) >= 60,
                        "the back-off does not grow exponentially: " + delays + "\nlog:\n" + log);
                long gap = MasterTesting.logMillis(failureLines.get(i)) - MasterTesting.logMillis(failureLines.get(i - 1));
                assertTrue(gap >= delays.get(i - 1) * 1000 - 50,
                        "the next try came " + gap + " ms after a failure announcing a delay of " + delays.get(i - 1)
                                + " s\nlog:\n" + log);
            }
            assertTrue(delays.get(0) >= 0.5, "the first back-off is too short: " + delays);
            String readyLine = MasterTesting.lines(log).stream()
                    .filter(l -> l.contains("worker 1 (pid " + recovered + ") ready")).findFirst().orElseThrow();
            String lastFailure = failureLines.get(failureLines.size() - 1);
            long waited = MasterTesting.logMillis(readyLine) - MasterTesting.logMillis(lastFailure);
            assertTrue(waited >= delays.get(delays.size() - 1) * 1000 - 50,
                    "worker 1 came back " + waited + " ms after the last failure, before its back-off of "
                            + delays.get(delays.size() - 1) + " s\nlog:\n" + log);

            // The recovered worker is a process of slot 1 and serves (alone, once worker 2 is gone).
            assertTrue(MasterTesting.workerProcesses(server).containsKey(recovered),
                    "the recovered worker is a live process of the master: " + MasterTesting.workerProcesses(server));
            assertEquals(1, MasterTesting.workerProcesses(server).get(recovered), "it keeps number 1");
            long other = ready.entrySet().stream().filter(e -> e.getValue() == 2).findFirst().orElseThrow().getKey();
            MasterTesting.signal(other, "STOP"); // worker 2 cannot accept: requests go to worker 1
            try {
                assertEquals(recovered, MasterTesting.pidOf(server.port(), "/", 10_000), "served by the recovered worker");
            } finally {
                MasterTesting.signal(other, "CONT");
            }
        } finally {
            Files.deleteIfExists(marker);
        }
    }
}
