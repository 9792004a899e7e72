package dev.bridge.http;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

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
}
