package dev.bridge.http;

import dev.bridge.wsgi.Environ;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;

import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Iterator;
import java.util.Map;

/**
 * The CGI part of the environ for an HTTP request (PEP 3333, RFC 3875). Event loop only.
 *
 * <ul>
 *   <li>PATH_INFO is the percent-decoded path, one char per byte; QUERY_STRING is raw; REQUEST_URI is
 *       the request target as sent. An absolute-form target ({@code http://host/path}) supplies the host.
 *   <li>SERVER_NAME comes from the Host header (else the local address); SERVER_PORT is the port the
 *       request arrived on.
 *   <li>CONTENT_LENGTH is the body's real length for chunked requests too (the body was received whole).
 * </ul>
 */
final class HttpEnviron {

    private HttpEnviron() {}

    /** Returns null when the request target cannot be turned into a path (e.g. it encodes a NUL byte). */
    static String build(HttpRequest req, long bodySize, Channel ch) {
        Environ env = new Environ();
        String target = req.uri();
        String authority = null;
        String pathAndQuery = target;
        if (!target.startsWith("/") && target.regionMatches(true, 0, "http", 0, 4)) {
            int scheme = target.indexOf("://");
            if (scheme < 0) {
                return null;
            }
            int slash = target.indexOf('/', scheme + 3);
            authority = target.substring(scheme + 3, slash < 0 ? target.length() : slash);
            pathAndQuery = slash < 0 ? "/" : target.substring(slash);
        }
        int hash = pathAndQuery.indexOf('#');
        if (hash >= 0) {
            pathAndQuery = pathAndQuery.substring(0, hash);
        }
        int q = pathAndQuery.indexOf('?');
        String path = q < 0 ? pathAndQuery : pathAndQuery.substring(0, q);
        String query = q < 0 ? "" : pathAndQuery.substring(q + 1);
        String pathInfo = Environ.decodePath(path);
        if (pathInfo == null) {
            return null;
        }
        env.put("REQUEST_METHOD", req.method().name())
                .put("SCRIPT_NAME", "")
                .put("PATH_INFO", pathInfo)
                .put("QUERY_STRING", query)
                .put("REQUEST_URI", target)
                .put("SERVER_PROTOCOL", req.protocolVersion().text())
                .put("wsgi.url_scheme", "http");

        Iterator<Map.Entry<CharSequence, CharSequence>> it = req.headers().iteratorCharSequence();
        while (it.hasNext()) {
            Map.Entry<CharSequence, CharSequence> h = it.next();
            env.header(h.getKey(), h.getValue());
        }
        if (HttpUtil.isTransferEncodingChunked(req)) {
            env.setHeader("CONTENT_LENGTH", Long.toString(bodySize));
        }
        if (authority != null) {
            env.setHeader("HTTP_HOST", authority);
        }
        String host = env.header("HTTP_HOST");
        InetSocketAddress local = inet(ch.localAddress());
        env.put("SERVER_NAME", host != null && !host.isEmpty() ? hostName(host) : local == null ? "localhost" : local.getAddress().getHostAddress());
        env.put("SERVER_PORT", local == null ? "" : Integer.toString(local.getPort()));
        InetSocketAddress remote = inet(ch.remoteAddress());
        env.put("REMOTE_ADDR", remote == null ? "" : remote.getAddress().getHostAddress());
        env.put("REMOTE_PORT", remote == null ? "" : Integer.toString(remote.getPort()));
        return env.build();
    }

    /** The host part of a Host header value: {@code example.com:8080} gives {@code example.com}. */
    static String hostName(String host) {
        if (host.startsWith("[")) {
            int end = host.indexOf(']');
            return end < 0 ? host : host.substring(0, end + 1);
        }
        int colon = host.indexOf(':');
        return colon < 0 ? host : host.substring(0, colon);
    }

    /** {@code addr:port} of the peer, for the log. */
    public static String client(Channel ch) {
        InetSocketAddress remote = inet(ch.remoteAddress());
        return remote == null ? String.valueOf(ch.remoteAddress()) : remote.getAddress().getHostAddress() + ":" + remote.getPort();
    }

    private static InetSocketAddress inet(SocketAddress a) {
        return a instanceof InetSocketAddress i ? i : null;
    }

}
