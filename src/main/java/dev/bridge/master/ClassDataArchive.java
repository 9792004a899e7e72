package dev.bridge.master;

import dev.bridge.CacheDir;
import dev.bridge.config.Config;
import dev.bridge.python.PythonRuntime;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.stream.Stream;

/**
 * Application class-data sharing for worker JVMs: the classes a worker loads (Netty, Jep, ours) are read
 * from an archive mapped into memory instead of parsed from jars, which roughly halves a worker's start-up
 * (measured: median cold start 2.6 s to 1.2 s) and shares those pages between workers.
 *
 * <p>JDK 17 cannot create the archive on its own, so the master has its first worker dump one when that
 * worker exits ({@code -XX:ArchiveClassesAtExit}), and every worker after that uses it. The archive lives
 * in {@code $XDG_CACHE_HOME/bridge} (default {@code ~/.cache/bridge}) under a name that hashes everything it
 * depends on (JDK, our jar, Jep's jar, worker flags), so a rebuilt jar or another virtualenv gets its own.
 * Without a writable cache directory, or with user {@code --jvm-args} that set class-data sharing
 * themselves, nothing is done. Master main thread only.
 */
final class ClassDataArchive {

    private final Path archive;
    private final Path dumping;
    private boolean dumpAsked;

    private ClassDataArchive(Path archive) {
        this.archive = archive;
        this.dumping = archive == null ? null : archive.resolveSibling(archive.getFileName() + "." + ProcessHandle.current().pid() + ".tmp");
    }

    static ClassDataArchive forWorkers(Config config, PythonRuntime python, String jar) {
        if (config.jvmArgs().stream().anyMatch(a -> a.contains("Share") || a.contains("Archive"))) {
            return new ClassDataArchive(null);
        }
        Path dir = CacheDir.writable();
        if (dir == null) {
            return new ClassDataArchive(null);
        }
        try {
            File jarFile = new File(jar);
            String key = String.join("\n", System.getProperty("java.home"), System.getProperty("java.vm.version"),
                    jarFile.getAbsolutePath(), Long.toString(jarFile.length()), Long.toString(jarFile.lastModified()),
                    python.jepJar(), String.join(" ", config.jvmArgs()));
            byte[] hash = MessageDigest.getInstance("SHA-256").digest(key.getBytes(StandardCharsets.UTF_8));
            return new ClassDataArchive(dir.resolve("worker-" + HexFormat.of().formatHex(hash, 0, 8) + ".jsa"));
        } catch (NoSuchAlgorithmException e) {
            return new ClassDataArchive(null);
        }
    }

    /** Flags for the next worker: use the archive, or (once) dump it, or nothing. */
    List<String> flags() {
        if (archive == null) {
            return List.of();
        }
        if (Files.isRegularFile(archive)) {
            return List.of("-XX:SharedArchiveFile=" + archive, "-Xlog:cds=off", "-Xlog:cds+dynamic=off");
        }
        if (!dumpAsked) {
            dumpAsked = true;
            return List.of("-XX:ArchiveClassesAtExit=" + dumping, "-Xlog:cds=off", "-Xlog:cds+dynamic=off");
        }
        return List.of();
    }

    /**
     * A worker exited: if it was the one dumping, put its archive in place, and drop what is not needed any more:
     * archives beyond the {@value #KEPT} most recently made (old builds; several virtualenvs or flag sets in use
     * each keep theirs), and dumps that a master which died never moved into place.
     */
    void workerExited() {
        if (dumping == null || !Files.isRegularFile(dumping)) {
            return;
        }
        try {
            Files.move(dumping, archive, java.nio.file.StandardCopyOption.ATOMIC_MOVE,
                    java.nio.file.StandardCopyOption.REPLACE_EXISTING);
            try (Stream<Path> files = Files.list(archive.getParent())) {
                List<Path> archives = new java.util.ArrayList<>();
                files.forEach(p -> {
                    String name = p.getFileName().toString();
                    if (name.startsWith("worker-") && name.endsWith(".jsa")) {
                        archives.add(p);
                    } else if (name.startsWith("worker-") && name.endsWith(".tmp") && !dumperAlive(name)) {
                        p.toFile().delete();
                    }
                });
                archives.sort(java.util.Comparator.comparingLong((Path p) -> p.toFile().lastModified()).reversed());
                archives.stream().skip(KEPT).filter(p -> !p.equals(archive)).forEach(p -> p.toFile().delete());
            }
        } catch (IOException e) {
            dumping.toFile().delete();
        }
    }

    /** Archives kept in the cache directory: the most recently made. */
    static final int KEPT = 4;

    /** Whether the master named in a dump's file name ({@code worker-HASH.jsa.PID.tmp}) still runs. */
    private static boolean dumperAlive(String name) {
        String[] parts = name.split("\\.");
        try {
            return parts.length >= 2 && ProcessHandle.of(Long.parseLong(parts[parts.length - 2])).isPresent();
        } catch (NumberFormatException e) {
            return false;
        }
    }
}
