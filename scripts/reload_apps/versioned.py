"""The app of scripts/reload-check: answers its version, read once at import from version.txt
next to this file (scripts/reload-check copies this file into a directory of its own per run and
writes version.txt there before each reload).

GET /      answers at once
GET /slow  sleeps 200 ms first

The body is "version N\n", filler, "end of version N\n", with a Content-Length, so a client can
tell a complete body from a truncated one and see which version answered.

Broken deploys: a version.txt that is not a number makes the import fail, as a syntax error in a
real deploy would. "N fails in worker W after S" makes the import fail only in the bridge's worker
W (its BRIDGE_WORKER_ID), after S seconds, and gives version N elsewhere: a deploy that one worker
cannot load while the others already could (a boot timeout, an import that fails now and then).
"""

import os
import re
import time

HERE = os.path.dirname(os.path.abspath(__file__))
with open(os.path.join(HERE, "version.txt")) as f:
    VERSION = f.read().strip()
_partial = re.match(r"(\d+) fails in worker (\d+) after ([\d.]+)\Z", VERSION)
if _partial:
    VERSION = _partial.group(1)
    if os.environ.get("BRIDGE_WORKER_ID") == _partial.group(2):
        time.sleep(float(_partial.group(3)))
        raise RuntimeError("broken deploy: worker %s cannot load version %s" % (_partial.group(2), VERSION))
if not VERSION.isdigit():
    raise RuntimeError("broken deploy: version.txt says %r" % VERSION)

BODY = ("version %s\n%s\nend of version %s\n" % (VERSION, "." * 200, VERSION)).encode("ascii")
# X-Pid: which server process answered (scripts/reload-check tells a stalled server process from a
# stalled load generator with it).
HEADERS = [("Content-Type", "text/plain"), ("Content-Length", str(len(BODY))), ("X-Pid", str(os.getpid()))]
SLOW_SECONDS = 0.2


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path == "/slow":
        time.sleep(SLOW_SECONDS)
    elif path != "/":
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("Content-Length", "10")])
        return [b"not found\n"]
    start_response("200 OK", list(HEADERS))
    return [BODY]
