package dev.bridge;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ThreadCpuTest {

    @Test
    void parsesTheRunAndWaitNanosecondsOfASchedstatLine() throws IOException {
        assertEquals(new ThreadCpu(60494494, 70896524), ThreadCpu.parse("60494494 70896524 496\n"));
        assertEquals(new ThreadCpu(10, 4), new ThreadCpu(15, 9).minus(new ThreadCpu(5, 5)));
        assertEquals(new ThreadCpu(20, 14), new ThreadCpu(15, 9).plus(new ThreadCpu(5, 5)));
    }

    @Test
    void refusesWhatIsNoSchedstatLine() {
        assertThrows(IOException.class, () -> ThreadCpu.parse("42\n"));
        assertThrows(IOException.class, () -> ThreadCpu.parse("a b c\n"));
    }

    @Test
    void readsTheCallingThreadsOwnFiguresWhichGrowAsItRuns() throws Exception {
        long tid = ThreadCpu.currentThreadId();
        assertTrue(Files.isDirectory(Path.of("/proc/self/task/" + tid)), "a thread of this process: " + tid);
        long[] other = new long[1];
        Thread t = new Thread(() -> other[0] = ThreadCpu.currentThreadId());
        t.start();
        t.join();
        assertTrue(other[0] > 0 && other[0] != tid, "each thread its own id: " + tid + ", " + other[0]);
        ThreadCpu before = ThreadCpu.of(tid);
        long spins = 0;
        long end = System.nanoTime() + 20_000_000;
        while (System.nanoTime() < end) {
            spins++;
        }
        ThreadCpu after = ThreadCpu.of(tid);
        assertTrue(after.runNanos() > before.runNanos(), before + " then " + after + " after " + spins + " spins");
    }
}
