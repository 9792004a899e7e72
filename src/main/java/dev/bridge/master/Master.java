package dev.bridge.master;

import dev.bridge.ExitCode;
import dev.bridge.config.Config;
import dev.bridge.python.PythonRuntime;
import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;

import java.util.List;

/**
 * The launcher side of the server. Today it runs a single worker: it replaces this JVM with the worker JVM
 * (execve keeps the pid, so signals and exit status reach the worker directly). Spawning and supervising
 * several workers comes with the master. Runs on the main thread.
 */
public final class Master {

    private Master() {}

    /** Replaces this process with the worker; returns only if that failed, with the exit code to use. */
    public static int run(Config config, PythonRuntime python, List<String> userArgs) {
        List<String> argv = WorkerCommand.argv(config, python, userArgs);
        String[] envp = WorkerCommand.environment(System.getenv()).entrySet().stream()
                .map(e -> e.getKey() + "=" + e.getValue()).toArray(String[]::new);
        System.out.flush();
        System.err.flush();
        POSIX posix = POSIXFactory.getNativePOSIX();
        posix.execve(argv.get(0), argv.toArray(String[]::new), envp);
        System.err.println("bridge: error: cannot start the worker JVM " + argv.get(0) + ": errno " + posix.errno());
        return ExitCode.INTERNAL_ERROR;
    }

}
