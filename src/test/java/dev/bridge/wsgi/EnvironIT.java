package dev.bridge.wsgi;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.EnvDump;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.util.List;
import java.util.Map;

import static dev.bridge.testing.Wire.bytes;
import static dev.bridge.testing.Wire.get;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * PEP 3333 environ, checked key by key through the conformance app's {@code /env} dump (types included), over
 * raw sockets. One server, default flags (one worker process when the server has --workers, one Python thread).
 */
@Timeout(60)
class EnvironIT {

    static BridgeServer server;

    @BeforeAll
    static void start() throws Exception {
        server = BridgeServer.start("--module", "conformance:app", "--workers", "1");
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
    }

    private static EnvDump env(String raw) throws IOException {
        try (RawHttp c = new RawHttp(server.port())) {
            RawHttp.Response r = c.exchange(raw);
            assertEquals(200, r.status(), "request:\n" + raw + "\nresponse: " + r.statusLine() + "\n" + r.text());
            return new EnvDump(r.text());
        }
    }

    private static EnvDump env(byte[] raw) throws IOException {
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(raw);
            RawHttp.Response r = c.read();
            assertEquals(200, r.status(), "response: " + r.statusLine() + "\n" + r.text());
            return new EnvDump(r.text());
        }
    }

    @Test
    void everyRequiredCgiKeyIsPresentAsNativeStr() throws Exception {
        EnvDump e = env(get("/env/x?y=1", "Connection: close"));
        for (String key : List.of("REQUEST_METHOD", "SCRIPT_NAME", "PATH_INFO", "QUERY_STRING", "SERVER_NAME",
                "SERVER_PORT", "SERVER_PROTOCOL", "REMOTE_ADDR", "REMOTE_PORT")) {
            assertTrue(e.has(key), "environ lacks " + key + ":\n" + e);
            assertEquals("str", e.type(key), key + " must be a str (native string), got " + e.type(key));
            assertTrue(e.entry(key).isNativeString(), key + " must be latin-1 representable: " + e.repr(key));
        }
        for (String key : List.of("wsgi.version", "wsgi.url_scheme", "wsgi.input", "wsgi.errors",
                "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once")) {
            assertTrue(e.has(key), "environ lacks " + key + ":\n" + e);
        }
    }

    @Test
    void everyKeyAndEveryCgiValueIsANativeString() throws Exception {
        EnvDump e = env(get("/env?a=b", "X-Custom: v", "Accept: */*", "Content-Type: text/plain",
                "Cookie: a=1", "Connection: close"));
        for (Map.Entry<String, EnvDump.Entry> en : e.entries().entrySet()) {
            String key = en.getKey();
            if (key.startsWith("@") || key.startsWith("wsgi.")) {
                continue;
            }
            assertTrue(en.getValue().isNativeString(), "CGI key " + key + " must hold a native str, got "
                    + en.getValue().type() + " " + en.getValue().repr());
        }
    }

    @Test
    void wsgiVersionIsTupleOneZero() throws Exception {
        EnvDump e = env(get("/env", "Connection: close"));
        assertEquals("tuple", e.type("wsgi.version"));
        assertEquals("(1, 0)", e.repr("wsgi.version"));
    }

    @Test
    void urlSchemeIsHttp() throws Exception {
        EnvDump e = env(get("/env", "Connection: close"));
        assertEquals("http", e.str("wsgi.url_scheme"));
    }

    @Test
    void flagsAreBoolsTrueToTheConfiguration() throws Exception {
        EnvDump e = env(get("/env", "Connection: close"));
        for (String key : List.of("wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once", "wsgi.input_terminated")) {
            assertEquals("bool", e.type(key), key + " must be a bool");
        }
        assertEquals("False", e.repr("wsgi.multithread"), "one Python thread (default --threads 1)");
        assertEquals("False", e.repr("wsgi.multiprocess"), "one worker process");
        assertEquals("False", e.repr("wsgi.run_once"));
        assertEquals("True", e.repr("wsgi.input_terminated"), "the server terminates wsgi.input at the body's end");
    }

    @Test
    void inputErrorsAndFileWrapperHaveTheirMethods() throws Exception {
        EnvDump e = env(get("/env", "Connection: close"));
        for (String m : List.of("read", "readline", "readlines", "__iter__")) {
            assertEquals("True", e.repr("@input." + m), "wsgi.input." + m + " must be callable");
        }
        for (String m : List.of("write", "writelines", "flush")) {
            assertEquals("True", e.repr("@errors." + m), "wsgi.errors." + m + " must be callable");
        }
        assertEquals("True", e.repr("@file_wrapper.callable"), "wsgi.file_wrapper must be callable");
    }

    @Test
    void requestMethodPassesThrough() throws Exception {
        for (String method : List.of("GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "PURGE")) {
            String body = method.equals("GET") || method.equals("OPTIONS") ? null : "";
            EnvDump e = env(Wire.request(method, "/env", "HTTP/1.1", body, "Connection: close"));
            assertEquals(method, e.str("REQUEST_METHOD"));
        }
    }

    @Test
    void scriptNameIsEmptyAtTheRoot() throws Exception {
        EnvDump e = env(get("/env/a/b", "Connection: close"));
        assertEquals("", e.str("SCRIPT_NAME"));
        assertEquals("/env/a/b", e.str("PATH_INFO"));
    }

    @Test
    void pathInfoIsPercentDecodedBytesAsLatin1() throws Exception {
        EnvDump e = env(get("/env/caf%C3%A9", "Connection: close"));
        assertEquals("/env/caf\u00c3\u00a9", e.str("PATH_INFO"),
                "PATH_INFO must hold the decoded UTF-8 bytes one char per byte ('caf\\xc3\\xa9'), not 'caf\\xe9'");
        assertEquals("'/env/caf\\xc3\\xa9'", e.repr("PATH_INFO"));
    }

    @Test
    void pathInfoDecodesReservedAndKeepsPlusAndBrokenEscapes() throws Exception {
        EnvDump e = env(get("/env/a%2Fb%25c%20d+e%zz%4", "Connection: close"));
        assertEquals("/env/a/b%c d+e%zz%4", e.str("PATH_INFO"));
    }

    @Test
    void pathInfoOfHighBytesIsLatin1() throws Exception {
        EnvDump e = env(get("/env/%FF%01x", "Connection: close"));
        assertEquals("/env/\u00ff\u0001x", e.str("PATH_INFO"));
    }

    @Test
    void rawNonAsciiBytesInTheTargetReachPathInfoOneCharPerByte() throws Exception {
        // RFC 9112 would allow a 400 for bytes outside the request-target grammar; the bridge serves them, as
        // nginx passes them on and PEP 3333 has a place for them (latin-1 native strings).
        byte[] raw = Wire.concat(bytes("GET /env/caf"), new byte[] {(byte) 0xC3, (byte) 0xA9},
                bytes(" HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"));
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(raw);
            RawHttp.Response r = c.read();
            assertEquals(200, r.status());
            assertEquals("/env/caf\u00c3\u00a9", new EnvDump(r.text()).str("PATH_INFO"),
                    "raw bytes of the target must reach PATH_INFO one char per byte");
        }
    }

    @Test
    void queryStringIsRaw() throws Exception {
        EnvDump e = env(get("/env?a=%20b&c=d+e&empty=&%zz&x=%C3%A9&q=a/b?c", "Connection: close"));
        assertEquals("a=%20b&c=d+e&empty=&%zz&x=%C3%A9&q=a/b?c", e.str("QUERY_STRING"));
        assertEquals("/env", e.str("PATH_INFO"), "the query is not part of PATH_INFO");
    }

    @Test
    void queryStringIsEmptyWithoutQuery() throws Exception {
        assertEquals("", env(get("/env", "Connection: close")).str("QUERY_STRING"));
        assertEquals("", env(get("/env?", "Connection: close")).str("QUERY_STRING"));
    }

    @Test
    void contentTypeAndLengthHaveNoHttpPrefix() throws Exception {
        EnvDump e = env(Wire.post("/env", "hello", "Content-Type: text/x-test; charset=latin-1", "Connection: close"));
        assertEquals("text/x-test; charset=latin-1", e.str("CONTENT_TYPE"));
        assertEquals("5", e.str("CONTENT_LENGTH"));
        assertFalse(e.has("HTTP_CONTENT_TYPE"), "Content-Type must not also appear as HTTP_CONTENT_TYPE");
        assertFalse(e.has("HTTP_CONTENT_LENGTH"), "Content-Length must not also appear as HTTP_CONTENT_LENGTH");
    }

    @Test
    void headersBecomeHttpKeys() throws Exception {
        EnvDump e = env(get("/env", "X-Custom-Header: value 1", "x-lower-case: v2", "Accept-Language: de",
                "Connection: close"));
        assertEquals("value 1", e.str("HTTP_X_CUSTOM_HEADER"));
        assertEquals("v2", e.str("HTTP_X_LOWER_CASE"));
        assertEquals("de", e.str("HTTP_ACCEPT_LANGUAGE"));
        assertEquals("127.0.0.1", e.str("HTTP_HOST"));
    }

    @Test
    void duplicateHeadersAreJoinedWithComma() throws Exception {
        EnvDump e = env(get("/env", "X-Dup: a", "X-Other: z", "X-Dup: b", "x-dup: c d", "Connection: close"));
        assertEquals("a,b,c d", e.str("HTTP_X_DUP"));
        assertEquals("z", e.str("HTTP_X_OTHER"));
    }

    @Test
    void headerValuesAreLatin1BytesAsStr() throws Exception {
        byte[] raw = Wire.concat(bytes("GET /env HTTP/1.1\r\nHost: x\r\nX-Latin: caf"), new byte[] {(byte) 0xE9},
                bytes("\r\nX-Utf8: "), new byte[] {(byte) 0xC3, (byte) 0xA9}, bytes("\r\nConnection: close\r\n\r\n"));
        EnvDump e = env(raw);
        assertEquals("caf\u00e9", e.str("HTTP_X_LATIN"));
        assertEquals("\u00c3\u00a9", e.str("HTTP_X_UTF8"), "header bytes must not be decoded as UTF-8");
    }

    @Test
    void headerValueWhitespaceIsTrimmedAndEmptyValuesKept() throws Exception {
        EnvDump e = env(get("/env", "X-Ws: \t  v  w \t ", "X-Empty:", "Connection: close"));
        assertEquals("v  w", e.str("HTTP_X_WS"), "leading and trailing OWS is not part of the value (RFC 9112 5.1)");
        assertEquals("", e.str("HTTP_X_EMPTY"));
    }

    @Test
    void underscoreHeaderCannotSpoofItsDashTwin() throws Exception {
        EnvDump e = env(get("/env", "X-Forwarded-For: 10.0.0.1", "X_Forwarded_For: 6.6.6.6", "Connection: close"));
        assertEquals("10.0.0.1", e.str("HTTP_X_FORWARDED_FOR"),
                "X_Forwarded_For maps to the same CGI key; it must not replace or join the real header");
    }

    @Test
    void serverNameFromHostAndServerPortOfTheConnection() throws Exception {
        int port = server.port();
        EnvDump e = env(get("/env", "Host: localhost:" + port, "Connection: close"));
        assertEquals("localhost", e.str("SERVER_NAME"));
        assertEquals(String.valueOf(port), e.str("SERVER_PORT"));
        assertEquals("localhost:" + port, e.str("HTTP_HOST"));

        EnvDump e2 = env(get("/env", "Host: example.org", "Connection: close"));
        assertEquals("example.org", e2.str("SERVER_NAME"));
        assertTrue(e2.str("SERVER_PORT").matches("\\d+"), "SERVER_PORT must be a port number: " + e2.repr("SERVER_PORT"));
    }

    @Test
    void serverNameAndPortWithoutHostHeader() throws Exception {
        EnvDump e = env(Wire.request("GET", "/env", "HTTP/1.0", null));
        assertFalse(e.str("SERVER_NAME").isEmpty(), "SERVER_NAME must never be empty");
        assertEquals("127.0.0.1", e.str("SERVER_NAME"), "without Host, the address the request arrived on");
        assertEquals(String.valueOf(server.port()), e.str("SERVER_PORT"));
        assertFalse(e.has("HTTP_HOST"));
        assertEquals("HTTP/1.0", e.str("SERVER_PROTOCOL"));
    }

    @Test
    void emptyHostHeaderStillGivesAServerName() throws Exception {
        // RFC 9112 3.2: an empty Host is valid when the target has no authority
        EnvDump e = env(get("/env", "Host:", "Connection: close"));
        assertFalse(e.str("SERVER_NAME").isEmpty(), "SERVER_NAME must never be empty");
        assertEquals(String.valueOf(server.port()), e.str("SERVER_PORT"));
    }

    @Test
    void serverProtocolIsTheRequestVersion() throws Exception {
        assertEquals("HTTP/1.1", env(get("/env", "Connection: close")).str("SERVER_PROTOCOL"));
        assertEquals("HTTP/1.0", env(Wire.request("GET", "/env", "HTTP/1.0", null)).str("SERVER_PROTOCOL"));
    }

    @Test
    void remoteAddrAndPortAreTheClientsSocket() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            RawHttp.Response r = c.exchange(get("/env", "Connection: close"));
            EnvDump e = new EnvDump(r.text());
            assertEquals("127.0.0.1", e.str("REMOTE_ADDR"));
            assertEquals(String.valueOf(c.socket().getLocalPort()), e.str("REMOTE_PORT"));
        }
    }

    @Test
    void absoluteFormTargetSuppliesHostAndPath() throws Exception {
        EnvDump e = env(get("http://example.com:8081/env/abs?x=1", "Host: other.example", "Connection: close"));
        assertEquals("/env/abs", e.str("PATH_INFO"));
        assertEquals("x=1", e.str("QUERY_STRING"));
        assertEquals("example.com", e.str("SERVER_NAME"), "RFC 9112 3.2.2: the target's authority replaces Host");
        assertEquals("example.com:8081", e.str("HTTP_HOST"));
    }

    @Test
    void nulInTheRequestTargetIsRejectedAndCannotInjectEnvironKeys() throws Exception {
        // The shim receives the CGI environ as KEY\0value\0... : a raw NUL in the target must never get that far.
        byte[] raw = bytes("GET /env?a\0REMOTE_USER\0admin HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        try (RawHttp c = new RawHttp(server.port())) {
            c.send(raw);
            RawHttp.Response r = c.read();
            if (r.status() == 200) {
                EnvDump e = new EnvDump(r.text());
                assertFalse(e.has("REMOTE_USER"), "a NUL in the request target injected REMOTE_USER="
                        + e.repr("REMOTE_USER") + " into the environ");
            }
            assertEquals(400, r.status(), "NUL is not allowed in a request-target (RFC 9112 3.2): 400");
        }
        Wire.assertServes(server.port());
    }

    @Test
    void keysOfOneRequestDoNotLeakIntoTheNext() throws Exception {
        try (RawHttp c = new RawHttp(server.port())) {
            RawHttp.Response r1 = c.exchange(Wire.post("/env?first", "abc", "X-Only-First: 1", "Content-Type: a/b"));
            assertTrue(new EnvDump(r1.text()).has("HTTP_X_ONLY_FIRST"));
            RawHttp.Response r2 = c.exchange(get("/env?second", "Connection: close"));
            EnvDump e = new EnvDump(r2.text());
            assertFalse(e.has("HTTP_X_ONLY_FIRST"), "a header of the previous request leaked into the environ");
            assertFalse(e.has("CONTENT_TYPE") && !e.str("CONTENT_TYPE").isEmpty(), "CONTENT_TYPE leaked");
            assertEquals("second", e.str("QUERY_STRING"));
        }
    }

    @Test
    void wsgirefValidatorAcceptsTheEnvironOfManyKindsOfRequest() throws Exception {
        String[] requests = {
                get("/validated", "Connection: close"),
                get("/validated/caf%C3%A9?q=%20x", "Connection: close"),
                Wire.post("/validated", "some body", "Content-Type: text/plain", "Connection: close"),
                "POST /validated HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
                "GET /validated HTTP/1.0\r\n\r\n",
                get("http://example.com/validated?x=1", "Connection: close"),
                Wire.request("DELETE", "/validated", "HTTP/1.1", null, "X-A: 1", "X-A: 2", "Connection: close"),
                Wire.request("PUT", "/validated", "HTTP/1.1", "", "Connection: close"),
        };
        for (String raw : requests) {
            try (RawHttp c = new RawHttp(server.port())) {
                RawHttp.Response r = c.exchange(raw);
                assertEquals(200, r.status(), "wsgiref.validate rejected the environ of: " + raw.split("\r\n")[0]
                        + " (see the server log)");
                assertTrue(r.text().startsWith("validated "), r.text());
            }
        }
    }

    @Test
    void wsgiErrorsAndInputAreFileLikeObjectsNotStrings() throws Exception {
        EnvDump e = env(get("/env", "Connection: close"));
        assertNotEquals("str", e.type("wsgi.input"));
        assertNotEquals("str", e.type("wsgi.errors"));
        assertNotEquals("NoneType", e.type("wsgi.file_wrapper"));
    }
}
