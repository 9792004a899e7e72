package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code --uid}, {@code --gid}, {@code --chown-socket}: the master binds a port only root may bind, then it and
 * every worker (also a reload's) run as www-data, as {@code ps} shows, and the unix socket belongs to whom it
 * was given. These tests need root (CI runs as root) and Debian's www-data, and use .venv-system, whose Python
 * www-data can run.
 */
class PrivilegesIT {

    @TempDir
    static Path dir;

    @BeforeAll
    static void asRoot() throws Exception {
        assertEquals("root", ps("user=", ProcessHandle.current().pid()), "these tests start the bridge as root");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx")); // www-data removes its socket
    }

    @Test
    void theMasterAndEveryWorkerRunAsTheUserOnceAPrivilegedPortIsBound() throws Exception {
        int port = freePrivilegedPort();
        Path socket = dir.resolve("app.sock");
        try (BridgeServer server = BridgeServer.start("--venv", BridgeServer.systemVenv().toString(), "--module",
                "identity_app", "--workers", "2", "--http", "127.0.0.1:" + port, "--uwsgi-socket", socket.toString(),
                "--chmod-socket", "660", "--chown-socket", "www-data:www-data", "--uid", "www-data")) {
            MasterTesting.awaitReady(server, 2, Duration.ofSeconds(60));
            assertEquals(port, server.port());
            assertTrue(server.log().contains("running as uid 33 gid 33 (www-data)"), server.log());
            // Real, effective, saved and filesystem ids all www-data; root's supplementary groups gone.
            for (int i = 0; i < 4; i++) {
                assertEquals("33 33 33 [33]", MasterTesting.okText(port, "/", 10_000));
            }
            assertEquals("www-data", ps("user=", server.process().pid()));
            assertEquals("33 33 33 33", ids(server.process().pid(), "Uid:"));
            assertEquals("33 33 33 33", ids(server.process().pid(), "Gid:"));
            for (long worker : MasterTesting.workerProcesses(server).keySet()) {
                assertEquals("www-data", ps("user=", worker));
                assertEquals("www-data", ps("group=", worker));
            }
            assertEquals("www-data", Files.getOwner(socket, LinkOption.NOFOLLOW_LINKS).getName());
            assertEquals("www-data", Files.readAttributes(socket, java.nio.file.attribute.PosixFileAttributes.class,
                    LinkOption.NOFOLLOW_LINKS).group().getName());
            assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket, LinkOption.NOFOLLOW_LINKS)));
            // A reload's workers are www-data's too, and serve.
            MasterTesting.signal(server.process().pid(), "HUP");
            assertTrue(server.awaitLog("reload done", Duration.ofSeconds(60)), server.log());
            assertEquals("33 33 33 [33]", MasterTesting.okText(port, "/", 10_000));
            int seen = 0;
            for (long worker : MasterTesting.workerProcesses(server).keySet()) {
                String user = ps("user=", worker);
                if (!user.isEmpty()) { // else an old worker that exited since the list was taken
                    assertEquals("www-data", user);
                    seen++;
                }
            }
            assertTrue(seen >= 2, "the new generation's workers were looked at");
            assertEquals(0, server.stop(Duration.ofSeconds(30)), server.log());
            assertTrue(!Files.exists(socket, LinkOption.NOFOLLOW_LINKS), "the master removed its socket as www-data");
        }
    }

    @Test
    void anUnknownUserOrGroupIsOneLineAndNothingIsBound() throws Exception {
        for (List<String> flags : List.of(List.of("--uid", "no-such-user-here"), List.of("--gid", "no-such-group-here"),
                List.of("--chown-socket", "www-data:no-such-group-here", "--uwsgi-socket", dir.resolve("x.sock").toString()))) {
            java.util.ArrayList<String> args = new java.util.ArrayList<>(List.of("--module", "identity_app", "--http",
                    "127.0.0.1:0", "--chdir", BridgeServer.testApps().toString()));
            args.addAll(flags);
            Process p = BridgeServer.launch(args, Map.of());
            assertTrue(p.waitFor(30, java.util.concurrent.TimeUnit.SECONDS));
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            String value = flags.get(1);
            String what = value.contains("group") ? "no such group " : "no such user ";
            assertEquals(2, p.exitValue(), out);
            assertEquals("bridge: error: " + flags.get(0) + " " + value + ": " + what
                    + value.substring(value.indexOf(':') + 1), out.strip(), out);
            assertTrue(!out.contains("listening on") && !out.contains("Exception"), out);
        }
    }

    /** A port below 1024 nothing listens on. */
    private static int freePrivilegedPort() throws IOException {
        for (int port = 700; port < 1000; port++) {
            try (ServerSocket s = new ServerSocket(port, 1, InetAddress.getLoopbackAddress())) {
                return port;
            } catch (IOException taken) {
                // the next one
            }
        }
        throw new IOException("no free port between 700 and 1000");
    }

    private static String ps(String field, long pid) throws Exception {
        Process p = new ProcessBuilder("ps", "-o", field, "-p", String.valueOf(pid)).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        p.waitFor();
        return out;
    }

    /** A Uid: or Gid: line of /proc/PID/status: real, effective, saved, filesystem. */
    private static String ids(long pid, String prefix) throws IOException {
        return Files.readAllLines(Path.of("/proc", String.valueOf(pid), "status")).stream()
                .filter(l -> l.startsWith(prefix)).findFirst().orElseThrow()
                .substring(prefix.length()).strip().replaceAll("\\s+", " ");
    }
}
