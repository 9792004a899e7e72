package dev.bridge.master;

import dev.bridge.ExitCode;
import dev.bridge.Log;
import dev.bridge.config.Config;
import dev.bridge.config.ConfigException;
import dev.bridge.config.ListenAddress;
import dev.bridge.python.PythonRuntime;
import dev.bridge.stats.StatsServer;
import dev.bridge.stats.WorkerStats;
import dev.bridge.transport.Listeners;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import org.slf4j.Logger;
import sun.misc.Signal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

/**
 * The master: binds every listener once, spawns the workers that inherit them, watches them, respawns the
 * dead, replaces workers new-first (recycling, reload), and turns signals into actions. It runs no Python.
 *
 * <p>Everything happens on the main thread, in {@link #loop}: signal handlers and the control channels
 * (on a Netty event loop) only enqueue events; a tick every {@value #TICK_MILLIS} ms reaps children and
 * checks deadlines.
 *
 * <ul>
 *   <li>SIGTERM: graceful stop (workers serve what waits in the accept queue and what is in flight, within
 *       --graceful-timeout, then exit; the master exits 0).
 *   <li>SIGINT: fast stop. SIGTTIN / SIGTTOU: one worker more / less. SIGUSR1: per-worker stats in the log,
 *       and with --logto, the log file reopened by every process (logrotate).
 *       (SIGQUIT is the JVM's: a thread dump.)
 *   <li>SIGHUP, or a touched --touch-reload file: a reload. A new generation of workers boots while the
 *       old one serves; only when the new workers are ready do the old ones retire (stop accepting,
 *       finish their requests, exit; killed after --reload-mercy). If a new worker fails to boot, the
 *       reload is aborted and the old generation goes on serving. With --reload-mode chain, slots are
 *       replaced one at a time. A reload asked for during another runs once that one ends.
 *   <li>SIGUSR2: an upgrade of the bridge itself: a new master from the jar at the same path takes over the
 *       listening sockets, and this one exits once the new one's workers all serve ({@link Upgrade}).
 * </ul>
 */
public final class Master {

    /** How often the master reaps children and checks deadlines, in milliseconds. */
    static final long TICK_MILLIS = 100;
    /** First and longest wait before respawning a worker that died while booting, in milliseconds. */
    static final long MIN_BACKOFF_MILLIS = 1000;
    static final long MAX_BACKOFF_MILLIS = 60_000;
    /** A ready worker silent for this long (its event loop is stuck) is killed, in seconds. */
    static final long HEARTBEAT_TIMEOUT_SECONDS = 30;
    /** On fast stop, how long workers get before SIGKILL, in seconds. */
    static final long FAST_STOP_SECONDS = 5;
    /** How often resident memory is read for --reload-on-rss, in milliseconds. */
    static final long RSS_CHECK_MILLIS = 1000;
    /**
     * A standby is started only once no worker has become ready for this long, in milliseconds, and nothing
     * boots: a JVM starting up takes CPU from the workers, which new workers need most in their first moments.
     */
    static final long STANDBY_QUIET_MILLIS = 1000;

    private static final int SIGINT = 2;
    private static final int SIGKILL = 9;
    private static final int SIGTERM = 15;

    /** A reload in progress: the workers of the new generation, and (chain mode) the slots still to do. */
    private static final class Reload {
        final int generation;
        final Config.ReloadMode mode;
        final String why;
        final long startedAt = System.nanoTime();
        final Map<Integer, WorkerProcess> workers = new HashMap<>();
        final ArrayDeque<Integer> chainLeft = new ArrayDeque<>();

        Reload(int generation, Config.ReloadMode mode, String why) {
            this.generation = generation;
            this.mode = mode;
            this.why = why;
        }
    }

    private sealed interface Event permits SignalEvent, LineEvent, ClosedEvent, QuestionEvent {}

    /** A question to the stats server, answered through {@code reply} (any thread may run it). */
    private record QuestionEvent(StatsServer.Question question, java.util.function.Consumer<StatsServer.Answer> reply)
            implements Event {}

    private record SignalEvent(String name) implements Event {}

    /** A line from a worker's control channel; by pid, as a standby's record is replaced when it gets a slot. */
    private record LineEvent(long pid, String line) implements Event {}

    private record ClosedEvent(long pid) implements Event {}

    private final Config config;
    /** Probes the chosen Python: at once, or with --uid once the master runs as that user. */
    private final java.util.concurrent.Callable<PythonRuntime> prober;
    private CompletableFuture<PythonRuntime> probe;
    private PythonRuntime python;
    private final Logger log;
    private final Spawner spawner = new Spawner();
    private final MemoryTrim memoryTrim = new MemoryTrim();
    private final Telemetry telemetry;
    /** The --stats server, or null. */
    private StatsServer statsServer;
    /** Every wanted slot has had a serving worker at once: /health/ready may say ready. */
    private boolean fullyServedOnce;
    private ClassDataArchive classData;
    private final BlockingQueue<Event> events = new LinkedBlockingQueue<>();
    /** Reads the workers' control sockets; made once the first worker is spawned (its making takes a while). */
    private EventLoopGroup group;
    /** The listeners' descriptors, in config order; -1 for a TCP listener each worker binds (--reuse-port). */
    private int[] listenFds = new int[0];
    /** Per listener, the descriptor systemd (or the bridge before this one) passed for it, or -1: bind it. */
    private final int[] passedFds;
    /** Tells systemd what the master is doing (Type=notify), when it listens. */
    private final Systemd systemd;
    /** This master's command line, which a new master started by an upgrade gets too. */
    private final List<String> launchArgs;
    /** This master was started by an upgrade: it takes over from its parent once all its workers serve. */
    private final boolean successor;
    /** A new master started by SIGUSR2, until it took over or failed; null when none. */
    private Upgrade upgrade;
    /** The new master took over: this one retires its workers and exits. */
    private boolean handedOver;
    /** The unix socket files this master bound (removed at exit; never another server's). */
    private final List<Path> boundSockets = new ArrayList<>();

    /** Every live worker process, by pid. */
    private final Map<Long, WorkerProcess> workers = new LinkedHashMap<>();
    /** The worker serving each slot (booting or ready). */
    private final Map<Integer, WorkerProcess> slots = new HashMap<>();
    /** A worker booting to take over a slot from the one in {@link #slots} (new first). */
    private final Map<Integer, WorkerProcess> incoming = new HashMap<>();
    /** Standbys (booting or waiting), oldest first. */
    private final List<WorkerProcess> standbys = new ArrayList<>();
    /** Standbys that died in a row, and when the next may be started (System.nanoTime). */
    private int standbyFailures;
    private long standbyNotBefore;
    /** Per slot: consecutive boot failures, and when the next spawn may happen (System.nanoTime). */
    private final Map<Integer, Integer> failures = new HashMap<>();
    private final Map<Integer, Long> spawnNotBefore = new HashMap<>();
    private int wanted;
    private int generation = 1;
    /** --python-nice auto: nice levels below the event loop a new worker's Python threads start at (learnt). */
    private int learntPythonNice;
    private boolean everReady;
    /** Slots whose worker failed to boot before any worker was ever ready: all of them means give up. */
    private final Set<Integer> failedAtStartup = new HashSet<>();
    private int startupExitCode = ExitCode.OK;
    private boolean stopping;
    private long lastRssCheck;
    private Reload reload;
    /** A reload was asked for while one ran: run one more when it ends. */
    private String reloadPending;
    /** How the last reload ended, for the stats. */
    private String lastReload = "none";
    private final Map<Path, Long> touchTimes = new HashMap<>();
    /** --logto: the log file, reopened on SIGUSR1; null for stderr. */
    private LogFile logFile;

    private Master(Config config, List<String> launchArgs, int[] passedFds, Systemd systemd,
                   java.util.concurrent.Callable<PythonRuntime> prober) {
        this.config = config;
        this.launchArgs = List.copyOf(launchArgs);
        this.successor = Upgrade.isSuccessor(System.getenv());
        this.passedFds = passedFds;
        this.systemd = systemd;
        this.prober = prober;
        this.log = Log.get();
        this.wanted = config.workers();
        this.telemetry = new Telemetry(config);
    }

    /**
     * Starts loading what the master needs before it can spawn a worker (its JNI library, Netty's native
     * transport) on other threads, so it overlaps the launcher's own work (the command line, the Python probe).
     * Any thread.
     */
    public static void preload() {
        Spawner.preload();
        // Netty's native transport: loading it is most of the time the master's event loop takes to make.
        CompletableFuture.runAsync(Epoll::isAvailable);
    }

    /** Runs the server until it is stopped; returns the process's exit code. */
    public static int run(Config config, List<String> launchArgs, java.util.concurrent.Callable<PythonRuntime> python)
            throws ConfigException {
        Log.tag("master");
        Systemd.Listeners listeners = Systemd.listeners(config, System.getenv());
        return new Master(listeners.config(), launchArgs, listeners.passedFds(), new Systemd(System.getenv()), python).run();
    }

    private int run() throws ConfigException {
        logFile = LogFile.open(config.observability().logto());
        long ignored = ignoredSignals();
        for (String name : List.of("TERM", "INT", "HUP", "TTIN", "TTOU", "USR1", "USR2")) {
            Signal signal = new Signal(name);
            if ((ignored & (1L << (signal.getNumber() - 1))) != 0) {
                spawner.restoreDefault(signal.getNumber());
                log.info("SIG" + name + " was inherited as ignored (nohup?): handling it anyway");
            }
            Signal.handle(signal, s -> events.add(new SignalEvent(s.getName())));
        }
        try {
            Privileges.Identity identity = Privileges.target(config); // names are checked before anything is bound
            if (identity == null) {
                startProbe(); // the probe (a tenth of a second of Python) overlaps the binding
            }
            List<String> bound = bindListeners();
            startStats(bound);
            becomeUser(identity);
            if (identity != null) {
                startProbe(); // as the user the workers run as: the probe may build and cache what they use
            }
            awaitPython();
            bound.forEach(log::info);
            warnOfOpenUwsgi();
            if (identity == null && ProcStatus.of("self").uid() == 0) { // said once the server can start
                log.warn("running as root, and so is the app: give --uid USER (the listeners are bound first)");
            }
            if (!successor) {
                writePidfile(); // a successor writes it once it took over
            }
            for (String f : config.touchReload()) {
                touchTimes.put(Path.of(f), modified(Path.of(f)));
            }
            systemd.notify("STATUS=starting " + wanted + " worker(s)");
            for (int slot = 1; slot <= wanted; slot++) {
                spawn(slot);
            }
            return loop();
        } catch (IOException | InterruptedException e) {
            log.error("cannot start: " + e.getMessage());
            return ExitCode.WORKER_BOOT_ERROR;
        } finally {
            if (statsServer != null) {
                statsServer.close();
            }
            closeListeners();
            removeFiles();
            if (group != null) {
                group.shutdownGracefully(0, 100, TimeUnit.MILLISECONDS);
            }
        }
    }

    /**
     * A uwsgi listener others can reach, with the default --uwsgi-allow-from (loopback): nobody else may use it,
     * which is safe, but is likely not what was meant; said once at start.
     */
    private void warnOfOpenUwsgi() {
        if (config.args().contains(dev.bridge.config.Settings.UWSGI_ALLOW_FROM.flag())) {
            return;
        }
        for (ListenAddress a : config.listeners()) {
            if (a.protocol() == ListenAddress.Protocol.UWSGI && !a.isUnix()
                    && (a.socketAddress().isUnresolved() || !a.socketAddress().getAddress().isLoopbackAddress())) {
                log.warn(a + " can be reached from other hosts, but only loopback peers may speak uwsgi to it (the "
                        + "protocol lets a peer say REMOTE_ADDR and every header): give --uwsgi-allow-from with your "
                        + "nginx's address, or listen on 127.0.0.1 or a unix socket");
            }
        }
    }

    /** What systemctl status shows while the master serves. */
    private String serving() {
        return "serving: " + slots.size() + " worker(s) of generation " + generation;
    }

    /** --uid/--gid: from here on the master, and all it spawns, run as that user. */
    private void becomeUser(Privileges.Identity identity) throws IOException {
        if (identity != null) {
            Privileges.drop(identity);
            log.info("running as uid " + identity.uid() + " gid " + identity.gid()
                    + (identity.user() != null ? " (" + identity.user() + ")" : ""));
        }
    }

    private void startProbe() {
        probe = CompletableFuture.supplyAsync(() -> {
            try {
                return prober.call();
            } catch (Exception e) {
                throw new CompletionException(e);
            }
        });
    }

    /** Waits for the Python probe: what the workers' command line needs. */
    private void awaitPython() throws ConfigException, InterruptedException {
        try {
            python = probe.get();
        } catch (ExecutionException e) {
            Throwable cause = e.getCause() instanceof CompletionException c ? c.getCause() : e.getCause();
            if (cause instanceof ConfigException ce) {
                throw ce;
            }
            throw new IllegalStateException("the Python probe failed", e.getCause());
        }
        classData = ClassDataArchive.forWorkers(config, python, WorkerCommand.ownJar());
    }

    /**
     * Binds every listener, except TCP ones under --reuse-port (each worker binds those); -1 marks them.
     * Returns the lines to log once the Python probe said the server can start.
     */
    private List<String> bindListeners() throws IOException, InterruptedException, ConfigException {
        Privileges.Owner socketOwner = Privileges.socketOwner(config);
        List<String> lines = new ArrayList<>();
        listenFds = new int[config.listeners().size()];
        for (int i = 0; i < listenFds.length; i++) {
            ListenAddress address = config.listeners().get(i);
            if (passedFds[i] >= 0) {
                listenFds[i] = passedFds[i];
                if (successor && address.isUnix()) {
                    boundSockets.add(Path.of(address.unixPath())); // the old master left its socket files to us
                }
                lines.add("listening on " + address + " (passed at descriptor " + passedFds[i] + ")");
                continue;
            }
            if (config.reusePort() && !address.isUnix()) {
                listenFds[i] = -1;
                lines.add("--reuse-port: each worker binds its own socket for " + address);
                continue;
            }
            int fd;
            String where;
            if (address.isUnix()) {
                try {
                    Listeners.removeStaleSocket(Path.of(address.unixPath()));
                } catch (IOException e) {
                    throw new IOException("cannot listen on " + address + ": " + e.getMessage(), e);
                }
                fd = Posix.listenUnix(address.unixPath().getBytes(StandardCharsets.UTF_8), config.backlog());
                if (fd >= 0) {
                    boundSockets.add(Path.of(address.unixPath()));
                    Listeners.chmod(Path.of(address.unixPath()), config.chmodSocket());
                    if (socketOwner != null) {
                        Privileges.chown(Path.of(address.unixPath()), socketOwner);
                    }
                }
                where = address.unixPath();
            } else {
                InetSocketAddress a = address.socketAddress();
                if (a.isUnresolved()) {
                    throw new IOException("cannot listen on " + address + ": unknown host " + address.host());
                }
                fd = Posix.listenInet(a.getAddress().getAddress(), a.getPort(), config.backlog());
                where = fd < 0 ? "" : a.getAddress().getHostAddress() + ":" + Posix.localPort(fd);
            }
            if (fd < 0) {
                throw new IOException("cannot listen on " + address + ": " + Posix.strerror(-fd));
            }
            listenFds[i] = fd;
            String scheme = address.protocol() == ListenAddress.Protocol.UWSGI ? "uwsgi://" : "http://";
            lines.add("listening on " + scheme + where + " (backlog " + config.backlog() + ")");
        }
        return lines;
    }

    private int loop() throws InterruptedException {
        while (true) {
            Event e = events.poll(TICK_MILLIS, TimeUnit.MILLISECONDS);
            if (e != null) {
                handle(e);
            }
            reap();
            checkUpgrade();
            if (startupExitCode != ExitCode.OK) {
                stopAll(false);
                awaitAllGone();
                return startupExitCode;
            }
            checkDeadlines();
            checkTouchReload();
            memoryTrim.tick();
            if (!fullyServedOnce && slots.size() >= wanted && slots.values().stream().allMatch(w -> w.serving)) {
                fullyServedOnce = true;
                if (successor) {
                    takeOver();
                } else {
                    systemd.notify("READY=1", "STATUS=" + serving());
                }
            }
            telemetry.tick(listenFds, this::snapshot);
            if (stopping) {
                if (workers.isEmpty()) {
                    log.info("stopped");
                    return ExitCode.OK;
                }
            } else {
                manageWorkers();
            }
        }
    }

    private void handle(Event e) {
        if (e instanceof SignalEvent s) {
            handleSignal(s.name());
        } else if (e instanceof QuestionEvent q) {
            answer(q);
        } else if (e instanceof LineEvent l && l.line().startsWith(WorkerStats.PREFIX + " ")) {
            telemetry.statsLine(l.pid(), workers.get(l.pid()), l.line()); // also from a worker reaped meanwhile
        } else if (e instanceof LineEvent l && upgrade != null && l.pid() == upgrade.pid) {
            if (l.line().equals(Upgrade.UPGRADED) && !handedOver) {
                handOver();
            }
        } else if (e instanceof LineEvent l && workers.containsKey(l.pid())) {
            handleLine(workers.get(l.pid()), l.line());
        } // a ClosedEvent needs nothing: the worker's exit is reaped on this tick
    }

    /** Starts the --stats server (before Python is probed, so a bad address is reported at once). */
    private void startStats(List<String> bound) throws IOException {
        var o = config.observability();
        if (o.stats() == null) {
            return;
        }
        statsServer = StatsServer.start(group(), o.stats(), o.statsHttp(), (q, reply) -> events.add(new QuestionEvent(q, reply)));
        bound.add("stats on " + (o.statsHttp() ? "http://" : "") + statsServer.where()
                + (o.statsHttp() ? " (/, /metrics, /health/live, /health/ready)" : " (uWSGI's JSON to each connection)"));
    }

    private void answer(QuestionEvent q) {
        switch (q.question()) {
            case LIVE -> q.reply().accept(new StatsServer.Answer(200, StatsServer.TEXT_TYPE,
                    "alive: master " + ProcessHandle.current().pid() + ", generation " + generation + "\n"));
            case READY -> {
                String why = notReady();
                q.reply().accept(why == null ? new StatsServer.Answer(200, StatsServer.TEXT_TYPE, "ready\n")
                        : new StatsServer.Answer(503, StatsServer.TEXT_TYPE, "not ready: " + why + "\n"));
            }
            default -> telemetry.ask(q.question(), q.reply(), workers.values().stream().filter(w -> !w.isStandby()).toList());
        }
    }

    /**
     * Why /health/ready says 503, or null: ready once every wanted worker has served at the same time, and
     * from then on while some worker serves (one crashed worker being respawned leaves the others serving);
     * not ready from the moment a stop begins, so load balancers stop routing before the drain ends.
     */
    private String notReady() {
        if (stopping) {
            return "stopping";
        }
        long serving = slots.values().stream().filter(w -> w.serving).count();
        if (!fullyServedOnce) {
            return "starting: " + serving + " of " + wanted + " workers serving";
        }
        return serving == 0 ? "no worker is serving" : null;
    }

    private dev.bridge.stats.Snapshot snapshot() {
        String stage = reload == null ? null : "to generation " + reload.generation + ": "
                + reload.workers.values().stream().filter(w -> w.state == WorkerProcess.State.READY).count() + " of "
                + wanted + " new workers ready (" + reload.mode.name().toLowerCase() + " mode)";
        int nice = config.pythonNice() == Config.PYTHON_NICE_AUTO ? learntPythonNice : config.pythonNice();
        return telemetry.snapshot(workers.values(), listenFds, generation, stage, standbys.size(), nice, notReady());
    }

    private void handleSignal(String name) {
        switch (name) {
            case "TERM" -> {
                if (upgrade != null && !handedOver) {
                    spawner.kill(upgrade.pid, SIGTERM); // the new master is not serving yet: it goes too
                }
                if (!stopping) {
                    log.info("SIGTERM: graceful stop; in-flight requests get " + config.gracefulTimeout() + " s");
                    stopAll(true);
                }
            }
            case "INT" -> {
                log.info("SIGINT: fast stop");
                stopAll(false);
            }
            case "HUP" -> requestReload("SIGHUP");
            case "TTIN" -> {
                wanted++;
                log.info("SIGTTIN: " + wanted + " worker(s) wanted");
            }
            case "TTOU" -> {
                if (wanted > 1) {
                    WorkerProcess last = slots.get(wanted);
                    wanted--;
                    log.info("SIGTTOU: " + wanted + " worker(s) wanted");
                    if (last != null) {
                        slots.remove(last.slot);
                        retire(last);
                    }
                    WorkerProcess booting = incoming.remove(wanted + 1);
                    if (booting != null) {
                        kill(booting, SIGKILL);
                    }
                }
            }
            case "USR1" -> {
                reopenLog();
                logStats();
            }
            case "USR2" -> startUpgrade();
            default -> { }
        }
    }

    private void handleLine(WorkerProcess w, String line) {
        if (line.equals(Control.STANDBY) && w.state == WorkerProcess.State.STANDBY_BOOTING) {
            w.state = WorkerProcess.State.STANDBY;
            standbyFailures = 0;
            log.info(w.name() + " ready in " + (System.nanoTime() - w.spawnedAt) / 1_000_000 + " ms");
        } else if (line.equals(Control.READY)) {
            onReady(w);
        } else if (line.startsWith(Control.HEARTBEAT + " ")) {
            String[] parts = line.split(" ", 4);
            try {
                w.served = Long.parseLong(parts[1]);
                w.busySince = Long.parseLong(parts[2]);
                w.busySummary = parts.length > 3 ? parts[3] : null;
                w.lastHeartbeat = System.nanoTime();
            } catch (RuntimeException bad) {
                log.warn(w.name() + " sent a bad heartbeat: " + line);
            }
        } else if (line.startsWith(Control.NICE + " ")) {
            learnNice(w, line);
        }
    }

    /**
     * --python-nice auto: a worker found at which nice level below its event loop its Python threads belong;
     * the workers started from now on (a reload's, a respawn, a recycling) start there rather than
     * undecided, so a reload's new workers do not spend their first half second finding it out again.
     */
    private void learnNice(WorkerProcess w, String line) {
        int levels;
        try {
            levels = Integer.parseInt(line.substring(Control.NICE.length() + 1).trim());
        } catch (NumberFormatException bad) {
            log.warn(w.name() + " sent a bad NICE line: " + line);
            return;
        }
        if (levels != learntPythonNice && levels >= 0 && levels <= Config.MAX_NICE) {
            learntPythonNice = levels;
            log.info("--python-nice auto: the next workers' Python threads start " + levels
                    + " nice level(s) below their event loop (as " + w.name() + " found)");
        }
    }

    private void onReady(WorkerProcess w) {
        if (w.state != WorkerProcess.State.BOOTING) {
            return;
        }
        w.state = WorkerProcess.State.READY;
        w.readyAt = System.nanoTime();
        w.lastHeartbeat = w.readyAt;
        if (w.generation > 1 || incoming.get(w.slot) == w) { // a reload or recycling, under load: not start-up
            standbyNotBefore = Math.max(standbyNotBefore, w.readyAt + TimeUnit.MILLISECONDS.toNanos(STANDBY_QUIET_MILLIS));
        }
        everReady = true;
        memoryTrim.workersChanged();
        failures.remove(w.slot);
        log.info(w.name() + " ready (generation " + w.generation + ") in "
                + (w.readyAt - w.spawnedAt) / 1_000_000 + " ms");
        boolean ofReload = reload != null && reload.workers.get(w.slot) == w;
        if (ofReload && reload.mode == Config.ReloadMode.ALL) {
            // A new generation serves only once all of it is ready: no mixed versions, and an aborted
            // reload never served a request.
            if (reload.workers.values().stream().allMatch(r -> r.state == WorkerProcess.State.READY)) {
                for (WorkerProcess r : reload.workers.values()) {
                    r.send(Control.SERVE);
                    r.serving = true;
                    takeOver(r);
                }
                finishReload();
            }
            return;
        }
        w.send(Control.SERVE);
        w.serving = true;
        takeOver(w);
        if (ofReload) {
            nextInChain();
        }
    }

    /** A ready worker that was booting to replace its slot's worker takes over; the old one retires. */
    private void takeOver(WorkerProcess w) {
        if (incoming.get(w.slot) == w) {
            incoming.remove(w.slot);
            WorkerProcess old = slots.put(w.slot, w);
            if (old != null) {
                retire(old);
            }
        }
    }

    /**
     * Starts the worker of a slot, as its server or, if the slot has one, as its replacement: a standby
     * becomes it if there is one, else a new JVM is spawned.
     */
    private void spawn(int slot) throws IOException {
        long jitter = config.maxRequestsJitter() > 0 ? ThreadLocalRandom.current().nextLong(config.maxRequestsJitter() + 1) : 0;
        long maxRequests = config.maxRequests() > 0 ? config.maxRequests() + jitter : 0;
        // A standby still booting is taken too: it is ahead of a new JVM, and reads BOOT once booted.
        WorkerProcess standby = standbys.stream().filter(s -> !s.killed && s.control != null && s.control.isActive())
                .findFirst().orElse(null);
        telemetry.spawned(slot);
        WorkerProcess w;
        if (standby != null) {
            standbys.remove(standby);
            w = new WorkerProcess(slot, generation, standby.pid, maxRequests);
            w.control = standby.control;
            workers.put(w.pid, w);
            w.send(Control.boot(slot, generation, learntPythonNice));
            log.info(w.name() + ": " + standby.name() + " becomes worker " + slot + " (generation " + generation + ")");
        } else {
            w = launch(slot, maxRequests);
        }
        if (slots.containsKey(slot)) {
            incoming.put(slot, w);
        } else {
            slots.put(slot, w);
        }
    }

    /** Spawns a worker JVM for a slot, or a standby for {@link WorkerProcess#STANDBY_SLOT}. */
    private WorkerProcess launch(int slot, long maxRequests) throws IOException {
        int[] pair = spawner.controlPair();
        List<Integer> inherited = new ArrayList<>();
        List<String> fds = new ArrayList<>(); // per listener: its descriptor in the worker, or -1
        for (int fd : listenFds) {
            fds.add(fd < 0 ? "-1" : Integer.toString(Spawner.FIRST_FD + inherited.size()));
            if (fd >= 0) {
                inherited.add(fd);
            }
        }
        inherited.add(pair[1]);
        int[] inherit = inherited.stream().mapToInt(Integer::intValue).toArray();
        String id = slot == WorkerProcess.STANDBY_SLOT ? Control.STANDBY_ID : Integer.toString(slot);
        Map<String, String> env = new LinkedHashMap<>(System.getenv());
        Systemd.MASTER_ONLY.forEach(env::remove);
        Upgrade.MASTER_ONLY.forEach(env::remove);
        env.putAll(config.env());
        env.put(Control.ENV_WORKER_ID, id);
        env.put(Control.ENV_GENERATION, Integer.toString(generation));
        env.put(Control.ENV_PYTHON_NICE, Integer.toString(learntPythonNice));
        env.put(Control.ENV_LISTEN_FDS, String.join(",", fds));
        env.put(Control.ENV_CONTROL_FD, Integer.toString(Spawner.FIRST_FD + inherit.length - 1));
        long pid;
        try {
            pid = spawner.spawn(WorkerCommand.argv(config, python, id, classData.flags()), env, inherit);
        } finally {
            spawner.close(pair[1]);
        }
        WorkerProcess w = new WorkerProcess(slot, slot == WorkerProcess.STANDBY_SLOT ? 0 : generation, pid, maxRequests);
        w.control = openControl(pid, pair[0]);
        workers.put(pid, w);
        return w;
    }

    /** Starts a standby when fewer than --standby are up, nothing boots, and workers had a quiet moment. */
    private void replenishStandbys(long now) {
        if (standbys.size() >= config.standby() || reload != null || !everReady || now - standbyNotBefore < 0
                || workers.values().stream().anyMatch(w -> w.state == WorkerProcess.State.BOOTING
                        || w.state == WorkerProcess.State.STANDBY_BOOTING)) {
            return;
        }
        try {
            standbys.add(launch(WorkerProcess.STANDBY_SLOT, 0));
        } catch (IOException e) {
            log.error("cannot spawn a standby: " + e.getMessage());
            standbyNotBefore = now + TimeUnit.MILLISECONDS.toNanos(MAX_BACKOFF_MILLIS);
        }
    }

    /** Closes the master's own descriptors of the listeners (the sockets live on in the workers). */
    private void closeListeners() {
        for (int i = 0; i < listenFds.length; i++) {
            if (listenFds[i] >= 0) {
                Posix.close(listenFds[i]);
                listenFds[i] = -1;
            }
        }
    }

    /** The master's event loop (control channels, the stats server), made at first use: its making takes a while. */
    private EventLoopGroup group() {
        if (group == null) {
            group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        }
        return group;
    }

    private Channel openControl(long pid, int fd) {
        EventLoopGroup group = group();
        Channel ch = Control.channel(fd, line -> events.add(new LineEvent(pid, line)), () -> events.add(new ClosedEvent(pid)));
        group.register(ch);
        return ch;
    }

    /**
     * SIGUSR2: starts a new master (see {@link Upgrade}); this one serves until it takes over. The stats server
     * is closed first, so the new master can bind its address.
     */
    private void startUpgrade() {
        String busy = stopping ? "stopping" : upgrade != null ? "one is running (new master pid " + upgrade.pid + ")"
                : successor && !fullyServedOnce ? "this master has not taken over yet"
                : reload != null ? "a reload is running; send it again when the reload is done" : null;
        if (busy != null) {
            log.warn("SIGUSR2: no upgrade now: " + busy);
            return;
        }
        if (statsServer != null) {
            statsServer.close();
            statsServer = null;
        }
        try {
            int[] pair = spawner.controlPair();
            try {
                upgrade = Upgrade.start(spawner, launchArgs, config.listeners(), listenFds, pair[1]);
            } finally {
                spawner.close(pair[1]);
            }
            long pid = upgrade.pid;
            upgrade.control = Control.channel(pair[0], line -> events.add(new LineEvent(pid, line)), () -> { });
            group().register(upgrade.control);
            log.info("SIGUSR2: upgrade: started a new master (pid " + pid + ") from " + WorkerCommand.ownJar()
                    + "; this one serves until all of its workers serve");
        } catch (IOException e) {
            log.error("SIGUSR2: cannot start a new master: " + e.getMessage() + "; this one goes on serving");
            upgrade = null;
            restartStats();
        }
    }

    /** The new master took over: this one's workers retire as a reload's old generation does, then it exits. */
    private void handOver() {
        handedOver = true;
        log.info("upgrade: the new master (pid " + upgrade.pid + ") serves; retiring this master's workers");
        stopping = true;
        closeListeners();
        boundSockets.clear(); // the socket files are the new master's now
        for (WorkerProcess w : List.copyOf(workers.values())) {
            if (w.isStandby()) {
                kill(w, SIGKILL);
            } else {
                retire(w);
            }
        }
    }

    /** A new master whose upgrade failed (it exited, or took too long): this one goes on as before. */
    private void checkUpgrade() {
        if (upgrade == null || handedOver) {
            return;
        }
        int status = spawner.exitStatus(upgrade.pid);
        if (status < 0 && System.nanoTime() - upgrade.deadline > 0) {
            log.error("upgrade: the new master (pid " + upgrade.pid + ") did not take over in " + Upgrade.TAKEOVER_SECONDS
                    + " s: killing it");
            spawner.kill(upgrade.pid, SIGKILL);
            return; // reaped at the next tick
        }
        if (status >= 0) {
            log.error("upgrade failed: the new master (pid " + upgrade.pid + ") " + exitText(status)
                    + " before taking over (its log is above); this master goes on serving");
            upgrade.control.close();
            upgrade = null;
            restartStats();
        }
    }

    /** In a new master started by an upgrade: all its workers serve, so it takes over from the old one. */
    private void takeOver() {
        try {
            writePidfile();
        } catch (IOException e) {
            log.warn("cannot write the pid file: " + e.getMessage());
        }
        systemd.notify("MAINPID=" + ProcessHandle.current().pid(), "READY=1", "STATUS=" + serving());
        String fd = System.getenv(Upgrade.ENV_FD);
        if (fd != null) {
            Channel old = Control.channel(Integer.parseInt(fd), line -> { }, () -> { });
            group().register(old).addListener(f -> old.writeAndFlush(Upgrade.UPGRADED + "\n"));
        }
        log.info("upgrade: all workers serve; the old master (pid " + System.getenv(Upgrade.ENV_FROM) + ") retires its own");
    }

    private void restartStats() {
        List<String> lines = new ArrayList<>();
        try {
            startStats(lines);
            lines.forEach(log::info);
        } catch (IOException e) {
            log.error("cannot serve the stats again: " + e.getMessage());
        }
    }

    /** Collects every worker that exited, and decides what its death means. */
    private void reap() {
        for (WorkerProcess w : List.copyOf(workers.values())) {
            int status = spawner.exitStatus(w.pid);
            if (status >= 0) {
                workers.remove(w.pid);
                if (!w.isStandby()) {
                    telemetry.exited(w);
                }
                classData.workerExited();
                memoryTrim.workersChanged();
                if (w.control != null) {
                    w.control.close();
                }
                onExit(w, status);
            }
        }
    }

    /** A wait status in words: "exited with status N" or "was killed by signal N". */
    private static String exitText(int status) {
        int signal = status & 0x7f;
        return signal != 0 ? "was killed by signal " + signal : "exited with status " + ((status >> 8) & 0xff);
    }

    private void onExit(WorkerProcess w, int status) {
        int signal = status & 0x7f;
        int code = (status >> 8) & 0xff;
        String how = exitText(status);
        if (w.isStandby()) {
            standbys.remove(w);
            if (stopping) {
                log.info(w.name() + " " + how);
            } else {
                standbyFailures++;
                long backoff = backoffMillis(standbyFailures);
                standbyNotBefore = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff);
                log.error(w.name() + " " + how + " unexpectedly (" + standbyFailures + " time(s) in a row): next standby in "
                        + backoff / 1000.0 + " s");
            }
            return;
        }
        boolean serving = slots.get(w.slot) == w;
        boolean replacement = incoming.get(w.slot) == w;
        if (w.abandoned) {
            log.info(w.name() + " " + how + " (no longer wanted)");
            return;
        }
        if (!serving && !replacement) {
            log.info(w.name() + " " + how + (w.state == WorkerProcess.State.RETIRING ? " (retired)" : ""));
            return;
        }
        if (stopping) {
            log.info(w.name() + " " + how);
            slots.remove(w.slot, w);
            incoming.remove(w.slot, w);
            return;
        }
        if (replacement || w.state == WorkerProcess.State.BOOTING) {
            // A replacement that dies before taking over counts as a failed boot, even if it was ready.
            onBootFailure(w, how, signal == 0 ? code : ExitCode.WORKER_BOOT_ERROR, replacement);
            return;
        }
        log.error(w.name() + " " + how + " unexpectedly: respawning it");
        telemetry.respawned();
        slots.remove(w.slot);
        WorkerProcess next = incoming.remove(w.slot);
        if (next != null) {
            slots.put(w.slot, next); // its replacement was already booting
        }
    }

    private void onBootFailure(WorkerProcess w, String how, int code, boolean replacement) {
        if (reload != null && reload.workers.get(w.slot) == w) {
            abortReload(w, how); // a failed deploy is not retried: the next reload is
            if (replacement) {
                incoming.remove(w.slot);
                return;
            }
        }
        if (replacement) {
            incoming.remove(w.slot);
            WorkerProcess current = slots.get(w.slot);
            if (current != null) {
                current.replacing = false;
            }
        } else {
            slots.remove(w.slot);
        }
        int n = failures.merge(w.slot, 1, Integer::sum);
        if (!everReady && !replacement) {
            failedAtStartup.add(w.slot);
            if (failedAtStartup.size() >= wanted) {
                log.error("no worker could start (the last " + how + "): giving up; see the errors above");
                startupExitCode = code == ExitCode.OK ? ExitCode.WORKER_BOOT_ERROR : code;
                return;
            }
        }
        long backoff = backoffMillis(n);
        spawnNotBefore.put(w.slot, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(backoff));
        log.error(w.name() + " " + how + " while booting (" + n + " time(s) in a row): next try in "
                + backoff / 1000.0 + " s" + (replacement ? "; the current worker goes on serving" : ""));
    }

    /** The wait after {@code failures} boot failures in a row, in milliseconds: 1, 2, 4 ... up to 60 s. */
    private static long backoffMillis(int failures) {
        return Math.min(MAX_BACKOFF_MILLIS, MIN_BACKOFF_MILLIS << Math.min(failures - 1, 16));
    }

    /** Spawns what is missing; replaces (new first) workers that reached a recycling limit. */
    private void manageWorkers() {
        long now = System.nanoTime();
        for (int slot = 1; slot <= wanted; slot++) {
            if (!slots.containsKey(slot) && spawnNotBefore.getOrDefault(slot, 0L) - now <= 0) {
                trySpawn(slot);
            }
        }
        boolean checkRss = config.reloadOnRss() > 0 && now - lastRssCheck > TimeUnit.MILLISECONDS.toNanos(RSS_CHECK_MILLIS);
        if (checkRss) {
            lastRssCheck = now;
        }
        for (WorkerProcess w : List.copyOf(slots.values())) {
            if (w.state != WorkerProcess.State.READY || w.replacing || reload != null) {
                continue;
            }
            String why = null;
            if (w.maxRequests > 0 && w.served >= w.maxRequests) {
                why = "served " + w.served + " requests (--max-requests)";
            } else if (config.maxWorkerLifetime() > 0 && now - w.readyAt > TimeUnit.SECONDS.toNanos(config.maxWorkerLifetime())) {
                why = "lived " + config.maxWorkerLifetime() + " s (--max-worker-lifetime)";
            } else if (checkRss) {
                long rssMb = residentMegabytes(w.pid);
                if (rssMb > config.reloadOnRss()) {
                    why = "uses " + rssMb + " MiB resident (--reload-on-rss " + config.reloadOnRss() + ")";
                }
            }
            if (why != null && spawnNotBefore.getOrDefault(w.slot, 0L) - now <= 0) {
                log.info(w.name() + " " + why + ": starting its replacement");
                w.replacing = true;
                trySpawn(w.slot);
            }
        }
        replenishStandbys(now);
    }

    private void trySpawn(int slot) {
        try {
            spawn(slot);
        } catch (IOException e) {
            log.error("cannot spawn worker " + slot + ": " + e.getMessage());
            spawnNotBefore.put(slot, System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(MAX_BACKOFF_MILLIS));
        }
    }

    private void requestReload(String why) {
        if (stopping) {
            return;
        }
        if (reload != null) {
            log.info(why + ": a reload (to generation " + reload.generation + ") is running; another follows it");
            reloadPending = why;
            return;
        }
        generation++;
        reload = new Reload(generation, config.reloadMode(), why);
        writeReloadStatus("running", why);
        systemd.notify("RELOADING=1", "MONOTONIC_USEC=" + System.nanoTime() / 1000,
                "STATUS=reloading to generation " + generation + " (" + why + ")");
        log.info(why + ": reload to generation " + generation + " (" + config.reloadMode().name().toLowerCase()
                + " mode); the current workers serve until the new ones are ready");
        for (WorkerProcess booting : List.copyOf(incoming.values())) {
            abandon(booting); // a recycling replacement with the old code
        }
        for (WorkerProcess w : slots.values()) {
            w.replacing = true;
        }
        for (int slot = 1; slot <= wanted; slot++) {
            reload.chainLeft.add(slot);
        }
        if (reload.mode == Config.ReloadMode.ALL) {
            while (!reload.chainLeft.isEmpty()) {
                spawnForReload(reload.chainLeft.poll());
            }
        } else {
            nextInChain();
        }
    }

    private void spawnForReload(int slot) {
        trySpawn(slot);
        WorkerProcess w = incoming.containsKey(slot) ? incoming.get(slot) : slots.get(slot);
        if (w != null && w.generation == reload.generation) {
            reload.workers.put(slot, w);
        }
    }

    private void nextInChain() {
        Integer slot = reload.chainLeft.poll();
        while (slot != null && slot > wanted) {
            slot = reload.chainLeft.poll();
        }
        if (slot == null) {
            finishReload();
        } else {
            spawnForReload(slot);
        }
    }

    private void finishReload() {
        lastReload = "generation " + reload.generation + " ready in " + (System.nanoTime() - reload.startedAt) / 1_000_000 + " ms";
        log.info("reload done: " + lastReload + " (" + reload.why + ")");
        telemetry.reloadSucceeded((System.nanoTime() - reload.startedAt) / 1_000_000);
        writeReloadStatus("ok", lastReload);
        systemd.notify("READY=1", "STATUS=" + serving());
        endReload();
    }

    /** A worker of the new generation failed to boot: the reload stops, the old workers go on serving. */
    private void abortReload(WorkerProcess failed, String how) {
        lastReload = "generation " + reload.generation + " FAILED: " + failed.name() + " " + how;
        log.error("reload aborted: " + failed.name() + " of generation " + reload.generation + " " + how
                + " while booting (its error is above); the workers already serving go on serving");
        for (WorkerProcess w : reload.workers.values()) {
            if (w != failed && incoming.get(w.slot) == w) {
                abandon(w);
            }
        }
        writeReloadStatus("failed", lastReload);
        systemd.notify("READY=1", "STATUS=reload to generation " + reload.generation + " failed; " + serving());
        telemetry.reloadFailed();
        endReload();
    }

    private void endReload() {
        reload = null;
        for (WorkerProcess w : slots.values()) {
            w.replacing = false;
        }
        if (reloadPending != null) {
            String why = reloadPending;
            reloadPending = null;
            requestReload(why + " (deferred)");
        }
    }

    /** Kills a booting replacement that is no longer wanted; its slot's worker goes on. */
    private void abandon(WorkerProcess w) {
        incoming.remove(w.slot, w);
        w.abandoned = true;
        kill(w, SIGKILL);
    }

    private void checkTouchReload() {
        for (Map.Entry<Path, Long> e : touchTimes.entrySet()) {
            long now = modified(e.getKey());
            if (now != e.getValue()) {
                e.setValue(now);
                requestReload(e.getKey() + " touched");
            }
        }
    }

    private static long modified(Path p) {
        try {
            return Files.getLastModifiedTime(p).toMillis();
        } catch (IOException e) {
            return -1;
        }
    }

    private void checkDeadlines() {
        long now = System.nanoTime();
        long wall = System.currentTimeMillis();
        for (WorkerProcess w : List.copyOf(workers.values())) {
            if (w.killed) {
                continue; // reaped on a coming tick
            }
            if (w.killAt != 0 && now - w.killAt > 0) {
                log.warn(w.name() + " still running at its deadline: killing it");
                kill(w, SIGKILL);
            } else if ((w.state == WorkerProcess.State.BOOTING || w.state == WorkerProcess.State.STANDBY_BOOTING)
                    && now - w.spawnedAt > TimeUnit.SECONDS.toNanos(config.bootTimeout())) {
                log.error(w.name() + " not ready after " + config.bootTimeout() + " s (--boot-timeout): killing it");
                kill(w, SIGKILL);
            } else if (w.state == WorkerProcess.State.READY) {
                if (config.harakiri() > 0 && w.busySince != 0 && wall - w.busySince > config.harakiri() * 1000L) {
                    log.error("harakiri: " + w.name() + " has run " + (wall - w.busySince) / 1000 + " s on "
                            + w.busySummary + " (--harakiri " + config.harakiri() + "): killing it");
                    telemetry.harakiri(w.slot);
                    kill(w, SIGKILL);
                } else if (now - w.lastHeartbeat > TimeUnit.SECONDS.toNanos(HEARTBEAT_TIMEOUT_SECONDS)) {
                    log.error(w.name() + " silent for " + HEARTBEAT_TIMEOUT_SECONDS + " s: killing it");
                    kill(w, SIGKILL);
                }
            }
        }
    }

    private void retire(WorkerProcess w) {
        w.state = WorkerProcess.State.RETIRING;
        w.killAt = System.nanoTime() + TimeUnit.SECONDS.toNanos(config.reloadMercy());
        w.send(Control.RETIRE);
    }

    private void stopAll(boolean graceful) {
        stopping = true;
        systemd.notify("STOPPING=1", "STATUS=stopping: " + (graceful ? "in-flight requests get " + config.gracefulTimeout()
                + " s" : "fast"));
        closeListeners(); // the workers hold their own copies until they have emptied the queue
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(graceful ? config.gracefulTimeout() + 1 : FAST_STOP_SECONDS);
        for (WorkerProcess w : workers.values()) {
            w.state = WorkerProcess.State.STOPPING;
            if (w.killAt == 0 || w.killAt - deadline > 0) {
                w.killAt = deadline;
            }
            if (graceful) {
                w.send(Control.STOP);
            } else {
                kill(w, SIGINT);
            }
        }
    }

    private void awaitAllGone() throws InterruptedException {
        while (!workers.isEmpty()) {
            Thread.sleep(TICK_MILLIS);
            reap();
            checkDeadlines();
        }
    }

    private void kill(WorkerProcess w, int signal) {
        w.killed |= signal == SIGKILL;
        spawner.kill(w.pid, signal);
    }

    /** --logto: the log file anew, in the master and every worker (logrotate renamed it). */
    private void reopenLog() {
        if (logFile != null) {
            logFile.reopen(log);
            for (WorkerProcess w : workers.values()) {
                w.send(logFile.command());
            }
        }
    }

    private void logStats() {
        long now = System.nanoTime();
        long wall = System.currentTimeMillis();
        log.info("SIGUSR1: " + workers.size() + " worker process(es), " + wanted + " wanted, generation " + generation
                + "; last reload: " + lastReload + (reload != null ? "; reloading to generation " + reload.generation : ""));
        for (WorkerProcess w : workers.values()) {
            String busy = w.busySince == 0 ? "idle" : "busy " + (wall - w.busySince) + " ms on " + w.busySummary;
            log.info("  " + w.name() + " generation " + w.generation + ", " + w.state.name().toLowerCase()
                    + ", up " + (now - w.spawnedAt) / 1_000_000_000 + " s, " + w.served + " request(s), " + busy);
        }
    }

    /** The signals this process ignores, as the bit mask of /proc/self/status (bit n-1 is signal n). */
    private static long ignoredSignals() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("SigIgn:")) {
                    return Long.parseUnsignedLong(line.substring(7).trim(), 16);
                }
            }
        } catch (IOException | NumberFormatException ignored) {
            // not Linux: nothing known
        }
        return 0;
    }

    private static long residentMegabytes(long pid) {
        return ProcStatus.of(pid).rssBytes() >> 20;
    }

    /**
     * Beside the pidfile, {@code FILE.reload} tells deploy scripts how the latest reload went, one line:
     * {@code generation state startedEpochMillis message}, state being running, ok or failed
     * (read by {@link ReloadCommand}).
     */
    private void writeReloadStatus(String state, String message) {
        if (config.pidfile() == null) {
            return;
        }
        long started = System.currentTimeMillis() - (System.nanoTime() - reload.startedAt) / 1_000_000;
        try {
            Path tmp = Path.of(config.pidfile() + ".reload.tmp");
            Files.writeString(tmp, reload.generation + " " + state + " " + started + " " + message + "\n");
            Files.move(tmp, Path.of(config.pidfile() + ".reload"), StandardCopyOption.REPLACE_EXISTING,
                    StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            log.warn("cannot write the reload status: " + e.getMessage());
        }
    }

    private void writePidfile() throws IOException {
        if (config.pidfile() != null) {
            Files.writeString(Path.of(config.pidfile()), ProcessHandle.current().pid() + "\n");
        }
    }

    private void removeFiles() {
        try {
            Path pidfile = config.pidfile() == null ? null : Path.of(config.pidfile());
            if (pidfile != null && Files.exists(pidfile)
                    && Files.readString(pidfile).strip().equals(Long.toString(ProcessHandle.current().pid()))) {
                Files.deleteIfExists(pidfile); // unless a new master (upgrade) wrote its own
                Files.deleteIfExists(Path.of(config.pidfile() + ".reload"));
            }
            for (Path socket : boundSockets) {
                Files.deleteIfExists(socket);
            }
        } catch (IOException e) {
            log.warn("cannot clean up: " + e.getMessage());
        }
    }

}
