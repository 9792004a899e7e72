package dev.bridge.uwsgi;

import dev.bridge.master.MasterTesting;
import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Nginx;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.CookieManager;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bridge behind a real nginx (Debian's package), as it is deployed: {@code uwsgi_pass} over TCP and
 * over a unix socket with the stock {@code /etc/nginx/uwsgi_params}, and {@code proxy_pass} to the HTTP
 * listener; one nginx server block per route, the same requests through each. After every test, and over
 * the whole run at the end, nginx's error log must show no upstream errors and its access log no 502/504.
 * The app is src/test/python/nginx_app.py. Skipped when nginx is not installed (scripts/setup installs it).
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class NginxIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    /** How a request reaches the bridge from nginx. */
    /** How nginx reaches the bridge: uwsgi_pass (TCP, unix socket), proxy_pass, proxy_pass keeping connections alive. */
    enum Route {
        UWSGI_TCP, UWSGI_UNIX, PROXY_HTTP, PROXY_KEEPALIVE;

        boolean uwsgi() {
            return this == UWSGI_TCP || this == UWSGI_UNIX;
        }
    }

    private static Path dir;
    private static BridgeServer bridge;
    private static Nginx nginx;
    private static final Map<Route, Integer> ports = new EnumMap<>(Route.class);
    /** A server block of its own (own logs) for repeated request headers: see repeatedHeaders. */
    private static int repeatedHeadersPort;
    /** Why the tests cannot run here (no nginx), or null. */
    private static String unavailable;
    private int[] mark;

    @BeforeAll
    static void start() throws Exception {
        unavailable = Nginx.unavailable();
        if (unavailable != null) {
            System.err.println("NginxIT: every test is skipped: " + unavailable);
            return; // each test is then skipped, with the reason, in markLogs()
        }
        dir = Files.createTempDirectory("bridge-nginx-it");
        Path socket = dir.resolve("bridge.sock");
        bridge = BridgeServer.start("--module", "nginx_app:application",
                "--http", "127.0.0.1:0",
                "--uwsgi-socket", "127.0.0.1:0",
                "--uwsgi-socket", socket.toString(),
                "--chmod-socket", "660",
                "--workers", "2", "--disable-logging");
        assertTrue(bridge.uwsgiPort() > 0, "the master logs its uwsgi listener: " + bridge.log());
        for (Route r : Route.values()) {
            ports.put(r, Nginx.freePort());
        }
        repeatedHeadersPort = Nginx.freePort();
        String servers = server(ports.get(Route.UWSGI_TCP), uwsgi("127.0.0.1:" + bridge.uwsgiPort())
                        + "    location /mount/ {\n"
                        + "      include /etc/nginx/uwsgi_params;\n"
                        + "      uwsgi_param SCRIPT_NAME /mount;\n"
                        + "      uwsgi_modifier1 30;\n"
                        + "      uwsgi_pass 127.0.0.1:" + bridge.uwsgiPort() + ";\n"
                        + "    }\n")
                + server(ports.get(Route.UWSGI_UNIX), uwsgi("unix:" + socket))
                + server(ports.get(Route.PROXY_HTTP), "    location / {\n"
                        + "      proxy_pass http://127.0.0.1:" + bridge.port() + ";\n"
                        + "      proxy_set_header Host $host;\n"
                        + "      proxy_set_header X-Forwarded-For $remote_addr;\n"
                        + "    }\n")
                // The README's configuration for speed: upstream connections kept alive, closed by nginx
                // after 1 s idle, before a retiring worker (2 s) would close them under nginx's feet.
                + "  upstream bridge_http {\n"
                + "    server 127.0.0.1:" + bridge.port() + ";\n"
                + "    keepalive 8;\n"
                + "    keepalive_timeout 1s;\n"
                + "  }\n"
                + server(ports.get(Route.PROXY_KEEPALIVE), "    location / {\n"
                        + "      proxy_pass http://bridge_http;\n"
                        + "      proxy_http_version 1.1;\n"
                        + "      proxy_set_header Connection \"\";\n"
                        + "      proxy_set_header Host $host;\n"
                        + "      proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;\n"
                        + "      proxy_set_header X-Forwarded-Proto $scheme;\n"
                        + "    }\n")
                + server(repeatedHeadersPort, "    error_log " + dir + "/repeated-error.log info;\n"
                        + "    access_log " + dir + "/repeated-access.log bridge;\n"
                        + uwsgi("127.0.0.1:" + bridge.uwsgiPort()));
        nginx = Nginx.start(dir, servers, ports.get(Route.UWSGI_TCP), ports.get(Route.UWSGI_UNIX),
                ports.get(Route.PROXY_HTTP), ports.get(Route.PROXY_KEEPALIVE), repeatedHeadersPort);
    }

    private static String server(int port, String body) {
        return "  server {\n"
                + "    listen 127.0.0.1:" + port + ";\n"
                + "    server_name localhost;\n"
                // big cookies: one header line of up to 64 KiB (the uwsgi vars block's limit)
                + "    large_client_header_buffers 4 64k;\n"
                + "    client_max_body_size 20m;\n"
                // room for big response heads (e.g. Set-Cookie) from the app
                + "    uwsgi_buffer_size 32k;\n"
                + "    uwsgi_buffers 8 32k;\n"
                + "    uwsgi_read_timeout 30s;\n"
                + "    proxy_read_timeout 30s;\n"
                + body
                + "  }\n";
    }

    private static String uwsgi(String upstream) {
        return "    location / {\n"
                + "      include /etc/nginx/uwsgi_params;\n"
                + "      uwsgi_pass " + upstream + ";\n"
                + "    }\n";
    }

    @AfterAll
    static void stop() throws Exception {
        try {
            if (nginx != null) {
                nginx.close();
            }
            if (bridge != null) {
                bridge.close();
            }
            keepLogs();
        } finally {
            if (bridge != null) {
                bridge.close();
            }
            if (dir != null) {
                deleteTree(dir);
            }
        }
    }

    @BeforeEach
    void markLogs() {
        assertNull(unavailable, () -> "nginx is needed here (scripts/setup installs it): " + unavailable);
        mark = nginx.mark();
    }

    @AfterEach
    void noUpstreamErrors() throws InterruptedException {
        if (mark == null) {
            return; // skipped
        }
        Thread.sleep(50); // nginx writes its access log line just after the response
        assertNoUpstreamErrors(mark);
    }

    private static void assertNoUpstreamErrors(int[] since) {
        List<String> errors = nginx.upstreamErrors(since[0]);
        List<String> gateway = nginx.gatewayErrors(since[1]);
        assertTrue(errors.isEmpty() && gateway.isEmpty(), () -> "nginx had trouble with the bridge:\n"
                + String.join("\n", errors) + "\naccess log:\n" + String.join("\n", gateway)
                + "\nbridge log (end):\n" + tail(bridge.log(), 40));
    }

    // ---- a client's requests through nginx

    private static int port(Route r) {
        return ports.get(r);
    }

    /** One request on a new connection to nginx; {@code headers} are whole lines without CRLF. */
    private static RawHttp.Response request(int port, String method, String target, byte[] body, String... headers)
            throws IOException {
        StringBuilder head = new StringBuilder(method + " " + target + " HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n");
        for (String h : headers) {
            head.append(h).append("\r\n");
        }
        if (body != null) {
            head.append("Content-Length: ").append(body.length).append("\r\n");
        }
        head.append("\r\n");
        try (RawHttp c = new RawHttp(port, (int) TIMEOUT.toMillis())) {
            c.send(head.toString().getBytes(StandardCharsets.ISO_8859_1));
            if (body != null) {
                c.send(body);
            }
            return c.read(method.equals("HEAD"));
        }
    }

    private static RawHttp.Response get(Route r, String target, String... headers) throws IOException {
        return request(port(r), "GET", target, null, headers);
    }

    /** The /env route's answer: each str value of the environ as its latin-1 bytes (one char per byte). */
    private static Map<String, String> environ(RawHttp.Response r) {
        assertEquals(200, r.status(), r::text);
        Map<String, String> env = new LinkedHashMap<>();
        for (String line : r.text().split("\n")) {
            int tab = line.indexOf('\t');
            if (tab > 0) {
                env.put(line.substring(0, tab), line.substring(tab + 1));
            }
        }
        return env;
    }

    private static String sha256(byte[] b) throws Exception {
        return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(b));
    }

    private static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) (i % 251);
        }
        return b;
    }

    // ---- tests

    @ParameterizedTest
    @EnumSource(Route.class)
    void getWithQueryString(Route route) throws Exception {
        Map<String, String> env = environ(get(route, "/env?a=1&b=%20x&c=%C3%A9&d"));
        assertEquals("GET", env.get("REQUEST_METHOD"));
        assertEquals("/env", env.get("PATH_INFO"));
        assertEquals("a=1&b=%20x&c=%C3%A9&d", env.get("QUERY_STRING"));
        assertEquals("", env.getOrDefault("SCRIPT_NAME", ""));
    }

    @ParameterizedTest
    @EnumSource(Route.class)
    void postBodies(Route route) throws Exception {
        for (int size : new int[]{0, 1, 10_000, 200_000, 3 * 1024 * 1024}) {
            byte[] body = pattern(size);
            RawHttp.Response r = request(port(route), "POST", "/echo", body, "Content-Type: application/octet-stream");
            assertEquals(200, r.status(), () -> size + " bytes: " + r.text());
            assertEquals(String.valueOf(size), r.header("X-Length"));
            assertEquals(String.valueOf(size), r.header("X-Content-Length"));
            assertEquals(sha256(body), r.header("X-Sha256"), size + " bytes");
            assertArrayEquals(body, r.body());
        }
    }

    /**
     * PEP 3333 through nginx's stock uwsgi_params, which pass the client's Content-Type and Content-Length
     * as HTTP_CONTENT_TYPE / HTTP_CONTENT_LENGTH too: the environ has only the CONTENT_* forms, and
     * wsgiref.validate (warnings as errors) accepts every request.
     */
    @ParameterizedTest
    @EnumSource(Route.class)
    void pep3333ValidatedThroughNginx(Route route) throws Exception {
        byte[] body = "a=1&b=2".getBytes(StandardCharsets.US_ASCII);
        Map<String, String> env = environ(request(port(route), "POST", "/env", body,
                "Content-Type: application/x-www-form-urlencoded"));
        assertEquals("application/x-www-form-urlencoded", env.get("CONTENT_TYPE"));
        assertEquals("7", env.get("CONTENT_LENGTH"));
        assertEquals(null, env.get("HTTP_CONTENT_TYPE"), "PEP 3333 forbids HTTP_CONTENT_TYPE");
        assertEquals(null, env.get("HTTP_CONTENT_LENGTH"), "PEP 3333 forbids HTTP_CONTENT_LENGTH");
        RawHttp.Response post = request(port(route), "POST", "/validated", body, "Content-Type: text/plain");
        assertEquals("200 validated POST 7", post.status() + " " + post.text());
        RawHttp.Response get = get(route, "/validated/caf%C3%A9?q=%20x");
        assertEquals("200 validated GET 0", get.status() + " " + get.text());
    }

    /** The client uploads chunked; nginx buffers the body and re-frames it with CONTENT_LENGTH. */
    @ParameterizedTest
    @EnumSource(Route.class)
    void chunkedClientUpload(Route route) throws Exception {
        byte[] body = pattern(150_000);
        ByteArrayOutputStream wire = new ByteArrayOutputStream();
        wire.writeBytes(("POST /echo HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n"
                + "Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
        int[] sizes = {1, 4095, 60_000, 33, 85_871};
        int at = 0;
        for (int n : sizes) {
            wire.writeBytes((Integer.toHexString(n) + "\r\n").getBytes(StandardCharsets.US_ASCII));
            wire.write(body, at, n);
            wire.writeBytes("\r\n".getBytes(StandardCharsets.US_ASCII));
            at += n;
        }
        assertEquals(body.length, at);
        wire.writeBytes("0\r\n\r\n".getBytes(StandardCharsets.US_ASCII));
        RawHttp.Response r;
        try (RawHttp c = new RawHttp(port(route), (int) TIMEOUT.toMillis())) {
            byte[] all = wire.toByteArray();
            // in pieces, as a streaming client would send them
            for (int i = 0; i < all.length; i += 40_000) {
                c.send(java.util.Arrays.copyOfRange(all, i, Math.min(all.length, i + 40_000)));
                Thread.sleep(5);
            }
            r = c.read();
        }
        assertEquals(200, r.status(), r::text);
        assertEquals("150000", r.header("X-Content-Length"), "nginx re-framed the body with its length");
        assertEquals(sha256(body), r.header("X-Sha256"));
        assertArrayEquals(body, r.body());
    }

    @ParameterizedTest
    @EnumSource(Route.class)
    void bigCookies(Route route) throws Exception {
        for (int size : new int[]{16 * 1024, 32 * 1024, 60 * 1024}) {
            String cookie = Packets.cookie(size);
            RawHttp.Response r = get(route, "/cookie", "Cookie: " + cookie);
            assertEquals(200, r.status(), () -> size + "-byte cookie: " + r.text());
            assertEquals(size + " " + sha256(cookie.getBytes(StandardCharsets.ISO_8859_1)), r.text());
        }
    }

    @ParameterizedTest
    @EnumSource(Route.class)
    void streamingResponse(Route route) throws Exception {
        RawHttp.Response r = get(route, "/stream?n=30&size=5000&delay_ms=10");
        assertEquals(200, r.status());
        ByteArrayOutputStream expected = new ByteArrayOutputStream();
        for (int i = 0; i < 30; i++) {
            expected.writeBytes(String.valueOf((char) ('a' + i % 26)).repeat(5000).getBytes(StandardCharsets.US_ASCII));
        }
        assertEquals(150_000, r.body().length);
        assertArrayEquals(expected.toByteArray(), r.body());
    }

    @ParameterizedTest
    @EnumSource(Route.class)
    void fileWrapperResponse(Route route) throws Exception {
        int size = 300_000;
        RawHttp.Response r = get(route, "/file?size=" + size);
        assertEquals(200, r.status(), r::text);
        assertEquals(String.valueOf(size), r.header("Content-Length"), "the file's length is known");
        assertArrayEquals(pattern(size), r.body());
    }

    @ParameterizedTest
    @EnumSource(Route.class)
    void appErrorIs500(Route route) throws Exception {
        RawHttp.Response r = get(route, "/error");
        assertEquals(500, r.status());
        assertEquals("Internal Server Error\n", r.text());
        RawHttp.Response after = get(route, "/hello");
        assertEquals(200, after.status(), "the worker lives on");
    }

    @ParameterizedTest
    @EnumSource(Route.class)
    void headRequest(Route route) throws Exception {
        RawHttp.Response r = request(port(route), "HEAD", "/hello", null);
        assertEquals(200, r.status());
        assertEquals(0, r.body().length);
    }

    /** The environ through nginx: who the client is, the server's name and port, a UTF-8 path as bytes. */
    @ParameterizedTest
    @EnumSource(Route.class)
    void environThroughNginx(Route route) throws Exception {
        Map<String, String> env = environ(get(route, "/env/caf%C3%A9/na%C3%AFve?x=1", "User-Agent: nginx-it"));
        String path = env.get("PATH_INFO");
        assertEquals("/env/café/naïve", new String(path.getBytes(StandardCharsets.ISO_8859_1), StandardCharsets.UTF_8),
                "PATH_INFO is the decoded UTF-8 bytes, one char per byte");
        assertEquals("127.0.0.1", env.get("REMOTE_ADDR"));
        assertEquals("http", env.get("wsgi.url_scheme"));
        assertEquals("nginx-it", env.get("HTTP_USER_AGENT"));
        assertEquals("x=1", env.get("QUERY_STRING"));
        if (route.uwsgi()) {
            // From the stock uwsgi_params: nginx's own view of the request.
            assertEquals("localhost", env.get("SERVER_NAME"));
            assertEquals(String.valueOf(port(route)), env.get("SERVER_PORT"));
            assertEquals("/env/caf%C3%A9/na%C3%AFve?x=1", env.get("REQUEST_URI"));
            assertEquals("HTTP/1.1", env.get("SERVER_PROTOCOL"));
            assertEquals("localhost", env.get("HTTP_HOST"));
            assertEquals("", env.get("CONTENT_LENGTH"));
        }
    }

    /** uwsgi_modifier1 30 with SCRIPT_NAME: the app mounted under /mount sees PATH_INFO without it. */
    @Test
    void modifier30MountPoint() throws Exception {
        Map<String, String> env = environ(get(Route.UWSGI_TCP, "/mount/env/x?y=2"));
        assertEquals("/mount", env.get("SCRIPT_NAME"));
        assertEquals("/env/x", env.get("PATH_INFO"));
        assertEquals("y=2", env.get("QUERY_STRING"));
    }

    /** A ping (modifier1 100) straight to the uwsgi port, as a health check: a pong, then the close. */
    @Test
    void pingOnTheUwsgiPort() throws Exception {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", bridge.uwsgiPort()), 5000);
            s.setSoTimeout((int) TIMEOUT.toMillis());
            OutputStream out = s.getOutputStream();
            out.write(new byte[]{100, 0, 0, 0});
            out.flush();
            InputStream in = s.getInputStream();
            assertArrayEquals(new byte[]{100, 0, 0, 0}, in.readNBytes(5), "the pong, then EOF");
        }
    }

    /**
     * A client repeats a header (two Cookie lines; a list header such as X-Forwarded-For split over lines):
     * nginx 1.22 passes each line as its own HTTP_ var, so the vars block holds the key twice.
     */
    @Test
    void repeatedRequestHeaders() throws Exception {
        RawHttp.Response r = request(repeatedHeadersPort, "GET", "/env", null,
                "X-Dup: 1", "X-Dup: 2", "Cookie: a=1", "Cookie: b=2");
        List<String> errors = nginx.lines("repeated-error.log", 0).stream()
                .filter(l -> Nginx.UPSTREAM_ERROR.matcher(l).find()).toList();
        assertEquals(200, r.status(), () -> "nginx answered " + r.statusLine() + "; its error log:\n"
                + String.join("\n", errors) + "\nbridge log (end):\n" + tail(bridge.log(), 5));
        Map<String, String> env = environ(r);
        assertEquals("1,2", env.get("HTTP_X_DUP"));
        assertEquals("a=1; b=2", env.get("HTTP_COOKIE"), "nginx 1.22 passes two Cookie headers as two vars; joined as cookies are");
    }

    /** The Django sample's admin login (CSRF token, session cookie, redirects) through nginx's uwsgi_pass. */
    @Test
    void djangoAdminLoginOverUwsgiPass() throws Exception {
        Path django = BridgeServer.root().resolve("python-samples/django_project");
        assertTrue(Files.exists(django.resolve("db.sqlite3")),
                "the Django sample has no database: run scripts/setup (scripts/django-sample-setup)");
        Path d = Files.createTempDirectory("bridge-nginx-django");
        try (BridgeServer server = BridgeServer.start("--chdir", django.toString(), "--module", "mysite.wsgi:application",
                "--uwsgi-socket", "127.0.0.1:0")) {
            int port = Nginx.freePort();
            try (Nginx front = Nginx.start(d, server(port, uwsgi("127.0.0.1:" + server.uwsgiPort())), port)) {
                HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
                        .cookieHandler(new CookieManager()).connectTimeout(TIMEOUT).build();
                String base = "http://127.0.0.1:" + port;
                assertTrue(send(client, base + "/", null).body().contains("Hello from Django"));
                HttpResponse<String> redirect = send(client, base + "/admin/", null);
                assertEquals(302, redirect.statusCode());
                HttpResponse<String> login = send(client, base + "/admin/login/", null);
                assertEquals(200, login.statusCode());
                Matcher m = Pattern.compile("name=\"csrfmiddlewaretoken\" value=\"([^\"]+)\"").matcher(login.body());
                assertTrue(m.find(), "login form has a CSRF token");
                String form = "csrfmiddlewaretoken=" + m.group(1) + "&username=admin&password=admin&next=/admin/";
                HttpResponse<String> posted = send(client, base + "/admin/login/", form);
                assertEquals(302, posted.statusCode(), posted.body());
                HttpResponse<String> admin = send(client, base + "/admin/", null);
                assertEquals(200, admin.statusCode());
                assertTrue(admin.body().contains("Site administration"), "logged into the admin");
                Thread.sleep(50);
                assertEquals(List.of(), front.upstreamErrors(0));
                assertEquals(List.of(), front.gatewayErrors(0));
            }
        } finally {
            deleteTree(d);
        }
    }

    private static HttpResponse<String> send(HttpClient client, String url, String form) throws Exception {
        HttpRequest.Builder b = HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT);
        if (form != null) {
            b.header("Content-Type", "application/x-www-form-urlencoded").header("Referer", url)
                    .POST(HttpRequest.BodyPublishers.ofString(form));
        }
        return client.send(b.build(), HttpResponse.BodyHandlers.ofString());
    }

    /**
     * Client threads keep requesting through all three routes for at least 5 s while the bridge's master
     * gets SIGHUP twice (two graceful reloads, each booting a new generation and retiring the old one):
     * every request must succeed, and nginx must see no upstream error.
     */
    @Test
    @Order(Integer.MAX_VALUE - 1)
    void reloadUnderLoadWithZeroFailures() throws Exception {
        int[] since = nginx.mark();
        AtomicBoolean stop = new AtomicBoolean();
        AtomicInteger ok = new AtomicInteger();
        List<String> failures = Collections.synchronizedList(new ArrayList<>());
        List<Thread> clients = new ArrayList<>();
        for (int t = 0; t < 4; t++) {
            int id = t;
            Thread th = new Thread(() -> load(id, stop, ok, failures), "nginx-load-" + t);
            th.setDaemon(true);
            clients.add(th);
            th.start();
        }
        long started = System.nanoTime();
        try {
            long warm = System.nanoTime() + TimeUnit.SECONDS.toNanos(15);
            while (ok.get() < 20 && failures.isEmpty() && System.nanoTime() < warm) {
                Thread.sleep(20);
            }
            assertTrue(ok.get() > 0 && failures.isEmpty(), () -> "before any reload: " + ok.get() + " ok, failures " + failures);
            Thread.sleep(500);
            for (int i = 1; i <= 2; i++) {
                MasterTesting.signal(bridge.process().pid(), "HUP");
                awaitCount("reload done", i, Duration.ofSeconds(60));
                Thread.sleep(1500); // the old generation drains and exits under load
            }
            while (System.nanoTime() - started < TimeUnit.SECONDS.toNanos(5)) {
                Thread.sleep(100);
            }
        } finally {
            stop.set(true);
            for (Thread th : clients) {
                th.join(TIMEOUT.toMillis());
            }
        }
        assertTrue(failures.isEmpty(), () -> failures.size() + " of " + (ok.get() + failures.size())
                + " requests failed during the reloads; first ones:\n" + String.join("\n", failures.stream().limit(10).toList())
                + "\nnginx errors:\n" + String.join("\n", nginx.upstreamErrors(since[0]))
                + "\nbridge log (end):\n" + tail(bridge.log(), 60));
        assertTrue(ok.get() > 100, "only " + ok.get() + " requests in " + (System.nanoTime() - started) / 1_000_000 + " ms");
        assertEquals(2, count("reload done"), bridge::log);
        assertNoUpstreamErrors(since);
    }

    /** One client: GETs and POSTs in turn over one route (by id), keep-alive to nginx. */
    private static void load(int id, AtomicBoolean stop, AtomicInteger ok, List<String> failures) {
        Route route = Route.values()[id % Route.values().length];
        HttpClient client = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).connectTimeout(TIMEOUT).build();
        String base = "http://127.0.0.1:" + port(route);
        for (int i = 0; !stop.get(); i++) {
            String what = route + " #" + i;
            try {
                HttpResponse<String> r;
                String expected;
                if (i % 2 == 0) {
                    r = client.send(HttpRequest.newBuilder(URI.create(base + "/hello?c=" + id + "&i=" + i))
                            .timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
                    expected = "hello from nginx_app";
                    what += " GET /hello";
                } else {
                    expected = ("client " + id + " request " + i + " ").repeat(50);
                    r = client.send(HttpRequest.newBuilder(URI.create(base + "/echo"))
                            .POST(HttpRequest.BodyPublishers.ofString(expected)).timeout(TIMEOUT).build(),
                            HttpResponse.BodyHandlers.ofString());
                    what += " POST /echo";
                }
                if (r.statusCode() != 200 || !r.body().equals(expected)) {
                    failures.add(what + ": " + r.statusCode() + " " + tail(r.body(), 3));
                } else {
                    ok.incrementAndGet();
                }
            } catch (Exception e) {
                failures.add(what + ": " + e);
            }
        }
    }

    /** At the end: nothing in nginx's logs (all servers but the repeated-headers one) shows upstream trouble. */
    @Test
    @Order(Integer.MAX_VALUE)
    void errorLogHasNoUpstreamErrorsAtTheEnd() {
        assertNoUpstreamErrors(new int[]{0, 0});
    }

    // ---- helpers

    /** Copies the run's logs (the bridge's, nginx's) to target/nginx-it/ for a look after a failure. */
    private static void keepLogs() throws IOException {
        if (dir == null || bridge == null) {
            return;
        }
        Path out = BridgeServer.root().resolve("target/nginx-it");
        Files.createDirectories(out);
        Files.writeString(out.resolve("bridge.log"), bridge.log());
        try (Stream<Path> logs = Files.list(dir)) {
            for (Path p : logs.filter(p -> p.toString().endsWith(".log") || p.toString().endsWith(".conf")).toList()) {
                Files.copy(p, out.resolve(p.getFileName()), java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            }
        }
    }

    private static int count(String text) {
        return (int) bridge.log().lines().filter(l -> l.contains(text)).count();
    }

    private static void awaitCount(String text, int n, Duration timeout) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (count(text) < n) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("no " + n + "x '" + text + "' in the bridge's log within " + timeout
                        + ":\n" + tail(bridge.log(), 40));
            }
            Thread.sleep(50);
        }
    }

    private static String tail(String text, int lines) {
        List<String> all = text.lines().toList();
        return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
    }

    private static void deleteTree(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }
}
