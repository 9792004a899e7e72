"""The Python ceiling: a WSGI app called in a plain loop, no server at all.

usage: python ceiling.py MODULE[:CALLABLE] SECONDS

Builds a small GET environ once, then calls app(environ, start_response) and
consumes the body (and calls close(), as PEP 3333 asks) for SECONDS seconds.
Each call gets a shallow copy of the environ, as a server hands every request a
fresh dict. Prints one line: "<calls/s> <calls> <seconds>".
"""

import io
import os
import sys
import time


def load(target):
    module_name, _, attr = target.partition(":")
    module = __import__(module_name)
    if attr:
        return getattr(module, attr)
    return getattr(module, "application", None) or getattr(module, "app")


def main():
    target, seconds = sys.argv[1], float(sys.argv[2])
    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    app = load(target)
    environ = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "127.0.0.1",
        "SERVER_PORT": "8000",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "HTTP_HOST": "127.0.0.1:8000",
        "HTTP_USER_AGENT": "ceiling",
        "HTTP_ACCEPT": "*/*",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(b""),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    status = []

    def start_response(s, headers, exc_info=None):
        status.append(s)
        return None

    def call():
        body = app(dict(environ), start_response)
        try:
            for chunk in body:
                pass
        finally:
            close = getattr(body, "close", None)
            if close is not None:
                close()

    call()
    if not status or not status[0].startswith("200"):
        sys.exit("ceiling: %s answered %r, not 200" % (target, status[:1]))

    calls, batch = 0, 200
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(batch):
            call()
        calls += batch
        now = time.perf_counter()
        if now >= deadline:
            break
    elapsed = now - start
    print("%.0f %d %.3f" % (calls / elapsed, calls, elapsed))


if __name__ == "__main__":
    main()
