package dev.bridge.http;

import dev.bridge.config.Config;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.util.AsciiString;

import java.util.List;

/**
 * The rules a request head must follow (RFC 9110, 9112) beyond what Netty's decoder checks: each broken rule is
 * a status and a reason, as gunicorn's {@code errors.py} has them. {@link RequestDecoder} applies them to each
 * head it decodes, so {@link HttpConnection} only answers. Stateless; event loop only.
 */
final class HeadRules {

    /** A request the server will not serve: the status to answer, and why (for the log). */
    static final class Rejection extends IllegalArgumentException {
        final int status;

        Rejection(int status, String why) {
            super(why);
            this.status = status;
        }
    }

    /**
     * Fields a request may carry once (RFC 9110 5.3: their grammar is no list), besides Host and Content-Length,
     * which have rules of their own: a second one is a 400, not a value joined with a comma.
     */
    static final List<AsciiString> SINGLETONS = List.of(HttpHeaderNames.CONTENT_TYPE, HttpHeaderNames.AUTHORIZATION,
            HttpHeaderNames.PROXY_AUTHORIZATION, HttpHeaderNames.RANGE, HttpHeaderNames.IF_RANGE,
            HttpHeaderNames.IF_MODIFIED_SINCE, HttpHeaderNames.IF_UNMODIFIED_SINCE, HttpHeaderNames.MAX_FORWARDS,
            HttpHeaderNames.USER_AGENT, HttpHeaderNames.REFERER);

    private HeadRules() {}

    /** Why {@code req} is refused, or null when it may be served. */
    static Rejection check(HttpRequest req, Config config) {
        HttpVersion version = req.protocolVersion();
        if (version.majorVersion() != 1) {
            return new Rejection(505, "HTTP version " + version + " not supported");
        }
        String target = req.uri();
        if (!isValidTarget(target)) {
            return new Rejection(400, "control character or space in the request target");
        }
        Rejection form = targetForm(req.method(), target);
        if (form != null) {
            return form;
        }
        if (req.headers().size() > config.limitRequestFields()) {
            return new Rejection(431, "more than --limit-request-fields " + config.limitRequestFields() + " header fields");
        }
        List<String> hosts = req.headers().getAll(HttpHeaderNames.HOST);
        if (hosts.size() > 1 || (hosts.isEmpty() && version.minorVersion() >= 1)) {
            return new Rejection(400, hosts.isEmpty() ? "no Host header in an HTTP/1.1 request" : "several Host headers");
        }
        if (!hosts.isEmpty() && !isValidHost(hosts.get(0))) {
            return new Rejection(400, "bad Host header");
        }
        for (AsciiString name : SINGLETONS) {
            if (req.headers().getAll(name).size() > 1) {
                return new Rejection(400, "several " + name + " headers");
            }
        }
        if (headerBlockSize(req) > config.maxHeaderSize()) {
            return new Rejection(431, "header block over --max-header-size " + config.maxHeaderSize());
        }
        List<String> te = req.headers().getAll(HttpHeaderNames.TRANSFER_ENCODING);
        if (!te.isEmpty() && (te.size() > 1 || !te.get(0).trim().equalsIgnoreCase("chunked"))) {
            return new Rejection(501, "unsupported Transfer-Encoding: " + String.join(", ", te));
        }
        long length = te.isEmpty() ? contentLength(req) : -1;
        if (length == -2) {
            return new Rejection(400, "bad or conflicting Content-Length");
        }
        if (config.limitBody() > 0 && length > config.limitBody()) {
            return new Rejection(413, "body of " + length + " bytes over --limit-body " + config.limitBody());
        }
        String expect = req.headers().get(HttpHeaderNames.EXPECT);
        if (expect != null && !expect.equalsIgnoreCase(HttpHeaderValues.CONTINUE.toString())) {
            return new Rejection(417, "unsupported Expect: " + expect);
        }
        return null;
    }

    /**
     * RFC 9112 3.2: origin-form ({@code /path}), absolute-form ({@code http://host/path}, with no userinfo:
     * RFC 9110 4.2.4 forbids it, and it would end up in HTTP_HOST), or asterisk-form ({@code *}) for OPTIONS only.
     */
    private static Rejection targetForm(HttpMethod method, String target) {
        if (target.equals("*")) {
            return method.equals(HttpMethod.OPTIONS) ? null : new Rejection(400, "the target * is for OPTIONS only");
        }
        if (target.startsWith("/")) {
            return null;
        }
        if (!target.regionMatches(true, 0, "http://", 0, 7) && !target.regionMatches(true, 0, "https://", 0, 8)) {
            return new Rejection(400, "bad request target");
        }
        int start = target.indexOf("//") + 2;
        int end = start;
        while (end < target.length() && "/?#".indexOf(target.charAt(end)) < 0) {
            end++;
        }
        if (target.substring(start, end).indexOf('@') >= 0) {
            return new Rejection(400, "userinfo in the request target");
        }
        return null;
    }

    /** Request targets are visible characters (RFC 9112 3.2); a NUL could even forge environ keys. */
    static boolean isValidTarget(String target) {
        for (int i = 0; i < target.length(); i++) {
            char c = target.charAt(i);
            if (c <= 0x20 || c == 0x7F) {
                return false;
            }
        }
        return !target.isEmpty();
    }

    /** uri-host [ ":" port ] (RFC 9110 4.2.3, 3986 3.2.2): a reg-name, an IPv4 address or an [IPv6] literal. */
    static boolean isValidHost(String host) {
        int i = 0;
        int n = host.length();
        if (n > 0 && host.charAt(0) == '[') {
            int end = host.indexOf(']');
            if (end < 0) {
                return false;
            }
            for (int j = 1; j < end; j++) {
                char c = host.charAt(j);
                if (!(Character.digit(c, 16) >= 0 || c == ':' || c == '.')) {
                    return false;
                }
            }
            i = end + 1;
        } else {
            while (i < n && host.charAt(i) != ':') {
                char c = host.charAt(i);
                if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || "-._~!$&'()*+,;=%".indexOf(c) >= 0)) {
                    return false;
                }
                i++;
            }
        }
        if (i == n) {
            return true;
        }
        if (host.charAt(i) != ':') {
            return false;
        }
        for (int j = i + 1; j < n; j++) {
            if (host.charAt(j) < '0' || host.charAt(j) > '9') {
                return false;
            }
        }
        return true;
    }

    /** The header block as sent: names, values, ": " and CRLF (Netty's own limit leaves out the line ends). */
    private static long headerBlockSize(HttpRequest req) {
        long size = 0;
        for (var it = req.headers().iteratorCharSequence(); it.hasNext(); ) {
            var h = it.next();
            size += h.getKey().length() + h.getValue().length() + 4;
        }
        return size;
    }

    /**
     * The Content-Length of a request without Transfer-Encoding: 0 if absent, -2 if malformed or if
     * repeated values differ (Netty checks that for HTTP/1.1 only; for 1.0 it would let one request
     * smuggle another).
     */
    static long contentLength(HttpRequest req) {
        long length = -1;
        for (String header : req.headers().getAll(HttpHeaderNames.CONTENT_LENGTH)) {
            for (String v : header.split(",", -1)) {
                v = v.trim();
                if (v.isEmpty() || v.length() > 18 || !v.chars().allMatch(c -> c >= '0' && c <= '9')) {
                    return -2;
                }
                long n = Long.parseLong(v);
                if (length >= 0 && n != length) {
                    return -2;
                }
                length = n;
            }
        }
        return Math.max(length, 0);
    }
}
