package dev.bridge.python;

import dev.bridge.config.CommandLine;
import dev.bridge.config.Config;
import dev.bridge.config.ConfigException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** What the probe concludes from a Python's answers, without running one. */
class PythonProbeTest {

    @TempDir
    Path dir;

    private Map<String, String> facts(String jepVersion, String jarVersion, String nativeName, String linkedLib)
            throws IOException {
        Path jep = Files.createDirectories(dir.resolve("jep"));
        Path jar = Files.write(jep.resolve("jep-" + jarVersion + ".jar"), new byte[] {1});
        Path nat = Files.write(jep.resolve(nativeName), ("\0ELF...\0" + linkedLib + "\0").getBytes(StandardCharsets.ISO_8859_1));
        Map<String, String> f = new HashMap<>();
        f.put("executable", "/venv/bin/python");
        f.put("version", "3.11.7");
        f.put("cache_tag", "cpython-311");
        f.put("shared", "1");
        f.put("libpython", "/opt/py/lib/libpython3.11.so.1.0");
        f.put("site_packages", dir.toString());
        f.put("sys_path", "/opt/py/lib/python3.11:" + dir);
        f.put("jep_dir", jep.toString());
        f.put("jep_version", jepVersion);
        f.put("jep_jars", jar.toString());
        f.put("jep_natives", nat.toString());
        return f;
    }

    @Test
    void acceptsAMatchingJep() throws Exception {
        PythonRuntime r = PythonProbe.check("python", facts("4.3.2", "4.3.2", "jep.cpython-311-x86_64-linux-gnu.so", "libpython3.11.so.1.0"));
        assertEquals("4.3.2", r.jepVersion());
        assertTrue(r.jepJar().endsWith("jep-4.3.2.jar"));
        assertTrue(r.jepLibrary().endsWith("jep.cpython-311-x86_64-linux-gnu.so"));
        assertEquals(List.of("/opt/py/lib/python3.11", dir.toString()), r.sysPath());
    }

    @Test
    void missingJepSaysWhatToRun() {
        Map<String, String> f = Map.of("version", "3.11.7", "shared", "1", "jep_dir", "");
        ConfigException e = assertThrows(ConfigException.class, () -> PythonProbe.check("/usr/bin/python3", f));
        assertTrue(e.getMessage().contains("/usr/bin/python3 -m pip install jep"), e.getMessage());
    }

    @Test
    void jarAndPythonSideOfDifferentVersionsAreRefused() throws Exception {
        ConfigException e = assertThrows(ConfigException.class, () -> PythonProbe.check("python",
                facts("4.3.2", "4.2.0", "jep.cpython-311-x86_64-linux-gnu.so", "libpython3.11.so.1.0")));
        assertTrue(e.getMessage().contains("4.2.0") && e.getMessage().contains("--force-reinstall"), e.getMessage());
    }

    @Test
    void jepBuiltForAnotherPythonIsRefused() throws Exception {
        ConfigException e = assertThrows(ConfigException.class, () -> PythonProbe.check("python",
                facts("4.3.2", "4.3.2", "libjep.so", "libpython3.10.so.1.0")));
        assertTrue(e.getMessage().contains("another Python"), e.getMessage());
    }

    @Test
    void pythonWithoutSharedLibraryIsRefused() throws Exception {
        Map<String, String> f = facts("4.3.2", "4.3.2", "libjep.so", "libpython3.11.so.1.0");
        f.put("shared", "0");
        ConfigException e = assertThrows(ConfigException.class, () -> PythonProbe.check("python", f));
        assertTrue(e.getMessage().contains("--enable-shared"), e.getMessage());
    }

    @Test
    void choosesPythonThenVenvThenVirtualEnvThenPath() throws Exception {
        Path venvPython = Files.createDirectories(dir.resolve("venv/bin")).resolve("python");
        Files.writeString(venvPython, "#!/bin/sh\n");
        venvPython.toFile().setExecutable(true);
        Path pathPython = Files.createDirectories(dir.resolve("bin")).resolve("python3");
        Files.writeString(pathPython, "#!/bin/sh\n");
        pathPython.toFile().setExecutable(true);
        Map<String, String> env = Map.of("VIRTUAL_ENV", dir.resolve("venv").toString(), "PATH", dir.resolve("bin").toString());

        assertEquals(pathPython.toString(), PythonProbe.choosePython(config("--python", pathPython.toString()), env));
        assertEquals(venvPython.toString(), PythonProbe.choosePython(config("--venv", dir.resolve("venv").toString()), Map.of()));
        assertEquals(venvPython.toString(), PythonProbe.choosePython(config(), env));
        assertEquals(pathPython.toString(), PythonProbe.choosePython(config(), Map.of("PATH", dir.resolve("bin").toString())));
        ConfigException e = assertThrows(ConfigException.class,
                () -> PythonProbe.choosePython(config("--venv", dir.resolve("nope").toString()), Map.of()));
        assertTrue(e.getMessage().contains("python3 -m venv"), e.getMessage());
    }

    private static Config config(String... extra) throws ConfigException {
        List<String> args = new java.util.ArrayList<>(List.of("--module", "app"));
        args.addAll(List.of(extra));
        return ((CommandLine.Run) CommandLine.parse(args)).config();
    }
}
