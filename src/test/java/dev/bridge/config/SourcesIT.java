package dev.bridge.config;

import dev.bridge.master.MasterTesting;
import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Settings from an ini file and the environment reach the workers (the master passes them on as flags), also
 * after a reload; --print-config through the jar.
 */
class SourcesIT {

    @TempDir
    Path dir;

    private static String get(int port, String name) throws Exception {
        try (RawHttp http = new RawHttp(port, 10_000)) {
            RawHttp.Response r = http.exchange("GET /?name=" + name + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assertEquals(200, r.status());
            return r.text();
        }
    }

    @Test
    void theIniFileAndTheEnvironmentReachEveryWorkerAndTheEnvironmentWins() throws Exception {
        Path ini = dir.resolve("app.ini");
        Files.writeString(ini, "[bridge]\nmodule = os_environ_app\nenv = FROM_FILE=file\nenv = SHARED=file\nstandby = 1\n");
        try (BridgeServer server = BridgeServer.start(Map.of("BRIDGE_INI", ini.toString(), "BRIDGE_ENV", "SHARED=env"),
                "--workers", "2")) {
            assertTrue(MasterTesting.await(Duration.ofSeconds(40), () -> server.log().split("\\) ready \\(generation 1\\)").length > 2),
                    server.log());
            for (int i = 0; i < 4; i++) {
                assertEquals("'env'", get(server.port(), "SHARED"), "the environment's --env values win over the file's");
                assertEquals("None", get(server.port(), "FROM_FILE"), "a repeatable setting takes one source's values");
            }
            MasterTesting.signal(server.process().pid(), "HUP");
            assertTrue(server.awaitLog("reload done", Duration.ofSeconds(60)), server.log());
            assertEquals("'env'", get(server.port(), "SHARED"), "a reload's workers get the same settings");
        }
    }

    @Test
    void printConfigShowsTheSourcesAndStartsNothing() throws Exception {
        Path ini = dir.resolve("app.ini");
        Files.writeString(ini, "[bridge]\nmodule = os_environ_app\nworkers = 3\n");
        Process p = BridgeServer.launch(List.of("--ini", ini.toString(), "--threads", "2", "--print-config"),
                Map.of("BRIDGE_HARAKIRI", "30"));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains(ini + ":3: workers"), out);
        assertTrue(out.matches("(?s).*\\nthreads +2 +--threads\\n.*"), out);
        assertTrue(out.matches("(?s).*\\nharakiri +30 +BRIDGE_HARAKIRI\\n.*"), out);
        assertTrue(!out.contains("listening on"), "nothing is started: " + out);
    }
}
