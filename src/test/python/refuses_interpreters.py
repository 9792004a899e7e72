"""An app importing ujson (PyPI), a C extension with single-phase init: CPython refuses to load it in an
isolated interpreter ("module ujson does not support loading in subinterpreters")."""
import ujson


def application(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/json")])
    return [ujson.dumps({"ok": True}).encode()]
