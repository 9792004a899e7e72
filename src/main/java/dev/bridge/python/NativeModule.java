package dev.bridge.python;

import dev.bridge.CacheDir;
import dev.bridge.config.ConfigException;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The native module {@code _bridge_native} (the C request loop in {@code native/}, whose sources travel in
 * the jar), built for the chosen Python the first time it is needed and cached: a build per Python, since
 * the module uses CPython's full C API. It needs what {@code pip install jep} needed already: a C compiler
 * ({@code $CC}, else {@code cc}) and Python's headers. The cached file's name hashes the sources, the
 * Python (version, headers, extension suffix) and the compiler, so a new jar or another Python builds anew.
 * Runs in the launcher, before any worker; a failure is one line saying what to install or run (the launcher
 * adds what else a user may do).
 */
public final class NativeModule {

    /** The module's sources, as resources of the jar (from {@code native/}). */
    static final List<String> SOURCES = List.of("uwsgi_packet.h", "uwsgi_packet.c", "access_log.h", "access_log.c",
            "peer_allow.h", "peer_allow.c", "bridge_native.c");
    /** How long a build may take, in seconds (about one on this machine). */
    static final int BUILD_TIMEOUT_SECONDS = 120;
    /** Most compiler output kept for the error line, in characters. */
    static final int MAX_ERROR_CHARS = 300;

    private NativeModule() {}

    /** The path of the module built for {@code python}, building it if the cache has none. */
    public static Path ensure(PythonRuntime python) throws ConfigException {
        Path cache = CacheDir.writable();
        if (cache == null) {
            throw new ConfigException("cannot build the native request core: no writable cache directory "
                    + "($XDG_CACHE_HOME/bridge or ~/.cache/bridge): make one");
        }
        String compiler = System.getenv().getOrDefault("CC", "cc");
        List<byte[]> sources = new ArrayList<>();
        for (String name : SOURCES) {
            sources.add(source(name));
        }
        Path target = cache.resolve("native").resolve(
                "_bridge_native-" + key(python, compiler, sources) + python.extSuffix());
        if (Files.isRegularFile(target)) {
            return target;
        }
        if (python.include().isEmpty() || !Files.isRegularFile(Path.of(python.include(), "Python.h"))) {
            throw new ConfigException("Python's C headers are missing for " + python.executable() + " (no Python.h in "
                    + python.include() + "): install them (Debian: apt-get install python3-dev)");
        }
        try {
            Path dir = Files.createDirectories(target.getParent()).resolve("build-" + ProcessHandle.current().pid());
            Files.createDirectories(dir);
            try {
                for (int i = 0; i < SOURCES.size(); i++) {
                    Files.write(dir.resolve(SOURCES.get(i)), sources.get(i));
                }
                Path out = dir.resolve("_bridge_native" + python.extSuffix());
                compile(compiler, python, dir, out);
                Files.move(out, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                try (var files = Files.list(dir)) {
                    files.forEach(f -> f.toFile().delete());
                }
                Files.deleteIfExists(dir);
            }
        } catch (IOException e) {
            throw new ConfigException("cannot build the native request core in " + target.getParent() + ": " + e.getMessage());
        }
        return target;
    }

    /** The compiler command: what any CPython C extension needs, warnings on (the tests build with -Werror). */
    static List<String> command(String compiler, PythonRuntime python, Path dir, Path out) {
        return List.of(compiler, "-O2", "-fPIC", "-shared", "-Wall", "-Wextra", "-I" + python.include(),
                dir.resolve("uwsgi_packet.c").toString(), dir.resolve("access_log.c").toString(),
                dir.resolve("peer_allow.c").toString(), dir.resolve("bridge_native.c").toString(), "-o", out.toString());
    }

    private static void compile(String compiler, PythonRuntime python, Path dir, Path out) throws ConfigException, IOException {
        Process p;
        try {
            p = new ProcessBuilder(command(compiler, python, dir, out)).redirectErrorStream(true).start();
        } catch (IOException e) {
            throw new ConfigException("cannot build the native request core: no C compiler (" + compiler + ": "
                    + e.getMessage() + "): install one (Debian: apt-get install gcc)");
        }
        p.getOutputStream().close();
        String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8).strip();
        try {
            if (!p.waitFor(BUILD_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new ConfigException("building the native request core took over " + BUILD_TIMEOUT_SECONDS + " s");
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConfigException("interrupted while building the native request core");
        }
        if (p.exitValue() != 0 || !Files.isRegularFile(out)) {
            String first = output.lines().filter(l -> l.contains("error")).findFirst().orElse(output);
            if (first.length() > MAX_ERROR_CHARS) {
                first = first.substring(0, MAX_ERROR_CHARS) + "...";
            }
            throw new ConfigException("cannot build the native request core for Python " + python.version() + " ("
                    + String.join(" ", command(compiler, python, dir, out)) + "): " + first.replace('\n', ' '));
        }
    }

    private static String key(PythonRuntime python, String compiler, List<byte[]> sources) {
        try {
            MessageDigest md = MessageDigest.getInstance("SHA-256");
            for (byte[] s : sources) {
                md.update(s);
            }
            md.update(String.join("\n", python.version(), python.include(), python.extSuffix(), compiler)
                    .getBytes(StandardCharsets.UTF_8));
            return HexFormat.of().formatHex(md.digest(), 0, 8);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static byte[] source(String name) {
        try (InputStream in = NativeModule.class.getResourceAsStream("/native/" + name)) {
            if (in == null) {
                throw new IllegalStateException("native/" + name + " missing from the jar");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new IllegalStateException("cannot read native/" + name + " from the jar", e);
        }
    }
}
