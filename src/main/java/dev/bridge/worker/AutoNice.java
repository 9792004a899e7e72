package dev.bridge.worker;

import dev.bridge.ThreadCpu;
import dev.bridge.python.PythonThreads;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * {@code --python-nice auto}: while a worker serves, decides whether its Python threads should run below
 * its event loop. The event loop reads every request and writes every response of the worker; for a light
 * app it is the worker's busiest thread, and on a machine whose CPUs are all busy the scheduler keeps it
 * waiting 25-45 ms at a time while the Python threads, as important as it, take turns: every finished
 * response of the worker waits with it. Then the Python threads should yield ({@link #LEVELS} nice levels
 * below it). For a CPU-bound app the Python threads are the bottleneck and must not wait: they keep the
 * event loop's priority.
 *
 * <p>Every {@link #WINDOW_MILLIS} ms it reads the scheduler's figures of the event loop and of the Python
 * threads ({@link ThreadCpu}); after {@link #WINDOWS_TO_DECIDE} windows in a row in which the event loop used
 * at least {@link #LOOP_OVER_PYTHON} times the Python threads' CPU time and waited for a CPU at least
 * {@link #LOOP_WAIT_SHARE} of the time, it lowers the Python threads and stops watching: Linux lets a thread
 * lose priority but not win it back without privilege, so the decision is taken once per worker (a reload
 * or recycling starts the next worker undecided).
 *
 * <p>Runs on the worker's event loop (a scheduled task): each window costs a few procfs reads.
 */
final class AutoNice {

    /** Length of one observation window, in milliseconds. */
    static final long WINDOW_MILLIS = 250;
    /** Windows in a row that must find the event loop the bottleneck before the Python threads are lowered. */
    static final int WINDOWS_TO_DECIDE = 2;
    /**
     * The event loop's CPU time over the Python threads' (all of them) that makes it the busier stage.
     * Measured with 2 workers under wrk c64 on 2 CPUs: a light app 1.9 (0.66 CPU against 0.35), Flask's
     * hello world 0.5 (0.32 against 0.64).
     */
    static final double LOOP_OVER_PYTHON = 1.5;
    /** Share of a window the event loop must have spent runnable but waiting for a CPU (a light app: 17%). */
    static final double LOOP_WAIT_SHARE = 0.10;
    /** Nice levels the Python threads go down: 2 were not enough, 5 measured best (see the README). */
    static final int LEVELS = 5;

    private final PythonThreads python;
    private final Logger log;
    private long loopThread = -1;
    private List<Long> pythonThreads;
    private ThreadCpu lastLoop;
    private long lastPython;
    private long lastAt;
    private int agreeing;
    private ScheduledFuture<?> task;

    private AutoNice(PythonThreads python, Logger log) {
        this.python = python;
        this.log = log;
    }

    /** Starts watching a worker that serves. Any thread; the watching runs on {@code loop}. */
    static void start(EventLoop loop, PythonThreads python, Logger log) {
        AutoNice watcher = new AutoNice(python, log);
        watcher.task = loop.scheduleAtFixedRate(watcher::sample, 0, WINDOW_MILLIS, TimeUnit.MILLISECONDS);
    }

    /**
     * True when a window's figures make the event loop the stage to favour: it used at least
     * {@link #LOOP_OVER_PYTHON} times the Python threads' CPU time and waited at least {@link #LOOP_WAIT_SHARE}
     * of the window for a CPU.
     */
    static boolean loopBound(long windowNanos, ThreadCpu loop, long pythonRunNanos) {
        return loop.waitNanos() >= LOOP_WAIT_SHARE * windowNanos && loop.runNanos() >= LOOP_OVER_PYTHON * pythonRunNanos;
    }

    private void sample() {
        ThreadCpu loopNow;
        long pythonNow = 0;
        long now = System.nanoTime();
        try {
            if (pythonThreads == null) {
                loopThread = ThreadCpu.currentThreadId();
                pythonThreads = python.nativeIds();
            }
            loopNow = ThreadCpu.of(loopThread);
            for (long tid : pythonThreads) {
                pythonNow += ThreadCpu.of(tid).runNanos();
            }
        } catch (IOException e) {
            log.info("--python-nice auto: cannot read the threads' CPU figures (" + e.getMessage()
                    + "); the Python threads keep the event loop's priority");
            task.cancel(false);
            return;
        }
        if (lastLoop != null) {
            ThreadCpu loopDelta = loopNow.minus(lastLoop);
            long pythonDelta = pythonNow - lastPython;
            long window = now - lastAt;
            agreeing = loopBound(window, loopDelta, pythonDelta) ? agreeing + 1 : 0;
            if (agreeing >= WINDOWS_TO_DECIDE) {
                task.cancel(false);
                python.lowerPriority(LEVELS);
                log.info(String.format("--python-nice auto: the event loop is the busier stage (%.2f CPU against the "
                                + "Python threads' %.2f) and waited for a CPU %.0f%% of the time: the Python threads now run "
                                + "%d nice levels below it", (double) loopDelta.runNanos() / window,
                        (double) pythonDelta / window, 100.0 * loopDelta.waitNanos() / window, LEVELS));
                return;
            }
        }
        lastLoop = loopNow;
        lastPython = pythonNow;
        lastAt = now;
    }
}
