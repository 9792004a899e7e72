package dev.bridge.master;

import dev.bridge.config.ListenAddress;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Upgrading the bridge itself with no failed request (SIGUSR2, as gunicorn's; simpler than its dance): this
 * master starts a new master from the jar at its own path (a new version, if it was replaced there by a rename),
 * with the command line and environment it was started with (so an ini file is read again: new settings), and
 * hands it the listening sockets as systemd would ({@code LISTEN_FDS}, {@code LISTEN_FDNAMES}) plus a control
 * socket. The new master binds none of them again, boots its workers, and once they all serve, writes the pid
 * file, tells systemd it is the main process now, and sends {@value #UPGRADED} here; this master then retires its
 * workers as a reload retires a generation (they close their listeners and finish what they have) and exits. The
 * sockets never close, so a connection waits in their backlog at worst. If the new master exits first, or has not
 * taken over within {@link #TAKEOVER_SECONDS}, this one goes on serving.
 *
 * <p>Runs on the master's main thread (both sides).
 */
final class Upgrade {

    /** The old master's pid, in the new master's environment: it may take the sockets passed to it. */
    static final String ENV_FROM = "BRIDGE_UPGRADE_FROM";
    /** The new master's end of the control socket. */
    static final String ENV_FD = "BRIDGE_UPGRADE_FD";
    /** New master to old: my workers all serve; retire yours. */
    static final String UPGRADED = "UPGRADED";
    /** Seconds the new master gets to serve with all its workers before this one gives up on it (kills it). */
    static final int TAKEOVER_SECONDS = 180;

    /** Variables for the new master alone, not passed to its workers. */
    static final List<String> MASTER_ONLY = List.of(ENV_FROM, ENV_FD);

    final long pid;
    final long deadline;
    /** The control socket to the new master (its UPGRADED arrives there). */
    io.netty.channel.Channel control;

    private Upgrade(long pid, long deadline) {
        this.pid = pid;
        this.deadline = deadline;
    }

    /**
     * Starts the new master with {@code launchArgs} (this one's command line), the listeners at their descriptors
     * ({@code listenFds}[i] for {@code listeners}[i]; -1: not handed over, the new one binds it) and {@code
     * controlFd}, its end of the control socket. Returns it, or throws with one line.
     */
    static Upgrade start(Spawner spawner, List<String> launchArgs, List<ListenAddress> listeners, int[] listenFds,
                         int controlFd) throws IOException {
        List<Integer> inherit = new ArrayList<>();
        List<String> names = new ArrayList<>();
        for (int i = 0; i < listenFds.length; i++) {
            if (listenFds[i] >= 0) {
                inherit.add(listenFds[i]);
                names.add(listeners.get(i).protocol().name().toLowerCase(Locale.ROOT));
            }
        }
        inherit.add(controlFd);
        Map<String, String> env = new LinkedHashMap<>(System.getenv());
        Systemd.MASTER_ONLY.stream().filter(v -> !v.equals(Systemd.NOTIFY_SOCKET)).forEach(env::remove);
        env.put(Systemd.LISTEN_FDS, Integer.toString(names.size()));
        env.put(Systemd.LISTEN_FDNAMES, String.join(":", names));
        env.put(ENV_FROM, Long.toString(ProcessHandle.current().pid()));
        env.put(ENV_FD, Integer.toString(Spawner.FIRST_FD + names.size()));
        List<String> argv = new ArrayList<>();
        argv.add(WorkerCommand.javaExecutable());
        argv.addAll(ManagementFactory.getRuntimeMXBean().getInputArguments());
        argv.add("-jar");
        argv.add(WorkerCommand.ownJar());
        argv.addAll(launchArgs);
        long pid = spawner.spawn(argv, env, inherit.stream().mapToInt(Integer::intValue).toArray());
        return new Upgrade(pid, System.nanoTime() + java.util.concurrent.TimeUnit.SECONDS.toNanos(TAKEOVER_SECONDS));
    }

    /** In a new master: whether this master was started by an upgrade (the old master is its parent). */
    static boolean isSuccessor(Map<String, String> env) {
        String from = env.get(ENV_FROM);
        return from != null && ProcessHandle.current().parent().map(p -> Long.toString(p.pid()).equals(from)).orElse(false);
    }
}
