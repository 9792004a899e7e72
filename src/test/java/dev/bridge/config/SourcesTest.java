package dev.bridge.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Settings from an ini file and the environment, their precedence, their errors, and --print-config. */
class SourcesTest {

    @TempDir
    Path dir;

    private Path ini(String text) throws Exception {
        Path file = dir.resolve("bridge.ini");
        Files.writeString(file, text);
        return file;
    }

    private static Config load(List<String> args, Map<String, String> env) throws ConfigException {
        return assertInstanceOf(CommandLine.Run.class, CommandLine.load(args, env, new ArrayList<>())).config();
    }

    private static final String FILE = """
            # the app
            [uwsgi]
            workers = 9
            [bridge]
            module = app:application
            workers = 3
            http = 127.0.0.1:9001
            ; a second listener
            http = 127.0.0.1:9002
            reuse-port = true
            disable-logging = false
            env = GREETING=hello world
            """;

    @Test
    void anIniFilesBridgeSectionSetsAnyFlagRepeatableOnesByRepeatingTheName() throws Exception {
        Path file = ini(FILE);
        Config c = load(List.of("--ini", file.toString()), Map.of());
        assertEquals("app:application", c.module());
        assertEquals(3, c.workers(), "[uwsgi] is another section");
        assertEquals(List.of("127.0.0.1:9001", "127.0.0.1:9002"), c.listeners().stream().map(a -> a.host() + ":" + a.port()).toList());
        assertTrue(c.reusePort());
        assertTrue(c.accessLog(), "a switch set to false stays off");
        assertEquals(Map.of("GREETING", "hello world"), c.env());
        // what the master passes its workers reads back as the same configuration, without the file
        assertEquals(c.toString().replace("ini=" + file, "ini=null"), load(c.args(), Map.of()).toString());
        assertTrue(c.args().containsAll(List.of("--workers", "3", "--reuse-port")), c.args().toString());
        assertTrue(!c.args().contains("--ini"), "a worker does not read the file again (it may have changed): " + c.args());
    }

    @Test
    void flagsWinOverTheEnvironmentWhichWinsOverTheFile() throws Exception {
        Path file = ini(FILE);
        Map<String, String> env = Map.of("BRIDGE_INI", file.toString(), "BRIDGE_WORKERS", "4",
                "BRIDGE_HTTP", "127.0.0.1:9101\n127.0.0.1:9102\n127.0.0.1:9103");
        Config fromEnv = load(List.of(), env);
        assertEquals(4, fromEnv.workers());
        assertEquals(3, fromEnv.listeners().size(), "a repeatable setting takes every line of its variable, "
                + "and only the highest source's values");
        assertEquals("app:application", fromEnv.module(), "the file found through BRIDGE_INI");
        Config fromFlags = load(List.of("--workers", "5", "--http", "127.0.0.1:9201"), env);
        assertEquals(5, fromFlags.workers());
        assertEquals(1, fromFlags.listeners().size());
    }

    @Test
    void aBadValueNamesItsFileAndLineOrItsVariable() throws Exception {
        Path file = ini("[bridge]\nmodule = m\n\nthreads = many\n");
        assertEquals(file + ":4: threads many: expected a whole number",
                assertThrows(ConfigException.class, () -> load(List.of("--ini", file.toString()), Map.of())).getMessage());
        Path unknown = ini("[bridge]\nmodule = m\nworkerz = 2\n");
        assertEquals(unknown + ":3: workerz is not a setting (see --help)",
                assertThrows(ConfigException.class, () -> load(List.of("--ini", unknown.toString()), Map.of())).getMessage());
        Path noEquals = ini("[bridge]\nmodule\n");
        assertEquals(noEquals + ":2: expected name = value, got: module",
                assertThrows(ConfigException.class, () -> load(List.of("--ini", noEquals.toString()), Map.of())).getMessage());
        assertEquals("BRIDGE_THREADS many: expected a whole number", assertThrows(ConfigException.class,
                () -> load(List.of("--module", "m"), Map.of("BRIDGE_THREADS", "many"))).getMessage());
        assertEquals("BRIDGE_REUSE_PORT maybe: expected true or false", assertThrows(ConfigException.class,
                () -> load(List.of("--module", "m"), Map.of("BRIDGE_REUSE_PORT", "maybe"))).getMessage());
        assertTrue(assertThrows(ConfigException.class, () -> load(List.of("--ini", dir.resolve("none.ini").toString()),
                Map.of())).getMessage().startsWith("--ini " + dir.resolve("none.ini") + ": cannot read it"));
    }

    @Test
    void unknownBridgeVariablesAreWarnedAboutAndTheMastersOwnAreNot() throws Exception {
        List<String> warnings = new ArrayList<>();
        CommandLine.load(List.of("--module", "m"), Map.of("BRIDGE_WORKRS", "2", "BRIDGE_WORKER_ID", "1",
                "BRIDGE_GENERATION", "3", "OTHER", "x"), warnings);
        assertEquals(List.of("BRIDGE_WORKRS is not a setting of the bridge (ignored)"), warnings);
    }

    @Test
    void printConfigShowsEachValueAndWhereItCameFrom() throws Exception {
        Path file = ini(FILE);
        String text = assertInstanceOf(CommandLine.Help.class, CommandLine.load(
                List.of("--ini", file.toString(), "--threads", "2", "--print-config"), Map.of("BRIDGE_HARAKIRI", "30"),
                new ArrayList<>())).text();
        assertTrue(text.matches("(?s).*\\nworkers +3 +" + java.util.regex.Pattern.quote(file + ":6: workers") + "\\n.*"), text);
        assertTrue(text.matches("(?s).*\\nthreads +2 +--threads\\n.*"), text);
        assertTrue(text.matches("(?s).*\\nharakiri +30 +BRIDGE_HARAKIRI\\n.*"), text);
        assertTrue(text.matches("(?s).*\\nhttp +http://127.0.0.1:9001 http://127.0.0.1:9002 +"
                + java.util.regex.Pattern.quote(file + ":7: http, " + file + ":9: http") + "\\n.*"), text);
        assertTrue(text.matches("(?s).*\\nlisten +1024 +default\\n.*"), text);
    }
}
