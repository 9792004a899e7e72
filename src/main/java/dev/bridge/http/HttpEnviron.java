package dev.bridge.http;

import dev.bridge.config.Cidr;
import dev.bridge.wsgi.Environ;
import io.netty.channel.Channel;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpUtil;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.Iterator;
import java.util.List;
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
 *   <li>From a peer in --trusted-proxy (default: loopback), X-Forwarded-For gives REMOTE_ADDR (its
 *       rightmost address that is not itself a trusted proxy) and X-Forwarded-Proto (http or https) gives
 *       wsgi.url_scheme; from any other peer both are only HTTP_* keys.
 * </ul>
 */
final class HttpEnviron {

    private HttpEnviron() {}

    /** Returns null when the request target cannot be turned into a path (e.g. it encodes a NUL byte). */
    static String build(HttpRequest req, long bodySize, Channel ch, List<Cidr> trusted) {
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
                .put("SERVER_PROTOCOL", req.protocolVersion().text());

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
        String remoteAddr = remote == null ? "" : remote.getAddress().getHostAddress();
        String scheme = "http";
        if (remote != null && isTrusted(remote.getAddress(), trusted)) {
            String forwardedFor = env.header("HTTP_X_FORWARDED_FOR");
            if (forwardedFor != null) {
                remoteAddr = clientOf(forwardedFor, trusted, remoteAddr);
            }
            String proto = env.header("HTTP_X_FORWARDED_PROTO");
            if (proto != null && (proto.trim().equalsIgnoreCase("https") || proto.trim().equalsIgnoreCase("http"))) {
                scheme = proto.trim().toLowerCase(java.util.Locale.ROOT);
            }
        }
        env.put("REMOTE_ADDR", remoteAddr);
        env.put("REMOTE_PORT", remote == null ? "" : Integer.toString(remote.getPort()));
        env.put("wsgi.url_scheme", scheme);
        return env.build();
    }

    private static boolean isTrusted(InetAddress a, List<Cidr> trusted) {
        for (Cidr c : trusted) {
            if (c.contains(a)) {
                return true;
            }
        }
        return false;
    }

    /** The rightmost address of X-Forwarded-For that is not a trusted proxy (the others may be forged). */
    static String clientOf(String forwardedFor, List<Cidr> trusted, String fallback) {
        String[] hops = forwardedFor.split(",");
        for (int i = hops.length - 1; i >= 0; i--) {
            String hop = hops[i].trim();
            if (!hop.matches("[0-9a-fA-F:.]+")) {
                return fallback; // not an address: believe nothing
            }
            try {
                InetAddress a = InetAddress.getByName(hop);
                if (!isTrusted(a, trusted) || i == 0) {
                    return a.getHostAddress();
                }
            } catch (java.net.UnknownHostException e) {
                return fallback;
            }
        }
        return fallback;
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
