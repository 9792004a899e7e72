package dev.bridge.config;

/**
 * What the bridge tells about itself: the stats server and the access log (part of {@link Config}).
 *
 * @param stats       where the stats server listens ({@code --stats}), or null for none; its protocol field is unused
 * @param statsHttp   the stats server speaks HTTP (JSON at /, /metrics, /health/live, /health/ready) instead of
 *                    uWSGI's raw document-then-close
 * @param statsPublic the stats address may be reachable from other hosts
 * @param logFormat   the access log line: null for the bridge's own, {@value #JSON} for one JSON object per line,
 *                    else a template of uWSGI's {@code %(name)} fields
 * @param logto       file the master and the workers append their log to (reopened on SIGUSR1), or null for stderr
 */
public record Observability(ListenAddress stats, boolean statsHttp, boolean statsPublic, String logFormat, String logto) {

    /** {@code --log-format json}: one JSON object per access log line. */
    public static final String JSON = "json";

    public static final Observability NONE = new Observability(null, false, false, null, null);
}
