"""Helpers shared by the benchmark scripts (scripts/bench, scripts/reload-check): paths, the
set-up of target/bridge.jar and of the peers' virtualenv .bench/venv, and Server, which starts a
server in a session of its own and stops it and everything it spawned.

Only the standard library is used; any Python 3.8+ runs it.
"""

import http.client
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROJECT_VENV = os.path.join(ROOT, ".venv")
PROJECT_PYTHON = os.path.join(PROJECT_VENV, "bin", "python")
JAR = os.path.join(ROOT, "target", "bridge.jar")
BENCH_DIR = os.path.join(ROOT, ".bench")
PEER_VENV = os.path.join(BENCH_DIR, "venv")
PEER_BIN = os.path.join(PEER_VENV, "bin")
LOG_DIR = os.path.join(BENCH_DIR, "logs")

STARTUP_TIMEOUT = 60.0   # seconds for a server to answer its first 200
STOP_GRACE = 10.0        # seconds between SIGTERM and SIGKILL
POLL_INTERVAL = 0.01     # readiness poll: every 10 ms
PROG = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else "bench"   # for messages


# --- small helpers -------------------------------------------------------------------------

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


def run_quiet(argv, timeout, log_path=None):
    """Runs argv to completion (bounded); returns (exit code, output). Never raises for the
    command's own failure; a timeout counts as exit code 124."""
    try:
        p = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           stdin=subprocess.DEVNULL, timeout=timeout, cwd=ROOT)
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


def last_line(text):
    lines = [l.strip() for l in text.splitlines() if l.strip()]
    return lines[-1] if lines else "(no output)"


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

# --- setup ---------------------------------------------------------------------------------

def check_project_venv():
    if not os.access(PROJECT_PYTHON, os.X_OK):
        say(PROG + ": %s is missing: run scripts/setup first (it makes .venv with jep and flask)"
            % rel(PROJECT_VENV))
        sys.exit(1)

def ensure_jar():
    """Builds target/bridge.jar if it is missing. Returns an error string, or None."""
    if os.path.exists(JAR):
        return None
    say(PROG + ": %s is missing, building it: mvn -B -q package -DskipTests" % rel(JAR))
    code, out = run_quiet(["mvn", "-B", "-q", "package", "-DskipTests"], 1200,
                          os.path.join(LOG_DIR, "mvn.log"))
    if code != 0 or not os.path.exists(JAR):
        return "mvn package failed (%s): see %s" % (last_line(out), rel(os.path.join(LOG_DIR, "mvn.log")))
    return None

def python_version(python):
    code, out = run_quiet([python, "-c", "import sys; print('%d.%d.%d' % sys.version_info[:3])"], 30)
    return out.strip() if code == 0 else None


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

    probe = ("import importlib.metadata as m, sys\n"
             "for n in sys.argv[1:]:\n"
             "    try: print(n, m.version(n))\n"
             "    except m.PackageNotFoundError: pass\n")
    names = ["flask"] + list(packages)
    for line in run_quiet([peer_python, "-c", probe] + names, 60)[1].splitlines():
        parts = line.split()
        if len(parts) == 2:
            versions[parts[0]] = parts[1]
    for name in names:
        if name in versions:
            continue
        say(PROG + ": pip install %s into %s" % (name, rel(PEER_VENV)))
        log = os.path.join(LOG_DIR, "pip-%s.log" % name)
        code, out = run_quiet([peer_python, "-m", "pip", "install", "--disable-pip-version-check",
                               name], 900, log)
        if code == 0:
            versions[name] = run_quiet([peer_python, "-c", probe, name], 60)[1].split()[-1]
        else:
            skipped[name] = "pip install %s failed: %s (log: %s)" % (name, last_line(out), rel(log))
    return versions, skipped

# --- one server run ------------------------------------------------------------------------

def get_status(port):
    """Status of GET / on the port, or None if nothing answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=1.0)
    try:
        conn.request("GET", "/")
        resp = conn.getresponse()
        resp.read()
        return resp.status
    except (OSError, http.client.HTTPException):
        return None
    finally:
        conn.close()


CLK_TCK = os.sysconf("SC_CLK_TCK")


def busy_ticks():
    """CPU ticks the whole machine spent busy so far (all CPUs, /proc/stat)."""
    with open("/proc/stat") as f:
        values = [int(v) for v in f.readline().split()[1:9]]
    return sum(values) - values[3] - values[4]   # less idle and iowait


def session_ticks(sid):
    """CPU ticks (user + system) used so far by the live processes of session sid."""
    total = 0
    for pid in session_pids(sid):
        try:
            with open("/proc/%d/stat" % pid) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            total += int(fields[11]) + int(fields[12])
        except (OSError, IndexError, ValueError):
            pass
    return total


def children_ticks():
    """CPU ticks used by this script's finished children (wrk, once it has been waited for)."""
    t = os.times()
    return (t.children_user + t.children_system) * CLK_TCK


def session_pids(sid):
    """Pids of the processes in session sid (every server runs in a session of its own)."""
    pids = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry) as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        if int(fields[3]) == sid and fields[0] != "Z":
            pids.append(int(entry))
    return pids


class Server:
    """A server process started in a new session, so that it and all its children can be
    signalled as a group and checked for leftovers."""

    def __init__(self, argv, log_path):
        self.log_path = log_path
        self.log = open(log_path, "w")
        env = dict(os.environ)
        for var in ("VIRTUAL_ENV", "PYTHONHOME", "PYTHONPATH"):
            env.pop(var, None)
        self.started = time.monotonic()
        self.proc = subprocess.Popen(argv, cwd=ROOT, stdin=subprocess.DEVNULL, stdout=self.log,
                                     stderr=subprocess.STDOUT, env=env, start_new_session=True)

    def wait_ready(self, port, timeout=STARTUP_TIMEOUT):
        """Polls every 10 ms until GET / answers 200. Returns (seconds since launch, None)
        or (None, reason)."""
        deadline = self.started + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return None, "exited with status %d before answering" % self.proc.returncode
            status = get_status(port)
            if status == 200:
                return time.monotonic() - self.started, None
            if status in (502, 503, 504):
                pass  # a proxy in front of a backend still booting
            elif status is not None:
                return None, "GET / answered %d, not 200" % status
            time.sleep(POLL_INTERVAL)
        return None, "no 200 within %.0f s" % timeout

    def stop(self):
        """SIGTERM to the server's main process (a master stops its own workers; signalling
        them too makes uWSGI's worker start a graceful reload of its own), up to STOP_GRACE
        seconds, then SIGKILL to every process still in the session. Returns a note when
        something had to be killed."""
        sid, note = self.proc.pid, None
        try:
            os.kill(sid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        deadline = time.monotonic() + STOP_GRACE
        while time.monotonic() < deadline:
            self.proc.poll()
            if self.proc.returncode is not None and not session_pids(sid):
                break
            time.sleep(0.05)
        left = session_pids(sid)
        if left:
            note = "SIGKILL to %d process(es) still there %.0f s after SIGTERM" % (len(left), STOP_GRACE)
            for pid in left:
                try:
                    os.kill(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
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

# --- report --------------------------------------------------------------------------------

def fmt_ms(ms):
    if ms is None:
        return "-"
    return "%.2fms" % ms if ms < 100 else "%.0fms" % ms
