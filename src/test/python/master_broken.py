"""Test app that cannot be imported: every worker fails at boot (dev.bridge.master.BootFailureIT)."""
import os


def helper():
    raise RuntimeError("master_broken fails at import on purpose")


helper()


def application(environ, start_response):  # never reached
    start_response("200 OK", [])
    return [b""]
