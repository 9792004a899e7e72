package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Standbys: worker JVMs the master keeps booted without Python, which become the workers of the next reload
 * (or respawn), so a reload loads only Python and the app. They must hold no Python until given a slot (new
 * code is really loaded), learn their identity then, be replaced when used or dead, and never outlive the
 * master.
 */
class StandbyIT {

    private static final Duration BOOT = Duration.ofSeconds(40);
    private static final Pattern DONE = Pattern.compile("reload done: generation (\\d+)");

    /** The deployed app's directory (JUnit removes it after each test). */
    @TempDir
    Path dir;

    /** The app answers its version (fixed at import) and the identity its process environment gives it. */
    private void deploy(String version) throws IOException {
        Files.writeString(dir.resolve("identity.py"), """
                import os

                VERSION = 'DEPLOYED'

                def application(environ, start_response):
                    start_response('200 OK', [('Content-Type', 'text/plain')])
                    return [('version=%s worker=%s generation=%s pid=%d' % (VERSION, os.environ.get('BRIDGE_WORKER_ID'),
                             os.environ.get('BRIDGE_GENERATION'), os.getpid())).encode()]
                """.replace("DEPLOYED", version));
        Files.deleteIfExists(dir.resolve("__pycache__").resolve("identity.cpython-311.pyc"));
    }

    private BridgeServer start(String... extra) throws Exception {
        return MasterTesting.startReady(2, BOOT, List.of("--module", "identity:application", "--chdir", dir.toString(),
                "--disable-logging"), extra);
    }

    private static String get(BridgeServer server) throws IOException {
        return MasterTesting.okText(server.port(), "/", 10_000);
    }

    /** Waits until exactly {@code n} standbys wait, each booted (it said so: "standby (pid P) ready in"). */
    private static Set<Long> awaitStandbys(BridgeServer server, int n) throws InterruptedException {
        assertTrue(MasterTesting.await(BOOT, () -> {
            Set<Long> idle = MasterTesting.idleStandbys(server);
            return idle.size() == n && idle.stream().allMatch(pid -> server.log().contains("standby (pid " + pid + ") ready in"));
        }), () -> n + " standbys expected, found " + MasterTesting.idleStandbys(server) + "; log:\n" + server.log());
        return MasterTesting.idleStandbys(server);
    }

    private static boolean hasPython(long pid) throws IOException {
        return Files.readString(Path.of("/proc/" + pid + "/maps")).contains("libpython");
    }

    @Test
    void standbysWaitWithoutPythonThenBecomeTheNewGenerationWithItsNewCode() throws Exception {
        deploy("1");
        try (BridgeServer server = start()) {
            Set<Long> standbys = awaitStandbys(server, 2);
            for (long pid : standbys) {
                assertFalse(hasPython(pid), "a standby holds no Python: " + pid);
                assertTrue(MasterTesting.commandLine(pid).contains("-Dbridge.worker=standby "), "ps names it a standby");
            }
            for (long pid : MasterTesting.workerProcesses(server).keySet()) {
                assertTrue(hasPython(pid), "a worker does (the check above can fail): " + pid);
            }
            assertTrue(get(server).startsWith("version=1 "), get(server));
            Set<Long> old = MasterTesting.workerProcesses(server).keySet();

            deploy("2");
            MasterTesting.signal(server.process().pid(), "HUP");
            assertTrue(MasterTesting.awaitLog(server, DONE, 1, BOOT), () -> "no reload done; log:\n" + server.log());
            assertTrue(MasterTesting.awaitGone(old, Duration.ofSeconds(20)).isEmpty(), "the old workers retire");
            Map<Long, Integer> workers = MasterTesting.workerProcesses(server);
            assertEquals(standbys, workers.keySet(), "the standbys became the new workers; log:\n" + server.log());
            assertEquals(Set.of(1, 2), new HashSet<>(workers.values()));

            // Each new worker has the new code and the identity the master gave it at BOOT.
            Set<Long> answered = new HashSet<>();
            assertTrue(MasterTesting.await(Duration.ofSeconds(15), () -> {
                try {
                    String body = get(server);
                    long pid = Long.parseLong(body.substring(body.indexOf("pid=") + 4));
                    assertEquals("version=2 worker=" + workers.get(pid) + " generation=2 pid=" + pid, body);
                    answered.add(pid);
                } catch (IOException e) {
                    return false;
                }
                return answered.equals(workers.keySet());
            }), () -> "both new workers answer; got " + answered + "; log:\n" + server.log());

            // Used standbys are replaced by fresh ones.
            Set<Long> fresh = awaitStandbys(server, 2);
            assertTrue(fresh.stream().noneMatch(standbys::contains), "new standbys: " + fresh + " vs " + standbys);
            assertEquals(0, server.stop(Duration.ofSeconds(20)), "exit status after SIGTERM");
            assertTrue(MasterTesting.awaitGone(fresh, Duration.ofSeconds(10)).isEmpty(), "the standbys stop with the master");
        }
    }

    @Test
    void aStandbyThatDiesIsReplacedAndServiceGoesOn() throws Exception {
        deploy("1");
        try (BridgeServer server = start("--standby", "1")) {
            long standby = awaitStandbys(server, 1).iterator().next();
            MasterTesting.signal(standby, "KILL");
            assertTrue(MasterTesting.awaitLog(server, Pattern.compile("standby \\(pid " + standby
                    + "\\) was killed by signal 9 unexpectedly"), 1, BOOT), () -> "the loss is logged:\n" + server.log());
            long next = awaitStandbys(server, 1).iterator().next();
            assertTrue(next != standby, "a new standby");
            assertTrue(get(server).startsWith("version=1 "));
        }
    }

    @Test
    void standbysDoNotOutliveAMasterKilledOutright() throws Exception {
        deploy("1");
        try (BridgeServer server = start()) {
            Set<Long> standbys = awaitStandbys(server, 2);
            MasterTesting.signal(server.process().pid(), "KILL");
            assertTrue(MasterTesting.awaitGone(standbys, Duration.ofSeconds(15)).isEmpty(),
                    "standbys exit once their master is gone (EOF on the control socket)");
        }
    }

    @Test
    void withNoStandbyAReloadStartsNewJvms() throws Exception {
        deploy("1");
        try (BridgeServer server = start("--standby", "0")) {
            Set<Long> before = MasterTesting.workerProcesses(server).keySet();
            deploy("2");
            MasterTesting.signal(server.process().pid(), "HUP");
            assertTrue(MasterTesting.awaitLog(server, DONE, 1, BOOT), () -> "no reload done; log:\n" + server.log());
            Thread.sleep(2 * Master.STANDBY_QUIET_MILLIS);
            assertTrue(get(server).startsWith("version=2 "));
            assertFalse(server.log().contains("standby"), "no standby at all:\n" + server.log());
            assertTrue(MasterTesting.workerProcesses(server).keySet().stream().noneMatch(before::contains));
        }
    }
}
