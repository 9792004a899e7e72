package dev.bridge.master;

import dev.bridge.config.Config;
import dev.bridge.config.ConfigException;
import dev.bridge.config.Settings;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * {@code --uid}, {@code --gid} and {@code --chown-socket}: who owns the unix sockets, and who the master and its
 * workers run as once the listeners are bound (binding a port below 1024 or a socket in /run needs root; serving
 * does not). Names go through NSS, so LDAP users work too. Runs on the master's main thread, before any worker
 * or the Python probe is started: everything spawned after {@link #drop} runs as the new user.
 */
final class Privileges {

    /** A user and group to become; {@code user} names the passwd entry whose supplementary groups to take (or null). */
    record Identity(int uid, int gid, String user, String home) {}

    /** An owner for socket files: -1 keeps that part as it is. */
    record Owner(int uid, int gid) {}

    private Privileges() {}

    /** Who to become, or null when neither --uid nor --gid was given. */
    static Identity target(Config config) throws ConfigException {
        String uid = config.get(Settings.UID);
        String gid = config.get(Settings.GID);
        if (uid == null && gid == null) {
            return null;
        }
        ProcStatus self = ProcStatus.of("self");
        Entry user = uid == null ? entry(null, (int) self.uid()) : user("--uid", uid);
        if (user == null) { // --gid alone: this process's own user, no passwd entry needed
            user = new Entry((int) self.uid(), (int) self.gid(), null, System.getProperty("user.home"));
        }
        int group;
        if (gid != null) {
            group = group("--gid", gid);
        } else if (user.gid() >= 0) {
            group = user.gid();
        } else {
            throw new ConfigException("--uid " + uid + " has no passwd entry to take a group from: give --gid too");
        }
        boolean changes = user.uid() != self.uid() || group != self.gid();
        if (changes && self.uid() != 0) {
            throw new ConfigException((uid != null ? "--uid " + uid : "--gid " + gid) + ": only root can change "
                    + "its user or group (the bridge runs as uid " + self.uid() + ")");
        }
        return new Identity(user.uid(), group, user.name(), user.home());
    }

    /** {@code --chown-socket USER[:GROUP]}, or null when not given. */
    static Owner socketOwner(Config config) throws ConfigException {
        String spec = config.get(Settings.CHOWN_SOCKET);
        if (spec == null) {
            return null;
        }
        int colon = spec.indexOf(':');
        String userPart = colon < 0 ? spec : spec.substring(0, colon);
        String groupPart = colon < 0 ? null : spec.substring(colon + 1);
        int uid = userPart.isEmpty() ? -1 : user("--chown-socket", userPart).uid();
        int gid = groupPart == null || groupPart.isEmpty() ? -1 : group("--chown-socket", groupPart);
        return new Owner(uid, gid);
    }

    /** Gives a unix socket file the owner --chown-socket asked for. */
    static void chown(Path socket, Owner owner) throws IOException {
        int rc = Posix.chown(socket.toString().getBytes(StandardCharsets.UTF_8), owner.uid(), owner.gid());
        if (rc != 0) {
            throw new IOException("--chown-socket: cannot change the owner of " + socket + ": " + Posix.strerror(-rc));
        }
    }

    /**
     * Becomes {@code who} for good (every thread), or fails with one line; then points {@code user.home} at the
     * new user's home, where the cache directory is looked for ({@link dev.bridge.CacheDir}).
     */
    static void drop(Identity who) throws IOException {
        byte[] name = who.user() == null ? null : who.user().getBytes(StandardCharsets.UTF_8);
        int rc = Posix.dropPrivileges(name, who.uid(), who.gid());
        if (rc != 0) {
            throw new IOException("cannot run as uid " + who.uid() + " gid " + who.gid() + ": " + Posix.strerror(-rc));
        }
        System.setProperty("user.home", who.home());
        if (who.user() != null) {
            System.setProperty("user.name", who.user());
        }
    }

    /** A passwd entry: gid -1 when a numeric uid has none. */
    private record Entry(int uid, int gid, String name, String home) {}

    private static Entry user(String flag, String value) throws ConfigException {
        if (value.matches("\\d+")) {
            Entry e = entry(null, Integer.parseInt(value));
            return e != null ? e : new Entry(Integer.parseInt(value), -1, null, "/");
        }
        Entry e = entry(value, -1);
        if (e == null) {
            throw new ConfigException(flag + " " + value + ": no such user");
        }
        return e;
    }

    private static int group(String flag, String value) throws ConfigException {
        if (value.matches("\\d+")) {
            return Integer.parseInt(value);
        }
        int gid = Posix.groupId(value.getBytes(StandardCharsets.UTF_8));
        if (gid < 0) {
            throw new ConfigException(flag + " " + value + ": no such group");
        }
        return gid;
    }

    private static Entry entry(String name, int uid) {
        String line = Posix.passwd(name == null ? null : name.getBytes(StandardCharsets.UTF_8), uid);
        if (line == null) {
            return null;
        }
        String[] f = line.split(" ", 4);
        return new Entry(Integer.parseInt(f[0]), Integer.parseInt(f[1]), f[2], f[3]);
    }
}
