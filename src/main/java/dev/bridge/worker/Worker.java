package dev.bridge.worker;

import dev.bridge.ExitCode;
import dev.bridge.Log;
import dev.bridge.config.CommandLine;
import dev.bridge.config.Config;
import dev.bridge.config.ConfigException;
import dev.bridge.config.ListenAddress;
import dev.bridge.http.HttpInitializer;
import dev.bridge.python.PythonRuntime;
import dev.bridge.python.PythonThreads;
import dev.bridge.transport.Listeners;
import dev.bridge.transport.WorkerChannels;
import io.netty.channel.Channel;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import org.slf4j.Logger;
import sun.misc.Signal;

import java.net.InetSocketAddress;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * A worker process: boot (Python and the app on the Python threads, listeners on the event loop, in
 * parallel), serve, then drain and exit on a signal. Runs on the main thread; signal handlers only
 * enqueue, the main thread acts.
 *
 * <p>SIGTERM: graceful stop (stop accepting, finish in-flight requests within --graceful-timeout, exit 0).
 * SIGINT: fast stop (exit at once).
 */
public final class Worker {

    private final Config config;
    private final PythonRuntime runtime;
    private final Logger log;
    private final BlockingQueue<String> signals = new LinkedBlockingQueue<>();

    private Worker(Config config, PythonRuntime runtime) {
        this.config = config;
        this.runtime = runtime;
        this.log = Log.get();
    }

    /** Runs a worker with the user's command line; returns the exit code. */
    public static int main(List<String> args) {
        Log.tag("worker-1");
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
        if (runtime == null) {
            System.err.println("bridge: error: a worker is started by the server: run java -jar bridge.jar --module ...");
            return ExitCode.USAGE;
        }
        return new Worker(config, runtime).run();
    }

    private int run() {
        if (!Epoll.isAvailable()) {
            log.error("epoll is not available (" + Epoll.unavailabilityCause() + "): the bridge needs Linux x86_64");
            return ExitCode.WORKER_BOOT_ERROR;
        }
        for (String name : List.of("TERM", "INT")) {
            Signal.handle(new Signal(name), s -> signals.add(s.getName()));
        }
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, EpollIoHandler.newFactory());
        PythonThreads python = new PythonThreads(config, runtime);
        WorkerChannels channels = new WorkerChannels(group.next(), python::submit, config.threads());
        try {
            // Python (JVM-independent start-up: libpython, the app's imports) and Netty boot in parallel.
            long t0 = System.nanoTime();
            CompletableFuture<Integer> pythonBoot = CompletableFuture.supplyAsync(() -> startPython(python));
            List<Channel> servers = new ArrayList<>();
            HttpInitializer http = new HttpInitializer(config, channels, log);
            for (ListenAddress address : config.listeners()) {
                try {
                    servers.add(Listeners.bind(group, address, http));
                } catch (Exception e) {
                    log.error("cannot listen on " + address + ": " + e.getMessage());
                    return ExitCode.WORKER_BOOT_ERROR;
                }
            }
            long bound = System.nanoTime();
            int code = pythonBoot.join();
            if (code != ExitCode.OK) {
                return code;
            }
            long booted = System.nanoTime();
            for (Channel s : servers) {
                channels.loop().execute(() -> {
                    channels.addServer(s);
                    s.config().setAutoRead(true);
                });
                InetSocketAddress a = (InetSocketAddress) s.localAddress();
                log.info("listening on http://" + a.getAddress().getHostAddress() + ":" + a.getPort());
            }
            log.info("ready: serving " + config.module() + " with " + config.threads() + " Python thread(s)"
                    + " (listeners " + (bound - t0) / 1_000_000 + " ms, Python and app " + (booted - t0) / 1_000_000 + " ms)");
            return awaitStop(channels, python);
        } finally {
            group.shutdownGracefully(0, 100, TimeUnit.MILLISECONDS);
        }
    }

    private int startPython(PythonThreads python) {
        try {
            python.start();
            return ExitCode.OK;
        } catch (PythonThreads.AppLoadException e) {
            log.error("cannot load the app " + config.module() + ": " + e.getMessage());
            return ExitCode.APP_LOAD_ERROR;
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

    private int awaitStop(WorkerChannels channels, PythonThreads python) {
        String signal;
        try {
            signal = signals.take();
        } catch (InterruptedException e) {
            signal = "INT";
        }
        if (signal.equals("INT")) {
            log.info("SIGINT: stopping now");
            return ExitCode.OK;
        }
        log.info("SIG" + signal + ": graceful stop, in-flight requests get " + config.gracefulTimeout() + " s");
        try {
            boolean done = channels.drain().await(config.gracefulTimeout(), TimeUnit.SECONDS);
            if (!done) {
                log.warn("graceful stop: " + channels.connectionCount() + " connection(s) still busy after "
                        + config.gracefulTimeout() + " s, closing them");
            }
            python.stop(1000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        log.info("stopped");
        return ExitCode.OK;
    }
}
