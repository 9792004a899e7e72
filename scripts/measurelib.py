"""Helpers shared by the measurement scripts (scripts/bench, scripts/reload-check, scripts/footprint,
scripts/herd): paths, the set-up of target/bridge.jar and of the peers' virtualenv .bench/venv, and
Server. Every server runs in a session of its own so that it and all its children can be found and
stopped; every external command is bounded in time.

Only the standard library is used; any Python 3.8+ runs it.
"""

import http.client
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APPS_DIR = os.path.join(ROOT, "scripts", "bench_apps")
PROJECT_VENV = os.path.join(ROOT, ".venv")
PROJECT_PYTHON = os.path.join(PROJECT_VENV, "bin", "python")
# The CPython 3.13 virtualenv scripts/setup makes: --interpreters needs 3.13+.
INTERP_VENV = os.path.join(ROOT, ".venv-3.13")
JAR = os.path.join(ROOT, "target", "bridge.jar")
BENCH_DIR = os.path.join(ROOT, ".bench")
PEER_VENV = os.path.join(BENCH_DIR, "venv")
PEER_BIN = os.path.join(PEER_VENV, "bin")
LOG_DIR = os.path.join(BENCH_DIR, "logs")

STARTUP_TIMEOUT = 60.0   # seconds for a server to answer its first 200
STOP_GRACE = 10.0        # seconds between SIGTERM and SIGKILL
POLL_INTERVAL = 0.01     # readiness poll: every 10 ms
CLK_TCK = os.sysconf("SC_CLK_TCK")
PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "measure"   # for messages


# --- output --------------------------------------------------------------------------------

def say(msg=""):
    print(msg, flush=True)


def rel(path):
    """A path relative to the repository root, for shorter command lines."""
    if isinstance(path, str) and path.startswith(ROOT + os.sep):
        return os.path.relpath(path, ROOT)
    return path


def show_cmd(argv):
    return " ".join(shlex.quote(rel(a)) for a in argv)


def tail(path, lines=8):
    try:
        with open(path, errors="replace") as f:
            return "".join(f.readlines()[-lines:]).rstrip()
    except OSError:
        return ""


def last_line(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[-1] if lines else "(no output)"


def table(header, rows, left=(0,), gap_after=None):
    """Prints an aligned table. left: indexes of left-aligned (text) columns; gap_after(prev, row):
    True to print an empty line between two rows."""
    rows = [[str(c) for c in r] for r in rows]
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]

    def line(cells):
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths))).rstrip()

    say(line(header))
    say(line(["-" * w for w in widths]))
    previous = None
    for row in rows:
        if previous is not None and gap_after and gap_after(previous, row):
            say("")
        say(line(row))
        previous = row


# --- commands ------------------------------------------------------------------------------

def run_quiet(argv, timeout, log_path=None, env=None):
    """Runs argv to completion (bounded); returns (exit code, output). Never raises for the
    command's own failure; a timeout counts as exit code 124."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout, cwd=ROOT, env=env)
        out, code = p.stdout.decode(errors="replace"), p.returncode
    except subprocess.TimeoutExpired as e:
        out = (e.stdout or b"").decode(errors="replace") + "\n(timed out after %ds)" % timeout
        code = 124
    except OSError as e:
        out, code = str(e), 127
    if log_path:
        with open(log_path, "w") as f:
            f.write(out)
    return code, out


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg():
    try:
        with open("/proc/loadavg") as f:
            return " ".join(f.read().split()[:3])
    except OSError:
        return "?"


def git_rev():
    return run_quiet(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], 10)[1].strip() or "?"


# --- set-up --------------------------------------------------------------------------------

def check_project_venv():
    if not os.access(PROJECT_PYTHON, os.X_OK):
        say("%s: %s is missing: run scripts/setup first (it makes .venv with jep and flask)"
            % (PROG, rel(PROJECT_VENV)))
        sys.exit(1)


def ensure_apt(tool, package=None):
    """Installs a Debian package for tool when it is missing and this is root. Returns True when the
    tool is there afterwards."""
    if shutil.which(tool):
        return True
    if os.geteuid() != 0:
        say("%s: %s is not installed and this is not root: run 'apt-get install -y %s' as root"
            % (PROG, tool, package or tool))
        return False
    say("%s: installing %s from Debian's packages" % (PROG, package or tool))
    code, out = run_quiet(["apt-get", "install", "-y", package or tool], 600)
    if code != 0:
        run_quiet(["apt-get", "update"], 600)
        code, out = run_quiet(["apt-get", "install", "-y", package or tool], 600)
    if code != 0 or not shutil.which(tool):
        say("%s: cannot install %s: %s" % (PROG, package or tool, last_line(out)))
        return False
    return True


def ensure_jar():
    """Builds target/bridge.jar if it is missing. Returns an error string, or None."""
    if os.path.exists(JAR):
        return None
    say("%s: %s is missing, building it: mvn -B -q package -DskipTests" % (PROG, rel(JAR)))
    os.makedirs(LOG_DIR, exist_ok=True)
    code, out = run_quiet(["mvn", "-B", "-q", "package", "-DskipTests"], 1200,
                          os.path.join(LOG_DIR, "mvn.log"))
    if code != 0 or not os.path.exists(JAR):
        return "mvn package failed (%s): see %s" % (last_line(out), rel(os.path.join(LOG_DIR, "mvn.log")))
    return None


def python_version(python):
    code, out = run_quiet([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], 30)
    return out.strip() if code == 0 else None


def peer(name):
    """Path of a peer server's executable in .bench/venv (made by scripts/bench), or None."""
    path = os.path.join(PEER_BIN, name)
    return path if os.access(path, os.X_OK) else None


def peer_versions(names):
    """Version per installed package of names in .bench/venv."""
    probe = ("import importlib.metadata as m, sys\n"
             "for n in sys.argv[1:]:\n"
             "    try: print(n, m.version(n))\n"
             "    except m.PackageNotFoundError: pass\n")
    py = os.path.join(PEER_BIN, "python")
    if not os.access(py, os.X_OK):
        return {}
    out = run_quiet([py, "-c", probe] + list(names), 60)[1]
    return dict(l.split() for l in out.splitlines() if len(l.split()) == 2)


def ensure_peers(packages):
    """Makes .bench/venv from the same base Python as .venv, then pip-installs what is missing
    of flask and the peers, one package at a time. Returns (versions, skipped): version per
    installed package, and the reason per package that could not be installed."""
    versions, skipped = {}, {}
    code, base = run_quiet([PROJECT_PYTHON, "-c", "import sys; print(sys._base_executable)"], 30)
    base = base.strip() if code == 0 and base.strip() else (shutil.which("python3") or "python3")
    want = python_version(PROJECT_PYTHON)
    peer_python = os.path.join(PEER_BIN, "python")
    if os.path.exists(peer_python) and python_version(peer_python) != want:
        say(PROG + ": %s is not Python %s, making it anew" % (rel(PEER_VENV), want))
        shutil.rmtree(PEER_VENV)
    if not os.path.exists(peer_python):
        say(PROG + ": making %s from %s" % (rel(PEER_VENV), base))
        code, out = run_quiet([base, "-m", "venv", PEER_VENV], 300)
        if code != 0:
            reason = "cannot make %s: %s" % (rel(PEER_VENV), last_line(out))
            return versions, {p: reason for p in packages}

    names = ["flask"] + list(packages)
    versions.update(peer_versions(names))
    for name in names:
        if name in versions:
            continue
        say(PROG + ": pip install %s into %s" % (name, rel(PEER_VENV)))
        log = os.path.join(LOG_DIR, "pip-%s.log" % name)
        code, out = run_quiet([peer_python, "-m", "pip", "install", "--disable-pip-version-check",
                               name], 900, log)
        if code == 0:
            versions[name] = peer_versions([name]).get(name, "?")
        else:
            skipped[name] = "pip install %s failed: %s (log: %s)" % (name, last_line(out), rel(log))
    return versions, skipped


# --- /proc ---------------------------------------------------------------------------------

def proc_stat(pid):
    """Fields of /proc/PID/stat after the command name (fields[0] is the state), or None."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None


def session_pids(sid):
    """Pids of the live processes in session sid (every server runs in a session of its own)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        fields = proc_stat(int(entry))
        if fields and int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return sorted(pids)


def cmdline(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return [a.decode(errors="replace") for a in f.read().split(b"\0") if a]
    except OSError:
        return []


def ppid(pid):
    fields = proc_stat(pid)
    return int(fields[1]) if fields else None


def thread_switches(pid):
    """{tid: (comm, voluntary + nonvoluntary context switches, voluntary ones, ns on a CPU)} for every
    thread of pid. A voluntary switch is the thread going to sleep (so one wake-up follows); a
    nonvoluntary one is the thread preempted, which on a busy machine says more about the others."""
    out = {}
    try:
        tids = os.listdir("/proc/%d/task" % pid)
    except OSError:
        return out
    for tid in tids:
        base = "/proc/%d/task/%s/" % (pid, tid)
        try:
            with open(base + "comm") as f:
                comm = f.read().strip()
            n = vol = 0
            with open(base + "status") as f:
                for line in f:
                    if line.startswith(("voluntary_ctxt_switches", "nonvoluntary_ctxt_switches")):
                        n += int(line.split()[1])
                        if line.startswith("voluntary"):
                            vol = int(line.split()[1])
            with open(base + "schedstat") as f:
                cpu_ns = int(f.read().split()[0])
            out[int(tid)] = (comm, n, vol, cpu_ns)
        except (OSError, ValueError):
            pass
    return out


def memory(pid):
    """kB figures from /proc/PID/smaps_rollup: Rss, Pss, Pss_Anon, Pss_File, and Uss (private)."""
    m = {}
    try:
        with open("/proc/%d/smaps_rollup" % pid) as f:
            for line in f:
                parts = line.split()
                if len(parts) >= 2 and parts[0].endswith(":") and parts[1].isdigit():
                    m[parts[0][:-1]] = int(parts[1])
    except OSError:
        return None
    m["Uss"] = m.get("Private_Clean", 0) + m.get("Private_Dirty", 0)
    return m


def busy_ticks():
    """CPU ticks the whole machine spent busy so far (all CPUs, /proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return sum(values) - values[3] - values[4]   # less idle and iowait


def session_ticks(sid, without=()):
    """CPU ticks (user + system) used so far by the live processes of session sid, less those whose
    command name is in `without` (nginx in front of a server is not the server)."""
    total = 0
    for pid in session_pids(sid):
        fields = proc_stat(pid)
        if fields and proc_comm(pid) not in without:
            total += int(fields[11]) + int(fields[12])
    return total


def proc_comm(pid):
    """The command name of a process (/proc/PID/comm), or "" when it is gone."""
    try:
        with open("/proc/%d/comm" % pid) as f:
            return f.read().strip()
    except OSError:
        return ""


def children_ticks():
    """CPU ticks used by this script's finished children (wrk, once it has been waited for)."""
    t = os.times()
    return (t.children_user + t.children_system) * CLK_TCK


class OtherLoad:
    """Share of the CPUs that went to processes other than a server and this script (and its waited-for
    children) between start() and stop(): on a shared 2-CPU machine, what says a figure is noise."""

    def __init__(self, sid):
        self.sid = sid

    def __enter__(self):
        self.t0 = (time.monotonic(), busy_ticks(), session_ticks(self.sid), children_ticks(),
                   self_ticks())
        return self

    def __exit__(self, *exc):
        t1 = (time.monotonic(), busy_ticks(), session_ticks(self.sid), children_ticks(), self_ticks())
        own = sum(t1[i] - self.t0[i] for i in (2, 3, 4))
        capacity = max(1e-9, (t1[0] - self.t0[0]) * CLK_TCK * (os.cpu_count() or 1))
        self.percent = max(0.0, (t1[1] - self.t0[1]) - own) * 100.0 / capacity
        return False


def self_ticks():
    t = os.times()
    return (t.user + t.system) * CLK_TCK


# --- HTTP ----------------------------------------------------------------------------------

def get_status(port, timeout=5.0, path="/"):
    """Status of GET path on the port, or None if nothing answers. The timeout is long on purpose: a
    server whose master has bound the socket queues the connection until a worker accepts it, and the
    answer then comes as soon as one is ready."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        conn.request("GET", path)
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


def parse_ms(value, unit):
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0}[unit]


def parse_wrk(out):
    """req/s, p50 and p99 (ms), requests, errors (socket errors + non-2xx/3xx) from wrk."""
    r = {}
    m = re.search(r"Requests/sec:\s+([\d.]+)", out)
    r["rps"] = float(m.group(1)) if m else 0.0
    for pct in ("50", "99"):
        m = re.search(r"^\s+%s%%\s+([\d.]+)(us|ms|s)\b" % pct, out, re.M)
        r["p" + pct] = parse_ms(*m.groups()) if m else None
    m = re.search(r"(\d+) requests in", out)
    r["requests"] = int(m.group(1)) if m else 0
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(g) for g in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    r["errors"] = errors
    return r


def wrk(port, conc, seconds, threads=2, close=False):
    """Runs wrk (bounded); returns (exit code, output, parsed result)."""
    argv = ["wrk", "-t%d" % min(threads, conc), "-c%d" % conc, "-d%ds" % seconds, "--latency",
            "--timeout", "2s"]
    if close:
        argv += ["-H", "Connection: close"]
    argv.append("http://127.0.0.1:%d/" % port)
    code, out = run_quiet(argv, seconds + 30)
    return code, out, parse_wrk(out)


# --- servers -------------------------------------------------------------------------------

_LIVE = []   # servers started and not yet stopped, for cleanup on the way out


class Server:
    """A server process started in a new session, so that it and all its children can be
    signalled as a group and checked for leftovers."""

    def __init__(self, argv, log_path, env_extra=None, stop_signal=signal.SIGTERM):
        self.argv = argv
        self.stop_signal = stop_signal
        self.log_path = log_path
        os.makedirs(os.path.dirname(log_path), exist_ok=True)
        self.log = open(log_path, "w")
        env = dict(os.environ)
        for var in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH"):
            env.pop(var, None)
        env.update(env_extra or {})
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)
        self.pid = self.proc.pid
        _LIVE.append(self)

    def pids(self):
        return session_pids(self.pid)

    def wait_ready(self, port, timeout=STARTUP_TIMEOUT):
        """Polls every 10 ms until GET / answers 200. Returns (seconds since launch, None)
        or (None, reason)."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return None, "exited with status %d before answering" % self.proc.returncode
            status = get_status(port, timeout=max(0.1, min(5.0, deadline - time.monotonic())))
            if status == 200:
                return time.monotonic() - self.started, None
            if status in (502, 503, 504):
                pass  # a proxy in front of a backend still booting
            elif status is not None:
                return None, "GET / answered %d, not 200" % status
            time.sleep(POLL_INTERVAL)
        return None, "no 200 within %.0f s" % timeout

    def wait_count(self, predicate, timeout):
        """Waits until predicate(pids of the session) is true; returns it."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if predicate(self.pids()):
                return True
            time.sleep(0.05)
        return predicate(self.pids())

    def stop(self, grace=STOP_GRACE):
        """SIGTERM (or the server's own stop signal) to the server's main process (a master stops its own
        workers; signalling them too makes uWSGI's worker start a graceful reload of its own), up to grace
        seconds, then SIGKILL to every process still in the session. Returns a note when something had
        to be killed."""
        if self in _LIVE:
            _LIVE.remove(self)
        sid, note = self.pid, None
        try:
            os.kill(sid, self.stop_signal)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            self.proc.poll()
            if self.proc.returncode is not None and not session_pids(sid):
                break
            time.sleep(0.05)
        left = session_pids(sid)
        if left:
            note = "SIGKILL to %d process(es) still there %.0f s after SIGTERM" % (len(left), grace)
            kill_pids(left)
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        for _ in range(100):
            if not session_pids(sid):
                break
            time.sleep(0.05)
        else:
            note = "processes of session %d would not die: %s" % (sid, session_pids(sid))
        self.log.close()
        return note


def kill_pids(pids):
    """SIGKILL to each of pids that is still there."""
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def kill_leftovers():
    """SIGKILL to every session this script started and did not stop (on an error or ^C)."""
    for server in list(_LIVE):
        kill_pids(session_pids(server.pid))
        try:
            server.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            pass
        _LIVE.remove(server)


def bridge_argv(app_target, port, workers, extra=(), java_flags=(), interpreters=False):
    return (["java"] + list(java_flags) + ["-jar", JAR, "--pythonpath", APPS_DIR, "--module", app_target,
             "--http", "127.0.0.1:%d" % port] + bridge_python_flags(workers, interpreters)
            + ["--disable-logging"] + list(extra))


def bridge_python_flags(copies, interpreters, threads=1):
    """The bridge's Python flags for COPIES copies of the app: COPIES worker processes of THREADS threads on
    .venv's Python, or (interpreters) one worker process with COPIES x THREADS isolated interpreters on
    .venv-3.13's, as many Python threads, each with its own GIL."""
    if interpreters:
        return ["--venv", INTERP_VENV, "--workers", "1", "--interpreters", str(copies * threads)]
    return ["--venv", PROJECT_VENV, "--workers", str(copies)] + (["--threads", str(threads)] if threads > 1 else [])


def check_interp_venv():
    """Exits with a clear line when .venv-3.13 (for --interpreters) is missing."""
    if not os.access(os.path.join(INTERP_VENV, "bin", "python"), os.X_OK):
        say("%s: no %s: run scripts/setup first (it makes it from a CPython 3.13)" % (PROG, rel(INTERP_VENV)))
        sys.exit(1)


def bridge_worker_id(pid):
    """N of a bridge worker's -Dbridge.worker=N, "standby" for a JVM started as a standby (which may since
    have become a worker: only the master's log tells), or None for another process."""
    for a in cmdline(pid):
        if a.startswith("-Dbridge.worker="):
            value = a.split("=", 1)[1]
            return int(value) if value.isdigit() else value
    return None


def nginx_front(name, port, backend_argv, sock_dir):
    """argv of a shell that starts the backend (on a uwsgi unix socket) and nginx in front of it
    (uwsgi_pass with the stock uwsgi_params, one nginx worker, keep-alive to the client). Server
    stops them together: it signals the shell's session."""
    conf = os.path.join(sock_dir, "nginx.conf")
    sock = os.path.join(sock_dir, "app.sock")
    with open(conf, "w") as f:
        f.write("""%(user)s
worker_processes 1;
daemon off;
pid %(dir)s/nginx.pid;
error_log %(dir)s/error.log warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %(dir)s/body;
    proxy_temp_path %(dir)s/proxy;
    fastcgi_temp_path %(dir)s/fastcgi;
    uwsgi_temp_path %(dir)s/uwsgi;
    scgi_temp_path %(dir)s/scgi;
    keepalive_requests 1000000;
    server {
        listen 127.0.0.1:%(port)d;
        location / { include /etc/nginx/uwsgi_params; uwsgi_pass unix:%(sock)s; }
    }
}
""" % {"user": "user root;" if os.geteuid() == 0 else "", "dir": sock_dir, "port": port, "sock": sock})
    backend = " ".join(shlex.quote(a) for a in backend_argv).replace("SOCKET", shlex.quote(sock))
    # the shell stays, so that SIGTERM to it stops both at once
    return ["sh", "-c", "%s & b=$!; nginx -p %s -c %s & n=$!; trap 'kill $b $n; wait' TERM; wait" % (
        backend, shlex.quote(sock_dir), shlex.quote(conf))]
