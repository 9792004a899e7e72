package dev.bridge.python;

import dev.bridge.config.Config;
import dev.bridge.config.ConfigException;

import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Finds the Python to embed and checks its Jep, with one run of {@code bridge_probe.py}.
 *
 * <p>Order: {@code --python EXE}, {@code --venv DIR}, {@code $VIRTUAL_ENV}, {@code python3} on PATH. Every
 * failure is a {@link ConfigException} whose one line says what to run. Runs in the launcher, before any worker.
 */
public final class PythonProbe {

    /** How long the probe may take, in seconds; a Python that hangs at start-up is reported, not waited for. */
    static final int PROBE_TIMEOUT_SECONDS = 20;

    private PythonProbe() {}

    public static PythonRuntime probe(Config config, Map<String, String> env) throws ConfigException {
        String exe = choosePython(config, env);
        Map<String, String> facts = run(exe);
        return check(exe, facts);
    }

    static String choosePython(Config config, Map<String, String> env) throws ConfigException {
        if (config.python() != null) {
            return executable(config.python(), "--python " + config.python());
        }
        if (config.venv() != null) {
            return executable(Path.of(config.venv(), "bin", "python").toString(),
                    "--venv " + config.venv() + " (expected DIR/bin/python; create it with: python3 -m venv " + config.venv() + ")");
        }
        String venv = env.get("VIRTUAL_ENV");
        if (venv != null && !venv.isEmpty()) {
            return executable(Path.of(venv, "bin", "python").toString(), "$VIRTUAL_ENV=" + venv);
        }
        for (String dir : env.getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir.isEmpty() ? "." : dir, "python3");
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        throw new ConfigException("no Python found: python3 is not on PATH; give --python EXE or --venv DIR");
    }

    private static String executable(String path, String where) throws ConfigException {
        if (!Files.isExecutable(Path.of(path))) {
            throw new ConfigException("no Python executable at " + path + " (from " + where + ")");
        }
        return path;
    }

    private static Map<String, String> run(String exe) throws ConfigException {
        String script;
        try (InputStream in = PythonProbe.class.getResourceAsStream("/python/bridge_probe.py")) {
            script = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("bridge_probe.py missing from the jar", e);
        }
        try {
            Process p = new ProcessBuilder(exe, "-c", script).redirectErrorStream(true).start();
            p.getOutputStream().close();
            byte[] out = p.getInputStream().readAllBytes();
            if (!p.waitFor(PROBE_TIMEOUT_SECONDS, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                throw new ConfigException(exe + " did not answer within " + PROBE_TIMEOUT_SECONDS + " s");
            }
            String text = new String(out, StandardCharsets.UTF_8);
            if (p.exitValue() != 0) {
                String last = text.strip();
                last = last.substring(last.lastIndexOf('\n') + 1);
                throw new ConfigException(exe + " failed to run (" + last + ")");
            }
            Map<String, String> facts = new HashMap<>();
            for (String line : text.split("\n")) {
                int eq = line.indexOf('=');
                if (eq > 0) {
                    facts.put(line.substring(0, eq), line.substring(eq + 1));
                }
            }
            return facts;
        } catch (IOException e) {
            throw new ConfigException("cannot run " + exe + ": " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new ConfigException("interrupted while probing " + exe);
        }
    }

    static PythonRuntime check(String exe, Map<String, String> f) throws ConfigException {
        String version = f.getOrDefault("version", "?");
        String python = exe + " (Python " + version + ")";
        String install = exe + " -m pip install jep";
        if (f.getOrDefault("jep_dir", "").isEmpty()) {
            throw new ConfigException("Jep is not installed for " + python + ": run `" + install
                    + "` (it builds from source: needs JAVA_HOME, gcc and a Python built with --enable-shared)");
        }
        String jepDir = f.get("jep_dir");
        String reinstall = exe + " -m pip install --force-reinstall --no-cache-dir jep";
        if (!"1".equals(f.get("shared"))) {
            throw new ConfigException(python + " was built without --enable-shared, so Jep cannot embed it;"
                    + " use a Python built with it (pyenv: PYTHON_CONFIGURE_OPTS=--enable-shared)");
        }
        List<String> jars = split(f.get("jep_jars"));
        if (jars.size() != 1) {
            throw new ConfigException((jars.isEmpty() ? "no" : "several") + " Jep jars in " + jepDir + ": run `" + reinstall + "`");
        }
        String jar = jars.get(0);
        String jarVersion = jar.substring(jar.lastIndexOf("jep-") + 4, jar.length() - ".jar".length());
        String jepVersion = f.getOrDefault("jep_version", "");
        if (!jarVersion.equals(jepVersion)) {
            throw new ConfigException("Jep's jar (" + jarVersion + ") and its Python side (" + jepVersion
                    + ") differ in " + jepDir + ": run `" + reinstall + "`");
        }
        String cacheTag = f.getOrDefault("cache_tag", "");
        String nativeLib = null;
        for (String n : split(f.get("jep_natives"))) {
            String name = Path.of(n).getFileName().toString();
            if (name.startsWith("jep." + cacheTag + "-") || (nativeLib == null && name.equals("libjep.so"))) {
                nativeLib = n;
            }
        }
        if (nativeLib == null) {
            throw new ConfigException("Jep in " + jepDir + " has no native library built for " + python
                    + ": run `" + reinstall + "`");
        }
        String libpython = f.getOrDefault("libpython", "");
        if (!libpython.isEmpty() && !linksAgainst(nativeLib, Path.of(libpython).getFileName().toString())) {
            throw new ConfigException("Jep in " + jepDir + " was built for another Python than " + python
                    + ": run `" + reinstall + "`");
        }
        return new PythonRuntime(f.getOrDefault("executable", exe), version, split(f.get("sys_path")),
                split(f.get("site_packages")),
                jar, nativeLib, jepVersion, f.getOrDefault("include", ""), f.getOrDefault("ext_suffix", ""), "");
    }

    /** Whether the native library names the given libpython (its DT_NEEDED entry is a plain string in the file). */
    private static boolean linksAgainst(String nativeLib, String libpythonName) throws ConfigException {
        String stem = libpythonName.replaceAll("\\.so.*$", ".so"); // libpython3.11.so.1.0 -> libpython3.11.so
        try {
            byte[] bytes = Files.readAllBytes(Path.of(nativeLib));
            return new String(bytes, StandardCharsets.ISO_8859_1).contains(stem);
        } catch (IOException e) {
            throw new ConfigException("cannot read Jep's native library " + nativeLib + ": " + e.getMessage());
        }
    }

    private static List<String> split(String s) {
        List<String> out = new ArrayList<>();
        if (s != null) {
            for (String part : s.split(File.pathSeparator)) {
                if (!part.isEmpty()) {
                    out.add(part);
                }
            }
        }
        return out;
    }
}
