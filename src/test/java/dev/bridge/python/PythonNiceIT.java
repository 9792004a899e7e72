package dev.bridge.python;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --python-nice: the Python threads run that many nice levels below the worker's event loop, read both from
 * the app (the thread serving the request asks for its own nice value) and from /proc (every thread of the
 * worker, by name).
 */
@Timeout(60)
class PythonNiceIT {

    @Test
    void pythonNiceFivePutsEveryPythonThreadFiveLevelsBelowTheEventLoop() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "conformance:app", "--threads", "2", "--standby", "0",
                "--python-nice", "5")) {
            long[] sched = sched(server);
            Map<String, Integer> nice = threadNice(sched[0]);
            int loop = nice.get("multiThreadIoEv");
            assertEquals(loop + 5, sched[2], "the app's thread, against the event loop's: " + nice);
            assertEquals(loop + 5, nice.get("python-0"), nice.toString());
            assertEquals(loop + 5, nice.get("python-1"), nice.toString());
        }
    }

    @Test
    void byDefaultEveryThreadRunsAtTheWorkersPriority() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "conformance:app", "--threads", "2", "--standby", "0")) {
            long[] sched = sched(server);
            Map<String, Integer> nice = threadNice(sched[0]);
            int loop = nice.get("multiThreadIoEv");
            assertEquals(loop, sched[2], nice.toString());
            assertEquals(loop, nice.get("python-0"), nice.toString());
            assertEquals(loop, nice.get("python-1"), nice.toString());
        }
    }

    @Test
    void threadsTheAppStartsWhileServingInheritItsThreadsPriority() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "conformance:app", "--python-nice", "7", "--standby", "0")) {
            long[] sched = sched(server);
            assertEquals(threadNice(sched[0]).get("multiThreadIoEv") + 7, sched[2]);
            assertEquals(sched[2], sched[3], "a thread started by the app while serving");
        }
    }

    /** pid, tid and nice of the Python thread that served GET /sched, and the nice of a thread it started. */
    private static long[] sched(BridgeServer server) throws IOException {
        String[] f = Wire.text(server.port(), "/sched").trim().split(" ");
        return new long[]{Long.parseLong(f[0]), Long.parseLong(f[1]), Long.parseLong(f[2]), Long.parseLong(f[3])};
    }

    /** Each thread name of a process (its comm) with its nice value; names that repeat keep the last one. */
    private static Map<String, Integer> threadNice(long pid) throws IOException {
        Map<String, Integer> nice = new HashMap<>();
        try (Stream<Path> tasks = Files.list(Path.of("/proc/" + pid + "/task"))) {
            for (Path task : tasks.toList()) {
                String stat;
                try {
                    stat = Files.readString(task.resolve("stat"));
                } catch (NoSuchFileException gone) {
                    continue; // a thread that ended meanwhile
                }
                // comm is in parentheses and may hold spaces; fields after it start with the state (field 3).
                String name = stat.substring(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
                String[] after = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                nice.put(name, Integer.parseInt(after[19 - 3]));
            }
        }
        assertTrue(nice.containsKey("multiThreadIoEv"), "no event loop thread in " + nice.keySet());
        return nice;
    }
}
