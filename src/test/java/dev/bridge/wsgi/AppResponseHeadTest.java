package dev.bridge.wsgi;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class AppResponseHeadTest {

    private static AppResponseHead parse(String status, String... headers) {
        return AppResponseHead.parse(status, String.join("\0", headers), headers.length / 2);
    }

    private static IllegalArgumentException rejected(String status, String... headers) {
        return assertThrows(IllegalArgumentException.class, () -> parse(status, headers));
    }

    // ---- status

    @Test
    void shouldParseStatus() {
        AppResponseHead h = parse("404 Not Found");
        assertEquals(404, h.code());
        assertEquals("404 Not Found", h.status());
        assertEquals(List.of(), h.headers());
        assertEquals(-1, h.contentLength());
        assertFalse(h.close());
        assertFalse(h.hasDate());
    }

    @ParameterizedTest
    @ValueSource(strings = {"200", "200 ", "599 Custom Reason With Spaces", "200 caf\u00e9", "299 \t tabbed"})
    void shouldAcceptStatus(String status) {
        assertEquals(Integer.parseInt(status.substring(0, 3)), parse(status).code());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "20", "OK", "abc OK", "2000 OK", "20 OK", "099 Too Low", "200\tOK", "200-OK",
            " 200 OK", "200 OK\r\nX-Injected: 1", "200 OK\n", "200 O\0K", "200 \u0100K", "200 \u20ac"})
    void shouldRejectStatus(String status) {
        IllegalArgumentException e = rejected(status);
        assertTrue(e.getMessage().contains("status"), e.getMessage());
        assertFalse(e.getMessage().contains("\r") || e.getMessage().contains("\n"), "message quotes CR/LF: " + e.getMessage());
    }

    @Test
    void shouldRejectNullStatus() {
        assertEquals("bad status None: expected e.g. '200 OK'", rejected(null).getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"200 O\u0001K", "200 OK\u007f", "200 O\u001bK"})
    void shouldRejectControlCharactersInReasonPhrase(String status) {
        // RFC 9112 4: reason-phrase = 1*( HTAB / SP / VCHAR / obs-text ); header values already reject these.
        rejected(status);
    }

    // ---- headers

    @Test
    void shouldKeepHeadersInOrder() {
        AppResponseHead h = parse("200 OK", "Content-Type", "text/html", "Set-Cookie", "a=1", "Set-Cookie", "b=2",
                "X-Empty", "");
        assertEquals(List.of("Content-Type", "text/html", "Set-Cookie", "a=1", "Set-Cookie", "b=2", "X-Empty", ""),
                h.headers());
    }

    @Test
    void shouldDetectNulInsideNameOrValueByCount() {
        // the shim joins with NUL and sends the count: a NUL inside a value makes an extra part
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> AppResponseHead.parse("200 OK", "X-A\0a\0b", 1));
        assertTrue(e.getMessage().contains("NUL"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> AppResponseHead.parse("200 OK", "X\0A\0v", 1));
        assertThrows(IllegalArgumentException.class, () -> AppResponseHead.parse("200 OK", "", 1));
    }

    @Test
    void shouldAcceptEmptyHeaderList() {
        assertEquals(List.of(), AppResponseHead.parse("200 OK", "", 0).headers());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "X Space", "X:Colon", "X(Paren)", "X\"Quote", "X/Slash", "X\tTab", "X\u00e9",
            "X\u0100", "X\rY", "X\nY", "X@Y", "X[Y]", "X{Y}", "X=Y", "X,Y", "X;Y", "X?Y", "X\\Y"})
    void shouldRejectHeaderNameThatIsNotAToken(String name) {
        IllegalArgumentException e = rejected("200 OK", name, "v");
        assertTrue(e.getMessage().contains("name"), e.getMessage());
    }

    @Test
    void shouldAcceptEveryTokenCharacterInName() {
        String name = "!#$%&'*+-.^_`|~09azAZ";
        assertEquals(List.of(name, "v"), parse("200 OK", name, "v").headers());
    }

    @ParameterizedTest
    @ValueSource(strings = {"a\rb", "a\nb", "a\r\nSet-Cookie: x=1", "\u0001", "a\u001fb", "a\u007fb", "\u0100", "\u20ac",
            "caf\u00e9 \ud83d\ude00"})
    void shouldRejectHeaderValueWithControlOrNonLatin1Characters(String value) {
        IllegalArgumentException e = rejected("200 OK", "X-Bad", value);
        assertTrue(e.getMessage().contains("X-Bad"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", " ", "a\tb", "caf\u00e9", "\u00ff\u0080", "with \"quotes\" and , ;"})
    void shouldAcceptHeaderValue(String value) {
        assertEquals(List.of("X-Ok", value), parse("200 OK", "X-Ok", value).headers());
    }

    // ---- hop-by-hop

    @ParameterizedTest
    @ValueSource(strings = {"Connection", "connection", "Keep-Alive", "Proxy-Authenticate", "Proxy-Authorization", "TE",
            "Trailer", "Trailers", "Transfer-Encoding", "TRANSFER-ENCODING", "Upgrade"})
    void shouldDropHopByHopHeaders(String name) {
        AppResponseHead h = parse("200 OK", "X-Before", "1", name, "keep-alive", "X-After", "2");
        assertEquals(List.of("X-Before", "1", "X-After", "2"), h.headers());
        assertFalse(h.close());
    }

    @ParameterizedTest
    @ValueSource(strings = {"close", "Close", "keep-alive, close", "CLOSE"})
    void shouldRecordConnectionClose(String value) {
        AppResponseHead h = parse("200 OK", "Connection", value);
        assertTrue(h.close());
        assertEquals(List.of(), h.headers());
    }

    @Test
    void shouldStillValidateHopByHopHeaders() {
        rejected("200 OK", "Connection", "close\r\nX-Injected: 1");
    }

    // ---- Content-Length and Date

    @Test
    void shouldParseContentLength() {
        AppResponseHead h = parse("200 OK", "Content-Length", "42");
        assertEquals(42, h.contentLength());
        assertEquals(List.of("Content-Length", "42"), h.headers());
        assertEquals(7, parse("200 OK", "content-length", " 7 ").contentLength());
        assertEquals(0, parse("200 OK", "CONTENT-LENGTH", "0").contentLength());
    }

    @Test
    void shouldKeepOneOfEqualDuplicateContentLengths() {
        AppResponseHead h = parse("200 OK", "Content-Length", "5", "X-A", "a", "content-length", "5");
        assertEquals(5, h.contentLength());
        assertEquals(List.of("Content-Length", "5", "X-A", "a"), h.headers());
    }

    @Test
    void shouldRejectConflictingContentLengths() {
        IllegalArgumentException e = rejected("200 OK", "Content-Length", "5", "Content-Length", "6");
        assertTrue(e.getMessage().contains("conflicting"), e.getMessage());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "abc", "-1", "+5", "1.5", "5 5", "0x10", "1e3", "1234567890123456789", "\u0665"})
    void shouldRejectBadContentLength(String value) {
        IllegalArgumentException e = rejected("200 OK", "Content-Length", value);
        assertTrue(e.getMessage().contains("Content-Length"), e.getMessage());
    }

    @Test
    void shouldRecordDate() {
        assertTrue(parse("200 OK", "date", "Thu, 01 Jan 1970 00:00:00 GMT").hasDate());
        assertFalse(parse("200 OK", "X-Date", "x").hasDate());
    }

    @ParameterizedTest
    @ValueSource(ints = {204, 304})
    void shouldForbidBodyFor1xx204And304(int code) {
        assertTrue(parse(code + " X").bodyForbidden());
    }

    @ParameterizedTest
    @ValueSource(ints = {200, 201, 203, 205, 206, 301, 302, 400, 404, 500})
    void shouldAllowBodyForOtherStatuses(int code) {
        assertFalse(parse(code + " X").bodyForbidden());
    }

    @Test
    void shouldBuildCannedErrorHeads() {
        AppResponseHead e = AppResponseHead.error(413, "Content Too Large");
        assertEquals(413, e.code());
        assertEquals("413 Content Too Large", e.status());
        assertEquals(List.of("Content-Type", "text/plain; charset=utf-8"), e.headers());
        assertEquals(-1, e.contentLength());
        assertEquals(500, AppResponseHead.INTERNAL_ERROR.code());
        assertEquals("500 Internal Server Error", AppResponseHead.INTERNAL_ERROR.status());
    }

    @ParameterizedTest
    @ValueSource(strings = {"100 Continue", "101 Switching Protocols", "199 Whatever"})
    void shouldRefuseInformationalStatusAsTheResponse(String status) {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> AppResponseHead.parse(status, "", 0));
        assertTrue(e.getMessage().contains("informational"), e.getMessage());
    }
}
