package dev.bridge.uwsgi;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Byte fixtures for the uwsgi protocol: packets built field by field (so malformed ones can be made on
 * purpose), and packets captured from nginx (src/test/resources/uwsgi/nginx, see its README).
 * Strings are written one byte per char (latin-1), so "\u00ff" is the byte 0xff.
 */
public final class Packets {

    private Packets() {}

    /** The 4-byte header: modifier1, little-endian u16 datasize, modifier2. */
    static byte[] header(int modifier1, int datasize, int modifier2) {
        return new byte[]{(byte) modifier1, (byte) datasize, (byte) (datasize >>> 8), (byte) modifier2};
    }

    static byte[] u16(int n) {
        return new byte[]{(byte) n, (byte) (n >>> 8)};
    }

    static byte[] latin1(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    /** One var: u16 key length, key, u16 value length, value. */
    static byte[] var(byte[] key, byte[] value) {
        return concat(u16(key.length), key, u16(value.length), value);
    }

    /** A vars block from key, value pairs. */
    static byte[] vars(String... kv) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (int i = 0; i < kv.length; i += 2) {
            out.writeBytes(var(latin1(kv[i]), latin1(kv[i + 1])));
        }
        return out.toByteArray();
    }

    /** A whole packet: header (datasize = the block's length), vars block, body. */
    static byte[] packet(int modifier1, byte[] varsBlock, byte[] body) {
        return concat(header(modifier1, varsBlock.length, 0), varsBlock, body);
    }

    /** A POST of {@code body} to {@code uri} as nginx sends it to uwsgi_pass with its stock uwsgi_params. */
    public static byte[] nginxPost(String uri, byte[] body) {
        String[] vars = nginxVars("POST", uri);
        for (int i = 0; i < vars.length; i += 2) {
            if (vars[i].equals("CONTENT_LENGTH")) {
                vars[i + 1] = String.valueOf(body.length);
            }
        }
        return packet(0, vars(vars), body);
    }

    /** A GET of {@code uri} as nginx sends it to uwsgi_pass with its stock uwsgi_params. */
    public static byte[] nginxGet(String uri) {
        return packet(0, vars(nginxVars("GET", uri)), new byte[0]);
    }

    /**
     * Sends {@code packet} over the unix socket at {@code socket}, half-closes, and returns all the answer (as
     * latin-1), as nginx's uwsgi_pass would read it.
     */
    public static String exchangeUnix(java.nio.file.Path socket, byte[] packet) throws IOException {
        try (java.nio.channels.SocketChannel ch = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
            ch.connect(java.net.UnixDomainSocketAddress.of(socket));
            ch.write(java.nio.ByteBuffer.wrap(packet));
            ch.shutdownOutput();
            return new String(java.nio.channels.Channels.newInputStream(ch).readAllBytes(), StandardCharsets.ISO_8859_1);
        }
    }

    /** The vars nginx's stock uwsgi_params send for {@code METHOD path}, followed by {@code extra} pairs. */
    static String[] nginxVars(String method, String uri, String... extra) {
        int q = uri.indexOf('?');
        String[] base = {
                "QUERY_STRING", q < 0 ? "" : uri.substring(q + 1),
                "REQUEST_METHOD", method,
                "CONTENT_TYPE", "",
                "CONTENT_LENGTH", "",
                "REQUEST_URI", uri,
                "PATH_INFO", q < 0 ? uri : uri.substring(0, q),
                "DOCUMENT_ROOT", "/usr/share/nginx/html",
                "SERVER_PROTOCOL", "HTTP/1.1",
                "REQUEST_SCHEME", "http",
                "REMOTE_ADDR", "192.0.2.7",
                "REMOTE_PORT", "50123",
                "SERVER_PORT", "80",
                "SERVER_NAME", "example.org",
                "HTTP_HOST", "example.org",
        };
        String[] all = Arrays.copyOf(base, base.length + extra.length);
        System.arraycopy(extra, 0, all, base.length, extra.length);
        return all;
    }

    /** {@code GET uri} as nginx sends it, with extra vars (which may replace the stock ones: see {@link #override}). */
    public static byte[] get(String uri, String... extra) {
        return packet(0, vars(override(nginxVars("GET", uri), extra)), new byte[0]);
    }

    /** A POST as nginx sends it: CONTENT_LENGTH is the body's length. */
    static byte[] post(String uri, byte[] body, String... extra) {
        String[] kv = override(nginxVars("POST", uri), "CONTENT_LENGTH", String.valueOf(body.length),
                "CONTENT_TYPE", "application/octet-stream");
        return packet(0, vars(override(kv, extra)), body);
    }

    /** Pairs of {@code base} with the values of same-named pairs of {@code changes} replaced; new ones appended. */
    static String[] override(String[] base, String... changes) {
        String[] out = base.clone();
        outer:
        for (int i = 0; i < changes.length; i += 2) {
            for (int j = 0; j < out.length; j += 2) {
                if (out[j].equals(changes[i])) {
                    out[j + 1] = changes[i + 1];
                    continue outer;
                }
            }
            out = Arrays.copyOf(out, out.length + 2);
            out[out.length - 2] = changes[i];
            out[out.length - 1] = changes[i + 1];
        }
        return out;
    }

    /** A cookie header value of exactly {@code size} bytes (name=value pairs separated by "; "). */
    static String cookie(int size) {
        StringBuilder sb = new StringBuilder(size);
        for (int i = 0; sb.length() < size; i++) {
            if (sb.length() > 0) {
                sb.append("; ");
            }
            sb.append("c").append(i).append('=').append("v".repeat(40));
        }
        sb.setLength(size);
        return sb.toString();
    }

    /** A packet captured from nginx. */
    static byte[] fixture(String name) {
        try (InputStream in = Packets.class.getResourceAsStream("/uwsgi/nginx/" + name)) {
            if (in == null) {
                throw new IllegalArgumentException("no fixture " + name);
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] concat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    static byte[] slice(byte[] b, int from, int to) {
        return Arrays.copyOfRange(b, from, to);
    }

    /** {@code n} bytes of a repeating, position-dependent pattern (so misplaced pieces show). */
    static byte[] pattern(int n) {
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) {
            b[i] = (byte) ('a' + (i * 7 + i / 26) % 26);
        }
        return b;
    }

    /** Everything the worker sends on {@code s} until it closes (a reset after some bytes keeps them); latin-1. */
    public static String readUntilEnd(Socket s) throws IOException {
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        InputStream in = s.getInputStream();
        byte[] buf = new byte[8192];
        try {
            for (int n; (n = in.read(buf)) >= 0; ) {
                got.write(buf, 0, n);
            }
        } catch (SocketException e) {
            // a reset: unread garbage in the worker's socket when it closed, or a cut connection
        }
        return got.toString(StandardCharsets.ISO_8859_1);
    }
}
