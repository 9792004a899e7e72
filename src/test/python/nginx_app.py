"""The app behind nginx in NginxIT (uwsgi_pass over TCP and a unix socket, and proxy_pass).

Routes:
  /env        the environ's str values, one "KEY<TAB>value" line each, value as its latin-1 bytes
              (PEP 3333 native strings: what nginx sent, byte for byte); "type:KEY<TAB>name" for the rest
  /echo       the request body back; X-Length, X-Sha256 and X-Content-Length (the environ's) headers;
              reads wsgi.input in pieces of 8 KiB
  /cookie     length and sha256 of HTTP_COOKIE
  /stream     ?n=&size=&delay_ms=: n chunks of size bytes from a generator, no Content-Length
  /file       ?size=: a wsgi.file_wrapper around a file of size bytes, byte i being i % 251
  /error      raises: a 500
  /hello      a short text; ?ms= sleeps first
  /validated  conformance.py's app under wsgiref.validate, warnings as errors: "validated METHOD n", else a 500
"""
import hashlib
import os
import tempfile
import time
from urllib.parse import parse_qs


def _q(environ, name, default):
    v = parse_qs(environ.get("QUERY_STRING", "")).get(name)
    return int(v[0]) if v else default


def _pattern(n):
    block = bytes(i % 251 for i in range(251))
    return (block * (n // 251 + 1))[:n]


def _text(start_response, body, status="200 OK", extra=()):
    start_response(status, [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))] + list(extra))
    return [body]


def env(environ, start_response):
    lines = []
    for k in sorted(environ):
        v = environ[k]
        if isinstance(v, str):
            lines.append(k.encode("latin-1") + b"\t" + v.encode("latin-1"))
        else:
            lines.append(("type:%s\t%s" % (k, type(v).__name__)).encode())
    return _text(start_response, b"\n".join(lines) + b"\n")


def echo(environ, start_response):
    stream = environ["wsgi.input"]
    parts = []
    while True:
        piece = stream.read(8192)
        if not piece:
            break
        parts.append(piece)
    data = b"".join(parts)
    return _text(start_response, data, extra=[
        ("X-Length", str(len(data))),
        ("X-Sha256", hashlib.sha256(data).hexdigest()),
        ("X-Content-Length", environ.get("CONTENT_LENGTH", "")),
    ])


def cookie(environ, start_response):
    c = environ.get("HTTP_COOKIE", "").encode("latin-1")
    return _text(start_response, ("%d %s" % (len(c), hashlib.sha256(c).hexdigest())).encode())


def stream(environ, start_response):
    n, size, delay = _q(environ, "n", 5), _q(environ, "size", 1000), _q(environ, "delay_ms", 0)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def chunks():
        for i in range(n):
            if delay and i:
                time.sleep(delay / 1000.0)
            yield bytes([ord("a") + i % 26]) * size
    return chunks()


def file(environ, start_response):
    size = _q(environ, "size", 100000)
    path = os.path.join(tempfile.gettempdir(), "nginx_app-%d-%d.bin" % (os.getpid(), size))
    if not os.path.exists(path):
        tmp = path + ".%d.tmp" % id(environ)
        with open(tmp, "wb") as f:
            f.write(_pattern(size))
        os.replace(tmp, path)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](open(path, "rb"), 32768)


def error(environ, start_response):
    raise RuntimeError("nginx_app /error: failing on purpose")


def hello(environ, start_response):
    ms = _q(environ, "ms", 0)
    if ms:
        time.sleep(ms / 1000.0)
    return _text(start_response, b"hello from nginx_app")


def validated(environ, start_response):
    from conformance import app
    return app(environ, start_response)


ROUTES = {"/env": env, "/echo": echo, "/cookie": cookie, "/stream": stream, "/file": file,
          "/error": error, "/hello": hello, "/validated": validated}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    for prefix, route in ROUTES.items():
        if path == prefix or path.startswith(prefix + "/"):
            return route(environ, start_response)
    return _text(start_response, b"no route for " + path.encode("latin-1"), "404 Not Found")
