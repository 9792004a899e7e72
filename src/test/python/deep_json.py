"""Test app for dev.bridge.python.PythonStackIT: parses the request body as JSON, as any JSON API does.

  POST / with a JSON body -> "parsed" or "RecursionError", then the worker's pid
"""
import json
import os


def application(environ, start_response):
    body = environ["wsgi.input"].read(int(environ.get("CONTENT_LENGTH") or 0))
    try:
        json.loads(body)
        outcome = "parsed"
    except RecursionError:
        outcome = "RecursionError"
    data = ("%s %d" % (outcome, os.getpid())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
