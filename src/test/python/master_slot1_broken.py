"""Test app that only worker number 1 cannot import (dev.bridge.master.BootFailureIT).

The master tells each worker its number in BRIDGE_WORKER_ID. Worker 1 fails at import; the others import
slowly (MASTER_SLOW_IMPORT_SECONDS, default 8 s) and then serve: so worker 1 fails several times in a row
before any worker is ready, while the others are still booting.
"""
import os
import time

if os.environ.get("BRIDGE_WORKER_ID") == "1":
    raise RuntimeError("worker 1 cannot import master_slot1_broken, on purpose")

time.sleep(float(os.environ.get("MASTER_SLOW_IMPORT_SECONDS", "8")))


def application(environ, start_response):
    data = str(os.getpid()).encode("ascii")
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(data)))])
    return [data]
