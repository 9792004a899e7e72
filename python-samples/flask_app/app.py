"""A small Flask application, served as-is by any WSGI server.

Routes:
    GET  /        hello text
    GET  /json    a JSON document
    GET  /form    an HTML form;  POST /form echoes the submitted fields back as JSON
    GET  /upload  an upload form; POST /upload (multipart, field "file") reports the file's name and size

Serve it with the bridge (from the repository root):
    java -jar target/bridge.jar --venv .venv --chdir python-samples/flask_app --module app:app --http 127.0.0.1:8000
"""

import platform
import time

from flask import Flask, jsonify, request

app = Flask(__name__)

FORM_PAGE = """<!doctype html>
<title>Form</title>
<h1>Tell us about you</h1>
<form method="post" action="/form">
  <label>Name <input name="name"></label>
  <label>Colour
    <select name="colour"><option>red</option><option>green</option><option>blue</option></select>
  </label>
  <label><input type="checkbox" name="tags" value="a"> a</label>
  <label><input type="checkbox" name="tags" value="b"> b</label>
  <button type="submit">Send</button>
</form>
"""

UPLOAD_PAGE = """<!doctype html>
<title>Upload</title>
<h1>Upload a file</h1>
<form method="post" action="/upload" enctype="multipart/form-data">
  <input type="file" name="file">
  <button type="submit">Upload</button>
</form>
"""


@app.get("/")
def hello():
    return "Hello from Flask!\n", 200, {"Content-Type": "text/plain; charset=utf-8"}


@app.get("/json")
def json_view():
    return jsonify(
        message="Hello from Flask",
        time=time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        python=platform.python_version(),
        numbers=[1, 2, 3],
    )


@app.route("/form", methods=["GET", "POST"])
def form():
    if request.method == "GET":
        return FORM_PAGE
    # Every submitted field, with all its values (checkboxes may repeat a name).
    return jsonify(fields={name: request.form.getlist(name) for name in request.form})


@app.route("/upload", methods=["GET", "POST"])
def upload():
    if request.method == "GET":
        return UPLOAD_PAGE
    uploaded = request.files.get("file")
    if uploaded is None or uploaded.filename == "":
        return jsonify(error='no file in the "file" field'), 400
    size = 0
    while True:
        chunk = uploaded.stream.read(64 * 1024)
        if not chunk:
            break
        size += len(chunk)
    return jsonify(filename=uploaded.filename, content_type=uploaded.content_type, size=size)


# The name most WSGI servers look for by default.
application = app

if __name__ == "__main__":
    # Flask's own development server, for comparison.
    app.run(host="127.0.0.1", port=5000, debug=True)
