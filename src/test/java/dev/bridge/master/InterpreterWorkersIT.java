package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.RawHttp;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.time.Duration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the master does with workers of {@code --interpreters 2} (CPython 3.13, .venv-3.13): reloads under load
 * through standbys with no failed request, a stuck interpreter replaced by --harakiri, --max-requests, a
 * SIGTERM that finishes the request in flight. The app is src/test/python/master_app.py (answers its pid).
 */
class InterpreterWorkersIT {

    private static final Duration BOOT = Duration.ofSeconds(40);

    private static BridgeServer start(int workers, String... extra) throws Exception {
        return MasterTesting.startReady(workers, BOOT, List.of("--venv", BridgeServer.interpretersVenv().toString(),
                "--module", "master_app:application", "--interpreters", "2", "--disable-logging"), extra);
    }

    /** Waits until a worker other than {@code pid} answers. */
    private static boolean anotherWorkerServes(BridgeServer server, long pid) throws InterruptedException {
        return MasterTesting.await(BOOT, () -> {
            try {
                return MasterTesting.pidOf(server.port(), "/", 10_000) != pid;
            } catch (IOException e) {
                return false;
            }
        });
    }

    @Test
    void reloadsUnderLoadFailNothingAndUseTheStandbys() throws Exception {
        try (BridgeServer server = start(2);
             MasterTesting.Load load = new MasterTesting.Load(server.port(), "/", 8, 10_000)) {
            assertTrue(MasterTesting.await(Duration.ofSeconds(20), () -> load.results().size() > 200), "load runs");
            Set<Long> before = MasterTesting.readyWorkers(server.log()).keySet();
            for (int i = 1; i <= 2; i++) {
                MasterTesting.signal(server.process().pid(), "HUP");
                assertTrue(MasterTesting.awaitLog(server, Pattern.compile("reload done: generation " + (i + 1)), 1, BOOT),
                        server.log());
                Thread.sleep(1500); // the old generation drains under load; the standbys come back
            }
            assertTrue(load.stop(), "the load threads ended");
            assertEquals(List.of(), load.failures(), MasterTesting.describe(load.failures()));
            assertTrue(MasterTesting.matches(server.log(), MasterTesting.BECAME).size() >= 2,
                    "standbys became the new workers:\n" + server.log());
            // Keep-alive connections stay with the worker that accepted them, and one worker may accept a whole
            // batch: which workers of a generation answered is the kernel's choice, that each generation did is not.
            Set<Long> answered = load.pids();
            assertTrue(answered.stream().anyMatch(before::contains), "the first generation served: " + answered + " " + before);
            assertTrue(answered.size() >= 3, "three generations served: " + answered);
        }
    }

    @Test
    void harakiriReplacesAWorkerWithAStuckInterpreter() throws Exception {
        try (BridgeServer server = start(1, "--harakiri", "2")) {
            long stuck = MasterTesting.pidOf(server.port(), "/", 10_000);
            long t0 = System.nanoTime();
            RawHttp.Response answer = null;
            try {
                answer = MasterTesting.get(server.port(), "/sleep?ms=8000", 20_000);
            } catch (IOException expected) {
                // the connection is cut with the worker
            }
            long took = (System.nanoTime() - t0) / 1_000_000;
            assertTrue(answer == null || answer.status() != 200, "the stuck request got no answer: " + answer);
            assertTrue(took >= 1900 && took < 6000, "cut after " + took + " ms for a 2 s --harakiri");
            assertTrue(Pattern.compile("harakiri.*pid " + stuck + "\\D").matcher(server.log()).find(), server.log());
            assertTrue(anotherWorkerServes(server, stuck), "a new worker serves:\n" + server.log());
        }
    }

    @Test
    void maxRequestsReplacesTheWorker() throws Exception {
        try (BridgeServer server = start(1, "--max-requests", "10")) {
            long first = MasterTesting.pidOf(server.port(), "/", 10_000);
            for (int i = 0; i < 12; i++) {
                MasterTesting.pidOf(server.port(), "/", 10_000);
            }
            assertTrue(server.awaitLog("requests (--max-requests): starting its replacement", Duration.ofSeconds(10)),
                    server.log());
            assertTrue(anotherWorkerServes(server, first), "the replacement serves:\n" + server.log());
        }
    }

    @Test
    void sigtermFinishesTheRequestInFlightThenExitsZero() throws Exception {
        BridgeServer server = start(1);
        try {
            long worker = MasterTesting.pidOf(server.port(), "/", 10_000);
            CompletableFuture<String> inFlight = CompletableFuture.supplyAsync(() -> {
                try {
                    return MasterTesting.okText(server.port(), "/sleep?ms=1500", 20_000);
                } catch (IOException e) {
                    return e.toString();
                }
            });
            Thread.sleep(500);
            MasterTesting.signal(server.process().pid(), "TERM");
            assertEquals(String.valueOf(worker), inFlight.get().trim(), server.log());
            assertTrue(server.process().waitFor(20, java.util.concurrent.TimeUnit.SECONDS), server.log());
            assertEquals(0, server.process().exitValue(), server.log());
            assertTrue(server.awaitLog("worker 1 (pid " + worker + ") exited with status 0", Duration.ofSeconds(5)),
                    server.log());
        } finally {
            server.close();
        }
    }
}
