package dev.bridge.stats;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class WorkerStatsTest {

    private static long[] block(long requests, long tx) {
        long[] b = new long[RequestCounters.SIZE];
        b[RequestCounters.REQUESTS] = requests;
        b[RequestCounters.TX] = tx;
        b[RequestCounters.STATUS_1XX + 1] = requests;
        return b;
    }

    @Test
    void aStatsLineRoundTrips() {
        WorkerStats s = new WorkerStats(block(5, 100), block(7, 30), 2,
                List.of(new WorkerStats.Core(9, true), new WorkerStats.Core(3, false)));
        String line = s.encode();
        assertEquals("ST http=5,100,0,0,5,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0 uwsgi=7,30,0,0,7,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0,0"
                + " exceptions=2 cores=9:1;3:0", line);
        assertEquals(s, WorkerStats.parse(line));
        assertEquals(12, s.requests());
        assertEquals(130, s.total(RequestCounters.TX));
        assertEquals(1, s.inFlight());
    }

    @Test
    void aWorkerWithoutPythonThreadsYetHasNoCores() {
        WorkerStats s = new WorkerStats(block(0, 0), block(0, 0), 0, List.of());
        assertEquals(s, WorkerStats.parse(s.encode()));
    }

    @Test
    void plusAddsCountersAndKeepsTheFirstCores() {
        WorkerStats a = new WorkerStats(block(5, 100), block(1, 1), 1, List.of(new WorkerStats.Core(6, false)));
        WorkerStats b = new WorkerStats(block(2, 10), block(3, 3), 4, List.of());
        WorkerStats sum = a.plus(b);
        assertEquals(11, sum.requests());
        assertEquals(114, sum.total(RequestCounters.TX));
        assertEquals(5, sum.exceptions());
        assertEquals(a.cores(), sum.cores());
    }

    @Test
    void otherLinesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> WorkerStats.parse("HB 1 0"));
        assertThrows(IllegalArgumentException.class, () -> WorkerStats.parse("ST http=1,2 uwsgi=1,2 exceptions=0 cores="));
        assertThrows(IllegalArgumentException.class, () -> WorkerStats.parse("ST uwsgi=1 http=1 exceptions=0 cores="));
    }

    @Test
    void bucketsSplitAtTheirUpperBounds() {
        assertEquals(0, RequestCounters.bucket(0));
        assertEquals(0, RequestCounters.bucket(1_000));
        assertEquals(1, RequestCounters.bucket(1_001));
        assertEquals(RequestCounters.N_BUCKETS - 1, RequestCounters.bucket(10_000_001));
    }

    @Test
    void countersAddUpWhatEnded() {
        RequestCounters c = new RequestCounters();
        c.end(200, 5, 500);
        c.end(404, 0, 30_000);
        c.end(503, 7, 20_000_000);
        long[] into = new long[RequestCounters.SIZE];
        c.addTo(into);
        assertEquals(3, into[RequestCounters.REQUESTS]);
        assertEquals(12, into[RequestCounters.TX]);
        assertEquals(20_030_500, into[RequestCounters.MICROS]);
        assertEquals(1, into[RequestCounters.STATUS_1XX + 1]);
        assertEquals(1, into[RequestCounters.STATUS_1XX + 3]);
        assertEquals(1, into[RequestCounters.STATUS_1XX + 4]);
        assertEquals(1, into[RequestCounters.BUCKETS]);
        assertEquals(1, into[RequestCounters.BUCKETS + 5]);
        assertEquals(1, into[RequestCounters.BUCKETS + RequestCounters.N_BUCKETS - 1]);
    }
}
