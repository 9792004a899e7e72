package dev.bridge.config;

import java.net.InetSocketAddress;

/**
 * Where a listener binds: a TCP host and port, or a unix socket path.
 *
 * <p>Spelled as uWSGI users expect: {@code :8000} is every IPv4 interface, {@code 127.0.0.1:8000},
 * {@code [::1]:8000}, {@code localhost:8000}; a value containing {@code /} is a unix socket path.
 */
public record ListenAddress(Protocol protocol, String host, int port, String unixPath) {

    /** The wire protocol a listener speaks. */
    public enum Protocol { HTTP, UWSGI }

    public static ListenAddress parse(Protocol protocol, String flag, String value) throws ConfigException {
        if (value.contains("/")) {
            if (protocol == Protocol.HTTP) {
                throw new ConfigException(flag + " " + value + ": unix sockets are for --uwsgi-socket; give HOST:PORT");
            }
            return new ListenAddress(protocol, null, -1, value);
        }
        int colon = value.lastIndexOf(':');
        if (colon < 0) {
            throw new ConfigException(flag + " " + value + ": expected HOST:PORT (e.g. 127.0.0.1:8000 or :8000) or a unix socket path");
        }
        String host = value.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        }
        if (host.isEmpty()) {
            host = "0.0.0.0";
        }
        int port;
        try {
            port = Integer.parseInt(value.substring(colon + 1));
        } catch (NumberFormatException e) {
            port = -1;
        }
        if (port < 0 || port > 65535) {
            throw new ConfigException(flag + " " + value + ": the port must be a number from 0 to 65535");
        }
        return new ListenAddress(protocol, host, port, null);
    }

    public boolean isUnix() {
        return unixPath != null;
    }

    public InetSocketAddress socketAddress() {
        return new InetSocketAddress(host, port);
    }

    /** The address as a flag's value: {@code HOST:PORT} ({@code [IPV6]:PORT}) or the socket's path. */
    public String spec() {
        return isUnix() ? unixPath : (host.contains(":") ? "[" + host + "]" : host) + ":" + port;
    }

    @Override
    public String toString() {
        return protocol.name().toLowerCase() + "://" + spec();
    }
}
