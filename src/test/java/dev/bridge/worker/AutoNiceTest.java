package dev.bridge.worker;

import dev.bridge.ThreadCpu;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rule of --python-nice auto, on windows shaped like those measured (2 workers under wrk c64 on 2 busy
 * CPUs, per worker, in CPUs): which stage is the bottleneck, and whether it waits for a CPU.
 */
class AutoNiceTest {

    private static final long WINDOW = AutoNice.WINDOW_MILLIS * 1_000_000;

    private static ThreadCpu cpu(double run, double wait) {
        return new ThreadCpu((long) (run * WINDOW), (long) (wait * WINDOW));
    }

    @Test
    void aLightAppsEventLoopThatWaitsForACpuIsTheStageToFavour() {
        assertTrue(AutoNice.bottleneck(WINDOW, cpu(0.66, 0.17), cpu(0.35, 0.30)), "scripts/reload-check's app, 4 threads");
        assertTrue(AutoNice.bottleneck(WINDOW, cpu(0.50, 0.46), cpu(0.23, 0.30)), "a plain WSGI hello world, 1 thread");
        assertFalse(AutoNice.bottleneck(WINDOW, cpu(0.23, 0.30), cpu(0.50, 0.46)), "and then its Python threads are not");
    }

    @Test
    void aCpuBoundAppsPythonThreadsAreTheStageToFavour() {
        assertFalse(AutoNice.bottleneck(WINDOW, cpu(0.26, 0.34), cpu(0.63, 0.33)),
                "Flask hello: its event loop waits as much, yet Python is the bottleneck");
        assertTrue(AutoNice.bottleneck(WINDOW, cpu(0.63, 0.33), cpu(0.26, 0.34)), "Flask hello's Python thread");
        assertFalse(AutoNice.bottleneck(WINDOW, cpu(0.30, 0.40), cpu(0.25, 0.40)), "neither clearly the busier one");
    }

    @Test
    void aStageThatGetsACpuWhenItWantsOneNeedsNoHelp() {
        assertFalse(AutoNice.bottleneck(WINDOW, cpu(0.66, 0.05), cpu(0.35, 0.02)), "a machine with CPUs to spare");
        assertFalse(AutoNice.bottleneck(WINDOW, cpu(0, 0), cpu(0, 0)), "an idle worker");
    }
}
