package dev.bridge.worker;

import dev.bridge.ThreadCpu;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The rule of --python-nice auto, on windows shaped like those measured (2 workers under wrk c64 on 2 busy
 * CPUs, per worker and per second of CPU): which stage is the bottleneck, and whether the event loop waits.
 */
class AutoNiceTest {

    private static final long WINDOW = AutoNice.WINDOW_MILLIS * 1_000_000;

    /** A window in which the event loop ran {@code loopCpu} CPUs, waited {@code loopWait} and Python ran {@code pythonCpu}. */
    private static boolean loopBound(double loopCpu, double loopWait, double pythonCpu) {
        return AutoNice.loopBound(WINDOW, new ThreadCpu((long) (loopCpu * WINDOW), (long) (loopWait * WINDOW)),
                (long) (pythonCpu * WINDOW));
    }

    @Test
    void aLightAppsEventLoopThatWaitsForACpuIsTheStageToFavour() {
        assertTrue(loopBound(0.66, 0.17, 0.35), "scripts/reload-check's app, 4 threads");
        assertTrue(loopBound(0.50, 0.46, 0.23), "a plain WSGI hello world, 1 thread");
    }

    @Test
    void aCpuBoundAppsPythonThreadsAreTheBottleneckAndKeepTheirPriority() {
        assertFalse(loopBound(0.26, 0.34, 0.63), "Flask's hello world: its event loop waits as much, yet Python is the bottleneck");
        assertFalse(loopBound(0.30, 0.40, 0.25), "neither stage clearly the busier one");
    }

    @Test
    void anEventLoopThatGetsACpuWhenItWantsOneNeedsNoHelp() {
        assertFalse(loopBound(0.66, 0.05, 0.35), "a light app on a machine with CPUs to spare");
        assertFalse(loopBound(0.0, 0.0, 0.0), "an idle worker");
    }
}
