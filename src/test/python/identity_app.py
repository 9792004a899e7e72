"""Says who the worker runs as: uid, gid and supplementary groups (the --uid tests)."""
import os


def application(environ, start_response):
    body = f"{os.getuid()} {os.geteuid()} {os.getgid()} {sorted(os.getgroups())}".encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
