package dev.bridge.master;

import dev.bridge.testing.BridgeServer;
import dev.bridge.testing.Nginx;
import dev.bridge.testing.RawHttp;
import dev.bridge.uwsgi.Packets;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * systemd: socket activation by Debian's systemd-socket-activate (the sockets systemd would pass, named with
 * FileDescriptorName=), sd_notify read by a real NOTIFY_SOCKET datagram listener, and a restart of the service
 * (src/test/python/systemd/socket_unit.py holds the socket across it, as a socket unit does) under load.
 */
class SystemdIT {

    private static final Path SCRIPTS = BridgeServer.testApps().resolve("systemd");

    @TempDir
    Path dir;

    @Test
    void socketActivationServesThePassedSocketsAndTellsSystemdWhatItDoes() throws Exception {
        Path notifySocket = dir.resolve("notify.sock");
        Path unix = dir.resolve("app.sock");
        int port = Nginx.freePort();
        try (Lines notify = Lines.of(python(SCRIPTS.resolve("notify_listener.py").toString(), notifySocket.toString()));
             Lines bridge = Lines.of(command("systemd-socket-activate", "-l", "127.0.0.1:" + port, "-l", unix.toString(),
                     "--fdname=web:uwsgi", "-E", "NOTIFY_SOCKET=" + notifySocket, "--", java(), "-jar",
                     BridgeServer.jar().toString(), "--venv", BridgeServer.root().resolve(".venv").toString(), "--chdir",
                     BridgeServer.testApps().toString(), "--module", "os_environ_app", "--workers", "2"))) {
            assertTrue(notify.await("listening"), notify.text());
            assertTrue(bridge.await("Listening on " + unix), bridge.text());
            // The first connection makes systemd-socket-activate start the bridge; it waits in the backlog meanwhile.
            assertEquals("None", body(get(port, "/?name=NOTIFY_SOCKET")), "a worker must not notify systemd");
            assertEquals("None", body(get(port, "/?name=LISTEN_FDS")), "nor adopt the master's sockets");
            assertEquals("None", body(uwsgiUnix(unix, "/?name=LISTEN_PID")), "the socket named uwsgi speaks uwsgi");
            assertTrue(bridge.text().contains("listening on http://127.0.0.1:" + port + " (passed at descriptor 3)"), bridge.text());
            assertTrue(bridge.text().contains("listening on uwsgi://" + unix + " (passed at descriptor 4)"), bridge.text());
            assertTrue(notify.await("READY=1 | STATUS=serving: 2 worker(s) of generation 1"), notify.text());
            long pid = bridge.process.pid(); // systemd-socket-activate became the bridge (exec)
            MasterTesting.signal(pid, "HUP");
            assertTrue(notify.await("READY=1 | STATUS=serving: 2 worker(s) of generation 2"), notify.text() + bridge.text());
            MasterTesting.signal(pid, "TERM");
            assertTrue(bridge.process.waitFor(30, TimeUnit.SECONDS), bridge.text());
            assertEquals(0, bridge.process.exitValue(), bridge.text());
            assertTrue(notify.await("STOPPING=1"), notify.text());
            assertEquals(List.of("listening", "STATUS=starting 2 worker(s)",
                            "READY=1 | STATUS=serving: 2 worker(s) of generation 1",
                            "RELOADING=1 | MONOTONIC_USEC=N | STATUS=reloading to generation 2 (SIGHUP)",
                            "READY=1 | STATUS=serving: 2 worker(s) of generation 2",
                            "STOPPING=1 | STATUS=stopping: in-flight requests get 30 s"),
                    notify.lines().stream().map(l -> l.replaceAll("MONOTONIC_USEC=\\d+", "MONOTONIC_USEC=N")).toList());
            assertTrue(Files.exists(unix), "the socket file is systemd's: the bridge leaves it");
        }
    }

    @Test
    void aFlagNamingAPassedAddressGivesItsProtocolAndOtherFlagsAreBoundAsUsual() throws Exception {
        int passed = Nginx.freePort();
        int bound = Nginx.freePort();
        try (Lines bridge = Lines.of(command("systemd-socket-activate", "-l", "127.0.0.1:" + passed, "--", java(), "-jar",
                BridgeServer.jar().toString(), "--venv", BridgeServer.root().resolve(".venv").toString(), "--chdir",
                BridgeServer.testApps().toString(), "--module", "os_environ_app", "--workers", "1",
                "--uwsgi-socket", "127.0.0.1:" + passed, "--http", "127.0.0.1:" + bound))) {
            assertTrue(bridge.await("Listening on 127.0.0.1:" + passed), bridge.text());
            assertEquals("'1'", body(uwsgiTcp(passed, "/?name=BRIDGE_WORKER_ID")), bridge.text());
            assertEquals("'1'", body(get(bound, "/?name=BRIDGE_WORKER_ID")));
            assertTrue(bridge.text().contains("listening on uwsgi://127.0.0.1:" + passed + " (passed at descriptor 3)"), bridge.text());
            assertTrue(bridge.text().contains("listening on http://127.0.0.1:" + bound + " (backlog"), bridge.text());
        }
        // A passed unix socket no flag or name makes uwsgi would serve HTTP, which the bridge does on TCP only.
        Path unix = dir.resolve("plain.sock");
        try (Lines bridge = Lines.of(command("systemd-socket-activate", "-l", unix.toString(), "--", java(), "-jar",
                BridgeServer.jar().toString(), "--module", "os_environ_app"))) {
            assertTrue(bridge.await("Listening on " + unix), bridge.text());
            try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                ch.connect(UnixDomainSocketAddress.of(unix));
                assertTrue(bridge.process.waitFor(30, TimeUnit.SECONDS), bridge.text());
            }
            assertEquals(2, bridge.process.exitValue(), bridge.text());
            assertTrue(bridge.text().contains("bridge: error: LISTEN_FDS: the unix socket " + unix + " passed at descriptor 3 "
                    + "would serve HTTP, which the bridge serves on TCP only: name it uwsgi"), bridge.text());
        }
    }

    /** The target: under socket activation, a restart loses no request, those that came meanwhile waited in the backlog. */
    @Test
    void aRestartLosesNoRequestTheBacklogKeepsThoseThatComeMeanwhile() throws Exception {
        int port = Nginx.freePort();
        try (Lines unit = Lines.of(python(SCRIPTS.resolve("socket_unit.py").toString(), String.valueOf(port), "web", "--",
                java(), "-jar", BridgeServer.jar().toString(), "--venv", BridgeServer.root().resolve(".venv").toString(),
                "--chdir", BridgeServer.testApps().toString(), "--module", "os_environ_app", "--workers", "2"))) {
            assertTrue(unit.await("listening " + port), unit.text());
            OutputStream control = unit.process.getOutputStream();
            control.write("start\n".getBytes(StandardCharsets.US_ASCII));
            control.flush();
            assertEquals("'1'", body(get(port, "/?name=BRIDGE_GENERATION")));
            AtomicBoolean running = new AtomicBoolean(true);
            AtomicInteger ok = new AtomicInteger();
            AtomicLong slowest = new AtomicLong();
            ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
            List<Thread> clients = new ArrayList<>();
            for (int c = 0; c < 16; c++) {
                Thread t = new Thread(() -> {
                    while (running.get()) {
                        long start = System.nanoTime();
                        try {
                            String answer = get(port, "/?name=BRIDGE_GENERATION");
                            if (!answer.startsWith("HTTP/1.1 200")) {
                                failures.add(answer);
                            }
                            ok.incrementAndGet();
                            slowest.accumulateAndGet(System.nanoTime() - start, Math::max);
                        } catch (IOException e) {
                            failures.add(e.toString());
                        }
                    }
                });
                t.start();
                clients.add(t);
            }
            for (int restart = 1; restart <= 3; restart++) {
                Thread.sleep(500);
                control.write("restart\n".getBytes(StandardCharsets.US_ASCII));
                control.flush();
                assertTrue(unit.await("stopped 0", restart), unit.text());
                assertTrue(unit.await("started ", restart + 1), unit.text());
                long before = ok.get();
                assertTrue(MasterTesting.await(Duration.ofSeconds(30), () -> ok.get() > before + 50), unit.text());
            }
            running.set(false);
            for (Thread t : clients) {
                t.join(30_000);
            }
            System.out.println("SystemdIT: 3 restarts, " + ok.get() + " requests served, " + failures.size()
                    + " failed, slowest " + slowest.get() / 1_000_000 + " ms");
            assertEquals(List.of(), List.copyOf(failures), unit.text());
            // Requests sent while no bridge ran waited for the next one: the slowest spans a start (over 300 ms).
            assertTrue(slowest.get() > TimeUnit.MILLISECONDS.toNanos(300), "slowest " + slowest.get() / 1_000_000 + " ms");
            assertTrue(ok.get() > 300, "served " + ok.get());
        }
    }

    private static String get(int port, String target) throws IOException {
        try (RawHttp http = new RawHttp(port, 30_000)) {
            RawHttp.Response r = http.exchange("GET " + target + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            return r.statusLine() + "\r\n\r\n" + new String(r.body(), StandardCharsets.UTF_8);
        }
    }

    private static String uwsgiTcp(int port, String target) throws IOException {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 5_000);
            s.setSoTimeout(30_000);
            s.getOutputStream().write(Packets.nginxGet(target));
            s.shutdownOutput();
            return Packets.readUntilEnd(s);
        }
    }

    private static String uwsgiUnix(Path socket, String target) throws IOException {
        return Packets.exchangeUnix(socket, Packets.nginxGet(target));
    }

    private static String body(String response) {
        assertTrue(response.startsWith("HTTP/1.1 200"), response);
        return response.substring(response.indexOf("\r\n\r\n") + 4);
    }

    private static String java() {
        return Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }

    private static List<String> python(String... args) {
        List<String> cmd = new ArrayList<>(List.of(BridgeServer.root().resolve(".venv/bin/python").toString(), "-u"));
        cmd.addAll(List.of(args));
        return cmd;
    }

    private static List<String> command(String... args) {
        return List.of(args);
    }

    /** A process whose output lines are collected as they come; closing it ends it. */
    private static final class Lines implements AutoCloseable {
        final Process process;
        private final List<String> lines = Collections.synchronizedList(new ArrayList<>());

        private Lines(Process process) {
            this.process = process;
            Thread reader = new Thread(() -> {
                try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                    String line;
                    while ((line = r.readLine()) != null) {
                        lines.add(line);
                    }
                } catch (IOException ignored) {
                    // it ended
                }
            });
            reader.setDaemon(true);
            reader.start();
        }

        static Lines of(List<String> command) throws IOException {
            ProcessBuilder pb = new ProcessBuilder(command).redirectErrorStream(true);
            pb.environment().remove("VIRTUAL_ENV");
            return new Lines(pb.start());
        }

        List<String> lines() {
            synchronized (lines) {
                return List.copyOf(lines);
            }
        }

        String text() {
            return String.join("\n", lines());
        }

        boolean await(String text) throws InterruptedException {
            return await(text, 1);
        }

        /** Waits until {@code count} lines contain {@code text}. */
        boolean await(String text, int count) throws InterruptedException {
            return MasterTesting.await(Duration.ofSeconds(60), () -> lines().stream().filter(l -> l.contains(text)).count() >= count);
        }

        /** Closes its input first: socket_unit.py then stops the service it runs, as systemd would. */
        @Override
        public void close() throws InterruptedException {
            try {
                process.getOutputStream().close();
            } catch (IOException ignored) {
                // it ended
            }
            if (process.isAlive() && !process.waitFor(200, TimeUnit.MILLISECONDS) && lines().stream().noneMatch(l -> l.startsWith("started "))) {
                process.destroy();
            }
            if (!process.waitFor(40, TimeUnit.SECONDS)) {
                process.destroy();
                if (!process.waitFor(30, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            }
        }
    }
}
