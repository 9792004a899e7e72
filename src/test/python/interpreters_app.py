"""Test app for --interpreters (dev.bridge.python.InterpretersIT): says which interpreter served.

  /            -> "pid=P interpreter=I served=N": N counts this interpreter's requests (a module global)
  /sleep?ms=N  -> sleeps N ms, then as /
  /print       -> prints a line naming the interpreter (to the log), then as /
  /environ     -> wsgi.multiprocess and wsgi.multithread, e.g. "multiprocess=True multithread=False"
"""
import os
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
    if path == "/environ":
        body = "multiprocess=%s multithread=%s" % (environ["wsgi.multiprocess"], environ["wsgi.multithread"])
    else:
        body = "pid=%d interpreter=%d served=%d" % (os.getpid(), INTERPRETER, _served)
    data = body.encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
