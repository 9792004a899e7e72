package dev.bridge.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CommandLineTest {

    private static Config parse(String... args) throws ConfigException {
        return assertInstanceOf(CommandLine.Run.class, CommandLine.parse(List.of(args))).config();
    }

    private static Config withModule(String... args) throws ConfigException {
        List<String> all = new ArrayList<>(List.of("--module", "app:application"));
        all.addAll(Arrays.asList(args));
        return parse(all.toArray(String[]::new));
    }

    private static String error(String... args) {
        return assertThrows(ConfigException.class, () -> CommandLine.parse(List.of(args))).getMessage();
    }

    @Test
    void shouldUseDefaults() throws ConfigException {
        Config c = parse("--module", "app:application");
        assertEquals("app:application", c.module());
        assertEquals(List.of(new ListenAddress(ListenAddress.Protocol.HTTP, "127.0.0.1", 8000, null)), c.listeners());
        assertEquals(Runtime.getRuntime().availableProcessors(), c.workers());
        assertEquals(1, c.threads());
        assertNull(c.chdir());
        assertEquals(List.of(), c.pythonPaths());
        assertNull(c.python());
        assertNull(c.venv());
        assertEquals(0, c.limitBody());
        assertEquals(64 * 1024, c.maxHeaderSize());
        assertEquals(1024 * 1024, c.spillThreshold());
        assertEquals(30, c.headerTimeout());
        assertEquals(75, c.keepaliveTimeout());
        assertEquals(30, c.gracefulTimeout());
        assertTrue(c.accessLog());
        assertEquals(Config.DEFAULT_JVM_ARGS, c.jvmArgs());
        assertFalse(c.multithread());
        assertEquals(Runtime.getRuntime().availableProcessors() > 1, c.multiprocess(), "wsgi.multiprocess follows the worker count");
    }

    @Test
    void shouldTakeEveryFlagInBothForms() throws ConfigException {
        String[][] flags = {
                {"--http", "0.0.0.0:9000"}, {"--threads", "8"}, {"--chdir", "/tmp"}, {"--pythonpath", "/lib/a"},
                {"--python", "/usr/bin/python3"}, {"--limit-body", "1000"}, {"--max-header-size", "2048"},
                {"--spill-threshold", "4096"}, {"--header-timeout", "5"}, {"--keepalive-timeout", "6"},
                {"--graceful-timeout", "7"}, {"--jvm-args", "-Xmx1g -Xss1m"},
        };
        List<String> spaced = new ArrayList<>(List.of("--module", "m:app"));
        List<String> equals = new ArrayList<>(List.of("--module=m:app"));
        for (String[] f : flags) {
            spaced.add(f[0]);
            spaced.add(f[1]);
            equals.add(f[0] + "=" + f[1]);
        }
        spaced.add("--disable-logging");
        equals.add("--disable-logging");
        Config a = parse(spaced.toArray(String[]::new));
        Config b = parse(equals.toArray(String[]::new));
        assertEquals(a, b);
        assertEquals("m:app", a.module());
        assertEquals(List.of(new ListenAddress(ListenAddress.Protocol.HTTP, "0.0.0.0", 9000, null)), a.listeners());
        assertEquals(8, a.threads());
        assertTrue(a.multithread());
        assertEquals("/tmp", a.chdir());
        assertEquals(List.of("/lib/a"), a.pythonPaths());
        assertEquals("/usr/bin/python3", a.python());
        assertEquals(1000, a.limitBody());
        assertEquals(2048, a.maxHeaderSize());
        assertEquals(4096, a.spillThreshold());
        assertEquals(5, a.headerTimeout());
        assertEquals(6, a.keepaliveTimeout());
        assertEquals(7, a.gracefulTimeout());
        assertFalse(a.accessLog());
        assertEquals(List.of("-Xmx1g", "-Xss1m"), a.jvmArgs());
    }

    @Test
    void shouldKeepValueAfterFirstEquals() throws ConfigException {
        assertEquals("pkg.mod:make_app(a=1)", parse("--module=pkg.mod:make_app(a=1)").module());
        assertEquals(List.of("-Dx=1", "-Dy=2"), withModule("--jvm-args=-Dx=1 -Dy=2").jvmArgs());
    }

    @Test
    void shouldRepeatListenersAndPythonPathsInOrder() throws ConfigException {
        Config c = withModule("--http", ":8001", "--pythonpath", "b", "--http", "[::1]:8002", "--pythonpath", "a");
        assertEquals(List.of(new ListenAddress(ListenAddress.Protocol.HTTP, "0.0.0.0", 8001, null),
                new ListenAddress(ListenAddress.Protocol.HTTP, "::1", 8002, null)), c.listeners());
        assertEquals(List.of("b", "a"), c.pythonPaths());
    }

    @Test
    void shouldLetLaterValueWin() throws ConfigException {
        assertEquals(3, withModule("--threads", "2", "--threads", "3").threads());
        assertEquals("second", parse("--module", "first", "--module", "second").module());
    }

    @Test
    void statsListensOnLoopbackOrAUnixSocketUnlessTheUserSaysPublic() throws ConfigException {
        assertEquals(Observability.NONE.stats(), withModule().observability().stats());
        Observability o = withModule("--stats", "127.0.0.1:9191", "--stats-http").observability();
        assertEquals(new ListenAddress(ListenAddress.Protocol.UWSGI, "127.0.0.1", 9191, null), o.stats());
        assertTrue(o.statsHttp());
        assertEquals("/run/bridge/stats.sock", withModule("--stats", "/run/bridge/stats.sock").observability().stats().unixPath());
        assertEquals("--stats 0.0.0.0:9191 can be reached from other hosts: use a loopback address (127.0.0.1:PORT) or a "
                + "unix socket, or add --stats-public", error("--module", "m", "--stats", ":9191"));
        assertTrue(withModule("--stats", ":9191", "--stats-public").observability().statsPublic());
        assertEquals("--stats-http needs --stats ADDRESS", error("--module", "m", "--stats-http"));
        assertEquals("--stats-public needs --stats ADDRESS", error("--module", "m", "--stats-public"));
    }

    @Test
    void envTakesKeyValuePairsTheLastOneForAKeyWinning() throws ConfigException {
        assertEquals(Map.of(), withModule().env());
        assertEquals(List.of(Map.entry("A", "1 = 2"), Map.entry("B", "")),
                List.copyOf(withModule("--env", "A=0", "--env", "A=1 = 2", "--env=B=").env().entrySet()));
        assertEquals("--env A: expected KEY=VALUE, KEY being letters, digits and _", error("--module", "m", "--env", "A"));
        assertEquals("--env 1A=x: expected KEY=VALUE, KEY being letters, digits and _", error("--module", "m", "--env", "1A=x"));
        assertTrue(error("--module", "m", "--env", "BRIDGE_WORKER_ID=3").startsWith("--env BRIDGE_WORKER_ID=3: BRIDGE_ variables"));
    }

    @Test
    void shouldTrimNumbers() throws ConfigException {
        assertEquals(4, withModule("--threads", " 4 ").threads());
    }

    @Test
    void shouldRejectUnknownFlag() {
        assertEquals("unknown flag --nope (see --help)", error("--module", "m", "--nope"));
        assertEquals("unknown flag --nope=1 (see --help)", error("--module", "m", "--nope=1"));
        assertEquals("unknown flag -t (see --help)", error("--module", "m", "-t", "4"));
        assertEquals("unknown argument app:application (see --help)", error("app:application"));
    }

    @Test
    void shouldRejectMissingValue() {
        assertEquals("--threads needs a value: --threads N", error("--module", "m", "--threads"));
        assertEquals("--module needs a value: --module MOD[:APP]", error("--module"));
    }

    @Test
    void shouldRejectValueForSwitch() {
        assertEquals("--disable-logging takes no value", error("--module", "m", "--disable-logging=yes"));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "--threads|abc|--threads abc: expected a whole number",
            "--threads|1.5|--threads 1.5: expected a whole number",
            "--threads|''|--threads : expected a whole number",
            "--threads|0x10|--threads 0x10: expected a whole number",
            "--limit-body|10k|--limit-body 10k: expected a whole number",
            "--threads|99999999999999999999|--threads 99999999999999999999: expected a whole number",
    })
    void shouldRejectBadNumber(String flag, String value, String message) {
        assertEquals(message, error("--module", "m", flag, value));
        assertEquals(message, error("--module", "m", flag + "=" + value));
    }

    @ParameterizedTest
    @CsvSource({
            "--threads, 0, 1, 512", "--threads, 513, 1, 512",
            "--limit-body, -1, 0, 9223372036854775807",
            "--max-header-size, 1023, 1024, 16777216", "--max-header-size, 16777217, 1024, 16777216",
            "--spill-threshold, -1, 0, 2147483647", "--spill-threshold, 2147483648, 0, 2147483647",
            "--header-timeout, 0, 1, 3600", "--header-timeout, 3601, 1, 3600",
            "--keepalive-timeout, 0, 1, 3600", "--keepalive-timeout, 3601, 1, 3600",
            "--graceful-timeout, -1, 0, 3600", "--graceful-timeout, 3601, 0, 3600",
            "--threads, 4294967297, 1, 512",
    })
    void shouldRejectOutOfRange(String flag, String value, long min, long max) {
        assertEquals(flag + " " + value + ": must be between " + min + " and " + max, error("--module", "m", flag, value));
    }

    @ParameterizedTest
    @CsvSource({"--threads, 1", "--threads, 512", "--max-header-size, 1024", "--max-header-size, 16777216",
            "--spill-threshold, 0", "--graceful-timeout, 0", "--header-timeout, 3600", "--limit-body, 0"})
    void shouldAcceptRangeBounds(String flag, String value) {
        assertInstanceOf(CommandLine.Run.class, assertDoesNotThrowParse("--module", "m", flag, value));
    }

    private static CommandLine.Result assertDoesNotThrowParse(String... args) {
        try {
            return CommandLine.parse(List.of(args));
        } catch (ConfigException e) {
            throw new AssertionError(e.getMessage());
        }
    }

    @Test
    void shouldRequireModule() {
        assertEquals("--module is required, e.g. --module myapp:application (see --help)", error());
        assertEquals("--module is required, e.g. --module myapp:application (see --help)", error("--threads", "2"));
        assertEquals("--module is required, e.g. --module myapp:application (see --help)", error("--module", " "));
        assertEquals("--module is required, e.g. --module myapp:application (see --help)", error("--module="));
    }

    @Test
    void shouldRejectPythonWithVenv() {
        assertEquals("give --python or --venv, not both", error("--module", "m", "--python", "p", "--venv", "v"));
    }

    @Test
    void shouldRejectBadListenAddress() {
        assertTrue(error("--module", "m", "--http", "8000").startsWith("--http 8000: expected HOST:PORT"));
        assertEquals("--http :99999: the port must be a number from 0 to 65535", error("--module", "m", "--http", ":99999"));
    }

    @Test
    void shouldRejectEmptyJvmArgs() {
        // '--jvm-args ""' would put an empty argument on the worker's java command line, which java takes
        // for the main class ("Could not find or load main class"). Either no flags or an error, not [""].
        try {
            Config c = withModule("--jvm-args", "");
            assertFalse(c.jvmArgs().contains(""), "empty JVM argument in " + c.jvmArgs().stream().map(a -> "'" + a + "'").toList());
        } catch (ConfigException expected) {
            assertTrue(expected.getMessage().contains("--jvm-args"), expected.getMessage());
        }
    }

    // ---- help

    @ParameterizedTest
    @ValueSource(strings = {"--help", "-h", "--help=1"})
    void shouldAnswerHelp(String flag) throws ConfigException {
        CommandLine.Help h = assertInstanceOf(CommandLine.Help.class, CommandLine.parse(List.of(flag)));
        assertEquals(CommandLine.help(), h.text());
        assertInstanceOf(CommandLine.Help.class, CommandLine.parse(List.of("--threads", "2", flag, "--bogus")));
    }

    @Test
    void shouldListEveryFlagWithItsDefaultInHelp() {
        String help = CommandLine.help();
        assertTrue(help.startsWith("usage: java -jar bridge.jar --module MOD[:APP]"), help);
        Map<String, String> defaults = Map.ofEntries(
                Map.entry("--module", "required"),
                Map.entry("--http", Config.DEFAULT_HTTP + " if no listener is given"),
                Map.entry("--threads", "1"),
                Map.entry("--chdir", "none"),
                Map.entry("--pythonpath", "none"),
                Map.entry("--python", "none"),
                Map.entry("--venv", "$VIRTUAL_ENV, then python3 on PATH"),
                Map.entry("--limit-body", "0 (no limit)"),
                Map.entry("--max-header-size", "65536"),
                Map.entry("--spill-threshold", "1048576"),
                Map.entry("--header-timeout", "30"),
                Map.entry("--keepalive-timeout", "75"),
                Map.entry("--graceful-timeout", "30"),
                Map.entry("--disable-logging", "off"),
                Map.entry("--jvm-args", String.join(" ", Config.DEFAULT_JVM_ARGS)),
                Map.entry("--workers", "the number of CPUs (" + Runtime.getRuntime().availableProcessors() + ")"),
                Map.entry("--processes", "as --workers"),
                Map.entry("--listen", "1024"),
                Map.entry("--chmod-socket", "the umask's"),
                Map.entry("--reuse-port", "off"),
                Map.entry("--max-requests", "0 (never)"),
                Map.entry("--max-requests-jitter", "0"),
                Map.entry("--reload-on-rss", "0 (never)"),
                Map.entry("--max-worker-lifetime", "0 (never)"),
                Map.entry("--harakiri", "0 (never)"),
                Map.entry("--boot-timeout", "60"),
                Map.entry("--pidfile", "none"),
                Map.entry("--reload-mode", "all"),
                Map.entry("--reload-mercy", "60"),
                Map.entry("--standby", "as many as --workers"),
                Map.entry("--python-nice", "auto"),
                Map.entry("--uwsgi-loop", "native"),
                Map.entry("--touch-reload", "none"),
                Map.entry("--uwsgi-socket", "none"),
                Map.entry("--buffer-size", "65536"),
                Map.entry("--interpreters", "1"),
                Map.entry("--trusted-proxy", "127.0.0.0/8 ::1"),
                Map.entry("--log-format", "the bridge's: ADDR \"REQUEST\" STATUS SIZE MSECSms"),
                Map.entry("--logto", "stderr"),
                Map.entry("--env", "none"),
                Map.entry("--limit-request-fields", "100"),
                Map.entry("--uwsgi-allow-from", "127.0.0.0/8 ::1, and any peer of a unix socket"),
                Map.entry("--chown-socket", "the master's user"),
                Map.entry("--uid", "who starts it"),
                Map.entry("--gid", "--uid's group"),
                Map.entry("--ini", "none"),
                Map.entry("--print-config", "off"),
                Map.entry("--stats", "none"),
                Map.entry("--stats-http", "off"),
                Map.entry("--stats-public", "off"));
        // Every flag line is followed by its default line; --help has none.
        List<String> seen = new ArrayList<>();
        String[] lines = help.split("\n");
        Pattern flagLine = Pattern.compile("^  (--[a-z-]+)(?: (\\S+))?\\s+\\S.*$");
        for (int i = 0; i < lines.length; i++) {
            Matcher m = flagLine.matcher(lines[i]);
            if (!m.matches()) {
                continue;
            }
            String flag = m.group(1);
            seen.add(flag);
            if (flag.equals("--help")) {
                continue;
            }
            assertTrue(defaults.containsKey(flag), "flag not expected by this test: " + flag);
            assertEquals("(default: " + defaults.get(flag) + ")", lines[i + 1].trim(), "default of " + flag);
        }
        List<String> expected = new ArrayList<>(defaults.keySet());
        expected.add("--help");
        assertEquals(expected.stream().sorted().toList(), seen.stream().sorted().toList());
    }

    @Test
    void shouldParseEveryFlagTheHelpShows() {
        // Each flag in --help must be accepted by the parser (with a plausible value).
        Matcher m = Pattern.compile("(?m)^  (--[a-z-]+)( \\S+)?").matcher(CommandLine.help());
        while (m.find()) {
            String flag = m.group(1);
            if (flag.equals("--help") || flag.equals("--module") || flag.equals("--print-config")) {
                continue;
            }
            List<String> args = new ArrayList<>(List.of("--module", "m", flag));
            if (flag.equals("--stats-http") || flag.equals("--stats-public")) {
                args.addAll(List.of("--stats", "127.0.0.1:9191"));
            }
            if (m.group(2) != null) {
                args.add(switch (flag) {
                    case "--http" -> ":8000";
                    case "--jvm-args" -> "-Xmx32m";
                    case "--max-header-size" -> "4096";
                    case "--chmod-socket" -> "660";
                    case "--pidfile", "--touch-reload" -> "/tmp/bridge.pid";
                    case "--reload-mode" -> "chain";
                    case "--uwsgi-loop" -> "netty";
                    case "--chdir" -> "/tmp";
                    case "--uwsgi-socket" -> "/tmp/app.sock";
                    case "--buffer-size" -> "8192";
                    case "--trusted-proxy", "--uwsgi-allow-from" -> "10.0.0.0/8";
                    case "--stats" -> "127.0.0.1:9191";
                    case "--env" -> "A=b";
                    case "--ini" -> "/dev/null";
                    case "--uid", "--gid" -> "root";
                    case "--chown-socket" -> "root:0";
                    default -> flag.endsWith("timeout") || flag.equals("--threads") || flag.equals("--interpreters") || flag.startsWith("--limit")
                            || flag.startsWith("--spill") || flag.startsWith("--max") || flag.equals("--workers")
                            || flag.equals("--processes") || flag.equals("--listen") || flag.equals("--reload-on-rss")
                            || flag.equals("--harakiri") || flag.equals("--reload-mercy")
                            || flag.equals("--standby") || flag.equals("--python-nice") ? "3" : "x";
                });
            }
            assertInstanceOf(CommandLine.Run.class, assertDoesNotThrowParse(args.toArray(String[]::new)), flag);
        }
    }

    @Test
    void shouldRunOneInterpreterPerWorkerUnlessToldAndNeverWithThreads() throws Exception {
        Config plain = parse("--module", "m", "--threads", "4");
        assertEquals(1, plain.interpreters());
        assertFalse(plain.isolatedInterpreters());
        assertEquals(4, plain.pythonThreads());
        Config isolated = parse("--module", "m", "--interpreters", "3", "--workers", "1");
        assertTrue(isolated.isolatedInterpreters());
        assertEquals(3, isolated.pythonThreads(), "one thread per interpreter");
        assertTrue(isolated.multiprocess(), "another copy of the app runs beside it");
        assertFalse(isolated.multithread());
        assertEquals("--threads 2 and --interpreters 2 cannot be combined: each isolated interpreter runs on one "
                + "thread of its own", error("--module", "m", "--threads", "2", "--interpreters", "2"));
        assertTrue(error("--module", "m", "--interpreters", "0").contains("--interpreters 0: must be between 1 and 256"));
    }

    @Test
    void shouldKeepAsManyStandbysAsWorkersUnlessToldOtherwise() throws Exception {
        assertEquals(3, parse("--module", "m", "--workers", "3").standby());
        assertEquals(3, parse("--module", "m", "--standby", "3", "--workers", "1").standby());
        assertEquals(0, parse("--module", "m", "--workers", "4", "--standby", "0").standby());
        assertTrue(error("--module", "m", "--standby", "-1").contains("--standby -1: must be between 0 and 1024"));
    }

    @Test
    void shouldLetEachWorkerDecideThePythonThreadsPriorityUnlessToldOtherwise() throws Exception {
        assertEquals(Config.PYTHON_NICE_AUTO, parse("--module", "m").pythonNice());
        assertEquals(Config.PYTHON_NICE_AUTO, parse("--module", "m", "--python-nice", "auto").pythonNice());
        assertEquals(0, parse("--module", "m", "--python-nice", "0").pythonNice());
        assertEquals(5, parse("--module", "m", "--python-nice", "5").pythonNice());
        assertEquals(19, parse("--module", "m", "--python-nice", "19").pythonNice());
        assertTrue(error("--module", "m", "--python-nice", "20").contains("--python-nice 20: must be between 0 and 19"));
        assertTrue(error("--module", "m", "--python-nice", "-1").contains("--python-nice -1: must be between 0 and 19"));
        assertTrue(error("--module", "m", "--python-nice", "high").contains("--python-nice high: expected auto or a whole number"));
    }

    @Test
    void shouldServeUwsgiInCUnlessToldOtherwise() throws Exception {
        assertEquals(Config.UwsgiLoop.NATIVE, parse("--module", "m").uwsgiLoop());
        assertEquals(Config.UwsgiLoop.NETTY, parse("--module", "m", "--uwsgi-loop", "netty").uwsgiLoop());
        assertEquals(Config.UwsgiLoop.NATIVE, parse("--module", "m", "--uwsgi-loop=native").uwsgiLoop());
        assertTrue(error("--module", "m", "--uwsgi-loop", "c").contains("--uwsgi-loop c: expected native or netty"));
    }

    @Test
    void shouldRefuseAChdirThatIsNoDirectory() {
        assertTrue(error("--module", "m", "--chdir", "/no/such/dir").contains("--chdir /no/such/dir: no such directory"));
    }

    @Test
    void shouldTrustLoopbackProxiesUnlessToldOtherwise() throws Exception {
        java.net.InetAddress v4 = java.net.InetAddress.getByName("127.0.0.1");
        java.net.InetAddress v6 = java.net.InetAddress.getByName("::1");
        Config c = parse("--module", "m");
        assertTrue(c.trustedProxies().stream().anyMatch(p -> p.contains(v4)));
        assertTrue(c.trustedProxies().stream().anyMatch(p -> p.contains(v6)));
        Config d = parse("--module", "m", "--trusted-proxy", "10.1.0.0/16");
        assertTrue(d.trustedProxies().get(0).contains(java.net.InetAddress.getByName("10.1.200.3")));
        assertFalse(d.trustedProxies().get(0).contains(java.net.InetAddress.getByName("10.2.0.1")));
        assertFalse(d.trustedProxies().stream().anyMatch(p -> p.contains(v4)));
        assertTrue(error("--module", "m", "--trusted-proxy", "nonsense").contains("address block"));
        assertTrue(error("--module", "m", "--trusted-proxy", "10.0.0.0/33").contains("address block"));
    }
}
