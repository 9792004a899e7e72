package dev.bridge.uwsgi;

import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Who may speak uwsgi (--uwsgi-allow-from): a TCP peer outside the allow-list is closed before a byte is read,
 * with one log line, by the C loop and by the event loop alike; a peer inside it, and any peer of a unix socket,
 * is served. Loopback has other addresses than 127.0.0.1: the refused peer connects from 127.0.0.1, the allowed
 * one from 127.0.0.2.
 */
class UwsgiAllowIT {

    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"native", "netty"})
    void aPeerOutsideTheAllowListIsClosedAndOneInsideIsServed(String loop) throws Exception {
        Path unix = dir.resolve("app.sock");
        try (BridgeServer server = BridgeServer.start("--module", "os_environ_app", "--uwsgi-loop", loop,
                "--uwsgi-socket", "127.0.0.1:0", "--uwsgi-socket", unix.toString(), "--uwsgi-allow-from", "127.0.0.2/32")) {
            int port = server.uwsgiPort();
            assertEquals("", silentConnection(port, "127.0.0.1"), "refused: closed before a byte");
            assertTrue(server.awaitLog("uwsgi connection from /127.0.0.1:", Duration.ofSeconds(10)), server.log());
            assertTrue(server.log().contains("refused: not in --uwsgi-allow-from"), server.log());
            String allowed = get(port, "127.0.0.2");
            assertTrue(allowed.startsWith("HTTP/1.1 200") && allowed.endsWith("'1'"), allowed);
            String overUnix = Packets.exchangeUnix(unix, Packets.nginxGet("/?name=BRIDGE_WORKER_ID"));
            assertTrue(overUnix.startsWith("HTTP/1.1 200"), "a unix socket's peers may: " + overUnix);
            assertTrue(!server.log().contains("can be reached from other hosts"), "a loopback listener: no warning");
        }
    }

    @Test
    void byDefaultLoopbackMaySpeakAndAListenerOthersCanReachIsWarnedAbout() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "os_environ_app", "--uwsgi-socket", "0.0.0.0:0")) {
            String answer = get(server.uwsgiPort(), "127.0.0.1");
            assertTrue(answer.startsWith("HTTP/1.1 200"), answer);
            assertTrue(server.log().contains("uwsgi://0.0.0.0:0 can be reached from other hosts, but only loopback "
                    + "peers may speak uwsgi to it"), server.log());
        }
    }

    /** A uwsgi GET from {@code source}: all the answer. */
    private static String get(int port, String source) throws IOException {
        try (Socket s = connect(port, source)) {
            s.getOutputStream().write(Packets.nginxGet("/?name=BRIDGE_WORKER_ID"));
            s.shutdownOutput();
            return Packets.readUntilEnd(s);
        }
    }

    /** What a connection from {@code source} that says nothing gets ("" when closed; sending would race a reset). */
    private static String silentConnection(int port, String source) throws IOException {
        try (Socket s = connect(port, source)) {
            return new String(s.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.ISO_8859_1);
        }
    }

    private static Socket connect(int port, String source) throws IOException {
        Socket s = new Socket();
        s.bind(new InetSocketAddress(InetAddress.getByName(source), 0));
        s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
        s.setSoTimeout(10_000);
        return s;
    }
}
