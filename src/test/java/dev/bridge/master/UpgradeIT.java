package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Upgrading the bridge itself (SIGUSR2): a new master from the jar at the same path (replaced by a rename before
 * each upgrade, as a package manager does) takes the listening sockets over and reads the ini file again, while
 * 64 keep-alive clients send requests; the target is no failed request over 10 upgrades in a row. A new master
 * that cannot start leaves the old one serving.
 */
class UpgradeIT {

    private static final int UPGRADES = 10;
    private static final int CLIENTS = 64;

    @TempDir
    Path dir;

    @Test
    void tenUpgradesInARowUnderKeepAliveLoadFailNoRequest() throws Exception {
        Path jar = dir.resolve("bridge.jar");
        Files.copy(BridgeServer.jar(), jar);
        Path ini = dir.resolve("app.ini");
        Path pidfile = dir.resolve("bridge.pid");
        Files.writeString(ini, "[bridge]\nenv = ROUND=0\n");
        long last = 0;
        try (BridgeServer server = BridgeServer.start(jar, Map.of(), "--ini", ini.toString(), "--module", "master_app",
                "--workers", "2", "--pidfile", pidfile.toString(), "--uwsgi-socket", dir.resolve("app.sock").toString())) {
            MasterTesting.awaitReady(server, 2, Duration.ofSeconds(60));
            int port = server.port();
            long master = server.process().pid();
            List<Long> masters = new ArrayList<>(List.of(master));
            try (MasterTesting.Load load = new MasterTesting.Load(port, "/pid", CLIENTS, 10_000)) {
                for (int round = 1; round <= UPGRADES; round++) {
                    Files.writeString(ini, "[bridge]\nenv = ROUND=" + round + "\n"); // a new setting
                    Path next = dir.resolve("bridge.jar.new");
                    Files.copy(BridgeServer.jar(), next, StandardCopyOption.REPLACE_EXISTING);
                    Files.move(next, jar, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
                    int before = load.results().size();
                    MasterTesting.signal(master, "USR2");
                    long old = master;
                    assertTrue(MasterTesting.await(Duration.ofSeconds(60), () -> !pid(pidfile).equals(String.valueOf(old))
                            && !MasterTesting.alive(old)), "round " + round + ": the old master is gone\n" + server.log());
                    master = Long.parseLong(pid(pidfile));
                    masters.add(master);
                    assertEquals("'" + round + "'", MasterTesting.okText(port, "/env?name=ROUND", 10_000),
                            "the new master read the ini file again");
                    assertTrue(MasterTesting.await(Duration.ofSeconds(10), () -> load.results().size() > before + 100),
                            "requests go on after round " + round);
                }
                assertTrue(load.stop());
                List<MasterTesting.Result> failures = load.failures();
                System.out.println("UpgradeIT: " + UPGRADES + " upgrades, " + CLIENTS + " keep-alive clients, "
                        + load.results().size() + " requests, " + failures.size() + " failed");
                assertEquals(0, failures.size(), MasterTesting.describe(failures) + "\n" + server.log());
                assertTrue(load.results().size() > 1000, "served " + load.results().size());
            }
            assertEquals(UPGRADES + 1, masters.stream().distinct().count(), "a master per upgrade: " + masters);
            assertTrue(Files.exists(dir.resolve("app.sock")), "the unix socket file lives on through the upgrades");
            last = master;
        } finally {
            long lastMaster = last;
            if (lastMaster != 0 && MasterTesting.alive(lastMaster)) { // the last master is no child of this test
                MasterTesting.signal(lastMaster, "TERM");
                assertTrue(MasterTesting.await(Duration.ofSeconds(30), () -> !MasterTesting.alive(lastMaster)));
            }
        }
        assertTrue(!Files.exists(pidfile) && !Files.exists(dir.resolve("app.sock")), "the last master removed both");
    }

    @Test
    void aNewMasterThatCannotStartLeavesTheOldOneServing() throws Exception {
        Path ini = dir.resolve("app.ini");
        Files.writeString(ini, "[bridge]\nthreads = 1\n");
        try (BridgeServer server = BridgeServer.start(Map.of(), "--ini", ini.toString(), "--module", "master_app",
                "--stats", "127.0.0.1:0")) {
            MasterTesting.awaitReady(server, 1, Duration.ofSeconds(60));
            Files.writeString(ini, "[bridge]\nthreads = many\n");
            MasterTesting.signal(server.process().pid(), "USR2");
            assertTrue(server.awaitLog("upgrade failed: the new master", Duration.ofSeconds(60)), server.log());
            assertTrue(server.log().contains(ini + ":2: threads many: expected a whole number"), server.log());
            assertTrue(MasterTesting.awaitLog(server, java.util.regex.Pattern.compile("stats on "), 2, Duration.ofSeconds(5)),
                    "the stats server is back\n" + server.log());
            assertTrue(MasterTesting.alive(server.process().pid()));
            assertTrue(MasterTesting.okText(server.port(), "/", 10_000).matches("\\d+"));
            assertEquals(0, server.stop(Duration.ofSeconds(30)), server.log());
        }
    }

    private static String pid(Path pidfile) {
        try {
            return Files.readString(pidfile).strip();
        } catch (java.io.IOException e) {
            return "";
        }
    }
}
