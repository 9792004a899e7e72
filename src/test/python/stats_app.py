"""Test app for the stats server's integration tests (dev.bridge.stats.StatsIT).

  /            -> the worker's pid (the test tallies who served what)
  /boom        -> raises (a 500 and an exception in the stats)
  /sleep?ms=N  -> sleeps N ms, then the worker's pid
"""
import os
import time
from urllib.parse import parse_qs


def application(environ, start_response):
    path = environ.get("PATH_INFO", "/")
    if path == "/boom":
        raise RuntimeError("boom, for the stats")
    if path == "/sleep":
        time.sleep(int(parse_qs(environ.get("QUERY_STRING", "")).get("ms", ["0"])[0]) / 1000.0)
    data = str(os.getpid()).encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
