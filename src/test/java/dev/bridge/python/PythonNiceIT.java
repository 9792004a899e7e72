package dev.bridge.python;

import dev.bridge.master.MasterTesting;
import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * --python-nice: the Python threads run that many nice levels below the worker's event loop, read both from
 * the app (the thread serving the request asks for its own nice value) and from /proc (every thread of the
 * worker, by name). With auto (the default), only once the worker found its event loop the busier stage and
 * waiting for a CPU: the tests make the CPUs busy with spinning threads and load the worker with a light
 * route, or a CPU-bound one.
 */
@Timeout(60)
class PythonNiceIT {

    /** What a worker logs when --python-nice auto lowers its Python threads, and by how much. */
    private static final String AUTO_DECIDED = "--python-nice auto: the event loop is the busier stage";
    private static final int AUTO_LEVELS = 5;
    /** What the master logs when a worker tells it where the next workers' Python threads should start. */
    private static final String LEARNT = "--python-nice auto: the next workers' Python threads start ";
    /** Keep-alive clients and spinning threads of a load run (2 CPUs here: the worker's threads must wait). */
    private static final int CLIENTS = 4;
    private static final int HOGS = 2;
    /**
     * Responses a load that must not make the worker decide runs for: past the 10,000 a worker serves before
     * it looks, then a few thousand more (each of its 250 ms windows holds hundreds at least).
     */
    private static final long UNDECIDED_RESPONSES = 15_000;
    /** Longest load run, in ms. */
    private static final long LOAD_MILLIS = 40_000;
    /** A CPU-bound request: 0.3 ms of Python, ten times what the event loop spends on it. */
    private static final String CPU_BOUND = "/burn?ms=0.3";

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
    void autoLowersThePythonThreadsOfALightAppWhoseEventLoopWaitsForACpu() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "conformance:app", "--threads", "2", "--standby", "0")) {
            long pid = sched(server)[0];
            int loop = threadNice(pid).get("multiThreadIoEv");
            assertEquals(loop, threadNice(pid).get("python-0"), "nothing decided before the load");
            // Each Python thread lowers itself before its next request: the load goes on until both did.
            Load load = underLoad(server.port(), "/path", responses -> {
                Map<String, Integer> nice = threadNice(pid);
                return nice.get("python-0") == loop + AUTO_LEVELS && nice.get("python-1") == loop + AUTO_LEVELS;
            });
            assertTrue(load.done(), "after " + load.responses() + " responses: " + threadNice(pid) + "\n" + server.log());
            assertTrue(server.log().contains(AUTO_DECIDED), server.log());
            assertEquals(loop + AUTO_LEVELS, sched(server)[2], "the app's own view");
        }
    }

    @Test
    void autoLeavesTheThreadsOfACpuBoundAppAtTheWorkersPriority() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "conformance:app", "--threads", "2", "--standby", "0")) {
            long pid = sched(server)[0];
            Load load = underLoad(server.port(), CPU_BOUND, responses -> responses >= UNDECIDED_RESPONSES);
            assertTrue(load.done(), "the load was served: " + load.responses() + " responses");
            assertEveryThreadAtTheEventLoopsPriority(pid, server.log());
            assertEquals(threadNice(pid).get("multiThreadIoEv"), (int) sched(server)[2], "the app's own view");
            assertFalse(server.log().contains(AUTO_DECIDED), server.log());
        }
    }

    @Test
    void pythonNiceZeroKeepsEveryThreadAtTheWorkersPriorityUnderAnyLoad() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "conformance:app", "--threads", "2", "--standby", "0",
                "--python-nice", "0")) {
            long pid = sched(server)[0];
            Load load = underLoad(server.port(), "/path", responses -> responses >= UNDECIDED_RESPONSES);
            assertTrue(load.done(), "the load was served: " + load.responses() + " responses");
            assertEveryThreadAtTheEventLoopsPriority(pid, server.log());
            assertEquals(threadNice(pid).get("multiThreadIoEv"), (int) sched(server)[2], "the app's own view");
            assertFalse(server.log().contains(AUTO_DECIDED), server.log());
        }
    }

    @Test
    @Timeout(120)
    void autoStartsTheNextWorkersWhereTheLastOneFoundTheirPlace() throws Exception {
        try (BridgeServer server = BridgeServer.start("--module", "conformance:app", "--workers", "1", "--threads", "2")) {
            Load light = underLoad(server.port(), "/path", responses -> server.log().contains(LEARNT + "5 nice level"));
            assertTrue(light.done(), "the master learns what the worker found:\n" + server.log());

            long lowered = reload(server, 2);
            Map<String, Integer> nice = threadNice(lowered);
            int loop = nice.get("multiThreadIoEv");
            assertEquals(loop + AUTO_LEVELS, nice.get("python-0"), "the next worker starts lowered, before any load: " + nice);
            assertEquals(loop + AUTO_LEVELS, nice.get("python-1"), nice.toString());

            Load heavy = underLoad(server.port(), CPU_BOUND, responses -> server.log().contains(LEARNT + "0 nice level"));
            assertTrue(heavy.done(), "a CPU-bound load makes the lowered worker send the next ones back up:\n" + server.log());
            assertEquals(loop + AUTO_LEVELS, threadNice(lowered).get("python-0"), "its own threads cannot come back up");

            assertEveryThreadAtTheEventLoopsPriority(reload(server, 3), server.log());
        }
    }

    /** Reloads the server (SIGHUP) and waits for generation {@code generation}; returns its worker's pid. */
    private static long reload(BridgeServer server, int generation) throws Exception {
        MasterTesting.signal(server.process().pid(), "HUP");
        assertTrue(server.awaitLog("reload done: generation " + generation, Duration.ofSeconds(40)), server.log());
        long pid = MasterTesting.readyPid(server.log(), 1, generation);
        assertTrue(pid > 0, server.log());
        return pid;
    }

    /** Every thread of worker {@code pid} at its event loop's priority, by /proc. */
    private static void assertEveryThreadAtTheEventLoopsPriority(long pid, String log) throws Exception {
        Map<String, Integer> nice = threadNice(pid);
        int loop = nice.get("multiThreadIoEv");
        assertEquals(loop, nice.get("python-0"), nice + "\n" + log);
        assertEquals(loop, nice.get("python-1"), nice + "\n" + log);
    }

    /** When a load run may end, given the responses read so far. */
    private interface Until {
        boolean reached(long responses) throws Exception;
    }

    /** How a load run ended: whether its condition came true, and how many responses the clients read. */
    private record Load(boolean done, long responses) {}

    /**
     * Keeps {@link #CLIENTS} keep-alive connections asking for {@code target} and {@link #HOGS} threads
     * spinning, so that the worker's threads wait for a CPU as on a saturated machine, until {@code done} is
     * true (polled every 100 ms) or {@link #LOAD_MILLIS} have passed.
     */
    private static Load underLoad(int port, String target, Until done) throws Exception {
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong responses = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(CLIENTS + HOGS);
        List<Future<?>> running = new ArrayList<>();
        try {
            for (int i = 0; i < CLIENTS; i++) {
                running.add(pool.submit(() -> {
                    try (RawHttp c = new RawHttp(port)) {
                        while (!stop.get()) {
                            c.send("GET " + target + " HTTP/1.1\r\nHost: t\r\n\r\n");
                            assertEquals(200, c.read().status());
                            responses.incrementAndGet();
                        }
                    }
                    return null;
                }));
            }
            for (int i = 0; i < HOGS; i++) {
                running.add(pool.submit(() -> {
                    long spins = 0;
                    while (!stop.get()) {
                        spins++;
                    }
                    return spins;
                }));
            }
            long deadline = System.currentTimeMillis() + LOAD_MILLIS;
            boolean met = false;
            while (!met && System.currentTimeMillis() < deadline) {
                Thread.sleep(100);
                met = done.reached(responses.get());
            }
            stop.set(true);
            for (Future<?> f : running) {
                f.get(10, TimeUnit.SECONDS); // a client's failure fails the test
            }
            return new Load(met, responses.get());
        } finally {
            stop.set(true);
            pool.shutdownNow();
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
