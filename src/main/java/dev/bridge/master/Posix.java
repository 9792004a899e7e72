package dev.bridge.master;

import dev.bridge.CacheDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * The process calls the master makes that the JDK lacks, in C (native/bridge_process_jni.c, built into the jar
 * by native/build-jni): posix_spawn with chosen descriptors, waitpid, kill, a signal's default disposition,
 * malloc_trim, and the listeners, bound in a millisecond where Netty's first bind took a tenth of a second. Each returns 0 (or a pid) on success and -errno on failure. Loading takes a few milliseconds
 * (jnr-posix, used before, took 0.3-0.45 s of every launch). The library is copied out of the jar once, into
 * the cache directory under a name that hashes it (or a temporary file when the cache cannot be written).
 * No state: any thread (the master calls it from its main thread; a worker loads it too, for --logto's reopen).
 */
final class Posix {

    private static final String RESOURCE = "/native/libbridge_process.so";

    static {
        try {
            System.load(extract().toString());
        } catch (IOException e) {
            throw new UnsatisfiedLinkError("cannot copy " + RESOURCE + " out of the jar: " + e.getMessage());
        }
    }

    private Posix() {}

    /** Loads the library now (a no-op after the first call). Any thread. */
    static void load() {
        // the static initialiser did it
    }

    /**
     * Spawns {@code argv} (its first element is looked up on PATH) with {@code envp} ("KEY=value"), stdin from
     * /dev/null, our stdout and stderr, {@code inherit} at descriptors {@code firstFd}, {@code firstFd}+1, ...,
     * and none of {@code openFds} besides. Returns the child's pid, or -errno.
     */
    static native long spawn(String[] argv, String[] envp, int[] inherit, int firstFd, int[] openFds);

    /** A connected pair of non-blocking, close-on-exec unix stream sockets into {@code fds}; 0 or -errno. */
    static native int socketpair(int[] fds);

    /** waitpid(pid, status, WNOHANG): the pid once it exited (its wait status in {@code status[0]}), 0, or -errno. */
    static native int waitNoHang(long pid, int[] status);

    static native int kill(long pid, int signal);

    static native int close(int fd);

    /** Gives {@code signum} its default disposition; 0 or -errno. */
    static native int defaultSignal(int signum);

    /**
     * A non-blocking TCP listener (SO_REUSEADDR) on {@code address} (4 bytes: IPv4, 16: IPv6) and {@code port}
     * (0: the kernel picks one), with an accept queue of {@code backlog}; its descriptor, or -errno.
     */
    static native int listenInet(byte[] address, int port, int backlog);

    /** A non-blocking unix stream listener at {@code path} (its bytes); its descriptor, or -errno. */
    static native int listenUnix(byte[] path, int backlog);

    /** The port a TCP listener is bound to, or -errno. */
    static native int localPort(int fd);

    /** What an errno value means ("Address already in use"). */
    static native String strerror(int errnum);

    /** glibc's malloc_trim(0): gives the free memory of malloc's arenas back to the system; 1 if it did. */
    static native int mallocTrim();

    /** A listening socket's accept queue from the kernel: (waiting connections << 32) | its length, or -errno. */
    static native long listenQueue(int fd);

    /**
     * Opens {@code path} (its bytes) for appending, created 0644 if missing, and makes it descriptors 1 and 2 of
     * this process (dup2: a line being written lands whole in the old file or the new one); 0 or -errno.
     */
    static native int reopenStdio(byte[] path);

    /** The passwd entry of {@code name} (its bytes; null: of {@code uid}) as "UID GID NAME HOME", or null if none. */
    static native String passwd(byte[] name, int uid);

    /** The id of group {@code name} (its bytes), or -1 if there is none. */
    static native int groupId(byte[] name);

    /** lchown(2) of {@code path} (its bytes); 0 or -errno. */
    static native int chown(byte[] path, int uid, int gid);

    /**
     * Becomes {@code uid}/{@code gid} for good, with {@code user}'s supplementary groups (its bytes; null: only
     * {@code gid}), every thread of the process; 0, or -errno (-EPERM also when root could be had back).
     */
    static native int dropPrivileges(byte[] user, int uid, int gid);

    /**
     * What an inherited descriptor listens on, "tcp ADDRESS PORT" or "unix PATH" ("unix @NAME": abstract), after
     * making it non-blocking and close-on-exec; null if it is no listening stream socket.
     */
    static native String adoptListener(int fd);

    /** sd_notify: {@code message} as one datagram to the unix socket {@code path} ("@NAME": abstract); 0 or -errno. */
    static native int notify(byte[] path, byte[] message);

    private static Path extract() throws IOException {
        byte[] library;
        try (InputStream in = Posix.class.getResourceAsStream(RESOURCE)) {
            if (in == null) {
                throw new IOException("missing (the jar was built without native/build-jni)");
            }
            library = in.readAllBytes();
        }
        Path dir = CacheDir.writable();
        if (dir == null) {
            Path tmp = Files.createTempFile("libbridge_process", ".so");
            tmp.toFile().deleteOnExit();
            return Files.write(tmp, library);
        }
        Path target = dir.resolve("jni").resolve("libbridge_process-" + sha256(library) + ".so");
        if (!Files.isRegularFile(target)) {
            Files.createDirectories(target.getParent());
            Path tmp = Files.createTempFile(target.getParent(), "libbridge_process", ".tmp");
            Files.write(tmp, library);
            Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
        }
        return target;
    }

    private static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
