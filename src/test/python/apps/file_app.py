# Loaded by file path (apps/file_app.py:app); apps/ is not a package.
import os


def app(environ, start_response):
    body = ("file_app " + os.path.basename(__file__)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


other = app
