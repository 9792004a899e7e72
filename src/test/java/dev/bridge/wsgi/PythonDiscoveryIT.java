package dev.bridge.wsgi;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Launch;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue item 2: which Python is embedded (--python, --venv, $VIRTUAL_ENV, python3 on PATH, in that order), and
 * what happens when it cannot be: no Jep, a Jep whose jar and native parts differ, a Jep built for another
 * Python, a missing interpreter. Every failure: exit code 2, one line that says what to run, no Java stack trace.
 */
@Timeout(180)
class PythonDiscoveryIT {

    static final int USAGE = 2;

    @TempDir
    static Path tmp;

    /** The project's .venv (has Jep). */
    static Path goodVenv;
    /** A virtualenv of the same Python without Jep. */
    static Path noJepVenv;

    @BeforeAll
    static void venvs() throws Exception {
        goodVenv = BridgeServer.root().resolve(".venv");
        noJepVenv = tmp.resolve("nojep-venv");
        makeVenv(goodVenv.resolve("bin/python").toString(), noJepVenv);
    }

    static void makeVenv(String python, Path dir) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(python, "-m", "venv", "--without-pip", dir.toString()).redirectErrorStream(true).start();
        p.getOutputStream().close();
        String out = new String(p.getInputStream().readAllBytes());
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "venv creation hung");
        assertEquals(0, p.exitValue(), "cannot create a venv with " + python + ": " + out);
    }

    /** site-packages/jep of the good venv. */
    static Path goodJepDir() throws IOException {
        try (Stream<Path> s = Files.list(goodVenv.resolve("lib"))) {
            return s.map(d -> d.resolve("site-packages/jep")).filter(Files::isDirectory).findFirst()
                    .orElseThrow(() -> new IOException("no jep in " + goodVenv));
        }
    }

    static Path sitePackages(Path venv) throws IOException {
        try (Stream<Path> s = Files.list(venv.resolve("lib"))) {
            return s.map(d -> d.resolve("site-packages")).filter(Files::isDirectory).findFirst()
                    .orElseThrow(() -> new IOException("no site-packages in " + venv));
        }
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path target = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(target);
                } else {
                    Files.copy(p, target);
                }
            }
        }
    }

    static List<String> base(String... extra) {
        List<String> a = new ArrayList<>(List.of("--module", "conformance:app", "--http", "127.0.0.1:0",
                "--chdir", BridgeServer.testApps().toString()));
        a.addAll(Arrays.asList(extra));
        a.addAll(List.of("--workers", "1"));
        return a;
    }

    static void assertOneLineUsageError(Launch.Result r, String... mentions) {
        assertEquals(USAGE, r.exitCode(), "exit code 2 expected; output:\n" + r.output());
        assertEquals(1, r.lines().size(), "exactly one line expected, got:\n" + r.output());
        for (String m : mentions) {
            assertTrue(r.output().contains(m), "the line must mention '" + m + "': " + r.output());
        }
        assertFalse(r.output().contains("at dev.bridge."), "no Java stack trace: " + r.output());
        assertFalse(r.output().contains("Exception"), "no Java exception text: " + r.output());
    }

    static Launch.Result fail(List<String> args, Consumer<Map<String, String>> env) throws Exception {
        return Launch.run(args, null, env, 60);
    }

    static void assertServes(List<String> args, Consumer<Map<String, String>> env) throws Exception {
        String[] body = {null};
        Launch.Result r = Launch.serve(args, null, env, 60, port -> body[0] = Wire.text(port, "/path?python"));
        assertTrue(r.ready(), "the server must start; output:\n" + r.output());
        assertEquals("GET /path?python", body[0]);
    }

    static Consumer<Map<String, String>> env(String... kv) {
        return e -> {
            for (int i = 0; i < kv.length; i += 2) {
                if (kv[i + 1] == null) {
                    e.remove(kv[i]);
                } else {
                    e.put(kv[i], kv[i + 1]);
                }
            }
        };
    }

    static String path(Path first) {
        return first + ":/usr/bin:/bin";
    }

    // ---- Python without Jep ----

    @Test
    void pythonWithoutJepSaysToPipInstallJep() throws Exception {
        Path system = Path.of("/usr/bin/python3");
        String python = Files.isExecutable(system) && !hasJep(system) ? system.toString() : noJepVenv.resolve("bin/python").toString();
        Launch.Result r = fail(base("--python", python), null);
        assertOneLineUsageError(r, "pip install jep", python);
    }

    static boolean hasJep(Path python) throws Exception {
        Process p = new ProcessBuilder(python.toString(), "-c", "import jep").redirectErrorStream(true).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0;
    }

    @Test
    void venvWithoutJepSaysToPipInstallJep() throws Exception {
        Launch.Result r = fail(base("--venv", noJepVenv.toString()), null);
        assertOneLineUsageError(r, "pip install jep", noJepVenv.toString());
    }

    @Test
    void missingVenvDirectory() throws Exception {
        Launch.Result r = fail(base("--venv", tmp.resolve("no-such-venv").toString()), null);
        assertOneLineUsageError(r, "no-such-venv");
    }

    @Test
    void missingPythonExecutable() throws Exception {
        Launch.Result r = fail(base("--python", tmp.resolve("no-such-python").toString()), null);
        assertOneLineUsageError(r, "no-such-python");
    }

    @Test
    void executableThatIsNotAPython() throws Exception {
        Path fake = tmp.resolve("fake-python");
        Files.writeString(fake, "#!/bin/sh\necho 'I am not python' >&2\nexit 3\n");
        assertTrue(fake.toFile().setExecutable(true));
        Launch.Result r = fail(base("--python", fake.toString()), null);
        assertOneLineUsageError(r, "fake-python");
    }

    // ---- a broken Jep ----

    @Test
    void jarAndNativeVersionsDiffer() throws Exception {
        Path venv = tmp.resolve("mismatch-venv");
        makeVenv(goodVenv.resolve("bin/python").toString(), venv);
        Path jep = sitePackages(venv).resolve("jep");
        copyTree(goodJepDir(), jep);
        Path jar;
        try (Stream<Path> s = Files.list(jep)) {
            jar = s.filter(p -> p.getFileName().toString().matches("jep-.*\\.jar")).findFirst().orElseThrow();
        }
        Files.move(jar, jep.resolve("jep-1.0.0.jar"));
        Launch.Result r = fail(base("--venv", venv.toString()), null);
        assertOneLineUsageError(r, "pip install");
    }

    @Test
    void jepWithoutItsNativeLibrary() throws Exception {
        Path venv = tmp.resolve("nonative-venv");
        makeVenv(goodVenv.resolve("bin/python").toString(), venv);
        Path jep = sitePackages(venv).resolve("jep");
        copyTree(goodJepDir(), jep);
        try (Stream<Path> s = Files.list(jep)) {
            for (Path p : (Iterable<Path>) s.filter(p -> p.toString().endsWith(".so"))::iterator) {
                Files.delete(p);
            }
        }
        Launch.Result r = fail(base("--venv", venv.toString()), null);
        assertOneLineUsageError(r, "pip install");
    }

    @Test
    void jepBuiltForAnotherPython() throws Exception {
        String other = otherPython();
        assertNotNull(other, "no Python of another minor version than .venv's: scripts/setup makes .venv-3.13 from one");
        Path venv = tmp.resolve("other-python-venv");
        makeVenv(other, venv);
        copyTree(goodJepDir(), sitePackages(venv).resolve("jep"));
        Launch.Result r = fail(base("--venv", venv.toString()), null);
        assertOneLineUsageError(r, "pip install");
    }

    /** A python3.X executable whose minor version differs from the .venv's, or null. */
    static String otherPython() throws Exception {
        String venvVersion = version(goodVenv.resolve("bin/python").toString());
        List<Path> candidates = new ArrayList<>();
        String pyenv = System.getenv().getOrDefault("PYENV_ROOT", System.getProperty("user.home") + "/.pyenv");
        Path versions = Path.of(pyenv, "versions");
        if (Files.isDirectory(versions)) {
            try (Stream<Path> s = Files.list(versions)) {
                s.sorted(Comparator.reverseOrder()).map(v -> v.resolve("bin/python3")).forEach(candidates::add);
            }
        }
        for (String v : new String[] {"3.13", "3.12", "3.11", "3.10", "3.9"}) {
            candidates.add(Path.of("/usr/bin/python" + v));
            candidates.add(Path.of("/usr/local/bin/python" + v));
        }
        for (Path c : candidates) {
            if (Files.isExecutable(c)) {
                String v = version(c.toString());
                if (v != null && v.startsWith("3.") && !v.equals(venvVersion) && v.compareTo("3.8") >= 0) {
                    return c.toString();
                }
            }
        }
        return null;
    }

    static String version(String python) throws Exception {
        Process p = new ProcessBuilder(python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes()).trim();
        return p.waitFor(30, TimeUnit.SECONDS) && p.exitValue() == 0 ? out : null;
    }

    // ---- the order: --python, --venv, $VIRTUAL_ENV, python3 on PATH ----

    @Test
    void virtualEnvIsUsedWithoutFlags() throws Exception {
        assertServes(base(), env("VIRTUAL_ENV", goodVenv.toString(), "PATH", path(noJepVenv.resolve("bin"))));
    }

    @Test
    void pythonFlagBeatsVirtualEnv() throws Exception {
        assertServes(base("--python", goodVenv.resolve("bin/python").toString()),
                env("VIRTUAL_ENV", noJepVenv.toString(), "PATH", path(noJepVenv.resolve("bin"))));
    }

    @Test
    void venvFlagBeatsVirtualEnv() throws Exception {
        Launch.Result r = fail(base("--venv", noJepVenv.toString()), env("VIRTUAL_ENV", goodVenv.toString()));
        assertOneLineUsageError(r, "pip install jep", noJepVenv.toString());
    }

    @Test
    void virtualEnvBeatsPath() throws Exception {
        Launch.Result r = fail(base(), env("VIRTUAL_ENV", noJepVenv.toString(), "PATH", path(goodVenv.resolve("bin"))));
        assertOneLineUsageError(r, "pip install jep", noJepVenv.toString());
    }

    @Test
    void python3OnPathIsTheLastResort() throws Exception {
        assertServes(base(), env("VIRTUAL_ENV", null, "PATH", path(goodVenv.resolve("bin"))));
    }

    @Test
    void python3OnPathWithoutJep() throws Exception {
        Launch.Result r = fail(base(), env("VIRTUAL_ENV", null, "PATH", path(noJepVenv.resolve("bin"))));
        assertOneLineUsageError(r, "pip install jep", noJepVenv.toString());
    }

    @Test
    void noPythonAnywhere() throws Exception {
        Launch.Result r = fail(base(), env("VIRTUAL_ENV", null, "PATH", tmp.resolve("empty-bin").toString()));
        assertOneLineUsageError(r, "python");
    }
}
