package dev.bridge.master;

import jnr.posix.POSIX;
import jnr.posix.POSIXFactory;
import jnr.posix.SpawnFileAction;

import java.io.File;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;

/**
 * Starts worker JVMs with posix_spawn (jnr-posix): Java cannot fork, and ProcessBuilder cannot pass
 * descriptors. The child gets the listeners at descriptors 3.., its control socket right after them,
 * stdin from /dev/null, our stdout and stderr, and nothing else: every other descriptor is closed in the
 * spawn actions (the JDK opens its jars without O_CLOEXEC, and a worker holding another worker's control
 * socket would keep that worker from ever seeing its master die). Master main thread only.
 */
final class Spawner {

    /** First descriptor number of the inherited listeners in a worker. */
    static final int FIRST_FD = 3;

    private static final int AF_UNIX = 1;
    private static final int SOCK_STREAM = 1;
    private static final int SOCK_NONBLOCK = 04000;
    private static final int SOCK_CLOEXEC = 02000000;
    private static final int O_RDONLY = 0;

    /**
     * Loading jnr-posix takes 0.3-0.45 s (it binds libc through generated classes): {@link #preload} starts it
     * when the launcher starts, so it overlaps the Python probe and the master's set-up.
     */
    private static volatile CompletableFuture<POSIX> posix;

    /** Starts loading jnr-posix on another thread, once. Any thread. */
    static synchronized CompletableFuture<POSIX> preload() {
        if (posix == null) {
            posix = CompletableFuture.supplyAsync(POSIXFactory::getNativePOSIX);
        }
        return posix;
    }

    POSIX posix() {
        return preload().join();
    }

    /** A connected pair of non-blocking unix stream sockets: [master's end, worker's end]. */
    int[] controlPair() throws IOException {
        int[] fds = new int[2];
        if (posix().socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) != 0) {
            throw new IOException("socketpair failed: errno " + posix().errno());
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
        Set<Integer> open = openDescriptors();
        int spare = Math.max(open.stream().max(Integer::compare).orElse(0), FIRST_FD + inherit.length) + 1;
        List<SpawnFileAction> actions = new ArrayList<>();
        actions.add(SpawnFileAction.open("/dev/null", 0, O_RDONLY, 0));
        // Two steps, so a source that happens to sit at another's target number is not overwritten first.
        for (int i = 0; i < inherit.length; i++) {
            actions.add(SpawnFileAction.dup(inherit[i], spare + i));
        }
        for (int i = 0; i < inherit.length; i++) {
            actions.add(SpawnFileAction.dup(spare + i, FIRST_FD + i));
            actions.add(SpawnFileAction.close(spare + i));
        }
        for (int fd : open) {
            if (fd >= FIRST_FD + inherit.length) {
                actions.add(SpawnFileAction.close(fd));
            }
        }
        List<String> envp = new ArrayList<>();
        env.forEach((k, v) -> envp.add(k + "=" + v));
        long pid = posix().posix_spawnp(argv.get(0), actions, argv, envp);
        if (pid <= 0) {
            throw new IOException("posix_spawn of " + argv.get(0) + " failed: errno " + posix().errno());
        }
        return pid;
    }

    void close(int fd) {
        posix().close(fd);
    }

    /** What the master calls in libc directly. */
    public interface LibC {
        /** signal(2), to give a signal back its default disposition (a null handler is SIG_DFL). */
        jnr.ffi.Pointer signal(int signum, jnr.ffi.Pointer handler);

        /** glibc's malloc_trim(3): gives the free memory of malloc's arenas back to the system. */
        int malloc_trim(long pad);
    }

    private LibC libc;

    private LibC libc() {
        if (libc == null) {
            posix(); // the native libraries are loaded with jnr-posix
            libc = jnr.ffi.LibraryLoader.create(LibC.class).load("c");
        }
        return libc;
    }

    /**
     * Gives {@code signum} its default disposition. A process started under nohup, or in the background by
     * a non-interactive shell, inherits SIGHUP or SIGINT as ignored, and a JVM does not install handlers for
     * signals it inherits as ignored: without this, reload by SIGHUP would silently do nothing.
     */
    void restoreDefault(int signum) {
        libc().signal(signum, null);
    }

    /** malloc_trim(0); false where libc has none (not glibc). */
    boolean trimNativeHeap() {
        try {
            libc().malloc_trim(0);
            return true;
        } catch (UnsatisfiedLinkError e) {
            return false;
        }
    }

    private static Set<Integer> openDescriptors() {
        Set<Integer> fds = new TreeSet<>();
        String[] names = new File("/proc/self/fd").list();
        if (names != null) {
            for (String n : names) {
                fds.add(Integer.parseInt(n));
            }
        }
        return fds;
    }
}
