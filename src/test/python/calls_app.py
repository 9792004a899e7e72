"""Counts its own calls in this process: "calls=N". A worker's warm-up must never call the app."""
import itertools

_calls = itertools.count(1)


def application(environ, start_response):
    body = ("calls=%d" % next(_calls)).encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
