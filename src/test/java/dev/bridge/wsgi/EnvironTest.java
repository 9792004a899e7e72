package dev.bridge.wsgi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EnvironTest {

    @ParameterizedTest
    @CsvSource({
            "Host, HTTP_HOST",
            "host, HTTP_HOST",
            "X-Forwarded-For, HTTP_X_FORWARDED_FOR",
            "accept-encoding, HTTP_ACCEPT_ENCODING",
            "Content-Type, CONTENT_TYPE",
            "content-type, CONTENT_TYPE",
            "CONTENT-LENGTH, CONTENT_LENGTH",
            "Content-MD5, HTTP_CONTENT_MD5",
            "X-1, HTTP_X_1",
            "X.Dotted, HTTP_X.DOTTED",
    })
    void shouldMapHeaderNameToCgiKey(String name, String key) {
        assertEquals(key, Environ.cgiName(name));
    }

    @ParameterizedTest
    @ValueSource(strings = {"X_Forwarded_For", "Content_Type", "_", "a_b"})
    void shouldDropNamesWithUnderscore(String name) {
        assertNull(Environ.cgiName(name));
        Environ env = new Environ();
        assertFalse(env.header(name, "v"));
        assertEquals("", env.build());
    }

    @Test
    void shouldBuildNulSeparatedPairs() {
        Environ env = new Environ().put("REQUEST_METHOD", "GET").put("PATH_INFO", "/caf\u00c3\u00a9");
        assertTrue(env.header("Host", "example.com"));
        assertTrue(env.header("Content-Length", "3"));
        assertEquals("REQUEST_METHOD\0GET\0PATH_INFO\0/caf\u00c3\u00a9\0HTTP_HOST\0example.com\0CONTENT_LENGTH\0" + "3\0",
                env.build());
    }

    @Test
    void shouldJoinRepeatedHeadersWithComma() {
        Environ env = new Environ();
        env.header("Accept", "text/html");
        env.header("X-A", "1");
        env.header("accept", "text/plain");
        env.header("ACCEPT", "*/*");
        assertEquals("text/html,text/plain,*/*", env.header("HTTP_ACCEPT"));
        assertEquals("HTTP_ACCEPT\0text/html,text/plain,*/*\0HTTP_X_A\0" + "1\0", env.build());
    }

    @Test
    void shouldSetAndRemoveHeaders() {
        Environ env = new Environ();
        env.header("Host", "a");
        env.setHeader("HTTP_HOST", "b");
        env.setHeader("CONTENT_LENGTH", "11");
        assertEquals("b", env.header("HTTP_HOST"));
        env.removeHeader("HTTP_HOST");
        assertNull(env.header("HTTP_HOST"));
        assertEquals("CONTENT_LENGTH\0" + "11\0", env.build());
    }

    // ---- decodePath

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "/|/",
            "/plain/path|/plain/path",
            "/a%20b|/a b",
            "/a%2Fb|/a/b",
            "/a%2fb|/a/b",
            "/%7Euser|/~user",
            "/%41%42%43|/ABC",
            "/%25|/%",
            "/%2541|/%41",
            "/%%41|/%A",
            "/%e9|/\u00e9",
            "/caf%C3%A9|/caf\u00c3\u00a9",
            "/%FF%fe|/\u00ff\u00fe",
            "/a%|/a%",
            "/a%4|/a%4",
            "/a%4g|/a%4g",
            "/a%zz|/a%zz",
            "/a%g4b|/a%g4b",
            "%|%",
            "%%|%%",
            "%41|A",
    })
    void shouldDecodePath(String raw, String decoded) {
        assertEquals(decoded, Environ.decodePath(raw));
    }

    @Test
    void shouldDecodeEveryByte() {
        for (int b = 1; b < 256; b++) {
            assertEquals("/" + (char) b, Environ.decodePath(String.format("/%%%02X", b)));
        }
    }

    @ParameterizedTest
    @ValueSource(strings = {"%00", "/a%00b", "/ok%2F%00", "/%41%00"})
    void shouldRefusePathWithNul(String raw) {
        assertNull(Environ.decodePath(raw));
    }

    @Test
    void shouldReturnPathWithoutEscapesUnchanged() {
        String raw = "/no/escapes/here";
        assertSame(raw, Environ.decodePath(raw));
    }
}
