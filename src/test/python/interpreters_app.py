"""Test app for --interpreters (dev.bridge.python.InterpretersIT): says which interpreter served.

  /            -> "pid=P interpreter=I served=N": N counts this interpreter's requests (a module global)
  /sleep?ms=N  -> sleeps N ms, then as /
  /print       -> prints a line naming the interpreter (to the log), then as /
  /environ     -> wsgi.multiprocess and wsgi.multithread, e.g. "multiprocess=True multithread=False"
  /features    -> what an app may do in this interpreter: a daemon thread, a subprocess, os.fork
"""
import os
import subprocess
import threading
import time
from urllib.parse import parse_qs

import _interpreters

INTERPRETER = _interpreters.get_current()[0]
_served = 0
print("interpreter %d of pid %d loaded the app" % (INTERPRETER, os.getpid()))


def application(environ, start_response):
    global _served
    _served += 1
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/sleep":
        time.sleep(int(query.get("ms", ["0"])[0]) / 1000.0)
    elif path == "/print":
        print("hello from interpreter %d" % INTERPRETER)
    if path == "/features":
        body = " ".join("%s=%s" % (name, _try(f)) for name, f in (
            ("daemon_thread", _daemon_thread), ("subprocess", _subprocess), ("fork", _fork)))
    elif path == "/environ":
        body = "multiprocess=%s multithread=%s" % (environ["wsgi.multiprocess"], environ["wsgi.multithread"])
    else:
        body = "pid=%d interpreter=%d served=%d" % (os.getpid(), INTERPRETER, _served)
    data = body.encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]


def _try(f):
    try:
        f()
        return "yes"
    except Exception as e:
        return "no(%s)" % type(e).__name__


def _daemon_thread():
    done = threading.Event()
    threading.Thread(target=done.set, daemon=True).start()
    if not done.wait(5):
        raise TimeoutError()


def _subprocess():
    subprocess.run(["true"], check=True)


def _fork():
    pid = os.fork()
    if pid == 0:
        os._exit(0)
    os.waitpid(pid, 0)
