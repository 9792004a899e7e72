package dev.bridge.stats;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/**
 * What one worker counted, as it answers the master's {@code STATS} (one control line, see
 * dev.bridge.master.Control): the requests of each protocol ({@link RequestCounters} blocks), the app's
 * exceptions, and per Python thread (a uWSGI "core") its requests and whether it is in one now.
 *
 * <p>Line format: {@code ST http=n,n,... uwsgi=n,n,... exceptions=n cores=requests:busy;...}, busy being 0 or 1.
 */
public record WorkerStats(long[] http, long[] uwsgi, long exceptions, List<Core> cores) {

    /** The control line's first word. */
    public static final String PREFIX = "ST";

    /** One Python thread: requests it served (the C loop's and those it took from the queue), and whether busy. */
    public record Core(long requests, boolean inRequest) {}

    public static final WorkerStats EMPTY = new WorkerStats(new long[RequestCounters.SIZE], new long[RequestCounters.SIZE], 0, List.of());

    public WorkerStats {
        if (http.length != RequestCounters.SIZE || uwsgi.length != RequestCounters.SIZE) {
            throw new IllegalArgumentException("a counter block has " + RequestCounters.SIZE + " values");
        }
        cores = List.copyOf(cores);
    }

    /** Requests of both protocols. */
    public long requests() {
        return http[RequestCounters.REQUESTS] + uwsgi[RequestCounters.REQUESTS];
    }

    /** The sum of a counter over both protocols. */
    public long total(int index) {
        return http[index] + uwsgi[index];
    }

    /** Python threads in a request now. */
    public int inFlight() {
        return (int) cores.stream().filter(Core::inRequest).count();
    }

    /** Counters of this and {@code other} added (cores are this one's). */
    public WorkerStats plus(WorkerStats other) {
        long[] h = http.clone();
        long[] u = uwsgi.clone();
        for (int i = 0; i < RequestCounters.SIZE; i++) {
            h[i] += other.http[i];
            u[i] += other.uwsgi[i];
        }
        return new WorkerStats(h, u, exceptions + other.exceptions, cores);
    }

    public String encode() {
        StringBuilder sb = new StringBuilder(PREFIX).append(" http=");
        join(sb, http);
        sb.append(" uwsgi=");
        join(sb, uwsgi);
        sb.append(" exceptions=").append(exceptions).append(" cores=");
        for (int i = 0; i < cores.size(); i++) {
            sb.append(i == 0 ? "" : ";").append(cores.get(i).requests()).append(':').append(cores.get(i).inRequest() ? 1 : 0);
        }
        return sb.toString();
    }

    /** Parses {@link #encode}'s line; throws IllegalArgumentException on anything else. */
    public static WorkerStats parse(String line) {
        String[] words = line.split(" ");
        if (words.length != 5 || !words[0].equals(PREFIX)) {
            throw new IllegalArgumentException("not a stats line: " + line);
        }
        long[] http = longs(value(words[1], "http"));
        long[] uwsgi = longs(value(words[2], "uwsgi"));
        long exceptions = Long.parseLong(value(words[3], "exceptions"));
        List<Core> cores = new ArrayList<>();
        String c = value(words[4], "cores");
        if (!c.isEmpty()) {
            for (String core : c.split(";")) {
                int colon = core.indexOf(':');
                cores.add(new Core(Long.parseLong(core.substring(0, colon)), core.substring(colon + 1).equals("1")));
            }
        }
        return new WorkerStats(http, uwsgi, exceptions, cores);
    }

    private static String value(String word, String key) {
        if (!word.startsWith(key + "=")) {
            throw new IllegalArgumentException("expected " + key + "=..., got " + word);
        }
        return word.substring(key.length() + 1);
    }

    private static long[] longs(String csv) {
        return Arrays.stream(csv.split(",")).mapToLong(Long::parseLong).toArray();
    }

    private static void join(StringBuilder sb, long[] values) {
        for (int i = 0; i < values.length; i++) {
            sb.append(i == 0 ? "" : ",").append(values[i]);
        }
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof WorkerStats w && Arrays.equals(http, w.http) && Arrays.equals(uwsgi, w.uwsgi)
                && exceptions == w.exceptions && cores.equals(w.cores);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(http) * 31 + Arrays.hashCode(uwsgi) + Long.hashCode(exceptions) + cores.hashCode();
    }

    @Override
    public String toString() {
        return encode();
    }
}
