package dev.bridge.deploy;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Nginx;
import dev.bridge.testing.RawHttp;
import dev.bridge.uwsgi.Packets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The deployment recipes in deploy/, tried as far as this machine allows: the nginx site with Debian's nginx
 * through the unix socket and TCP; the systemd units checked by systemd-analyze and their command run under
 * their socket by systemd-socket-activate; the Kubernetes manifest checked against the API's schemas
 * (kubernetes-validate) and against the bridge's drain; the container's command (and the manifest's) run with
 * --print-config. The image itself is not built: no registry is reachable here.
 */
class RecipesIT {

    private static final Path DEPLOY = BridgeServer.root().resolve("deploy");

    @TempDir
    Path dir;

    @Test
    void theNginxSiteServesTheAppThroughTheUnixSocketAndThroughTcp() throws Exception {
        Path socket = dir.resolve("app.sock");
        Path statics = Files.createDirectories(dir.resolve("static"));
        Files.writeString(statics.resolve("site.css"), "body {}\n");
        int tcp = Nginx.freePort();
        String site = Files.readString(DEPLOY.resolve("nginx/bridge-app.conf"));
        try (BridgeServer server = BridgeServer.start("--module", "nginx_app", "--uwsgi-socket", socket.toString(),
                "--uwsgi-socket", "127.0.0.1:" + tcp)) {
            for (boolean viaTcp : List.of(false, true)) {
                int port = Nginx.freePort();
                String conf = replace(site, "listen 80;", "listen 127.0.0.1:" + port + ";",
                        "/run/bridge-app/app.sock", socket.toString(), "/srv/app/static/", statics + "/");
                if (viaTcp) {
                    conf = replace(conf, "    server unix:", "    # server unix:", "# server 127.0.0.1:3031;",
                            "server 127.0.0.1:" + tcp + ";");
                }
                try (Nginx nginx = Nginx.start(Files.createDirectories(dir.resolve("nginx-" + viaTcp)), conf, port)) {
                    String env = get(port, "/env");
                    assertTrue(env.contains("\nHTTP_HOST\tapp.example.org\n"), "Debian's HTTP_HOST, once:\n" + env);
                    assertEquals("validated GET 0", get(port, "/validated"), "wsgiref.validate behind the recipe");
                    assertEquals("body {}\n", get(port, "/static/site.css"), "nginx serves the static files");
                    assertTrue(nginx.upstreamErrors(0).isEmpty(), nginx.errorLog());
                }
            }
            assertTrue(server.log().contains("\"GET /env HTTP/1.1\" 200"), server.log());
        }
    }

    @Test
    void theSystemdUnitsVerifyAndTheServiceServesItsSocket() throws Exception {
        Path socketUnit = DEPLOY.resolve("systemd/bridge-app.socket");
        Path serviceUnit = DEPLOY.resolve("systemd/bridge-app.service");
        Run verify = run(List.of("systemd-analyze", "verify", socketUnit.toString(), serviceUnit.toString()), Map.of());
        assertEquals(0, verify.code, verify.output);
        assertEquals("", verify.output.strip(), "systemd-analyze has nothing to say");
        String socket = Files.readString(socketUnit);
        String service = Files.readString(serviceUnit);
        Path listen = dir.resolve("app.sock");
        Path ini = dir.resolve("app.ini");
        Files.writeString(ini, replace(Files.readString(DEPLOY.resolve("systemd/app.ini")),
                "mysite.wsgi:application", "os_environ_app:application", "/srv/app/venv", BridgeServer.root().resolve(".venv").toString(),
                "/srv/app", BridgeServer.testApps().toString(), "workers = 4", "workers = 1"));
        List<String> exec = new ArrayList<>(List.of("systemd-socket-activate", "-l", listen.toString(),
                "--fdname=" + setting(socket, "FileDescriptorName"), "--"));
        exec.addAll(Arrays.asList(replace(setting(service, "ExecStart"), "/usr/bin/java",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), "/opt/bridge/bridge.jar",
                BridgeServer.jar().toString(), "/etc/bridge/app.ini", ini.toString()).split(" ")));
        ProcessBuilder pb = new ProcessBuilder(exec).redirectErrorStream(true).redirectOutput(dir.resolve("out.log").toFile());
        pb.environment().remove("VIRTUAL_ENV");
        Process bridge = pb.start();
        try {
            assertTrue(awaitFile(listen), "systemd-socket-activate listens");
            String answer = uwsgi(listen, "/?name=BRIDGE_WORKER_ID");
            assertTrue(answer.startsWith("HTTP/1.1 200") && answer.endsWith("'1'"), answer + Files.readString(dir.resolve("out.log")));
        } finally {
            bridge.destroy();
            assertTrue(bridge.waitFor(40, TimeUnit.SECONDS));
        }
        assertEquals(0, bridge.exitValue(), Files.readString(dir.resolve("out.log")));
        assertTrue(Files.readString(dir.resolve("out.log")).contains("listening on uwsgi://" + listen + " (passed at descriptor 3)"));
        // The unit's stop timeout outlasts the drain it asks for.
        assertTrue(Integer.parseInt(setting(service, "TimeoutStopSec")) > 30 + 1, "TimeoutStopSec > --graceful-timeout");
    }

    @Test
    void theKubernetesManifestValidatesAndItsTimesFollowTheDrain() throws Exception {
        Path manifest = DEPLOY.resolve("kubernetes/bridge-app.yaml");
        Path validator = BridgeServer.root().resolve(".tools/venv/bin/kubernetes-validate");
        assertTrue(Files.isExecutable(validator), validator + " is missing: run scripts/setup");
        Run validate = run(List.of(validator.toString(), "--strict", manifest.toString()), Map.of());
        assertEquals(0, validate.code, validate.output);
        assertTrue(validate.output.contains("passed for resource deployment/bridge-app")
                && validate.output.contains("passed for resource service/bridge-app"), validate.output);
        String yaml = Files.readString(manifest);
        int grace = Integer.parseInt(match(yaml, "terminationGracePeriodSeconds: (\\d+)"));
        int preStop = Integer.parseInt(match(yaml, "command: \\[\"sleep\", \"(\\d+)\"\\]"));
        List<String> args = jsonList(match(yaml, "args: (\\[[^\\]]*\\])"));
        int graceful = Integer.parseInt(args.get(args.indexOf("--graceful-timeout") + 1));
        assertTrue(grace > preStop + graceful, "terminationGracePeriodSeconds " + grace + " > preStop " + preStop
                + " + --graceful-timeout " + graceful);
        String statsPort = args.get(args.indexOf("--stats") + 1).replaceAll(".*:", "");
        assertEquals(statsPort, match(yaml, "name: stats\\s+containerPort: (\\d+)"), "the probes' port is the stats server's");
        assertTrue(args.contains("--stats-http"), "the probes speak HTTP to it");
        // The image runs the same command, and the bridge takes it.
        List<String> cmd = jsonList(match(Files.readString(DEPLOY.resolve("container/Dockerfile")).replace("\\\n", ""),
                "CMD (\\[[^\\]]*\\])"));
        assertEquals(args, cmd, "the manifest's command is the image's");
        List<String> check = new ArrayList<>(cmd);
        check.set(0, Path.of(System.getProperty("java.home"), "bin", "java").toString());
        check.set(check.indexOf("/opt/bridge/bridge.jar"), BridgeServer.jar().toString());
        check.add("--print-config");
        Run printed = run(check, Map.of());
        assertEquals(0, printed.code, printed.output);
        assertTrue(printed.output.matches("(?s).*\\ngraceful-timeout +" + graceful + " +--graceful-timeout\\n.*"), printed.output);
    }

    private record Run(int code, String output) {}

    private static Run run(List<String> command, Map<String, String> env) throws Exception {
        ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
        pb.environment().putAll(env);
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), String.join(" ", command));
        return new Run(p.exitValue(), out);
    }

    /** {@code text} with each pair of (literal, replacement) applied; each literal must be there. */
    private static String replace(String text, String... pairs) {
        for (int i = 0; i < pairs.length; i += 2) {
            assertTrue(text.contains(pairs[i]), "the recipe has " + pairs[i]);
            text = text.replace(pairs[i], pairs[i + 1]);
        }
        return text;
    }

    /** A unit file's {@code KEY=value}. */
    private static String setting(String unit, String key) {
        return match(unit, "(?m)^" + key + "=(.*)$").strip();
    }

    private static String match(String text, String regex) {
        Matcher m = Pattern.compile(regex).matcher(text);
        assertTrue(m.find(), "no " + regex);
        return m.group(1);
    }

    /** A flat JSON array of strings, as the Dockerfile's CMD and the manifest's args are written. */
    private static List<String> jsonList(String array) {
        List<String> out = new ArrayList<>();
        Matcher m = Pattern.compile("\"([^\"]*)\"").matcher(array);
        while (m.find()) {
            out.add(m.group(1));
        }
        return out;
    }

    private static String get(int port, String target) throws Exception {
        try (RawHttp http = new RawHttp(port, 30_000)) {
            RawHttp.Response r = http.exchange("GET " + target + " HTTP/1.1\r\nHost: app.example.org\r\nConnection: close\r\n\r\n");
            assertEquals(200, r.status(), r.toString());
            return new String(r.body(), StandardCharsets.ISO_8859_1);
        }
    }

    private static String uwsgi(Path socket, String target) throws IOException {
        return Packets.exchangeUnix(socket, Packets.nginxGet(target));
    }

    private static boolean awaitFile(Path path) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (!Files.exists(path)) {
            if (System.nanoTime() > deadline) {
                return false;
            }
            Thread.sleep(20);
        }
        return true;
    }
}
