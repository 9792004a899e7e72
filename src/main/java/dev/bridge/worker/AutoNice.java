package dev.bridge.worker;

import dev.bridge.ThreadCpu;
import dev.bridge.python.PythonThreads;
import io.netty.channel.EventLoop;
import io.netty.util.concurrent.ScheduledFuture;
import org.slf4j.Logger;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;

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
 * threads ({@link ThreadCpu}). Once the worker served {@link #WARM_REQUESTS} requests, after
 * {@link #WINDOWS_TO_DECIDE} windows in a row in which one stage used at
 * least {@link #BUSIER} times the other's CPU time and waited for a CPU at least {@link #WAIT_SHARE} of the
 * time, that stage is the one to favour:
 * <ul>
 *   <li>the event loop, while the Python threads are at its priority: they go down {@link #LEVELS} levels,
 *       and the master is told, so that the next workers (a reload's, a respawn) start there;
 *   <li>the Python threads, once they are down: the master is told that the next workers should start at
 *       the event loop's priority. These threads stay down: Linux lets a thread give priority up but not
 *       take it back without privilege.
 * </ul>
 *
 * <p>Runs on the worker's event loop (a scheduled task): each window costs a few procfs reads.
 */
final class AutoNice {

    /** Length of one observation window, in milliseconds. */
    static final long WINDOW_MILLIS = 250;
    /** Windows in a row that must find the same stage the bottleneck before anything changes. */
    static final int WINDOWS_TO_DECIDE = 2;
    /**
     * A stage's CPU time over the other's that makes it the busier one. Measured per worker with 2 workers
     * under wrk c64 on 2 CPUs: a light app's event loop used 1.9 times its Python threads' (0.66 CPU against
     * 0.35), Flask hello's Python thread 2.4 times its event loop's (0.63 against 0.26).
     */
    static final double BUSIER = 1.5;
    /** Share of a window the busier stage must have spent runnable but waiting for a CPU (a light app: 17%). */
    static final double WAIT_SHARE = 0.10;
    /** Nice levels the Python threads go down: 2 were not enough, 5 measured best (see the README). */
    static final int LEVELS = 5;
    /**
     * Requests a worker serves before its figures count. A JVM runs its code interpreted at first and
     * compiles the hot parts within the first few thousand requests: until then the event loop costs more
     * than it will (Flask behind nginx, 2 workers: its event loop at 1.6-2.0 times the Python thread's CPU
     * in the first half second of load, 0.6 times a second later).
     */
    static final long WARM_REQUESTS = 10_000;

    private final PythonThreads python;
    private final IntConsumer tellMaster;
    private final Logger log;
    private boolean lowered;
    private long loopThread = -1;
    private List<Long> pythonThreads;
    private ThreadCpu lastLoop;
    private ThreadCpu lastPython;
    private long lastAt;
    private int agreeing;
    private ScheduledFuture<?> task;

    private AutoNice(PythonThreads python, boolean lowered, IntConsumer tellMaster, Logger log) {
        this.python = python;
        this.lowered = lowered;
        this.tellMaster = tellMaster;
        this.log = log;
    }

    /**
     * Starts watching a worker that serves. Any thread; the watching runs on {@code loop}.
     *
     * @param startedAt  nice levels below the event loop the Python threads started at (what the master learnt)
     * @param tellMaster receives the nice levels the next workers' Python threads should start at
     */
    static void start(EventLoop loop, PythonThreads python, int startedAt, IntConsumer tellMaster, Logger log) {
        if (startedAt > 0) {
            log.info("--python-nice auto: the Python threads start " + startedAt
                    + " nice level(s) below the event loop, as an earlier worker found");
        }
        AutoNice watcher = new AutoNice(python, startedAt > 0, tellMaster, log);
        watcher.task = loop.scheduleAtFixedRate(watcher::sample, 0, WINDOW_MILLIS, TimeUnit.MILLISECONDS);
    }

    /**
     * True when, in a window, stage {@code a} was the busier one and waited for a CPU: it used at least
     * {@link #BUSIER} times {@code b}'s CPU time and waited at least {@link #WAIT_SHARE} of the window.
     */
    static boolean bottleneck(long windowNanos, ThreadCpu a, ThreadCpu b) {
        return a.waitNanos() >= WAIT_SHARE * windowNanos && a.runNanos() >= BUSIER * b.runNanos();
    }

    private void sample() {
        ThreadCpu loopNow;
        ThreadCpu pythonNow = new ThreadCpu(0, 0);
        long now = System.nanoTime();
        try {
            if (pythonThreads == null) {
                loopThread = ThreadCpu.currentThreadId();
                pythonThreads = python.nativeIds();
            }
            loopNow = ThreadCpu.of(loopThread);
            for (long tid : pythonThreads) {
                pythonNow = pythonNow.plus(ThreadCpu.of(tid));
            }
        } catch (IOException e) {
            log.info("--python-nice auto: cannot read the threads' CPU figures (" + e.getMessage()
                    + "); the Python threads keep their priority");
            task.cancel(false);
            return;
        }
        if (lastLoop != null && python.served() >= WARM_REQUESTS) {
            ThreadCpu loop = loopNow.minus(lastLoop);
            ThreadCpu py = pythonNow.minus(lastPython);
            long window = now - lastAt;
            // Still at the event loop's priority: is the event loop the bottleneck? Lowered: is Python?
            ThreadCpu watched = lowered ? py : loop;
            ThreadCpu other = lowered ? loop : py;
            agreeing = bottleneck(window, watched, other) ? agreeing + 1 : 0;
            if (agreeing >= WINDOWS_TO_DECIDE) {
                agreeing = 0;
                String figures = String.format("(%.2f CPU against %.2f) and waited for a CPU %.0f%% of the time",
                        (double) watched.runNanos() / window, (double) other.runNanos() / window,
                        100.0 * watched.waitNanos() / window);
                if (!lowered) {
                    lowered = true;
                    python.lowerPriority(LEVELS);
                    tellMaster.accept(LEVELS);
                    log.info("--python-nice auto: the event loop is the busier stage " + figures
                            + ": the Python threads now run " + LEVELS + " nice levels below it");
                } else {
                    task.cancel(false);
                    tellMaster.accept(0);
                    log.info("--python-nice auto: the Python threads are the busier stage " + figures
                            + ": the next workers start at the event loop's priority (these cannot take theirs back)");
                    return;
                }
            }
        }
        lastLoop = loopNow;
        lastPython = pythonNow;
        lastAt = now;
    }
}
