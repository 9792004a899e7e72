"""Test app for the master's integration tests (dev.bridge.master.*IT).

  /            -> the worker's pid
  /sleep?ms=N  -> sleeps N ms, then the worker's pid
  /environ     -> wsgi.multiprocess and wsgi.multithread, e.g. "multiprocess=True multithread=False"
  /env?name=K  -> repr(os.environ.get(K))
"""
import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    query = parse_qs(environ.get("QUERY_STRING", ""))
    if path == "/sleep":
        time.sleep(int(query.get("ms", ["0"])[0]) / 1000.0)
        body = str(os.getpid())
    elif path == "/environ":
        body = "multiprocess=%s multithread=%s" % (environ["wsgi.multiprocess"], environ["wsgi.multithread"])
    elif path == "/env":
        body = repr(os.environ.get(query.get("name", [""])[0]))
    else:
        body = str(os.getpid())
    data = body.encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
