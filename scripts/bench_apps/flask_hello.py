"""Flask hello world: one route, a typical framework's per-request cost."""

from flask import Flask

app = Flask(__name__)


@app.route("/")
def hello():
    return "Hello, World!"


application = app
