"""Test app whose import kills the worker process while a marker file exists (dev.bridge.master.BootFailureIT).

The marker is master_flaky.marker next to this module. While it exists, the worker dies during boot with
exit status 7 (os._exit, as a native crash would: no traceback, no cleanup); once it is gone, the import
succeeds again.
"""
import os

MARKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "master_flaky.marker")

if os.path.exists(MARKER):
    os._exit(7)


def application(environ, start_response):
    data = str(os.getpid()).encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
