package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A master started under nohup (or in the background by a script) inherits SIGHUP as ignored, and a JVM does
 * not install handlers for signals it inherits as ignored: reloads by signal would then silently do nothing.
 */
class IgnoredSignalsIT {

    @Test
    void sighupInheritedAsIgnoredStillReloads() throws Exception {
        Path pidfile = Files.createTempFile("bridge-nohup", ".pid");
        Files.delete(pidfile);
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        // The shell ignores SIGHUP, then becomes the master: the master starts with SIGHUP ignored, as under nohup.
        String cmd = "trap '' HUP; exec '" + java + "' -jar '" + BridgeServer.jar() + "' --venv '"
                + BridgeServer.root().resolve(".venv") + "' --chdir '" + BridgeServer.testApps()
                + "' --module master_app --workers 1 --http 127.0.0.1:0 --disable-logging --pidfile '" + pidfile + "'";
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", cmd).redirectErrorStream(true);
        pb.environment().remove("VIRTUAL_ENV");
        Process master = pb.start();
        List<String> log = Collections.synchronizedList(new ArrayList<>());
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(master.getInputStream(), StandardCharsets.UTF_8))) {
                String line;
                while ((line = r.readLine()) != null) {
                    log.add(line);
                }
            } catch (java.io.IOException ignored) {
                // ended
            }
        }, "nohup-log");
        reader.setDaemon(true);
        reader.start();
        try {
            assertTrue(MasterTesting.await(Duration.ofSeconds(30), () -> contains(log, "ready (generation 1)")),
                    () -> "the master did not start; log:\n" + String.join("\n", log));
            String status = Files.readString(Path.of("/proc/" + master.pid() + "/status"));
            assertTrue(contains(log, "SIGHUP was inherited as ignored"), () -> "the master says it handles HUP anyway; log:\n"
                    + String.join("\n", log) + "\n" + status);
            MasterTesting.signal(master.pid(), "HUP");
            assertTrue(MasterTesting.await(Duration.ofSeconds(30), () -> contains(log, "reload done: generation 2")),
                    () -> "SIGHUP did not reload; log:\n" + String.join("\n", log));
        } finally {
            master.destroy();
            if (!master.waitFor(15, TimeUnit.SECONDS)) {
                master.destroyForcibly();
            }
        }
    }

    private static boolean contains(List<String> log, String text) {
        synchronized (log) {
            return log.stream().anyMatch(l -> l.contains(text));
        }
    }
}
