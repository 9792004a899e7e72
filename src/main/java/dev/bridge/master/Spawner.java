package dev.bridge.master;

import java.io.File;
import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Starts worker JVMs with posix_spawn ({@link Posix}): Java cannot fork, and ProcessBuilder cannot pass
 * descriptors. The child gets the listeners at descriptors 3.., its control socket right after them,
 * stdin from /dev/null, our stdout and stderr, and nothing else: every other descriptor is closed in the
 * spawn actions (the JDK opens its jars without O_CLOEXEC, and a worker holding another worker's control
 * socket would keep that worker from ever seeing its master die). Master main thread only.
 */
final class Spawner {

    /** First descriptor number of the inherited listeners in a worker. */
    static final int FIRST_FD = 3;

    /** Loads the JNI library on another thread, so the master's first spawn does not wait for it. Any thread. */
    static CompletableFuture<Void> preload() {
        return CompletableFuture.runAsync(Posix::load);
    }

    /** A connected pair of non-blocking unix stream sockets: [master's end, worker's end]. */
    int[] controlPair() throws IOException {
        int[] fds = new int[2];
        int rc = Posix.socketpair(fds);
        if (rc != 0) {
            throw new IOException("socketpair failed: " + Posix.strerror(-rc));
        }
        return fds;
    }

    /**
     * Spawns {@code argv} with {@code inherit} (listener descriptors, then the control socket) at
     * descriptors {@value #FIRST_FD}, {@value #FIRST_FD}+1, ...
     *
     * @return the child's pid
     */
    long spawn(List<String> argv, Map<String, String> env, int[] inherit) throws IOException {
        int[] open = openDescriptors();
        String[] envp = env.entrySet().stream().map(e -> e.getKey() + "=" + e.getValue()).toArray(String[]::new);
        long pid = Posix.spawn(argv.toArray(String[]::new), envp, inherit, FIRST_FD, open);
        if (pid <= 0) {
            throw new IOException("posix_spawn of " + argv.get(0) + " failed: " + Posix.strerror((int) -pid));
        }
        return pid;
    }

    void close(int fd) {
        Posix.close(fd);
    }

    /**
     * Gives {@code signum} its default disposition. A process started under nohup, or in the background by
     * a non-interactive shell, inherits SIGHUP or SIGINT as ignored, and a JVM does not install handlers for
     * signals it inherits as ignored: without this, reload by SIGHUP would silently do nothing.
     */
    void restoreDefault(int signum) {
        Posix.defaultSignal(signum);
    }

    /** waitpid(pid, WNOHANG): the wait status once {@code pid} exited, else -1. */
    int exitStatus(long pid) {
        int[] status = new int[1];
        return Posix.waitNoHang(pid, status) == pid ? status[0] : -1;
    }

    void kill(long pid, int signal) {
        Posix.kill(pid, signal);
    }

    private static int[] openDescriptors() {
        String[] names = new File("/proc/self/fd").list();
        if (names == null) {
            return new int[0];
        }
        int[] fds = new int[names.length];
        for (int i = 0; i < names.length; i++) {
            fds[i] = Integer.parseInt(names[i]);
        }
        return fds;
    }
}
