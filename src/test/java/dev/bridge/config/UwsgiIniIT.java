package dev.bridge.config;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Nginx;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

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
 * A real project's uwsgi.ini, unchanged: An Otter Wiki's docker/uwsgi.ini (src/test/resources/uwsgi-ini) serves
 * the wiki from PyPI behind real nginx (uwsgi_pass to its unix socket, Debian's uwsgi_params). The paths that
 * belong to its container image are given as flags, which win over the file: the app directory, the socket,
 * the pid file, and the socket's owner (the image's nginx user; Debian's nginx runs as www-data). Needs root
 * (the file says uid = www-data) and .venv-system (a Python www-data can run, with otterwiki installed).
 */
class UwsgiIniIT {

    private static final Path INI = BridgeServer.root().resolve("src/test/resources/uwsgi-ini/otterwiki/uwsgi.ini");

    @TempDir
    Path dir;

    @Test
    void anOtterWikisUwsgiIniServesTheWikiBehindNginxUnchanged() throws Exception {
        assertEquals("root", System.getProperty("user.name"), "the file says uid = www-data: the test runs as root");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path app = Files.createDirectories(dir.resolve("app"));
        Path data = Files.createDirectories(dir.resolve("app-data"));
        Path repository = data.resolve("repository");
        Path settings = data.resolve("settings.cfg");
        Files.writeString(settings, "REPOSITORY = '" + repository + "'\nSITE_NAME = 'Bridged Otters'\n"
                + "SECRET_KEY = 'a test key, not a secret, long enough'\n");
        run("git", "init", "-q", repository.toString());
        run("chown", "-R", "www-data:www-data", data.toString());
        Path socket = dir.resolve("uwsgi.sock");
        Path pidfile = dir.resolve("uwsgi.pid");
        try (BridgeServer server = BridgeServer.startAsGiven(Map.of("OTTERWIKI_SETTINGS", settings.toString()), List.of(
                "--venv", BridgeServer.systemVenv().toString(), "--ini", INI.toString(), "--chdir", app.toString(),
                "--uwsgi-socket", socket.toString(), "--pidfile", pidfile.toString(), "--chown-socket", "www-data:www-data"))) {
            String log = server.log();
            // What the file says that the bridge does not do: one line each; nothing else warned about.
            assertEquals(List.of(INI + ":17: show-config: ignored: --print-config shows every setting and where it came from",
                    INI + ":27: wsgi-disable-file-wrapper: ignored: the bridge's wsgi.file_wrapper reads any file-like object"),
                    log.lines().filter(l -> l.startsWith("bridge: warning: ")).map(l -> l.substring(17)).toList(), log);
            assertTrue(log.contains("running as uid 33 gid 33 (www-data)"), log);
            long master = server.process().pid();
            assertEquals(String.valueOf(master), Files.readString(pidfile).strip());
            assertEquals("www-data", Files.getOwner(socket, LinkOption.NOFOLLOW_LINKS).getName());
            assertEquals("rw-rw-r--", PosixFilePermissions.toString(Files.getPosixFilePermissions(socket, LinkOption.NOFOLLOW_LINKS)));
            int port = Nginx.freePort();
            try (Nginx nginx = Nginx.start(Files.createDirectories(dir.resolve("nginx")), "server { listen 127.0.0.1:" + port + ";\n"
                    + "  location / { include " + Nginx.uwsgiParams() + "; uwsgi_pass unix:" + socket + "; } }\n", port)) {
                RawHttp.Response home = get(port, "/");
                assertEquals(200, home.status(), home.toString());
                String page = new String(home.body(), StandardCharsets.UTF_8);
                assertTrue(page.contains("Bridged Otters"), page);
                RawHttp.Response missing = get(port, "/-/no-such-thing");
                assertEquals(404, missing.status());
            }
            // The wiki wrote its first page into the repository as www-data.
            Path home = repository.resolve("home.md");
            assertTrue(Files.exists(home), "the wiki made its home page");
            assertEquals("www-data", Files.getOwner(home).getName());
            assertTrue(!log.contains(" GET /"), "disable-logging = true: no access lines\n" + server.log());
            assertEquals(0, server.stop(Duration.ofSeconds(30)), server.log());
            assertTrue(!Files.exists(socket, LinkOption.NOFOLLOW_LINKS) && !Files.exists(pidfile), "vacuum: both removed");
        }
    }

    private static RawHttp.Response get(int port, String path) throws Exception {
        try (RawHttp http = new RawHttp(port, 30_000)) {
            return http.exchange("GET " + path + " HTTP/1.1\r\nHost: wiki.example\r\nConnection: close\r\n\r\n");
        }
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).inheritIO().start();
        assertEquals(0, p.waitFor(), String.join(" ", command));
    }
}
