package dev.bridge.samples;

import dev.bridge.testing.BridgeServer;
import org.junit.jupiter.api.Test;

import java.net.CookieManager;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The bundled samples, served unchanged from python-samples/, driven by a real HTTP client. */
class SamplesIT {

    private static final Duration TIMEOUT = Duration.ofSeconds(20);

    private static HttpResponse<String> get(HttpClient client, String url) throws Exception {
        return client.send(HttpRequest.newBuilder(URI.create(url)).timeout(TIMEOUT).build(),
                HttpResponse.BodyHandlers.ofString());
    }

    private static String samples(String path) {
        return BridgeServer.root().resolve("python-samples").resolve(path).toString();
    }

    @Test
    void rawSampleServesItsRoutes() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", samples("raw/hello.py") + ":application")) {
            HttpClient client = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + server.port();
            HttpResponse<String> hello = get(client, base + "/");
            assertEquals(200, hello.statusCode());
            HttpResponse<String> echo = client.send(HttpRequest.newBuilder(URI.create(base + "/echo"))
                    .POST(HttpRequest.BodyPublishers.ofString("ping")).timeout(TIMEOUT).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals("ping", echo.body());
            HttpResponse<String> stream = get(client, base + "/stream");
            assertEquals(200, stream.statusCode());
            assertTrue(stream.headers().firstValue("content-length").isEmpty(), "a generator body is streamed");
        }
    }

    @Test
    void flaskSampleServesJsonAndForms() throws Exception {
        try (BridgeServer server = BridgeServer.start("--chdir", samples("flask_app"), "--module", "app:app")) {
            HttpClient client = HttpClient.newHttpClient();
            String base = "http://127.0.0.1:" + server.port();
            HttpResponse<String> json = get(client, base + "/json");
            assertEquals(200, json.statusCode());
            assertTrue(json.headers().firstValue("content-type").orElse("").startsWith("application/json"));
            HttpResponse<String> form = client.send(HttpRequest.newBuilder(URI.create(base + "/form"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .POST(HttpRequest.BodyPublishers.ofString("name=" + URLEncoder.encode("Zoë", StandardCharsets.UTF_8)))
                    .timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofString());
            assertEquals(200, form.statusCode());
            assertTrue(form.body().contains("Zo\\u00eb"), "the UTF-8 form field came through: " + form.body());
        }
    }

    /** The real Django project: its own wsgi.py, its admin, a login with CSRF, session cookie and redirects. */
    @Test
    void djangoAdminLogin() throws Exception {
        try (BridgeServer server = BridgeServer.start("--chdir", samples("django_project"),
                "--module", "mysite.wsgi:application")) {
            HttpClient client = HttpClient.newBuilder().cookieHandler(new CookieManager()).build();
            String base = "http://127.0.0.1:" + server.port();
            assertTrue(get(client, base + "/").body().contains("Hello from Django"));
            HttpResponse<String> redirect = get(client, base + "/admin/");
            assertEquals(302, redirect.statusCode());
            HttpResponse<String> login = get(client, base + "/admin/login/");
            assertEquals(200, login.statusCode());
            Matcher m = Pattern.compile("name=\"csrfmiddlewaretoken\" value=\"([^\"]+)\"").matcher(login.body());
            assertTrue(m.find(), "login form has a CSRF token");
            String form = "csrfmiddlewaretoken=" + m.group(1) + "&username=admin&password=admin&next=/admin/";
            HttpResponse<String> posted = client.send(HttpRequest.newBuilder(URI.create(base + "/admin/login/"))
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Referer", base + "/admin/login/")
                    .POST(HttpRequest.BodyPublishers.ofString(form)).timeout(TIMEOUT).build(),
                    HttpResponse.BodyHandlers.ofString());
            assertEquals(302, posted.statusCode(), posted.body());
            HttpResponse<String> admin = get(client, base + "/admin/");
            assertEquals(200, admin.statusCode());
            assertTrue(admin.body().contains("Site administration"), "logged into the admin");
        }
    }
}
