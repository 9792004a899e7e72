package dev.bridge.uwsgi;

import dev.bridge.config.Config;
import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketException;
import java.net.SocketTimeoutException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.TreeMap;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Bad input sent straight to a real worker's uwsgi sockets, with no nginx in front: the unit tests' corpus of
 * malformed packets, a client that stalls, and a thousand randomly mutated packets. Every connection ends
 * (EOF or reset, never a hang), bad packets are refused with one log line naming the reason, and the same
 * worker process serves a good request afterwards. Netty's leak detector runs in paranoid mode in the worker,
 * so a buffer that bad input leaks is logged ("LEAK:") and fails the last test.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class UwsgiSocketIT {

    /** How long a connection may take to end once the client has sent what it will send. */
    private static final Duration END_TIMEOUT = Duration.ofSeconds(10);
    /** --header-timeout for this server, in seconds: a stalled client is closed after it. */
    private static final int HEADER_TIMEOUT = 2;
    /** Mutated packets sent; the seed is fixed so that a failure can be replayed. */
    private static final int MUTATIONS = 1000;
    private static final long SEED = 20261128L;
    /** A Java stack frame in the log: bad input must never make the worker throw. */
    private static final Pattern JAVA_FRAME = Pattern.compile("^\\s+at (dev\\.bridge|io\\.netty|java\\.)", Pattern.MULTILINE);

    private static Path dir;
    private static Path unixSocket;
    private static BridgeServer server;
    private static String workerPid;

    @BeforeAll
    static void start() throws Exception {
        dir = Files.createTempDirectory("bridge-uwsgi-socket");
        unixSocket = dir.resolve("app.sock");
        server = BridgeServer.start("--module", "master_app:application",
                "--uwsgi-socket", "127.0.0.1:0", "--uwsgi-socket", unixSocket.toString(),
                "--buffer-size", "4096", "--header-timeout", String.valueOf(HEADER_TIMEOUT),
                "--jvm-args", String.join(" ", Config.DEFAULT_JVM_ARGS) + " -Dio.netty.leakDetection.level=paranoid");
        workerPid = body(tcp(Packets.get("/")));
        assertTrue(workerPid.matches("\\d+"), "the app answers its pid: " + workerPid);
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        Files.deleteIfExists(unixSocket);
        Files.deleteIfExists(dir);
    }

    static Stream<UwsgiConnectionTest.Bad> badInput() {
        return UwsgiConnectionTest.badInput();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("badInput")
    @Order(1)
    void badPacketIsRefusedWithOneLogLineAndNoAnswer(UwsgiConnectionTest.Bad bad) throws Exception {
        try (Socket s = connect()) {
            for (byte[] read : bad.reads()) {
                s.getOutputStream().write(read);
                s.getOutputStream().flush();
            }
            if (bad.clientCloses()) {
                s.shutdownOutput();
            }
            assertEquals("", readUntilEnd(s), "nothing is written for bad input");
            String peer = "uwsgi request from /127.0.0.1:" + s.getLocalPort() + " refused: ";
            assertTrue(server.awaitLog(peer, END_TIMEOUT), "a log line for this connection\n" + tail());
            List<String> lines = server.log().lines().filter(l -> l.contains(peer)).toList();
            assertEquals(1, lines.size(), "the reason is logged once: " + lines);
            assertTrue(lines.get(0).contains(bad.reason()), lines.get(0) + " should mention " + bad.reason());
        }
    }

    @Test
    @Order(2)
    void stalledClientIsClosedAfterTheHeaderTimeout() throws Exception {
        try (Socket s = connect()) {
            byte[] get = Packets.get("/");
            s.getOutputStream().write(Arrays.copyOf(get, get.length / 2));
            s.getOutputStream().flush();
            long started = System.nanoTime();
            assertEquals("", readUntilEnd(s));
            long waited = (System.nanoTime() - started) / 1_000_000;
            assertTrue(waited >= HEADER_TIMEOUT * 1000L - 300, "closed after the timeout, not before: " + waited + " ms");
            String peer = "uwsgi request from /127.0.0.1:" + s.getLocalPort() + " refused: the request was not received within "
                    + HEADER_TIMEOUT + " s";
            assertTrue(server.awaitLog(peer, END_TIMEOUT), tail());
        }
    }

    @Test
    @Order(3)
    void unixSocketRefusesBadInputAndServesGoodInput() throws Exception {
        long before = refusals();
        assertEquals("", unix(Packets.packet(0, Packets.vars("PATH_INFO", "/"), new byte[0])), "no REQUEST_METHOD: refused");
        assertTrue(server.awaitLog("uwsgi request from unix socket " + unixSocket + " refused: no REQUEST_METHOD", END_TIMEOUT), tail());
        assertEquals(before + 1, refusals());
        assertEquals(workerPid, body(unix(Packets.get("/"))));
    }

    /**
     * Packets captured from nginx and built ones, each changed at random (bytes overwritten, a u16 length
     * field set to any value, cut short, bytes inserted or appended), one connection each, the client
     * half-closing after its bytes. The worker may answer (the mutation kept a valid request), pong, or close,
     * and a reset is a fair end for garbage, but every connection must end, and the worker must live.
     */
    @Test
    @Order(4)
    void mutatedPacketsEndEveryConnectionAndTheWorkerLivesOn() throws Exception {
        List<byte[]> seeds = List.of(Packets.fixture("get-query.uwsgi"), Packets.fixture("post-chunked-upload.uwsgi"),
                Packets.fixture("repeated-headers.uwsgi"), Packets.fixture("utf8-path.uwsgi"),
                Packets.post("/upload", Packets.pattern(300)), Packets.get("/"));
        Random random = new Random(SEED);
        TreeMap<String, Integer> outcomes = new TreeMap<>();
        for (int i = 0; i < MUTATIONS; i++) {
            byte[] packet = mutate(seeds.get(random.nextInt(seeds.size())), random);
            String outcome;
            try (Socket s = connect()) {
                try {
                    s.getOutputStream().write(packet);
                    s.shutdownOutput();
                } catch (SocketException e) {
                    // the worker refused and closed before it had everything: fine for garbage
                }
                String answer = readUntilEnd(s);
                if (answer.isEmpty()) {
                    outcome = "closed";
                } else if (answer.equals("d\0\0\0")) {
                    outcome = "pong";
                } else if (answer.startsWith("HTTP/1.")) {
                    outcome = "answered " + answer.substring(9, 12);
                } else {
                    fail("mutation " + i + " got neither an HTTP response, a pong nor a close: "
                            + answer.substring(0, Math.min(60, answer.length())));
                    return;
                }
            } catch (SocketTimeoutException e) {
                fail("mutation " + i + " (seed " + SEED + "): the connection did not end within " + END_TIMEOUT);
                return;
            }
            outcomes.merge(outcome, 1, Integer::sum);
        }
        assertTrue(outcomes.getOrDefault("closed", 0) > MUTATIONS / 10, "most mutations break the packet: " + outcomes);
        assertEquals(workerPid, body(tcp(Packets.get("/"))), "the same worker serves on: " + outcomes);
    }

    @Test
    @Order(5)
    void theWorkerNeverDiedLeakedOrThrew() throws Exception {
        assertEquals(workerPid, body(tcp(Packets.get("/"))));
        String log = server.log();
        assertEquals(1, log.lines().filter(l -> l.contains(" ready: ")).count(), "one worker boot, no respawn:\n" + tail());
        assertTrue(log.lines().noneMatch(l -> l.contains("LEAK")), "a buffer leaked:\n" + tail());
        assertTrue(!JAVA_FRAME.matcher(log).find(), "a Java stack trace in the log:\n" + tail());
    }

    // ---- helpers

    private static byte[] mutate(byte[] seed, Random random) {
        byte[] b = seed.clone();
        int changes = 1 + random.nextInt(3);
        for (int c = 0; c < changes && b.length > 0; c++) {
            switch (random.nextInt(6)) {
                case 0 -> b[random.nextInt(b.length)] = (byte) random.nextInt(256);
                case 1 -> { // the header's datasize
                    if (b.length >= 3) {
                        b[1] = (byte) random.nextInt(256);
                        b[2] = (byte) random.nextInt(256);
                    }
                }
                case 2 -> { // any u16: often a key or value length inside the vars block
                    int at = random.nextInt(b.length);
                    b[at] = (byte) random.nextInt(256);
                    if (at + 1 < b.length) {
                        b[at + 1] = (byte) random.nextInt(4);
                    }
                }
                case 3 -> b = Arrays.copyOf(b, random.nextInt(b.length)); // cut short
                case 4 -> { // bytes inserted
                    int at = random.nextInt(b.length + 1);
                    byte[] junk = new byte[1 + random.nextInt(8)];
                    random.nextBytes(junk);
                    b = Packets.concat(Arrays.copyOf(b, at), junk, Arrays.copyOfRange(b, at, b.length));
                }
                default -> { // bytes appended after the packet
                    byte[] junk = new byte[1 + random.nextInt(64)];
                    random.nextBytes(junk);
                    b = Packets.concat(b, junk);
                }
            }
        }
        return b;
    }

    private static Socket connect() throws IOException {
        Socket s = new Socket();
        s.connect(new InetSocketAddress("127.0.0.1", server.uwsgiPort()), 5000);
        s.setSoTimeout((int) END_TIMEOUT.toMillis());
        return s;
    }

    private static String readUntilEnd(Socket s) throws IOException {
        return Packets.readUntilEnd(s);
    }

    private static String tcp(byte[] packet) throws IOException {
        try (Socket s = connect()) {
            s.getOutputStream().write(packet);
            s.shutdownOutput();
            return readUntilEnd(s);
        }
    }

    /** Like {@link #tcp} over the unix socket (its channel has no read timeout: the wait is bounded here). */
    private static String unix(byte[] packet) {
        return assertTimeoutPreemptively(END_TIMEOUT, () -> {
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(unixSocket));
                ch.write(ByteBuffer.wrap(packet));
                ch.shutdownOutput();
                ByteArrayOutputStream got = new ByteArrayOutputStream();
                ByteBuffer buf = ByteBuffer.allocate(8192);
                while (ch.read(buf) >= 0) {
                    got.write(buf.array(), 0, buf.position());
                    buf.clear();
                }
                return got.toString(StandardCharsets.ISO_8859_1);
            }
        }, "the unix socket connection did not end");
    }

    /** The body of a 200 response. */
    private static String body(String response) {
        assertTrue(response.startsWith("HTTP/1.1 200"), "a 200: " + response);
        return response.substring(response.indexOf("\r\n\r\n") + 4);
    }

    private static long refusals() {
        return server.log().lines().filter(l -> l.contains(" refused: ")).count();
    }

    private static String tail() {
        List<String> lines = server.log().lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 30), lines.size()));
    }
}
