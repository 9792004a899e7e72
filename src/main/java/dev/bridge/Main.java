package dev.bridge;

import dev.bridge.config.CommandLine;
import dev.bridge.config.Config;
import dev.bridge.config.ConfigException;
import dev.bridge.master.Master;
import dev.bridge.master.ReloadCommand;
import dev.bridge.master.WorkerCommand;
import dev.bridge.python.NativeModule;
import dev.bridge.python.PythonProbe;
import dev.bridge.python.PythonRuntime;
import dev.bridge.worker.Worker;

import java.util.Arrays;
import java.util.List;
import java.util.Map;

/**
 * Entry point and role switch: {@code java -jar bridge.jar FLAGS} is the master; {@code Main worker FLAGS}
 * is a worker, spawned by the master with Jep on its class path; {@code java -jar bridge.jar reload
 * --pidfile FILE} asks a running master for a reload and waits for its outcome.
 */
public final class Main {

    private Main() {}

    /**
     * Library settings for every role, set before the libraries' classes load; a {@code -D} on the command
     * line (for workers, in {@code --jvm-args}) wins. Netty registers JFR events for its buffer allocator
     * when the JVM has JFR: initialising them took ~100 ms of a worker's boot, on its event loop, just before
     * it could tell the master it was ready. Netty also records a stack trace for one buffer in 128 to find
     * leaks: 1-2% of a worker's event loop; tests and debugging can ask for
     * {@code -Dio.netty.leakDetection.level=paranoid}.
     */
    static final Map<String, String> LIBRARY_DEFAULTS = Map.of(
            "io.netty.jfr.enabled", "false",
            "io.netty.leakDetection.level", "disabled");

    public static void main(String[] args) {
        LIBRARY_DEFAULTS.forEach((key, value) -> {
            if (System.getProperty(key) == null) {
                System.setProperty(key, value);
            }
        });
        List<String> argv = Arrays.asList(args);
        if (!argv.isEmpty() && argv.get(0).equals(WorkerCommand.WORKER_ROLE)) {
            System.exit(Worker.main(argv.subList(1, argv.size())));
        }
        if (!argv.isEmpty() && argv.get(0).equals("reload")) {
            System.exit(ReloadCommand.run(argv.subList(1, argv.size())));
        }
        System.exit(launch(argv));
    }

    private static int launch(List<String> argv) {
        Master.preload();
        try {
            List<String> warnings = new java.util.ArrayList<>();
            CommandLine.Result result = CommandLine.load(argv, System.getenv(), warnings);
            warnings.forEach(w -> System.err.println("bridge: warning: " + w));
            if (result instanceof CommandLine.Help help) {
                System.out.print(help.text());
                return ExitCode.OK;
            }
            var config = ((CommandLine.Run) result).config();
            // The master probes Python once it runs as the user it serves as (--uid): the probe may build and cache.
            return Master.run(config, argv, () -> python(config));
        } catch (ConfigException e) {
            System.err.println("bridge: error: " + e.getMessage());
            return ExitCode.USAGE;
        }
    }

    /** Probes the chosen Python, checks it can do what the config asks, and builds the native module for it. */
    private static PythonRuntime python(Config config) throws ConfigException {
        PythonRuntime python = PythonProbe.probe(config, System.getenv());
        if (config.isolatedInterpreters() && !python.atLeast(Config.MIN_INTERPRETERS_PYTHON)) {
            throw new ConfigException("--interpreters " + config.interpreters() + " needs Python "
                    + Config.MIN_INTERPRETERS_PYTHON + " or newer (isolated interpreters, each with its own GIL); "
                    + python.executable() + " is " + python.version() + ": choose one with --venv or --python, "
                    + "or run processes: --interpreters 1 --workers N");
        }
        try {
            return python.withNativeModule(NativeModule.ensure(python).toString());
        } catch (ConfigException e) {
            if (config.servesUwsgiNatively()) { // the uwsgi loop has no other implementation
                throw new ConfigException(e.getMessage() + "; or use --uwsgi-loop netty");
            }
            System.err.println("bridge: warning: " + e.getMessage() + "; HTTP requests go through the Python shim meanwhile");
            return python;
        }
    }
}
