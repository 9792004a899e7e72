# On sys.path through --pythonpath pp1; imports pp_two, which is only on the second --pythonpath.
import pp_two


def app(environ, start_response):
    body = ("pp_one+" + pp_two.NAME).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]
