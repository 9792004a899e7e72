def helper():
    raise RuntimeError("broken_runtime fails at import time")


helper()  # line 5


def app(environ, start_response):
    return []
