package dev.bridge.http;

import dev.bridge.config.Cidr;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class HttpEnvironTest {

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "example.com|example.com",
            "example.com:8080|example.com",
            "127.0.0.1:80|127.0.0.1",
            "[::1]:8080|[::1]",
            "[::1]|[::1]",
            "[::1|[::1",
    })
    void shouldTakeHostNameFromHostHeader(String host, String name) {
        assertEquals(name, HttpEnviron.hostName(host));
    }

    @ParameterizedTest
    @CsvSource({"400,Bad Request", "408,Request Timeout", "413,Content Too Large", "414,URI Too Long",
            "417,Expectation Failed", "431,Request Header Fields Too Large", "500,Internal Server Error",
            "501,Not Implemented", "505,HTTP Version Not Supported"})
    void shouldNameErrorStatuses(int status, String reason) {
        assertEquals(reason, HttpConnection.reason(status));
    }

    @Test
    void shouldTakeTheRightmostUntrustedForwardedAddress() throws Exception {
        List<Cidr> trusted = List.of(Cidr.parse("--trusted-proxy", "127.0.0.0/8"), Cidr.parse("--trusted-proxy", "10.0.0.0/8"));
        assertEquals("203.0.113.7", HttpEnviron.clientOf("203.0.113.7", trusted, "127.0.0.1"));
        assertEquals("203.0.113.7", HttpEnviron.clientOf("6.6.6.6, 203.0.113.7, 10.0.0.2", trusted, "127.0.0.1"),
                "a client may forge the left part: the rightmost untrusted hop counts");
        assertEquals("10.0.0.2", HttpEnviron.clientOf("10.0.0.2", trusted, "127.0.0.1"), "all hops trusted: the first");
        assertEquals("127.0.0.1", HttpEnviron.clientOf("not-an-address", trusted, "127.0.0.1"));
    }
}
