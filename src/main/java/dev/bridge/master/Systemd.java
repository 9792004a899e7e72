package dev.bridge.master;

import dev.bridge.config.Config;
import dev.bridge.config.ConfigException;
import dev.bridge.config.ListenAddress;

import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The master's side of systemd: the listening sockets it passes ({@code LISTEN_FDS}, {@code LISTEN_PID},
 * {@code LISTEN_FDNAMES}: socket activation, also how a bridge hands its sockets to the next one on an upgrade),
 * and {@code sd_notify} for {@code Type=notify} ({@code NOTIFY_SOCKET}). The variables are the master's alone:
 * its workers are not given them. Runs on the master's main thread.
 */
final class Systemd {

    /** The first descriptor passed (sd_listen_fds(3)). */
    static final int FIRST_FD = 3;
    static final String LISTEN_FDS = "LISTEN_FDS";
    static final String LISTEN_PID = "LISTEN_PID";
    static final String LISTEN_FDNAMES = "LISTEN_FDNAMES";
    static final String NOTIFY_SOCKET = "NOTIFY_SOCKET";
    /** Variables for the master alone, not passed to the workers (a worker must not notify or adopt). */
    static final List<String> MASTER_ONLY = List.of(LISTEN_FDS, LISTEN_PID, LISTEN_FDNAMES, NOTIFY_SOCKET);
    /** The name (FileDescriptorName=) that makes a passed socket a uwsgi listener; any other serves HTTP. */
    static final String UWSGI_NAME = "uwsgi";

    /** The listeners to serve, and per listener the passed descriptor, or -1 for one the master binds itself. */
    record Listeners(Config config, int[] passedFds) {}

    private final String notifySocket;
    private boolean notifyFailed;

    Systemd(Map<String, String> env) {
        this.notifySocket = env.get(NOTIFY_SOCKET);
    }

    /**
     * The listeners: each configured one, taking over a passed socket at the same address (it keeps its flag's
     * protocol) or else bound by the master; then each passed socket no flag names, as uwsgi if systemd named it
     * {@value #UWSGI_NAME}, else HTTP. With sockets passed and no listener flag, the default listener is not used.
     */
    static Listeners listeners(Config config, Map<String, String> env) throws ConfigException {
        List<Passed> passed = passed(env);
        if (passed.isEmpty()) {
            int[] none = new int[config.listeners().size()];
            java.util.Arrays.fill(none, -1);
            return new Listeners(config, none);
        }
        List<ListenAddress> configured = config.listenersGiven() ? config.listeners() : List.of();
        List<ListenAddress> all = new ArrayList<>();
        List<Integer> fds = new ArrayList<>();
        List<Passed> left = new ArrayList<>(passed);
        for (ListenAddress a : configured) {
            Passed match = left.stream().filter(p -> p.sameAddress(a)).findFirst().orElse(null);
            left.remove(match);
            all.add(a);
            fds.add(match == null ? -1 : match.fd());
        }
        for (Passed p : left) {
            all.add(p.address(p.name() != null && p.name().toLowerCase(Locale.ROOT).equals(UWSGI_NAME)
                    ? ListenAddress.Protocol.UWSGI : ListenAddress.Protocol.HTTP));
            fds.add(p.fd());
        }
        Config effective = config.withListeners(all);
        int[] byListener = new int[effective.listeners().size()]; // withListeners orders HTTP first, then uwsgi
        for (int i = 0; i < byListener.length; i++) {
            byListener[i] = fds.get(all.indexOf(effective.listeners().get(i)));
        }
        return new Listeners(effective, byListener);
    }

    /** sd_notify: one datagram of {@code KEY=VALUE} lines, when systemd (or a test) listens; a failure is logged once. */
    void notify(String... lines) {
        if (notifySocket == null || notifySocket.isEmpty()) {
            return;
        }
        int rc = Posix.notify(notifySocket.getBytes(StandardCharsets.UTF_8),
                (String.join("\n", lines) + "\n").getBytes(StandardCharsets.UTF_8));
        if (rc != 0 && !notifyFailed) {
            notifyFailed = true;
            dev.bridge.Log.get().warn("cannot notify systemd at " + notifySocket + ": " + Posix.strerror(-rc));
        }
    }

    /** A socket passed at {@code fd}: what it listens on ("tcp HOST PORT" or "unix PATH") and its name, if any. */
    private record Passed(int fd, String kind, String where, int port, String name) {

        boolean sameAddress(ListenAddress a) {
            if (a.isUnix()) {
                return kind.equals("unix") && where.equals(a.unixPath());
            }
            if (!kind.equals("tcp") || a.port() != port) {
                return false;
            }
            try {
                InetAddress mine = InetAddress.getByName(a.host());
                return mine.equals(InetAddress.getByName(where));
            } catch (UnknownHostException e) {
                return false;
            }
        }

        ListenAddress address(ListenAddress.Protocol protocol) throws ConfigException {
            if (kind.equals("unix") && protocol == ListenAddress.Protocol.HTTP) {
                throw new ConfigException(LISTEN_FDS + ": the unix socket " + where + " passed at descriptor " + fd
                        + " would serve HTTP, which the bridge serves on TCP only: name it " + UWSGI_NAME
                        + " (FileDescriptorName=" + UWSGI_NAME + ") or give --uwsgi-socket " + where);
            }
            return kind.equals("unix") ? new ListenAddress(protocol, null, -1, where)
                    : new ListenAddress(protocol, where, port, null); // the kernel's own address: nothing to parse
        }
    }

    /** The sockets passed to this process: none unless LISTEN_PID is this process (they were meant for another). */
    private static List<Passed> passed(Map<String, String> env) throws ConfigException {
        String count = env.get(LISTEN_FDS);
        String pid = env.get(LISTEN_PID);
        boolean forUs = pid != null ? pid.equals(Long.toString(ProcessHandle.current().pid())) : Upgrade.isSuccessor(env);
        if (count == null || !forUs) {
            return List.of(); // meant for another process (a parent's, say)
        }
        int n;
        try {
            n = Integer.parseInt(count);
        } catch (NumberFormatException e) {
            throw new ConfigException(LISTEN_FDS + "=" + count + ": expected a number of descriptors");
        }
        String[] names = env.getOrDefault(LISTEN_FDNAMES, "").split(":", -1);
        List<Passed> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            int fd = FIRST_FD + i;
            String what = Posix.adoptListener(fd);
            if (what == null) {
                throw new ConfigException(LISTEN_FDS + ": descriptor " + fd + " is not a listening stream socket "
                        + "(the bridge serves Accept=no stream sockets: ListenStream=)");
            }
            String[] f = what.split(" ", 3);
            if (f[1].startsWith("@")) {
                throw new ConfigException(LISTEN_FDS + ": descriptor " + fd + " is the abstract socket " + f[1]
                        + ": give the socket a path");
            }
            String name = i < names.length && !names[i].isEmpty() ? names[i] : null;
            out.add(f[0].equals("tcp") ? new Passed(fd, "tcp", f[1], Integer.parseInt(f[2]), name)
                    : new Passed(fd, "unix", what.substring(5), -1, name));
        }
        return out;
    }
}
