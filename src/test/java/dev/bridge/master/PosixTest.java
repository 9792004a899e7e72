package dev.bridge.master;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The master's JNI calls (native/bridge_process_jni.c) against the real kernel. */
class PosixTest {

    private static final int EADDRINUSE = 98;
    private static final int ESRCH = 3;

    @Test
    void aTcpListenerAcceptsConnectionsOnThePortTheKernelGave() throws Exception {
        int fd = Posix.listenInet(new byte[]{127, 0, 0, 1}, 0, 16);
        assertTrue(fd >= 0, "listenInet: " + Posix.strerror(-fd));
        try {
            int port = Posix.localPort(fd);
            assertTrue(port > 0, "port " + port);
            try (Socket s = new Socket()) {
                s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
                assertTrue(s.isConnected());
            }
            int again = Posix.listenInet(new byte[]{127, 0, 0, 1}, port, 16);
            assertEquals(-EADDRINUSE, again, "a second listener on the same port");
            assertEquals("Address already in use", Posix.strerror(EADDRINUSE));
        } finally {
            assertEquals(0, Posix.close(fd));
        }
    }

    @Test
    void aUnixListenerAcceptsConnections(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("app.sock");
        int fd = Posix.listenUnix(path.toString().getBytes(StandardCharsets.UTF_8), 16);
        assertTrue(fd >= 0, "listenUnix: " + Posix.strerror(-fd));
        try (SocketChannel ch = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            assertTrue(ch.connect(UnixDomainSocketAddress.of(path)));
        } finally {
            Posix.close(fd);
        }
        assertTrue(Posix.listenUnix(new byte[200], 16) < 0, "a path longer than sun_path is refused");
    }

    @Test
    void theKernelSaysHowManyConnectionsWaitInATcpListenersQueue() throws Exception {
        int fd = Posix.listenInet(new byte[]{127, 0, 0, 1}, 0, 5);
        assertTrue(fd >= 0, "listenInet: " + Posix.strerror(-fd));
        try (Socket a = new Socket(); Socket b = new Socket()) {
            assertEquals(5, Posix.listenQueue(fd) & 0xffffffffL, "the queue's length is the backlog");
            assertEquals(0, Posix.listenQueue(fd) >>> 32, "nothing waits yet");
            a.connect(new InetSocketAddress("127.0.0.1", Posix.localPort(fd)), 2000);
            b.connect(new InetSocketAddress("127.0.0.1", Posix.localPort(fd)), 2000);
            assertEquals(2, Posix.listenQueue(fd) >>> 32, "two connections wait to be accepted");
        } finally {
            Posix.close(fd);
        }
    }

    @Test
    void theKernelSaysHowManyConnectionsWaitInAUnixListenersQueue(@TempDir Path dir) throws Exception {
        Path path = dir.resolve("queue.sock");
        int fd = Posix.listenUnix(path.toString().getBytes(StandardCharsets.UTF_8), 7);
        assertTrue(fd >= 0, "listenUnix: " + Posix.strerror(-fd));
        try (SocketChannel a = SocketChannel.open(StandardProtocolFamily.UNIX);
             SocketChannel b = SocketChannel.open(StandardProtocolFamily.UNIX);
             SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
            assertEquals(7, Posix.listenQueue(fd) & 0xffffffffL, "the queue's length is the backlog");
            for (SocketChannel ch : new SocketChannel[]{a, b, c}) {
                assertTrue(ch.connect(UnixDomainSocketAddress.of(path)));
            }
            assertEquals(3, Posix.listenQueue(fd) >>> 32, "three connections wait to be accepted");
        } finally {
            Posix.close(fd);
        }
        assertTrue(Posix.listenQueue(fd) < 0, "a closed descriptor gives -errno");
    }

    @Test
    void aSpawnedChildIsWaitedForAndItsStatusRead() throws Exception {
        int[] pair = new int[2];
        assertEquals(0, Posix.socketpair(pair));
        long pid = Posix.spawn(new String[]{"sh", "-c", "[ -e /proc/self/fd/3 ] || exit 9; exit 7"},
                new String[]{"PATH=/usr/bin:/bin"}, new int[]{pair[1]}, 3, pair);
        assertTrue(pid > 0, "spawn: " + Posix.strerror((int) -pid));
        int[] status = new int[1];
        long deadline = System.nanoTime() + 10_000_000_000L;
        int r = 0;
        while (r == 0 && System.nanoTime() < deadline) {
            r = Posix.waitNoHang(pid, status);
            Thread.sleep(10);
        }
        assertEquals(pid, r);
        assertEquals(7, (status[0] >> 8) & 0xff, "exit status (the inherited descriptor was at 3)");
        assertEquals(-ESRCH, Posix.kill(pid, 0), "gone once waited for");
        Posix.close(pair[0]);
        Posix.close(pair[1]);
        assertTrue(Posix.spawn(new String[]{"/nonexistent/bridge"}, new String[0], new int[0], 3, new int[0]) < 0);
    }
}
