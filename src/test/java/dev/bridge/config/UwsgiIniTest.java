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

/** A uWSGI user's ini file: its [uwsgi] section mapped onto the bridge's settings, warned about, or refused. */
class UwsgiIniTest {

    @TempDir
    Path dir;

    private final List<String> warnings = new ArrayList<>();

    private Path ini(String text) throws Exception {
        Path file = dir.resolve("site.ini");
        Files.writeString(file, text);
        return file;
    }

    private Config load(String text, String... flags) throws Exception {
        return load(text, Map.of(), flags);
    }

    private Config load(String text, Map<String, String> env, String... flags) throws Exception {
        List<String> args = new ArrayList<>(List.of("--ini", ini(text).toString()));
        args.addAll(List.of(flags));
        return assertInstanceOf(CommandLine.Run.class, CommandLine.load(args, env, warnings)).config();
    }

    private String error(String text) throws Exception {
        return assertThrows(ConfigException.class, () -> load(text)).getMessage();
    }

    @Test
    void aTypicalUwsgiIniMapsOntoTheBridgesSettingsWithoutAWarning() throws Exception {
        Files.createDirectories(dir.resolve("venv"));
        Config c = load("""
                [uwsgi]
                chdir = %d
                module = mysite.wsgi
                callable = app
                virtualenv = %dvenv
                socket = %d%n.sock
                http-socket = 127.0.0.1:8001
                chmod-socket = 660
                processes = 3
                threads = 4
                master = true
                vacuum = true
                die-on-term
                lazy-apps = true
                harakiri = 30
                max-requests = 5000
                reload-on-rss = 300
                buffer-size = 32768
                touch-reload = %dreload.txt
                pidfile = /tmp/site.pid
                stats = 127.0.0.1:9191
                uid = www-data
                gid = www-data
                env = DJANGO_SETTINGS_MODULE=mysite.settings
                disable-logging = true
                single-interpreter = true
                enable-threads = true
                """);
        assertEquals(List.of(), warnings);
        String d = dir.toAbsolutePath().normalize() + "/";
        assertEquals(d, c.chdir());
        assertEquals("mysite.wsgi:app", c.module());
        assertEquals(d + "venv", c.venv());
        assertEquals(List.of(ListenAddress.parse(ListenAddress.Protocol.HTTP, "", "127.0.0.1:8001"),
                ListenAddress.parse(ListenAddress.Protocol.UWSGI, "", d + "site.sock")), c.listeners());
        assertEquals(0660, c.chmodSocket());
        assertEquals(3, c.workers());
        assertEquals(4, c.threads());
        assertEquals(30, c.harakiri());
        assertEquals(5000, c.maxRequests());
        assertEquals(300, c.reloadOnRss());
        assertEquals(32768, c.bufferSize());
        assertEquals(List.of(d + "reload.txt"), c.touchReload());
        assertEquals("/tmp/site.pid", c.pidfile());
        assertEquals("127.0.0.1", c.observability().stats().host());
        assertEquals("www-data", c.get(Settings.UID));
        assertEquals("www-data", c.get(Settings.GID));
        assertEquals(Map.of("DJANGO_SETTINGS_MODULE", "mysite.settings"), c.env());
        assertTrue(!c.accessLog());
    }

    @Test
    void withoutProcessesTheresOneWorkerAsInUwsgi() throws Exception {
        assertEquals(1, load("[uwsgi]\nmodule = m\n").workers());
        assertEquals(3, load("[uwsgi]\nmodule = m\n", Map.of("BRIDGE_WORKERS", "3")).workers());
        assertEquals(Config.DEFAULT_WORKERS, load("[bridge]\nmodule = m\n").workers());
    }

    @Test
    void theAppIsModuleOrWsgiFileWithUwsgisDefaultCallable() throws Exception {
        assertEquals("mysite.wsgi:application", load("[uwsgi]\nmodule = mysite.wsgi\n").module());
        assertEquals("hc.wsgi:application", load("[uwsgi]\nwsgi = hc.wsgi:application\ncallable = ignored\n").module());
        assertEquals("app/main.py:app", load("[uwsgi]\nwsgi-file = app/main.py\ncallable = app\n").module());
        assertTrue(error("[uwsgi]\nmodule = a\nwsgi-file = b.py\n").endsWith("site.ini:3: wsgi-file: give module or "
                + "wsgi-file, not both"));
        assertTrue(error("[uwsgi]\ncallable = app\n").endsWith("site.ini:2: callable: callable needs module or wsgi-file"));
    }

    @Test
    void magicVariablesPlaceholdersAndTheEnvironmentAreExpandedAsUwsgiDoes() throws Exception {
        Files.createDirectories(dir.resolve("project"));
        Config c = load("""
                [uwsgi]
                base = %dproject
                chdir = %(base)
                module = $(APP_MODULE)
                pidfile = /run/%n-%c.pid
                processes = %k
                env = PERCENT=100%%
                """, Map.of("APP_MODULE", "shop.wsgi:app"));
        assertEquals(List.of(), warnings, "a placeholder used as %(base) is no unknown option");
        assertEquals(dir.toAbsolutePath().normalize() + "/project", c.chdir());
        assertEquals("shop.wsgi:app", c.module());
        assertEquals("/run/site-" + dir.getFileName() + ".pid", c.pidfile());
        assertEquals(Runtime.getRuntime().availableProcessors(), c.workers());
        assertEquals("100%", c.env().get("PERCENT"));
        assertTrue(error("[uwsgi]\nmodule = m\nchdir = %(home)\n").endsWith("site.ini:3: chdir: %(home) is not set above this line"));
        assertTrue(error("[uwsgi]\nmodule = m\npidfile = %x\n").contains("site.ini:3: pidfile: %x is a magic variable"));
    }

    @Test
    void anOptionTheBridgeDoesNotKnowIsOneWarningAndAnErrorUnderStrict() throws Exception {
        Path file = ini("");
        load("[uwsgi]\nmodule = m\nsocket-timeout = 10\n");
        assertEquals(List.of(file + ":3: socket-timeout: not an option the bridge knows (ignored)"), warnings);
        assertTrue(error("[uwsgi]\nstrict = true\nmodule = m\nsocket-timeout = 10\n")
                .endsWith("site.ini:4: socket-timeout: not an option the bridge knows (strict is on)"));
    }

    @Test
    void anIgnoredOptionSaysWhyAndAnImpliedOneTurnedOffIsNotHonoured() throws Exception {
        Path file = ini("");
        load("[uwsgi]\nmodule = m\nstatic-map = /static=/srv/static\nmaster = false\nplugin = python3\n");
        assertEquals(List.of(file + ":3: static-map: ignored: static files are not served: let nginx serve them (see README)",
                file + ":4: master: ignored (off): the bridge always runs a master"), warnings);
    }

    @Test
    void whatCannotBeHonouredSafelyIsAnErrorNamingTheLine() throws Exception {
        assertTrue(error("[uwsgi]\nmodule = m\ndaemonize = /var/log/app.log\n").endsWith("site.ini:3: daemonize: not "
                + "supported: the bridge stays in the foreground: run it under systemd (see README), log with logto"));
        assertTrue(error("[uwsgi]\nmodule = m\nroute-if = equal:${PATH_INFO};/admin basicauth:realm,user:pass\n")
                .endsWith("site.ini:3: route-if: not supported: routing rules (rewrites, redirects, basicauth) are not "
                        + "applied: move them to nginx"));
        assertTrue(error("[uwsgi]\nmodule = m\nhook-pre-app = exec:./manage.py migrate\n").endsWith("site.ini:3: "
                + "hook-pre-app: not supported: hooks run commands the bridge would not run"));
        assertTrue(error("[uwsgi]\nmodule = m\nadd-header = Strict-Transport-Security: max-age=31536000\n")
                .contains("site.ini:3: add-header: not supported"));
        assertTrue(error("[uwsgi]\nmodule = m\nplugin = php\n").endsWith("site.ini:3: plugin php: the bridge serves "
                + "Python WSGI apps only"));
        assertTrue(error("[uwsgi]\nmodule = m\nprotocol = fastcgi\n").endsWith("site.ini:3: protocol fastcgi: the "
                + "bridge speaks uwsgi and http only"));
        assertTrue(error("[uwsgi]\nmodule = m\nchown-socket = nobody-here-at-all:www-data\n").endsWith("site.ini:3: "
                + "chown-socket nobody-here-at-all:www-data: no such user nobody-here-at-all"));
        assertTrue(error("[uwsgi]\nmodule = m\nthreads = lots\n").endsWith("site.ini:3: threads lots: expected a whole "
                + "number"));
        // The graceful SIGTERM hook is what SIGTERM does here: accepted.
        load("[uwsgi]\nmodule = m\nhook-master-start = unix_signal:15 gracefully_kill_them_all\n");
        assertEquals(List.of(), warnings);
    }

    @Test
    void fileColonSectionReadsThatSectionAsUwsgiDoes() throws Exception {
        Path file = ini("[uwsgi]\nmodule = dev\nprocesses = 1\n[production]\nmodule = prod\nprocesses = 4\n");
        Config c = assertInstanceOf(CommandLine.Run.class, CommandLine.load(List.of("--ini", file + ":production"),
                Map.of(), warnings)).config();
        assertEquals("prod:application", c.module());
        assertEquals(4, c.workers());
        assertTrue(assertThrows(ConfigException.class, () -> CommandLine.load(List.of("--ini", file + "x:production"),
                Map.of(), warnings)).getMessage().startsWith("--ini " + file + "x: cannot read it"));
    }

    @Test
    void protocolHttpMakesSocketLinesHttpListeners() throws Exception {
        Config c = load("[uwsgi]\nmodule = m\nprotocol = http\nsocket = 127.0.0.1:8002\nuwsgi-socket = 127.0.0.1:3031\n");
        assertEquals(List.of(ListenAddress.parse(ListenAddress.Protocol.HTTP, "", "127.0.0.1:8002"),
                ListenAddress.parse(ListenAddress.Protocol.UWSGI, "", "127.0.0.1:3031")), c.listeners());
    }

    @Test
    void theBridgeSectionThenTheEnvironmentThenFlagsWinOverTheUwsgiSection() throws Exception {
        String text = "[uwsgi]\nmodule = m\nprocesses = 2\nthreads = 2\nharakiri = 5\nsocket = /tmp/a.sock\n"
                + "[bridge]\nthreads = 3\n";
        Config c = load(text, Map.of("BRIDGE_HARAKIRI", "6"), "--uwsgi-socket", "/tmp/b.sock");
        assertEquals(2, c.workers());
        assertEquals(3, c.threads());
        assertEquals(6, c.harakiri());
        assertEquals(List.of(ListenAddress.parse(ListenAddress.Protocol.UWSGI, "", "/tmp/b.sock")), c.listeners());
    }

    /** The README's table is this table: a row per option, its kind and its note. */
    @Test
    void theReadmeListsEveryOptionAsTheBridgeTakesIt() throws Exception {
        StringBuilder rows = new StringBuilder("| uWSGI option | here | what the bridge does |\n|---|---|---|\n");
        for (UwsgiIni.Option o : UwsgiIni.options()) {
            rows.append("| `").append(o.name()).append("` | ").append(o.kind().name().toLowerCase())
                    .append(" | ").append(o.note()).append(" |\n");
        }
        String readme = Files.readString(Path.of("README.md"));
        assertTrue(readme.contains(rows), "README.md should carry this table of uWSGI options:\n" + rows);
    }
}
