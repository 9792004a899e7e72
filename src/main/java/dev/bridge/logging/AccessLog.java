package dev.bridge.logging;

import dev.bridge.Log;
import dev.bridge.wsgi.WsgiRequest;

import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.charset.StandardCharsets;

/**
 * Writes the access lines of a {@code --log-format} ({@link AccessLogFormat}) for the Java request paths
 * (HTTP, and uwsgi under {@code --uwsgi-loop netty}): raw, without the logger's date, level and tag (the user
 * chose the whole line), each as one write() to descriptor 2, so lines of several threads and processes never
 * interleave. The bridge's own line (no {@code --log-format}) is still the caller's, through the logger.
 * Any thread.
 */
public final class AccessLog {

    private static final FileOutputStream STDERR = new FileOutputStream(FileDescriptor.err);
    private static final long PID = ProcessHandle.current().pid();

    private AccessLog() {}

    /**
     * The line of a request that was answered (by the app, or with a 500 when it failed).
     *
     * @param nanos how long it took, from when it was complete
     */
    public static void served(AccessLogFormat format, WsgiRequest request, int status, long size, long nanos) {
        String[] v = vars(request.environ());
        long cl = 0;
        try {
            cl = v[CONTENT_LENGTH] == null || v[CONTENT_LENGTH].isEmpty() ? 0 : Long.parseLong(v[CONTENT_LENGTH]);
        } catch (NumberFormatException ignored) {
            // the decoders refused it already; 0 as for none
        }
        long micros = nanos / 1000;
        write(format.render(new AccessLogFormat.Entry(v[METHOD], v[URI] != null ? v[URI] : v[PATH_INFO], v[PROTOCOL],
                status, size, micros, v[REMOTE_ADDR], v[HOST], v[REFERER], v[USER_AGENT], cl, PID, workerId(), 0,
                System.currentTimeMillis() - micros / 1000)));
    }

    /**
     * The line of a request the server refused itself (a 4xx before the app saw it): no environ, no timing.
     *
     * @param summary {@code METHOD target [PROTOCOL]} as far as it was read, or null
     */
    public static void refused(AccessLogFormat format, SocketAddress peer, String summary, int status, long size) {
        String method = null;
        String uri = null;
        String proto = null;
        if (summary != null) {
            int first = summary.indexOf(' ');
            int last = summary.lastIndexOf(' ');
            method = first < 0 ? summary : summary.substring(0, first);
            if (first >= 0 && last > first) {
                uri = summary.substring(first + 1, last);
                proto = summary.substring(last + 1);
            } else if (first >= 0) {
                uri = summary.substring(first + 1);
            }
        }
        String addr = peer instanceof InetSocketAddress a && a.getAddress() != null
                ? a.getAddress().getHostAddress() : null;
        write(format.render(new AccessLogFormat.Entry(method, uri, proto, status, size, -1, addr, null, null, null, 0,
                PID, workerId(), 0, System.currentTimeMillis())));
    }

    /** One line, one write (a line is ASCII but for the template's own literal text). */
    static void write(String line) {
        try {
            STDERR.write(line.getBytes(StandardCharsets.UTF_8));
        } catch (IOException ignored) {
            // stderr is gone: there is nowhere to say so
        }
    }

    /**
     * This worker's number, from its log tag ({@code worker-N[pid]}, set when it got its slot); 0 for a process
     * that has none.
     */
    public static int workerId() {
        String tag = Log.tag();
        if (!tag.startsWith("worker-")) {
            return 0;
        }
        int n = 0;
        for (int i = "worker-".length(); i < tag.length() && Character.isDigit(tag.charAt(i)); i++) {
            n = n * 10 + (tag.charAt(i) - '0');
        }
        return n;
    }

    /** The environ keys the log reads, at these indexes of what {@link #vars} returns. */
    private static final String[] KEYS = {"REQUEST_METHOD", "REQUEST_URI", "PATH_INFO", "SERVER_PROTOCOL",
            "REMOTE_ADDR", "HTTP_HOST", "HTTP_REFERER", "HTTP_USER_AGENT", "CONTENT_LENGTH"};
    private static final int METHOD = 0;
    private static final int URI = 1;
    private static final int PATH_INFO = 2;
    private static final int PROTOCOL = 3;
    private static final int REMOTE_ADDR = 4;
    private static final int HOST = 5;
    private static final int REFERER = 6;
    private static final int USER_AGENT = 7;
    private static final int CONTENT_LENGTH = 8;

    /**
     * The values of {@link #KEYS} in an environ string ({@code KEY\0value\0...}, see dev.bridge.wsgi.Environ),
     * null when absent.
     */
    static String[] vars(String environ) {
        String[] out = new String[KEYS.length];
        int n = environ.length();
        int i = 0;
        while (i < n) {
            int keyEnd = environ.indexOf('\0', i);
            if (keyEnd < 0) {
                break;
            }
            int valueEnd = environ.indexOf('\0', keyEnd + 1);
            if (valueEnd < 0) {
                valueEnd = n;
            }
            for (int k = 0; k < KEYS.length; k++) {
                if (out[k] == null && keyEnd - i == KEYS[k].length() && environ.startsWith(KEYS[k], i)) {
                    out[k] = environ.substring(keyEnd + 1, valueEnd);
                    break;
                }
            }
            i = valueEnd + 1;
        }
        return out;
    }
}
