package dev.bridge.stats;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * The counters of the requests one protocol served in one worker: requests, body bytes sent, microseconds
 * spent, responses per status class, and a duration histogram. The layout is shared with the C request loop
 * ({@code native/bridge_native.c}, {@code STATUS_COUNTERS}), which keeps the same longs in its status block:
 *
 * <pre>
 * index  0  REQUESTS       responses finished (the app's, and the server's own 4xx and 5xx)
 *        1  TX             body bytes sent
 *        2  MICROS         microseconds from the request's arrival to its last byte written, summed
 *        3-7  STATUS_1XX..  responses per status class 1xx, 2xx, 3xx, 4xx, 5xx
 *        8-21 BUCKETS      requests per duration bucket (not cumulative): at most {@link #BUCKET_MICROS}[i]
 *                          microseconds, the last one unbounded
 * </pre>
 *
 * <p>One thread writes (the worker's event loop, or one C loop), so an update is a plain read and an ordered
 * write, no lock and no read-modify-write instruction; any thread reads.
 */
public final class RequestCounters {

    public static final int REQUESTS = 0;
    public static final int TX = 1;
    public static final int MICROS = 2;
    public static final int STATUS_1XX = 3;
    public static final int BUCKETS = 8;
    /** Upper bounds of the duration buckets but the last, in microseconds: 1 ms to 10 s. */
    public static final long[] BUCKET_MICROS = {1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000, 250_000,
            500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000};
    public static final int N_BUCKETS = BUCKET_MICROS.length + 1;
    /** Longs in a block. */
    public static final int SIZE = BUCKETS + N_BUCKETS;

    private final AtomicLongArray values = new AtomicLongArray(SIZE);

    /** A response ended, {@code micros} after its request arrived. Its one writer thread. */
    public void end(int status, long bodyBytes, long micros) {
        add(values, TX, bodyBytes);
        add(values, MICROS, micros);
        if (status >= 100 && status < 600) {
            add(values, STATUS_1XX + status / 100 - 1, 1);
        }
        add(values, BUCKETS + bucket(micros), 1);
        add(values, REQUESTS, 1); // last: a reader that sees it sees the rest
    }

    /** The bucket a duration falls in. */
    public static int bucket(long micros) {
        int b = 0;
        while (b < BUCKET_MICROS.length && micros > BUCKET_MICROS[b]) {
            b++;
        }
        return b;
    }

    /** Adds this block to {@code into} (of {@link #SIZE}). Any thread. */
    public void addTo(long[] into) {
        for (int i = 0; i < SIZE; i++) {
            into[i] += values.get(i);
        }
    }

    private static void add(AtomicLongArray a, int i, long n) {
        a.lazySet(i, a.get(i) + n);
    }
}
