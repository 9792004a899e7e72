"""Test app for --env (dev.bridge.master.EnvFlagIT): /?name=KEY -> repr(os.environ.get(KEY))."""
import os
from urllib.parse import parse_qs


def application(environ, start_response):
    name = parse_qs(environ.get("QUERY_STRING", "")).get("name", [""])[0]
    data = repr(os.environ.get(name)).encode("utf-8")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
