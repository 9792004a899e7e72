"""Tiny WSGI helper shared by the app-loading test modules."""


def text_app(text):
    def app(environ, start_response):
        body = text.encode("utf-8")
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
        return [body]
    return app
