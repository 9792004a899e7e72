package dev.bridge.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.InetSocketAddress;

import static dev.bridge.config.ListenAddress.Protocol.HTTP;
import static dev.bridge.config.ListenAddress.Protocol.UWSGI;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ListenAddressTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            ":8000|0.0.0.0|8000|http://0.0.0.0:8000",
            "127.0.0.1:8000|127.0.0.1|8000|http://127.0.0.1:8000",
            "[::1]:8000|::1|8000|http://[::1]:8000",
            "[::]:80|::|80|http://[::]:80",
            "localhost:8080|localhost|8080|http://localhost:8080",
            "0.0.0.0:0|0.0.0.0|0|http://0.0.0.0:0",
            "example.com:65535|example.com|65535|http://example.com:65535",
    })
    void shouldParseTcpAddress(String value, String host, int port, String text) throws ConfigException {
        ListenAddress a = ListenAddress.parse(HTTP, "--http", value);
        assertEquals(HTTP, a.protocol());
        assertEquals(host, a.host());
        assertEquals(port, a.port());
        assertNull(a.unixPath());
        assertFalse(a.isUnix());
        assertEquals(text, a.toString());
    }

    @Test
    void shouldResolveSocketAddress() throws ConfigException {
        InetSocketAddress s = ListenAddress.parse(HTTP, "--http", "[::1]:8000").socketAddress();
        assertEquals(8000, s.getPort());
        assertTrue(s.getAddress().isLoopbackAddress());
        assertEquals(new InetSocketAddress("0.0.0.0", 1), ListenAddress.parse(HTTP, "--http", ":1").socketAddress());
    }

    @ParameterizedTest
    @ValueSource(strings = {"/tmp/bridge.sock", "./bridge.sock", "run/app.sock", "/tmp/odd:name.sock"})
    void shouldParseUnixPath(String value) throws ConfigException {
        ListenAddress a = ListenAddress.parse(UWSGI, "--uwsgi", value);
        assertTrue(a.isUnix());
        assertEquals(value, a.unixPath());
        assertNull(a.host());
        assertEquals(-1, a.port());
        assertEquals("uwsgi://" + value, a.toString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "8000|--http 8000: expected HOST:PORT (e.g. 127.0.0.1:8000 or :8000) or a unix socket path",
            "localhost|--http localhost: expected HOST:PORT (e.g. 127.0.0.1:8000 or :8000) or a unix socket path",
            "''|--http : expected HOST:PORT (e.g. 127.0.0.1:8000 or :8000) or a unix socket path",
            "host:|--http host:: the port must be a number from 0 to 65535",
            "host:http|--http host:http: the port must be a number from 0 to 65535",
            "host:65536|--http host:65536: the port must be a number from 0 to 65535",
            "host:-1|--http host:-1: the port must be a number from 0 to 65535",
            "[::1]|--http [::1]: the port must be a number from 0 to 65535",
    })
    void shouldRejectBadAddress(String value, String message) {
        ConfigException e = assertThrows(ConfigException.class, () -> ListenAddress.parse(HTTP, "--http", value));
        assertEquals(message, e.getMessage());
    }
}
