package dev.bridge.testing;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real nginx from Debian's packages (scripts/setup installs it), run in the foreground from a directory
 * of its own: {@code nginx -p DIR -c DIR/nginx.conf} with {@code daemon off; master_process on;
 * worker_processes 1;}, its pid file, logs and temp paths inside DIR. The caller gives the servers of the
 * http block; {@link #start} waits until each listens. Close it to stop it (SIGTERM, then SIGKILL).
 */
public final class Nginx implements AutoCloseable {

    /** Error log lines that mean nginx could not talk to its upstream (each a 502 or 504 for a client). */
    public static final Pattern UPSTREAM_ERROR = Pattern.compile(
            "upstream prematurely closed|connect\\(\\) (to .* )?failed|recv\\(\\) failed|reset by peer"
                    + "|upstream timed out|no live upstreams|upstream sent (invalid|too big|unexpected)"
                    + "|while reading response header from upstream|while reading upstream|upstream sent no valid");
    /** Access log lines (format {@code status upstream_status "request"}) of a 502 or 504. */
    public static final Pattern GATEWAY_ERROR = Pattern.compile("^(502|504) ");

    private static final Duration START_TIMEOUT = Duration.ofSeconds(10);

    private final Path dir;
    private final Process process;

    private Nginx(Path dir, Process process) {
        this.dir = dir;
        this.process = process;
    }

    /** The nginx binary, when installed. */
    public static Optional<Path> binary() {
        for (String d : List.of("/usr/sbin", "/usr/local/sbin", "/usr/bin", "/usr/local/bin")) {
            Path p = Path.of(d, "nginx");
            if (Files.isExecutable(p)) {
                return Optional.of(p);
            }
        }
        String path = System.getenv().getOrDefault("PATH", "");
        return Stream.of(path.split(":")).filter(s -> !s.isEmpty()).map(s -> Path.of(s, "nginx"))
                .filter(Files::isExecutable).findFirst();
    }

    /** The stock uwsgi_params that Debian's nginx-common ships. */
    public static Path uwsgiParams() {
        return Path.of("/etc/nginx/uwsgi_params");
    }

    /** Why nginx cannot be used here, or null when it can. */
    public static String unavailable() {
        if (binary().isEmpty()) {
            return "nginx is not installed (scripts/setup installs Debian's nginx when run as root; "
                    + "or apt-get install nginx)";
        }
        if (!Files.isReadable(uwsgiParams())) {
            return uwsgiParams() + " is missing (Debian's nginx-common ships it)";
        }
        return null;
    }

    /** A loopback port free at the moment of asking. */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress("127.0.0.1", 0));
            return s.getLocalPort();
        }
    }

    /**
     * Writes DIR/nginx.conf around {@code servers} (the http block's server blocks) and starts nginx, then
     * waits until every port of {@code ports} accepts connections.
     */
    public static Nginx start(Path dir, String servers, int... ports) throws IOException, InterruptedException {
        Path nginx = binary().orElseThrow(() -> new IllegalStateException(unavailable()));
        String d = dir.toAbsolutePath().toString();
        // As root, nginx's workers would run as nobody, who can use neither the 0700 temp directory nor the
        // bridge's 0660 socket: keep them root, as the test's user.
        String user = "root".equals(System.getProperty("user.name")) ? "user root;\n" : "";
        String conf = "daemon off;\n"
                + "master_process on;\n"
                + "worker_processes 1;\n"
                + user
                + "pid " + d + "/nginx.pid;\n"
                + "error_log " + d + "/error.log info;\n"
                + "events { worker_connections 512; }\n"
                + "http {\n"
                + "  log_format bridge '$status $upstream_status \"$request\" $request_time';\n"
                + "  access_log " + d + "/access.log bridge;\n"
                + "  client_body_temp_path " + d + "/client_body;\n"
                + "  proxy_temp_path " + d + "/proxy;\n"
                + "  fastcgi_temp_path " + d + "/fastcgi;\n"
                + "  uwsgi_temp_path " + d + "/uwsgi;\n"
                + "  scgi_temp_path " + d + "/scgi;\n"
                + "  keepalive_timeout 30s;\n"
                + servers
                + "}\n";
        Files.writeString(dir.resolve("nginx.conf"), conf);
        Process p = new ProcessBuilder(nginx.toString(), "-p", d + "/", "-c", d + "/nginx.conf")
                .redirectErrorStream(true)
                .redirectOutput(dir.resolve("stdout.log").toFile())
                .start();
        Nginx n = new Nginx(dir, p);
        long deadline = System.nanoTime() + START_TIMEOUT.toNanos();
        for (int port : ports) {
            while (!accepts(port)) {
                if (!p.isAlive() || System.nanoTime() > deadline) {
                    n.close();
                    throw new IllegalStateException("nginx did not start listening on " + port + "; its output:\n"
                            + n.read("stdout.log") + "\nerror log:\n" + n.errorLog() + "\nconfig:\n" + conf);
                }
                Thread.sleep(20);
            }
        }
        return n;
    }

    private static boolean accepts(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public Path dir() {
        return dir;
    }

    public long pid() {
        return process.pid();
    }

    private String read(String name) {
        try {
            Path f = dir.resolve(name);
            return Files.exists(f) ? Files.readString(f, StandardCharsets.ISO_8859_1) : "";
        } catch (IOException e) {
            return "(cannot read " + name + ": " + e + ")";
        }
    }

    public String errorLog() {
        return read("error.log");
    }

    public String accessLog() {
        return read("access.log");
    }

    /** Lines of {@code log} (the error log, or another of DIR's logs) from character {@code from} on. */
    public List<String> lines(String log, int from) {
        String all = read(log);
        return all.substring(Math.min(from, all.length())).lines().toList();
    }

    /** Error log lines (from character {@code from} on) that show trouble with the upstream. */
    public List<String> upstreamErrors(int from) {
        return lines("error.log", from).stream().filter(l -> UPSTREAM_ERROR.matcher(l).find()).toList();
    }

    /** Access log lines (from character {@code from} on) of 502 and 504 answers. */
    public List<String> gatewayErrors(int from) {
        return lines("access.log", from).stream().filter(l -> GATEWAY_ERROR.matcher(l).find()).toList();
    }

    /** Where the logs end now: pass to {@link #upstreamErrors} and {@link #gatewayErrors} later. */
    public int[] mark() {
        return new int[]{errorLog().length(), accessLog().length()};
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            process.destroy();
            if (!process.waitFor(10, TimeUnit.SECONDS)) {
                process.destroyForcibly();
                process.waitFor(5, TimeUnit.SECONDS);
            }
        }
    }
}
