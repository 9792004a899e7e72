package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Launch;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.api.Test;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static dev.bridge.master.MasterTesting.APP;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Operations basics: --pidfile, telling processes apart in ps and in the log, --help, wsgi.multiprocess. */
class OperationsIT {

    private static final Duration BOOT = Duration.ofSeconds(40);

    @Test
    void pidfileProcessTitlesLogTagsAndMultiprocess() throws Exception {
        Path pidfile = Files.createTempDirectory("bridge-master-it").resolve("bridge.pid");
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "2", "--pidfile", pidfile.toString())) {
            long master = server.process().pid();
            Map<Long, Integer> ready = MasterTesting.awaitReady(server, 2, BOOT);

            assertTrue(Files.exists(pidfile), "--pidfile is written");
            assertEquals(Long.toString(master), Files.readString(pidfile).trim(), "the pidfile holds the master's pid");

            // ps tells the workers apart (and from the master), by number.
            Map<Long, Integer> processes = MasterTesting.workerProcesses(server);
            assertEquals(ready, processes, "the ready workers are the master's children, numbered in ps (-Dbridge.worker=N)");
            assertEquals(Set.of(1, 2), new HashSet<>(processes.values()));
            assertFalse(MasterTesting.commandLine(master).contains("-Dbridge.worker="), "the master is not a worker in ps");

            // Log lines carry the role, number and pid. (A worker logs its own "ready:" line after it told the
            // master, so the master's line about it can come first: wait for it.)
            assertTrue(server.log().contains("master[" + master + "]"), "master lines are tagged master[pid]:\n" + server.log());
            for (Map.Entry<Long, Integer> w : processes.entrySet()) {
                String tag = "worker-" + w.getValue() + "[" + w.getKey() + "]";
                assertTrue(MasterTesting.await(Duration.ofSeconds(10), () -> server.log().contains(tag)),
                        "worker lines are tagged worker-N[pid]: " + tag + "\n" + server.log());
            }

            // Two worker processes: the app is told so.
            RawHttp.Response environ = MasterTesting.get(server.port(), "/environ", 10_000);
            assertEquals(200, environ.status());
            assertTrue(environ.text().contains("multiprocess=True"), "wsgi.multiprocess with --workers 2: " + environ.text());

            assertEquals(0, server.stop(Duration.ofSeconds(20)), "exit code after SIGTERM; log:\n" + server.log());
            assertFalse(Files.exists(pidfile), "the pidfile is removed on exit");
        } finally {
            Files.deleteIfExists(pidfile);
            Files.deleteIfExists(pidfile.getParent());
        }
    }

    /**
     * A second server asked for the unix socket a live one listens on: it says so in one line and exits 3,
     * and the first one's socket file is left alone (it still answers through it).
     */
    @Test
    void aUnixSocketAnotherServerListensOnIsNotTakenNorRemoved() throws Exception {
        Path dir = Files.createTempDirectory("bridge-socket");
        Path socket = dir.resolve("app.sock");
        try (BridgeServer first = BridgeServer.start("--module", APP, "--uwsgi-socket", socket.toString())) {
            Launch.Result second = Launch.run(List.of("--venv", BridgeServer.root().resolve(".venv").toString(),
                    "--chdir", BridgeServer.testApps().toString(), "--module", APP, "--uwsgi-socket", socket.toString()),
                    null, null, 60);
            assertEquals(3, second.exitCode(), second.output());
            assertTrue(second.output().contains("cannot listen on uwsgi://" + socket + ": another server is listening on it"),
                    second.output());
            assertTrue(Files.exists(socket), "the first server's socket file is still there");
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                assertTrue(ch.connect(UnixDomainSocketAddress.of(socket)), "and it still answers on it");
            }
        } finally {
            Files.deleteIfExists(socket);
            Files.deleteIfExists(dir);
        }
    }

    @Test
    void masterGivesItsStartUpMemoryBackOnceTheWorkersSettle() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", APP, "--workers", "1")) {
            MasterTesting.awaitReady(server, 1, BOOT);
            Pattern trim = Pattern.compile("master\\[\\d+\\] - memory trim: resident (\\d+) MB -> (\\d+) MB");
            assertTrue(MasterTesting.awaitLog(server, trim, 1, Duration.ofMillis(MemoryTrim.QUIET_MILLIS + 10_000)),
                    "the master trims " + MemoryTrim.QUIET_MILLIS + " ms after its workers settle; log:\n" + server.log());
            // Measured by the master, just before the trim and a second after it (the collector gives the heap
            // back after the collection). Seen here: 72 -> 57 MB; how much the master's start-up left to give
            // back varies, so the check is that the trim gives back some.
            Matcher m = MasterTesting.matches(server.log(), trim).get(0);
            long before = Long.parseLong(m.group(1));
            long after = Long.parseLong(m.group(2));
            assertTrue(after < before, "the trim gives memory back: resident " + before + " MB -> " + after + " MB");
            assertEquals(200, MasterTesting.get(server.port(), "/", 10_000).status(), "still serving");
        }
    }

    @Test
    void processesIsAnAliasOfWorkers() throws Exception {
        // Launched directly: the harness adds --workers 1 unless it sees --workers.
        List<String> args = List.of("--module", APP, "--processes", "2", "--http", "127.0.0.1:0",
                "--chdir", BridgeServer.testApps().toString());
        try (MasterTesting.Launched launched = new MasterTesting.Launched(args)) {
            long master = launched.process.pid();
            assertTrue(MasterTesting.await(BOOT, () -> MasterTesting.readyWorkers(launched.output()).size() >= 2),
                    "--processes 2 starts 2 workers; output:\n" + launched.output());
            Thread.sleep(500);
            assertEquals(2, MasterTesting.workerProcesses(master, launched.output()).size(), "worker processes with --processes 2");
            launched.process.toHandle().destroy(); // SIGTERM
            assertEquals(0, launched.awaitExit(Duration.ofSeconds(20)), "exit code after SIGTERM");
        }
    }

    @Test
    void helpListsEveryFlagAndExitsZero() throws Exception {
        try (MasterTesting.Launched help = new MasterTesting.Launched(List.of("--help"))) {
            assertEquals(0, help.awaitExit(Duration.ofSeconds(20)), "--help exits 0");
            String out = help.output();
            for (String flag : List.of("--module", "--http", "--workers", "--processes", "--threads", "--chdir",
                    "--pythonpath", "--python", "--venv", "--graceful-timeout", "--max-requests", "--max-requests-jitter",
                    "--reload-on-rss", "--max-worker-lifetime", "--harakiri", "--boot-timeout", "--pidfile", "--help")) {
                assertTrue(out.contains("  " + flag + " ") || out.contains("  " + flag + "\n") || out.endsWith("  " + flag),
                        "--help does not list " + flag + ":\n" + out);
            }
            List<String> lines = MasterTesting.lines(out);
            for (int i = 0; i < lines.size(); i++) {
                String line = lines.get(i);
                if (line.startsWith("  --") && !line.startsWith("  --help")) {
                    assertTrue(i + 1 < lines.size() && lines.get(i + 1).contains("(default: "),
                            "--help gives no default for " + line.trim().split(" ")[0] + ":\n" + out);
                }
            }
        }
    }
}
