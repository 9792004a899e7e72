"""A raw WSGI application (PEP 3333), no framework.

Routes, chosen by PATH_INFO:
    GET  /         a hello text
    POST /echo     sends the request body back (Content-Type kept)
    GET  /stream   a few chunks from a generator (no Content-Length: the server streams it)
    GET  /environ  the WSGI environ, one "key = value" line per entry

Serve it with any WSGI server, e.g. the bridge:
    java -jar target/bridge.jar --venv .venv --module python-samples/raw/hello.py:application --http 127.0.0.1:8000
or, from this directory, ``--chdir python-samples/raw --module hello``.
"""

import time


def _text(start_response, status, body, extra=()):
    data = body.encode("utf-8")
    start_response(status, [
        ("Content-Type", "text/plain; charset=utf-8"),
        ("Content-Length", str(len(data))),
        *extra,
    ])
    return [data]


def _read_body(environ):
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    if length > 0:
        return environ["wsgi.input"].read(length)
    return b""


def hello(environ, start_response):
    return _text(start_response, "200 OK", "Hello from a raw WSGI app!\n")


def echo(environ, start_response):
    if environ["REQUEST_METHOD"] != "POST":
        return _text(start_response, "405 Method Not Allowed", "POST something to /echo\n", [("Allow", "POST")])
    body = _read_body(environ)
    content_type = environ.get("CONTENT_TYPE") or "application/octet-stream"
    start_response("200 OK", [
        ("Content-Type", content_type),
        ("Content-Length", str(len(body))),
    ])
    return [body]


def stream(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain; charset=utf-8")])

    def chunks():
        for i in range(1, 6):
            yield ("chunk %d of 5\n" % i).encode("utf-8")
            time.sleep(0.1)
        yield b"done\n"

    return chunks()


def show_environ(environ, start_response):
    lines = ["%s = %r" % (key, environ[key]) for key in sorted(environ)]
    return _text(start_response, "200 OK", "\n".join(lines) + "\n")


ROUTES = {
    "/": hello,
    "/echo": echo,
    "/stream": stream,
    "/environ": show_environ,
}


def application(environ, start_response):
    handler = ROUTES.get(environ.get("PATH_INFO") or "/")
    if handler is None:
        return _text(start_response, "404 Not Found", "Not found: %s\n" % environ.get("PATH_INFO"))
    return handler(environ, start_response)
