package dev.bridge.worker;

import dev.bridge.ExitCode;
import dev.bridge.Log;
import dev.bridge.config.CommandLine;
import dev.bridge.config.Config;
import dev.bridge.config.ConfigException;
import dev.bridge.config.ListenAddress;
import dev.bridge.http.HttpInitializer;
import dev.bridge.master.Control;
import dev.bridge.python.NativeLoops;
import dev.bridge.python.PythonRuntime;
import dev.bridge.python.PythonThreads;
import dev.bridge.stats.RequestCounters;
import dev.bridge.stats.WorkerStats;
import dev.bridge.transport.Listeners;
import dev.bridge.transport.WorkerChannels;
import dev.bridge.uwsgi.UwsgiInitializer;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.Channel;
import io.netty.channel.EventLoop;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import org.slf4j.Logger;
import sun.misc.Signal;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A worker process, spawned by the master: boot (Python and the app on the Python threads while the
 * event loop adopts the inherited listeners), report READY, accept once the master says SERVE, then drain
 * and exit. Spawned as a standby ({@code BRIDGE_WORKER_ID=standby}), it first boots without Python, reports
 * STANDBY, warms its protocol handlers up and waits: the master's {@code BOOT slot generation nice} makes it
 * that slot's worker, and only then are Python and the app loaded (so a reload still loads new code, while
 * the JVM's own start-up was paid before the reload began). Runs on the main thread; signal handlers and
 * the master link only enqueue, the main thread acts.
 *
 * <ul>
 *   <li>STOP from the master, or SIGTERM: graceful stop; go on accepting for {@value #ACCEPT_SWEEP_MILLIS} ms
 *       so connections waiting in the kernel's queue are served, then close the listeners and finish
 *       in-flight requests within --graceful-timeout.
 *   <li>RETIRE from the master (a newer worker took over): close the listeners now, finish, exit.
 *   <li>The master is gone (EOF on the control channel): as STOP, so no orphan serves stale code.
 *   <li>SIGINT: exit at once.
 * </ul>
 */
public final class Worker {

    /** How long a stopping worker goes on accepting, in milliseconds, to empty the kernel's accept queue. */
    static final long ACCEPT_SWEEP_MILLIS = 100;
    /** How often a booting worker looks for a stop command, in milliseconds. */
    static final long BOOT_POLL_MILLIS = 50;

    private final Config config;
    private final PythonRuntime runtime;
    private final Map<String, String> env;
    private Logger log;
    private final BlockingQueue<String> events = new LinkedBlockingQueue<>();
    /** --python-nice auto: nice levels below the event loop the Python threads start at, as the master learnt. */
    private int learntNice;
    /** What the stats are read from, once made (the event loop reads them to answer STATS). */
    private volatile PythonThreads python;
    private volatile WorkerChannels channels;
    /** How long the last stats line may take to reach the master before the worker exits, in milliseconds. */
    static final long LAST_STATS_MILLIS = 200;

    private Worker(Config config, PythonRuntime runtime, Map<String, String> env) {
        this.config = config;
        this.runtime = runtime;
        this.env = env;
        this.log = Log.get();
    }

    /** Runs a worker with the user's command line; returns the exit code. */
    public static int main(List<String> args) {
        Map<String, String> env = System.getenv();
        String id = env.getOrDefault(Control.ENV_WORKER_ID, "0");
        Log.tag(Control.STANDBY_ID.equals(id) ? "standby" : "worker-" + id);
        Config config;
        try {
            CommandLine.Result r = CommandLine.parse(args);
            if (!(r instanceof CommandLine.Run run)) {
                return ExitCode.USAGE;
            }
            config = run.config();
        } catch (ConfigException e) {
            System.err.println("bridge: error: " + e.getMessage());
            return ExitCode.USAGE;
        }
        PythonRuntime runtime = PythonRuntime.fromSystemProperties(System.getProperties());
        if (runtime == null || !env.containsKey(Control.ENV_CONTROL_FD)) {
            System.err.println("bridge: error: a worker is started by the master: run java -jar bridge.jar --module ...");
            return ExitCode.USAGE;
        }
        return new Worker(config, runtime, env).run();
    }

    private int run() {
        if (!Epoll.isAvailable()) {
            log.error("epoll is not available (" + Epoll.unavailabilityCause() + "): the bridge needs Linux x86_64");
            return ExitCode.WORKER_BOOT_ERROR;
        }
        for (String name : List.of("TERM", "INT")) {
            Signal.handle(new Signal(name), s -> events.add(s.getName()));
        }
        // A fresh worker knows who it is from its environment: Python boots at once, while the event loop and
        // the link to the master are made (a third of a second of a worker's start).
        Booting booting = null;
        if (!startedAsStandby()) {
            learntNice = niceLevels(env.get(Control.ENV_PYTHON_NICE));
            booting = bootPython(Map.of(Control.ENV_WORKER_ID, env.getOrDefault(Control.ENV_WORKER_ID, "0"),
                    Control.ENV_GENERATION, env.getOrDefault(Control.ENV_GENERATION, "1")));
            if (booting == null) {
                return ExitCode.WORKER_BOOT_ERROR;
            }
        }
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        try {
            EventLoop loop = group.next();
            MasterLink master = MasterLink.open(loop, Integer.parseInt(env.get(Control.ENV_CONTROL_FD)), events::add,
                    this::statsLine);
            if (booting == null) {
                Map<String, String> identity = standBy(master);
                if (identity == null) {
                    return ExitCode.OK;
                }
                booting = bootPython(identity);
                if (booting == null) {
                    return ExitCode.WORKER_BOOT_ERROR;
                }
            }
            return serve(group, loop, master, booting);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return ExitCode.INTERNAL_ERROR;
        } finally {
            group.shutdownGracefully(0, 100, TimeUnit.MILLISECONDS);
        }
    }

    /** Python booting on threads of its own: its threads, their C loops (or null), the boot's exit code. */
    private record Booting(PythonThreads python, NativeLoops loops, CompletableFuture<Integer> done, long startedNanos) {}

    /** Starts Python and the app on their own threads; null (logged) when the native loops' pipes cannot be made. */
    private Booting bootPython(Map<String, String> identity) {
        int startNice = config.pythonNice() == Config.PYTHON_NICE_AUTO ? learntNice : config.pythonNice();
        NativeLoops loops;
        try {
            loops = config.servesUwsgiNatively() ? new NativeLoops() : null;
        } catch (IOException e) {
            log.error("cannot make the native loops' pipes: " + e.getMessage());
            return null;
        }
        PythonThreads python = new PythonThreads(config, runtime, identity, startNice, loops);
        this.python = python;
        long t0 = System.nanoTime();
        return new Booting(python, loops, CompletableFuture.supplyAsync(() -> startPython(python)), t0);
    }

    /**
     * A standby: a worker JVM booted ahead of need, without Python. It says STANDBY as soon as its JVM is up
     * (the master may then start the next standby: the paced warm-up that follows takes little CPU), warms
     * the protocol handlers up, and waits for the master to give it a slot ({@code BOOT slot generation nice}).
     *
     * @return the identity the master gave it, or null if it was told to stop instead
     */
    private Map<String, String> standBy(MasterLink master) throws InterruptedException {
        master.send(Control.STANDBY);
        // Told to boot (or stop) meanwhile: the rest of the warm-up would only delay it.
        WarmUp.pipelines(config, WarmUp.STANDBY_ROUNDS, WarmUp.STANDBY_PAUSE_MILLIS, () -> !events.isEmpty());
        String event = events.take();
        String[] boot = event.split(" ");
        if (!boot[0].equals(Control.BOOT) || boot.length != 4) {
            return null; // STOP, RETIRE, GONE, TERM or INT: there is nothing to finish
        }
        learntNice = niceLevels(boot[3]);
        Log.tag("worker-" + boot[1]);
        log = Log.get();
        return Map.of(Control.ENV_WORKER_ID, boot[1], Control.ENV_GENERATION, boot[2]);
    }

    /** The nice levels the master passed, or 0 when it passed none or nonsense. */
    private static int niceLevels(String passed) {
        try {
            return passed == null ? 0 : Math.max(0, Math.min(Config.MAX_NICE, Integer.parseInt(passed)));
        } catch (NumberFormatException e) {
            return 0;
        }
    }

    private boolean startedAsStandby() {
        return Control.STANDBY_ID.equals(env.get(Control.ENV_WORKER_ID));
    }

    /** Opens the listeners while Python boots, reports READY, serves until told to stop. */
    private int serve(EventLoopGroup group, EventLoop loop, MasterLink master, Booting booting)
            throws InterruptedException {
        boolean standby = startedAsStandby();
        PythonThreads python = booting.python();
        NativeLoops loops = booting.loops();
        CompletableFuture<Integer> pythonBoot = booting.done();
        WorkerChannels channels = new WorkerChannels(loop, python::submit, config.pythonThreads());
        this.channels = channels;
        List<Channel> servers;
        List<Channel> nativeServers = new ArrayList<>();
        try {
            servers = openListeners(group, channels);
            for (int i = 0; i < servers.size(); i++) {
                if (loops != null && config.listeners().get(i).protocol() == ListenAddress.Protocol.UWSGI) {
                    nativeServers.add(servers.get(i));
                }
            }
            if (loops != null) {
                loops.listen(nativeServers.stream().map(Listeners::fd).toList());
            }
        } catch (Exception e) {
            log.error("cannot open the listeners: " + e.getMessage());
            return ExitCode.WORKER_BOOT_ERROR;
        }
        if (!standby) {
            WarmUp.pipelines(config, 1, 0, () -> true);
        }
        String early = awaitBoot(pythonBoot);
        if (early != null) {
            log.info("asked to stop (" + early + ") while booting: stopping now");
            return ExitCode.OK;
        }
        int code = pythonBoot.join();
        if (code != ExitCode.OK) {
            return code;
        }
        if (!WarmUp.python(python, loop, config, log)) {
            log.warn("the warm-up request got no answer within " + WarmUp.PYTHON_TIMEOUT_MILLIS + " ms; serving anyway");
        }
        long booted = System.nanoTime();
        // The listeners the C loops serve stay registered with Netty, never reading: Netty only closes them.
        loop.execute(() -> servers.stream().filter(ch -> !nativeServers.contains(ch)).forEach(channels::addServer));
        master.send(Control.READY);
        loop.scheduleAtFixedRate(() -> heartbeat(master, python), Control.HEARTBEAT_MILLIS,
                Control.HEARTBEAT_MILLIS, TimeUnit.MILLISECONDS);
        log.info("ready: serving " + config.module() + " on " + describe(servers) + " with "
                + (config.isolatedInterpreters() ? config.interpreters() + " isolated interpreters"
                        : config.threads() + " Python thread(s)") + ", booted in " + (booted - booting.startedNanos()) / 1_000_000 + " ms"
                + (standby ? " (from a standby)" : ""));
        return awaitStop(channels, python, master, loops, nativeServers);
    }

    private List<Channel> openListeners(EventLoopGroup group, WorkerChannels channels) throws Exception {
        HttpInitializer http = new HttpInitializer(config, channels, log);
        UwsgiInitializer uwsgi = new UwsgiInitializer(config, channels, log);
        List<Channel> servers = new ArrayList<>();
        String fds = env.getOrDefault(Control.ENV_LISTEN_FDS, "");
        String[] inherited = fds.isEmpty() ? new String[0] : fds.split(",");
        for (int i = 0; i < config.listeners().size(); i++) {
            ListenAddress address = config.listeners().get(i);
            ChannelInitializer<Channel> init = address.protocol() == ListenAddress.Protocol.UWSGI ? uwsgi : http;
            if (Integer.parseInt(inherited[i]) < 0) { // --reuse-port: this worker binds its own
                servers.add(Listeners.bind(group, address, config.backlog(), true, init));
            } else {
                servers.add(Listeners.adopt(group, address, Integer.parseInt(inherited[i]), init));
            }
        }
        return servers;
    }

    /** Waits for Python to boot; returns the event that asked to stop meanwhile, or null once booted. */
    private String awaitBoot(CompletableFuture<Integer> pythonBoot) throws InterruptedException {
        while (!pythonBoot.isDone()) {
            String event = events.poll(BOOT_POLL_MILLIS, TimeUnit.MILLISECONDS);
            if (event != null) {
                return event; // nothing is served yet: any stop, retire or loss of the master ends the boot
            }
        }
        return null;
    }

    private String describe(List<Channel> servers) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < servers.size(); i++) {
            SocketAddress a = servers.get(i).localAddress();
            String scheme = config.listeners().get(i).protocol() == ListenAddress.Protocol.UWSGI ? "uwsgi://" : "http://";
            ListenAddress l = config.listeners().get(i);
            out.add(scheme + (a instanceof InetSocketAddress in ? in.getAddress().getHostAddress() + ":" + in.getPort() : l.unixPath()));
        }
        return String.join(", ", out);
    }

    /** This worker's answer to STATS: what its event loop, C loops and Python threads counted. Any thread. */
    private String statsLine() {
        long[] http = new long[RequestCounters.SIZE];
        long[] uwsgi = new long[RequestCounters.SIZE];
        WorkerChannels c = channels;
        if (c != null) {
            c.httpCounters().addTo(http);
            c.uwsgiCounters().addTo(uwsgi);
        }
        PythonThreads p = python;
        if (p == null) {
            return new WorkerStats(http, uwsgi, 0, List.of()).encode();
        }
        p.addLoopCounters(uwsgi);
        return new WorkerStats(http, uwsgi, p.exceptions(), p.cores()).encode();
    }

    private void heartbeat(MasterLink master, PythonThreads python) {
        long since = python.oldestBusySince();
        master.send(Control.heartbeat(python.served(), since, python.busySummary(since)));
    }

    private int startPython(PythonThreads python) {
        try {
            python.start();
            return ExitCode.OK;
        } catch (PythonThreads.AppLoadException e) {
            log.error("cannot load the app " + config.module() + ": " + e.getMessage());
            return ExitCode.APP_LOAD_ERROR;
        } catch (PythonThreads.NativeLoadException e) {
            log.error(e.getMessage());
            return ExitCode.USAGE;
        } catch (Throwable e) {
            Throwable root = e;
            while (root.getCause() != null) {
                root = root.getCause();
            }
            boolean jepBroken = root instanceof UnsatisfiedLinkError || String.valueOf(root.getMessage()).contains("'jep'");
            if (!jepBroken) {
                log.error("cannot start Python", e);
                return ExitCode.WORKER_BOOT_ERROR;
            }
            log.error("cannot start Python " + runtime.version() + " through Jep " + runtime.jepVersion() + " ("
                    + runtime.jepLibrary() + "): " + root.getMessage() + "; reinstall Jep for this Python: "
                    + runtime.executable() + " -m pip install --force-reinstall --no-cache-dir jep");
            return ExitCode.USAGE;
        }
    }

    private void setAccepting(NativeLoops loops, boolean on) {
        if (loops == null) {
            return;
        }
        try {
            loops.setAccepting(on);
        } catch (IOException e) {
            log.error("cannot tell the native loops to " + (on ? "accept" : "stop accepting") + ": " + e.getMessage());
        }
    }

    private int awaitStop(WorkerChannels channels, PythonThreads python, MasterLink master, NativeLoops loops,
                          List<Channel> nativeServers) throws InterruptedException {
        String event = events.take();
        boolean serving = false;
        while (event.equals(Control.SERVE)) {
            if (!serving) {
                serving = true;
                channels.loop().execute(channels::startAccepting);
                setAccepting(loops, true);
                if (config.pythonNice() == Config.PYTHON_NICE_AUTO) {
                    AutoNice.start(channels.loop(), python, learntNice, levels -> master.send(Control.NICE + " " + levels), log);
                }
            }
            event = events.take();
        }
        switch (event) {
            case "INT" -> {
                log.info("SIGINT: stopping now");
                return ExitCode.OK;
            }
            case Control.RETIRE -> log.info("retiring: a newer worker took over; finishing in-flight requests");
            case Control.GONE -> log.warn("the master is gone: stopping gracefully");
            default -> log.info((event.equals("TERM") ? "SIGTERM" : "stop") + ": graceful stop, in-flight requests get "
                    + config.gracefulTimeout() + " s");
        }
        boolean retire = event.equals(Control.RETIRE);
        long sweep = retire || !serving ? 0 : ACCEPT_SWEEP_MILLIS;
        long spread = retire ? WorkerChannels.RETIRE_SPREAD_MILLIS : 0;
        var drained = channels.drain(sweep, spread);
        if (loops != null && serving) {
            // As for Netty's listeners: a stop first serves what waits in the accept queue for a moment.
            Thread.sleep(sweep);
            setAccepting(loops, false);
            if (!loops.awaitAcknowledged(config.gracefulTimeout() * 1000L)) {
                log.warn("graceful stop: a uwsgi request is still running after " + config.gracefulTimeout() + " s");
            }
        }
        if (loops != null) {
            channels.loop().execute(() -> nativeServers.forEach(Channel::close));
        }
        boolean done = drained.await(config.gracefulTimeout() * 1000L + sweep, TimeUnit.MILLISECONDS);
        if (!done) {
            log.warn("graceful stop: " + channels.connectionCount() + " connection(s) still busy after "
                    + config.gracefulTimeout() + " s, closing them");
        }
        python.stop(1000);
        master.sendAndWait(statsLine(), LAST_STATS_MILLIS); // so the master's totals miss none of this worker's requests
        log.info("stopped after " + python.served() + " request(s)");
        return ExitCode.OK;
    }
}
