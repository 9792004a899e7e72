package dev.bridge.master;

import dev.bridge.config.Config;
import dev.bridge.python.PythonRuntime;

import java.io.File;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * The command line and environment of a worker JVM: this JVM's {@code java}, the worker JVM flags, a class
 * path of our jar plus the jar of the chosen Python's Jep (so Java and native parts of Jep always match),
 * the probe's findings as system properties, and the master's settings as flags (whichever source gave them:
 * the worker reads its command line only). Master main thread.
 */
public final class WorkerCommand {

    /** The role argument that makes {@link dev.bridge.Main} run a worker. */
    public static final String WORKER_ROLE = "worker";

    private WorkerCommand() {}

    /** @param id the worker's number (or "standby"), also shown in {@code ps} as {@code -Dbridge.worker=ID} */
    public static List<String> argv(Config config, PythonRuntime python, String id,
                                    List<String> extraJvmArgs) {
        List<String> argv = new ArrayList<>();
        argv.add(javaExecutable());
        argv.add("-Dbridge.worker=" + id);
        argv.addAll(config.jvmArgs());
        argv.addAll(extraJvmArgs);
        argv.addAll(python.toJvmFlags());
        argv.add("-cp");
        argv.add(ownJar() + File.pathSeparator + python.jepJar());
        argv.add(dev.bridge.Main.class.getName());
        argv.add(WORKER_ROLE);
        argv.addAll(config.args()); // every setting the master was given, from whichever source, as flags
        return argv;
    }

    static String javaExecutable() {
        return ProcessHandle.current().info().command()
                .orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    }

    public static String ownJar() {
        try {
            return Path.of(WorkerCommand.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toString();
        } catch (Exception e) {
            return System.getProperty("java.class.path");
        }
    }
}
