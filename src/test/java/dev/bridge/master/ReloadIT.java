package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Reloads of a deployed app whose code changes on disk, as a deploy does it: a broken deploy is aborted and
 * the old code goes on serving; the fix then deploys; chain mode and --touch-reload; reloads asked for
 * during a reload are coalesced into one more; a new worker killed during a reload aborts it.
 */
class ReloadIT {

    private static final Duration BOOT = Duration.ofSeconds(40);
    private static final String MODULE = "deployed:application";
    private static final Pattern DONE = Pattern.compile("reload done: generation (\\d+)");
    private static final Pattern ABORTED = Pattern.compile("reload aborted: ");

    /** The deployed app's directory (JUnit removes it after each test). */
    @TempDir
    Path dir;

    /** Writes the app as a deploy would: version N, or an import that fails, or one that takes a while. */
    private void deploy(String version, String beforeApp) throws IOException {
        Files.writeString(dir.resolve("deployed.py"), beforeApp + """

                import os

                def application(environ, start_response):
                    start_response('200 OK', [('Content-Type', 'text/plain')])
                    if environ['PATH_INFO'] == '/pid':
                        return [str(os.getpid()).encode()]
                    return [b'version %s']
                """.formatted(version));
        Files.deleteIfExists(dir.resolve("__pycache__").resolve("deployed.cpython-311.pyc"));
    }

    private void deploy(String version) throws IOException {
        deploy(version, "");
    }

    private void deployBroken() throws IOException {
        deploy("never", "raise RuntimeError('broken deploy: a syntax error, a missing module...')");
    }

    private BridgeServer start(String... extra) throws Exception {
        return MasterTesting.startReady(2, BOOT, List.of("--module", MODULE, "--chdir", dir.toString(),
                "--pidfile", dir.resolve("bridge.pid").toString(), "--disable-logging"), extra);
    }

    private static String body(BridgeServer server) throws IOException {
        return MasterTesting.okText(server.port(), "/", 10_000);
    }

    /** Waits until new connections get {@code expected}, then checks that ten in a row do. */
    private static void awaitServed(BridgeServer server, String expected) throws Exception {
        assertTrue(MasterTesting.await(Duration.ofSeconds(15), () -> {
            try {
                return body(server).equals(expected);
            } catch (IOException e) {
                return false;
            }
        }), expected + " is not served; log:\n" + server.log());
        for (int i = 0; i < 10; i++) {
            assertEquals(expected, body(server), "answer " + i + " after the reload");
        }
    }

    /** {@code java -jar bridge.jar reload --pidfile FILE}: its exit status and output. */
    private RawResult reloadCommand() throws Exception {
        Process p = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-jar",
                BridgeServer.jar().toString(), "reload", "--pidfile", dir.resolve("bridge.pid").toString(), "--timeout", "90")
                .redirectErrorStream(true).start();
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "the reload command did not return");
        return new RawResult(p.exitValue(), new String(p.getInputStream().readAllBytes()));
    }

    private record RawResult(int code, String output) {}

    @Test
    void aBrokenDeployIsAbortedWhileTheOldCodeServesAndTheFixThenDeploys() throws Exception {
        deploy("1");
        try (BridgeServer server = start()) {
            assertEquals("version 1", body(server));

            deployBroken();
            RawResult broken = reloadCommand();
            assertEquals(1, broken.code(), "the reload command reports the failed deploy: " + broken.output()
                    + "\nlog:\n" + server.log());
            assertTrue(ABORTED.matcher(server.log()).find(), "the log says the reload was aborted:\n" + server.log());
            assertTrue(server.log().contains("broken deploy: a syntax error"), "the traceback is in the log");
            for (int i = 0; i < 10; i++) {
                assertEquals("version 1", body(server), "the old code goes on serving after an aborted reload");
            }

            deploy("2");
            RawResult fixed = reloadCommand();
            assertEquals(0, fixed.code(), "the fixed deploy reloads: " + fixed.output() + "\nlog:\n" + server.log());
            awaitServed(server, "version 2");
            assertEquals(0, server.stop(Duration.ofSeconds(20)), "exit status after SIGTERM");
        }
    }

    @Test
    void chainModeReplacesOneSlotAtATimeWithoutAFailedRequest() throws Exception {
        deploy("1");
        try (BridgeServer server = start("--reload-mode", "chain")) {
            long master = server.process().pid();
            MasterTesting.Load load = new MasterTesting.Load(server.port(), "/pid", 3, 10_000);
            try {
                Thread.sleep(500);
                deploy("2");
                MasterTesting.signal(master, "HUP");
                assertTrue(MasterTesting.awaitLog(server, DONE, 1, BOOT), "no reload done; log:\n" + server.log());
                Thread.sleep(500);
            } finally {
                assertTrue(load.stop(), "a client thread hung");
            }
            assertEquals(List.of(), load.failures(), "requests fail during a chain reload: "
                    + MasterTesting.describe(load.failures()) + "\nlog:\n" + server.log());
            awaitServed(server, "version 2");
            // One slot at a time: slot 2's new worker is started only once slot 1's is ready, so it is ready
            // a whole boot later (a JVM takes well over 100 ms to start); in all mode both boot together.
            List<String> ready = MasterTesting.lines(server.log()).stream()
                    .filter(l -> l.contains("ready (generation 2)")).toList();
            assertEquals(2, ready.size(), "two workers of generation 2; log:\n" + server.log());
            long gap = MasterTesting.logMillis(ready.get(1)) - MasterTesting.logMillis(ready.get(0));
            assertTrue(gap >= 100, "chain: the second slot's worker was ready " + gap + " ms after the first; log:\n"
                    + server.log());
        }
    }

    @Test
    void touchReloadDeploysAndReloadsAskedForDuringOneAreCoalescedIntoOneMore() throws Exception {
        Path touch = dir.resolve("reload.touch");
        Files.writeString(touch, "");
        deploy("1");
        try (BridgeServer server = start("--touch-reload", touch.toString())) {
            deploy("2");
            Files.setLastModifiedTime(touch, FileTime.fromMillis(System.currentTimeMillis() + 1000));
            assertTrue(MasterTesting.awaitLog(server, DONE, 1, BOOT), "touching the file reloads; log:\n" + server.log());
            awaitServed(server, "version 2");

            // Three SIGHUPs at once: the first reloads, the two asked for meanwhile make one more reload.
            deploy("3");
            long master = server.process().pid();
            for (int i = 0; i < 3; i++) {
                MasterTesting.signal(master, "HUP");
            }
            assertTrue(MasterTesting.awaitLog(server, DONE, 3, BOOT), "two more reloads; log:\n" + server.log());
            Thread.sleep(3000); // a third one would have begun by now
            assertEquals(3, MasterTesting.matches(server.log(), DONE).size(),
                    "reloads asked for during a reload are coalesced into one; log:\n" + server.log());
            awaitServed(server, "version 3");
        }
    }

    @Test
    void aNewWorkerKilledDuringTheReloadAbortsItAndTheOldWorkersServe() throws Exception {
        deploy("1");
        try (BridgeServer server = start()) {
            long master = server.process().pid();
            var old = MasterTesting.workerProcesses(server).keySet();
            deploy("2", "import time\ntime.sleep(5)  # a slow import: the window in which the worker is killed");
            MasterTesting.signal(master, "HUP");
            List<Long> booting = new ArrayList<>();
            assertTrue(MasterTesting.await(Duration.ofSeconds(15), () -> {
                booting.clear();
                MasterTesting.workerProcesses(server).keySet().stream().filter(p -> !old.contains(p)).forEach(booting::add);
                return !booting.isEmpty();
            }), "no new worker started; log:\n" + server.log());
            Thread.sleep(1000);
            new ProcessBuilder("kill", "-9", Long.toString(booting.get(0))).start().waitFor();
            assertTrue(MasterTesting.awaitLog(server, ABORTED, 1, BOOT), "the reload is aborted; log:\n" + server.log());
            for (int i = 0; i < 10; i++) {
                assertEquals("version 1", body(server), "the old generation goes on serving");
            }
            assertTrue(MasterTesting.await(Duration.ofSeconds(15),
                    () -> MasterTesting.workerProcesses(server).keySet().equals(old)),
                    "only the old workers are left: " + MasterTesting.workerProcesses(server) + "; log:\n" + server.log());
        }
    }

    /**
     * An old worker killed while the new generation boots: the other old worker goes on serving, the master does
     * not bring the old code back for that slot (the slot's new worker is on its way), and the reload completes
     * with every slot on the new code.
     */
    @Test
    void anOldWorkerKilledDuringTheReloadIsNotRespawnedOnTheOldCodeAndTheReloadCompletes() throws Exception {
        deploy("1");
        try (BridgeServer server = start()) {
            long master = server.process().pid();
            List<Long> old = new ArrayList<>(MasterTesting.workerProcesses(server).keySet());
            deploy("2", "import time\ntime.sleep(3)  # a slow import: the window in which an old worker is killed");
            MasterTesting.signal(master, "HUP");
            assertTrue(MasterTesting.await(Duration.ofSeconds(15),
                    () -> MasterTesting.workerProcesses(server).size() > old.size()), "no new worker started; log:\n" + server.log());
            new ProcessBuilder("kill", "-9", Long.toString(old.get(0))).start().waitFor();
            for (int i = 0; i < 10; i++) {
                assertEquals("version 1", body(server), "the other old worker serves while the new ones boot");
            }
            assertTrue(MasterTesting.awaitLog(server, DONE, 1, BOOT), "the reload completes; log:\n" + server.log());
            awaitServed(server, "version 2");
            assertTrue(MasterTesting.await(Duration.ofSeconds(15), () -> MasterTesting.workerProcesses(server).size() == 2),
                    "two workers in the end: " + MasterTesting.workerProcesses(server) + "; log:\n" + server.log());
            assertTrue(MasterTesting.workerProcesses(server).keySet().stream().noneMatch(old::contains),
                    "no old worker is left: " + MasterTesting.workerProcesses(server));
            assertEquals(2, server.log().lines().filter(l -> l.contains("ready (generation 1)")).count(),
                    "no worker of the old generation was started again; log:\n" + server.log());
        }
    }
}
