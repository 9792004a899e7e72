package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.api.Test;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code --env KEY=VALUE}: the app sees it in os.environ, in every worker, also after a reload (through a standby). */
class EnvFlagIT {

    @Test
    void theAppSeesItsEnvironmentInEveryWorkerAndAfterAReload() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "os_environ_app", "--workers", "2",
                "--env", "GREETING=hello world", "--env", "EMPTY=", "--env", "GREETING=hi = there", "--env", "PATHY=/a:/b")) {
            MasterTesting.awaitReady(server, 2, Duration.ofSeconds(40));
            for (int i = 0; i < 4; i++) { // new connections: both workers answer
                assertEquals("'hi = there'", MasterTesting.okText(server.port(), "/?name=GREETING", 10_000));
            }
            assertEquals("''", MasterTesting.okText(server.port(), "/?name=EMPTY", 10_000));
            assertEquals("'/a:/b'", MasterTesting.okText(server.port(), "/?name=PATHY", 10_000));
            assertEquals("None", MasterTesting.okText(server.port(), "/?name=NOT_GIVEN", 10_000));
            MasterTesting.signal(server.process().pid(), "HUP");
            assertTrue(server.awaitLog("reload done", Duration.ofSeconds(60)), server.log());
            assertEquals("'hi = there'", MasterTesting.okText(server.port(), "/?name=GREETING", 10_000));
        }
    }
}
