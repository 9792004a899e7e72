package dev.bridge.uwsgi;

import java.util.Map;

/**
 * What {@link UwsgiDecoder} emits, in order: a {@link Request} (or a {@link Ping}, or a {@link Bad}),
 * then the body as ByteBufs, then {@link #END}.
 */
public final class UwsgiPacket {

    private UwsgiPacket() {}

    /**
     * A request's header and vars.
     *
     * @param modifier1     0 (WSGI) or 30 (WSGI, SCRIPT_NAME stripped from PATH_INFO)
     * @param vars          the vars in arrival order; values one char per byte (latin-1)
     * @param contentLength the body's length from CONTENT_LENGTH (0 when absent)
     */
    public record Request(int modifier1, Map<String, String> vars, long contentLength) {}

    /** modifier1 100: a health check, answered with a pong. */
    public record Ping() {}

    /** Input that cannot be a uwsgi request; the connection is closed and {@code reason} logged once. */
    public record Bad(String reason) {}

    /** The body is complete. */
    public static final Object END = new Object() {
        @Override
        public String toString() {
            return "END";
        }
    };
}
