package dev.bridge.python;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A request body of deeply nested JSON (any client of a JSON API can send one) gets CPython's RecursionError,
 * not a worker killed by SIGSEGV: Python threads have the 8 MiB stack CPython's recursion limits assume, not
 * the workers' -Xss512k (with it, 5,000 levels crashed the worker). Python 3.13 (.venv-3.13), whose C
 * recursion limit is the highest; the main interpreter and isolated ones. The app is
 * src/test/python/deep_json.py.
 */
class PythonStackIT {

    private static String post(int port, String json) throws Exception {
        try (RawHttp http = new RawHttp(port, 20_000)) {
            byte[] body = json.getBytes(StandardCharsets.US_ASCII);
            RawHttp.Response r = http.exchange("POST / HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                    + "Content-Length: " + body.length + "\r\nConnection: close\r\n\r\n" + json);
            assertEquals(200, r.status(), r.statusLine() + " " + r.text());
            return r.text();
        }
    }

    @ParameterizedTest
    @ValueSource(ints = {1, 2})
    void deeplyNestedJsonRaisesRecursionErrorAndTheWorkerLives(int interpreters) throws Exception {
        try (BridgeServer server = BridgeServer.start("--venv", BridgeServer.interpretersVenv().toString(),
                "--module", "deep_json", "--interpreters", String.valueOf(interpreters))) {
            String shallow = post(server.port(), "[" .repeat(100) + "]".repeat(100));
            assertTrue(shallow.startsWith("parsed "), shallow);
            String pid = shallow.substring("parsed ".length());
            assertEquals("parsed " + pid, post(server.port(), "[".repeat(5_000) + "]".repeat(5_000)));
            for (int depth : new int[]{50_000, 1_000_000}) {
                assertEquals("RecursionError " + pid, post(server.port(), "[".repeat(depth) + "]".repeat(depth)),
                        depth + " levels: " + server.log());
            }
            assertTrue(!server.log().contains("signal 11"), server.log());
        }
    }
}
