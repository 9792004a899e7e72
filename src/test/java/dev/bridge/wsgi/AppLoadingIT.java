package dev.bridge.wsgi;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Launch;
import dev.bridge.testing.Wire;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue item 3, loading the app: --module pkg.mod:callable, mod (application, then app), path/to/file.py:app,
 * --chdir, repeatable --pythonpath; and the failures (ImportError, SyntaxError, exception at import, missing or
 * non-callable attribute): Python traceback where there is one, one summary line, exit code 4 (bad usage is 2),
 * no Java stack trace. Plus bad usage itself: one line, exit 2.
 */
@Timeout(120)
class AppLoadingIT {

    static final int APP_LOAD_ERROR = 4;
    static final int USAGE = 2;

    static List<String> args(String... extra) {
        List<String> a = new ArrayList<>(List.of("--venv", BridgeServer.root().resolve(".venv").toString(),
                "--http", "127.0.0.1:0"));
        a.addAll(Arrays.asList(extra));
        a.add("--workers");
        a.add("1"); // one worker process is enough to load an app
        if (!a.contains("--chdir")) {
            a.add("--chdir");
            a.add(BridgeServer.testApps().toString());
        }
        return a;
    }

    /** Starts the server with the args, fetches {@code /} and returns the body. */
    static String serveAndGet(List<String> args) throws Exception {
        String[] body = {null};
        Launch.Result r = Launch.serve(args, null, null, 60, port -> body[0] = Wire.text(port, "/"));
        assertTrue(r.ready(), "the server must start with " + args + "; output:\n" + r.output());
        return body[0];
    }

    static void assertNoJavaStackTrace(String output) {
        assertFalse(output.contains("at dev.bridge."), "no Java stack trace in the output:\n" + output);
        assertFalse(output.matches("(?s).*\\n\\s+at [a-z]+\\..*"), "no Java stack frames in the output:\n" + output);
        assertFalse(output.contains("Exception in thread"), "no uncaught Java exception:\n" + output);
    }

    /** Runs a start that must fail loading the app; checks exit code 4, no Java trace; returns the output. */
    static Launch.Result failLoading(List<String> args) throws Exception {
        Launch.Result r = Launch.run(args, null, null, 60);
        assertTrue(r.exitCode() != -1, "the server must exit by itself when the app cannot be loaded; output:\n" + r.output());
        assertEquals(APP_LOAD_ERROR, r.exitCode(), "exit code for an app that cannot be loaded; output:\n" + r.output());
        assertNoJavaStackTrace(r.output());
        return r;
    }

    /** Lines that are not part of a Python traceback and contain every one of the texts. */
    static List<String> summaryLines(Launch.Result r, String... texts) {
        return r.lines().stream()
                .filter(l -> !l.contains("File \"") && !l.contains("Traceback"))
                .filter(l -> Arrays.stream(texts).allMatch(l::contains))
                .collect(Collectors.toList());
    }

    static void assertTraceback(Launch.Result r, String file, int line, String errorLine) {
        String out = r.output();
        assertTrue(out.contains("Traceback (most recent call last)"), "the Python traceback must be shown:\n" + out);
        assertErrorLocation(r, file, line, errorLine);
    }

    /** What Python shows for a SyntaxError (as for a script: no frames of its own need precede it). */
    static void assertSyntaxErrorShown(Launch.Result r, String file, int line, String sourceText) {
        String out = r.output();
        assertErrorLocation(r, file, line, "SyntaxError: ");
        assertTrue(out.contains(sourceText), "the offending source line is shown:\n" + out);
        assertTrue(out.lines().anyMatch(l -> l.trim().endsWith("^")), "with the caret under the error:\n" + out);
    }

    static void assertErrorLocation(Launch.Result r, String file, int line, String errorLine) {
        String out = r.output();
        assertTrue(out.contains(file + "\", line " + line), "the traceback points at " + file + " line " + line + ":\n" + out);
        assertTrue(out.contains(errorLine), "the traceback ends with " + errorLine + ":\n" + out);
    }

    // ---- ways to name the app ----

    @Test
    void packageModuleAndCallable() throws Exception {
        assertEquals("loadpkg.sub.mod:wsgi_app", serveAndGet(args("--module", "loadpkg.sub.mod:wsgi_app")));
    }

    @Test
    void moduleAlonePrefersApplication() throws Exception {
        assertEquals("load_both:application", serveAndGet(args("--module", "load_both")));
    }

    @Test
    void moduleAloneFallsBackToApp() throws Exception {
        assertEquals("load_app_only:app", serveAndGet(args("--module", "load_app_only")));
    }

    @Test
    void relativeFilePathAndCallable() throws Exception {
        assertEquals("file_app file_app.py", serveAndGet(args("--module", "apps/file_app.py:other")));
    }

    @Test
    void absoluteFilePathAndCallable() throws Exception {
        Path file = BridgeServer.testApps().resolve("apps/file_app.py");
        assertEquals("file_app file_app.py", serveAndGet(args("--module", file + ":app")));
    }

    @Test
    void chdirMakesTheAppImportableAndIsTheWorkingDirectory(@TempDir Path dir) throws Exception {
        Files.writeString(dir.resolve("chdir_app.py"), """
                import os

                def app(environ, start_response):
                    body = os.getcwd().encode()
                    start_response("200 OK", [("Content-Type", "text/plain")])
                    return [body]
                """);
        String cwd = serveAndGet(args("--module", "chdir_app:app", "--chdir", dir.toString()));
        assertEquals(dir.toRealPath().toString(), Path.of(cwd).toRealPath().toString());
    }

    @Test
    void pythonpathIsRepeatable() throws Exception {
        Path apps = BridgeServer.testApps();
        assertEquals("pp_one+pp_two", serveAndGet(args("--module", "pp_one:app",
                "--pythonpath", apps.resolve("pp1").toString(), "--pythonpath", apps.resolve("pp2").toString())));
    }

    // ---- apps that cannot be loaded ----

    @Test
    void importErrorInTheApp() throws Exception {
        Launch.Result r = failLoading(args("--module", "broken_import:app"));
        assertTraceback(r, "broken_import.py", 2, "ModuleNotFoundError: No module named 'no_such_dependency_xyz'");
        assertFalse(summaryLines(r, "broken_import", "no_such_dependency_xyz").isEmpty(),
                "one summary line naming the app and the error:\n" + r.output());
    }

    @Test
    void moduleThatDoesNotExist() throws Exception {
        Launch.Result r = failLoading(args("--module", "no_such_module_abc:app"));
        assertTrue(r.output().contains("No module named 'no_such_module_abc'"), r.output());
        assertFalse(summaryLines(r, "no_such_module_abc", "ModuleNotFoundError").isEmpty(),
                "a summary line:\n" + r.output());
    }

    @Test
    void syntaxErrorInTheApp() throws Exception {
        Launch.Result r = failLoading(args("--module", "broken_syntax"));
        assertSyntaxErrorShown(r, "broken_syntax.py", 2, "def app(environ, start_response:");
        assertFalse(summaryLines(r, "broken_syntax", "SyntaxError").isEmpty(), "a summary line:\n" + r.output());
    }

    @Test
    void syntaxErrorInAFileApp() throws Exception {
        Launch.Result r = failLoading(args("--module", "./broken_syntax.py:app"));
        assertSyntaxErrorShown(r, "broken_syntax.py", 2, "def app(environ, start_response:");
    }

    @Test
    void exceptionWhileImportingTheApp() throws Exception {
        Launch.Result r = failLoading(args("--module", "broken_runtime:app"));
        assertTraceback(r, "broken_runtime.py", 5, "RuntimeError: broken_runtime fails at import time");
        assertFalse(summaryLines(r, "broken_runtime", "RuntimeError").isEmpty(), "a summary line:\n" + r.output());
    }

    @Test
    void systemExitWhileImportingIsALoadErrorNotACleanExit() throws Exception {
        Launch.Result r = failLoading(args("--module", "exit_at_import:app"));
        assertTrue(r.output().contains("SystemExit"), "the SystemExit is reported:\n" + r.output());
        assertTrue(r.output().contains("exit_at_import.py\", line 3"), "with where it came from:\n" + r.output());
    }

    @Test
    void missingAttribute() throws Exception {
        Launch.Result r = failLoading(args("--module", "load_app_only:no_such_callable"));
        assertFalse(summaryLines(r, "load_app_only", "no_such_callable").isEmpty(),
                "a summary line naming the missing attribute:\n" + r.output());
    }

    @Test
    void moduleWithNeitherApplicationNorApp() throws Exception {
        Launch.Result r = failLoading(args("--module", "neither"));
        assertFalse(summaryLines(r, "neither", "application").isEmpty(), "a summary line:\n" + r.output());
    }

    @Test
    void attributeThatIsNotCallable() throws Exception {
        Launch.Result r = failLoading(args("--module", "not_callable:number"));
        assertFalse(summaryLines(r, "not_callable", "number", "callable").isEmpty(),
                "a summary line saying it is not callable:\n" + r.output());
    }

    @Test
    void fileThatDoesNotExist() throws Exception {
        Launch.Result r = failLoading(args("--module", "apps/no_such_file.py:app"));
        assertFalse(summaryLines(r, "no_such_file.py").isEmpty(), "a summary line:\n" + r.output());
    }

    // ---- bad usage: exit 2, one line ----

    static void assertUsageError(List<String> args, String mustMention) throws Exception {
        Launch.Result r = Launch.run(args, null, null, 30);
        assertEquals(USAGE, r.exitCode(), "bad usage " + args + " exits with 2; output:\n" + r.output());
        assertEquals(1, r.lines().size(), "bad usage: exactly one line of output, got:\n" + r.output());
        assertTrue(r.output().contains(mustMention), "the line names the problem (" + mustMention + "): " + r.output());
        assertNoJavaStackTrace(r.output());
    }

    @Test
    void unknownFlagIsOneLineAndExit2() throws Exception {
        assertUsageError(args("--module", "conformance:app", "--no-such-flag"), "--no-such-flag");
    }

    @Test
    void badFlagValuesAreOneLineAndExit2() throws Exception {
        assertUsageError(args("--module", "conformance:app", "--threads", "many"), "--threads");
        assertUsageError(args("--module", "conformance:app", "--limit-body", "-5"), "--limit-body");
        assertUsageError(List.of("--module", "conformance:app", "--venv", BridgeServer.root().resolve(".venv").toString(),
                "--http", "not-an-address"), "--http");
        assertUsageError(List.of("--module", "conformance:app", "--venv", BridgeServer.root().resolve(".venv").toString(),
                "--http", "127.0.0.1:99999"), "--http");
    }

    @Test
    void flagWithoutItsValueIsOneLineAndExit2() throws Exception {
        assertUsageError(List.of("--venv", BridgeServer.root().resolve(".venv").toString(), "--module"), "--module");
    }

    @Test
    void missingModuleIsOneLineAndExit2() throws Exception {
        assertUsageError(List.of("--venv", BridgeServer.root().resolve(".venv").toString(), "--http", "127.0.0.1:0"),
                "--module");
    }
}
