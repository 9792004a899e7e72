package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Json;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --logto FILE and logrotate: under load, FILE is renamed and the master gets SIGUSR1; every request's access
 * line lands in one of the two files exactly once, and the new file gets the lines of the master and of every
 * worker from then on; a file that cannot be opened again leaves the old one the log, with a warning.
 */
@Timeout(180)
class LogToIT {

    private static final Pattern LISTENING = Pattern.compile("listening on http://127\\.0\\.0\\.1:(\\d+)");
    private static final int THREADS = 2;
    /** Requests on one connection before the client opens another (so both workers serve). */
    private static final int PER_CONNECTION = 10;

    private static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8) : "";
    }

    private static boolean await(Duration timeout, Path file, Pattern p, int count) throws InterruptedException {
        return MasterTesting.await(timeout, () -> {
            try {
                Matcher m = p.matcher(read(file));
                int n = 0;
                while (m.find()) {
                    n++;
                }
                return n >= count;
            } catch (IOException e) {
                return false;
            }
        });
    }

    /** The access lines' URIs of a log, each with how often it appears; every JSON line must parse. */
    private static Map<String, Integer> uris(String log) {
        Map<String, Integer> out = new HashMap<>();
        for (String line : log.lines().toList()) {
            if (line.startsWith("{")) {
                out.merge((String) Json.object(line).get("uri"), 1, Integer::sum);
            }
        }
        return out;
    }

    @Test
    void renamedAndSignalledUnderLoadEveryLineLandsOnceAndTheNewFileTakesOver() throws Exception {
        Path dir = Files.createTempDirectory("bridge-logto");
        Path log = dir.resolve("bridge.log");
        Path rotated = dir.resolve("bridge.log.1");
        Process master = BridgeServer.launch(List.of("--module", MasterTesting.APP, "--workers", "2",
                "--http", "127.0.0.1:0", "--chdir", BridgeServer.testApps().toString(), "--log-format", "json",
                "--logto", log.toString()));
        try {
            assertTrue(await(Duration.ofSeconds(60), log, MasterTesting.READY, 2), "two workers ready:\n" + read(log));
            Matcher m = LISTENING.matcher(read(log));
            assertTrue(m.find(), read(log));
            int port = Integer.parseInt(m.group(1));

            // Two clients keep the workers busy until well after every process reopened the file.
            AtomicInteger done = new AtomicInteger();
            AtomicBoolean stop = new AtomicBoolean();
            ConcurrentLinkedQueue<String> sent = new ConcurrentLinkedQueue<>();
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            List<Thread> clients = new ArrayList<>();
            for (int t = 0; t < THREADS; t++) {
                String prefix = "/load?c=" + t + "&i=";
                Thread c = new Thread(() -> load(port, prefix, stop::get, done, sent, failures));
                c.start();
                clients.add(c);
            }
            assertTrue(MasterTesting.await(Duration.ofSeconds(60), () -> done.get() >= 150), "load runs");
            Files.move(log, rotated); // what logrotate does, then its postrotate: kill -USR1 MASTER
            MasterTesting.signal(master.pid(), "USR1");
            assertTrue(await(Duration.ofSeconds(10), log, Pattern.compile("master\\[\\d+\\] - SIGUSR1: reopened the log file "
                    + Pattern.quote(log.toString())), 1), "the master's line in the new file:\n" + read(log));
            Pattern workerReopened = Pattern.compile("worker-(\\d)\\[\\d+\\] - reopened the log file "
                    + Pattern.quote(log.toString()));
            assertTrue(await(Duration.ofSeconds(10), log, workerReopened, 2), "each worker's line in the new file:\n" + read(log));
            int atReopen = done.get();
            assertTrue(MasterTesting.await(Duration.ofSeconds(60), () -> done.get() >= atReopen + 150), "load goes on");
            stop.set(true);
            for (Thread c : clients) {
                c.join(60_000);
            }
            assertTrue(failures.isEmpty(), "every request answered: " + failures);

            // Once every worker said so, new requests go to the new file only.
            ConcurrentLinkedQueue<String> after = new ConcurrentLinkedQueue<>();
            AtomicInteger afterCount = new AtomicInteger();
            load(port, "/after?i=", () -> afterCount.get() >= 40, afterCount, after, failures);
            assertTrue(failures.isEmpty(), "every request answered: " + failures);

            List<String> expected = new ArrayList<>(sent);
            expected.addAll(after);
            assertTrue(MasterTesting.await(Duration.ofSeconds(10), () -> {
                try {
                    Map<String, Integer> all = uris(read(rotated));
                    uris(read(log)).forEach((k, v) -> all.merge(k, v, Integer::sum));
                    return expected.stream().allMatch(all::containsKey);
                } catch (IOException e) {
                    return false;
                }
            }), "every access line arrives");
            Map<String, Integer> before = uris(read(rotated));
            Map<String, Integer> now = uris(read(log));
            Set<String> lost = new TreeSet<>();
            Set<String> twice = new TreeSet<>();
            for (String uri : expected) {
                int n = before.getOrDefault(uri, 0) + now.getOrDefault(uri, 0);
                if (n == 0) {
                    lost.add(uri);
                } else if (n > 1) {
                    twice.add(uri);
                }
            }
            assertEquals(Set.of(), lost, "lines lost");
            assertEquals(Set.of(), twice, "lines written twice");
            assertTrue(before.keySet().stream().anyMatch(u -> u.startsWith("/load")), "the old file has the first lines");
            assertTrue(now.keySet().stream().anyMatch(u -> u.startsWith("/load")), "the new file the next ones");
            for (String uri : after) {
                assertTrue(now.containsKey(uri), "requests after the reopen are in the new file: " + uri);
            }
            Matcher w = workerReopened.matcher(read(log));
            Set<String> slots = new TreeSet<>();
            while (w.find()) {
                slots.add(w.group(1));
            }
            assertEquals(Set.of("1", "2"), slots, "both workers reopened");
        } finally {
            master.destroy();
            if (!master.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                master.destroyForcibly();
            }
        }
        assertTrue(read(log).contains("master[" + master.pid() + "] - stopped"), "the master's last line:\n" + read(log));
    }

    @Test
    void aFileThatCannotBeReopenedLeavesTheOldOneTheLog() throws Exception {
        Path dir = Files.createTempDirectory("bridge-logto");
        Path log = dir.resolve("logs/bridge.log");
        Files.createDirectories(log.getParent());
        Process master = BridgeServer.launch(List.of("--module", MasterTesting.APP, "--workers", "1",
                "--http", "127.0.0.1:0", "--chdir", BridgeServer.testApps().toString(), "--log-format", "json",
                "--logto", log.toString()));
        try {
            assertTrue(await(Duration.ofSeconds(60), log, MasterTesting.READY, 1), "ready:\n" + read(log));
            Matcher m = LISTENING.matcher(read(log));
            assertTrue(m.find(), read(log));
            int port = Integer.parseInt(m.group(1));
            Path moved = dir.resolve("old");
            Files.move(log.getParent(), moved); // FILE's directory is gone: it cannot be opened again
            Path old = moved.resolve("bridge.log");
            MasterTesting.signal(master.pid(), "USR1");
            Pattern warning = Pattern.compile("(master|worker-1)\\[\\d+\\] - --logto: cannot reopen "
                    + Pattern.quote(log.toString()) + " \\(No such file or directory\\): logging on to the file it replaced");
            assertTrue(await(Duration.ofSeconds(10), old, warning, 2), "the master's and the worker's warning:\n" + read(old));
            try (RawHttp c = new RawHttp(port)) {
                assertEquals(200, c.exchange(Wire.get("/still?here")).status());
            }
            assertTrue(MasterTesting.await(Duration.ofSeconds(10), () -> {
                try {
                    return uris(read(old)).containsKey("/still?here");
                } catch (IOException e) {
                    return false;
                }
            }), "the old file stays the log:\n" + read(old));
            assertFalse(Files.exists(log), "nothing made the missing directory");
        } finally {
            master.destroy();
            if (!master.waitFor(20, java.util.concurrent.TimeUnit.SECONDS)) {
                master.destroyForcibly();
            }
        }
    }

    /**
     * GETs of {@code prefix + i} until {@code enough}, {@value #PER_CONNECTION} per keep-alive connection; each
     * answered one's target goes to {@code sent}.
     */
    private static void load(int port, String prefix, BooleanSupplier enough, AtomicInteger done,
                             ConcurrentLinkedQueue<String> sent, ConcurrentLinkedQueue<String> failures) {
        int i = 0;
        while (!enough.getAsBoolean() && failures.isEmpty()) {
            try (RawHttp c = new RawHttp(port)) {
                for (int k = 0; k < PER_CONNECTION && !enough.getAsBoolean(); k++, i++) {
                    RawHttp.Response r = c.exchange(Wire.get(prefix + i));
                    if (r.status() == 200) {
                        sent.add(prefix + i);
                    } else {
                        failures.add(prefix + i + ": " + r.status());
                    }
                    done.incrementAndGet();
                }
            } catch (IOException e) {
                failures.add(prefix + i + ": " + e);
            }
        }
    }
}
