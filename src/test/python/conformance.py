"""The WSGI app of the conformance integration tests (src/test/java/.../*IT.java).

One module, routes chosen by PATH_INFO. Every route is small and deterministic so that a test can tell
exactly what the server did with it. Query strings select variants (parsed with urllib, values raw).

Served with: java -jar bridge.jar --module conformance:app --chdir src/test/python
"""

import binascii
import io
import os
import stat
import sys
import threading
import time
import urllib.parse

print("conformance app imported: print at import time reaches the log")

# Calls of close() on returned iterables, by tag: tag -> number of calls. Queried by /closed?tag=T.
CLOSED = {}
# Events recorded by iterables (e.g. how far iteration got), by tag. Queried by /closed?tag=T too.
EVENTS = {}
_lock = threading.Lock()


def _record(tag, event):
    with _lock:
        EVENTS.setdefault(tag, []).append(event)


def _closed(tag):
    with _lock:
        CLOSED[tag] = CLOSED.get(tag, 0) + 1
        EVENTS.setdefault(tag, []).append("close")


class Closing:
    """An iterable (not a list: the server must iterate it) whose close() is recorded under a tag.

    mode: 'ok' yields the items; 'raise' raises after `after` items; 'str' yields a str after `after` items;
    'exit' raises SystemExit after `after` items."""

    def __init__(self, tag, items, mode="ok", after=0):
        self.tag = tag
        self.items = list(items)
        self.mode = mode
        self.after = after

    def __iter__(self):
        n = 0
        for item in self.items:
            if self.mode in ("raise", "str", "exit", "endless") and n == self.after:
                break
            _record(self.tag, "yield")
            yield item
            n += 1
        if self.mode == "raise":
            raise RuntimeError("conformance: iteration failed on purpose (%s)" % self.tag)
        if self.mode == "str":
            yield "not bytes"
        if self.mode == "exit":
            raise SystemExit(3)
        if self.mode == "endless":
            block = b"x" * 65536
            while True:
                yield block

    def close(self):
        _closed(self.tag)
        if self.mode == "close-exit":
            raise SystemExit("conformance: SystemExit from close()")
        if self.mode == "close-raise":
            raise RuntimeError("conformance: close() failed")


class ClosingList(list):
    """A list subclass with close(): PEP 3333 requires close() on any iterable that has it."""

    def __init__(self, tag, items):
        super().__init__(items)
        self.tag = tag

    def close(self):
        _closed(self.tag)


class RecordingFile(io.FileIO):
    """A real file (has fileno(), so the server may sendfile it) whose close() is recorded."""

    def __init__(self, path, tag):
        super().__init__(path, "rb")
        self.tag = tag

    def close(self):
        if self.tag is not None:
            _closed(self.tag)
            self.tag = None
        super().close()


def _query(environ):
    return dict(urllib.parse.parse_qsl(environ.get("QUERY_STRING", ""), keep_blank_values=True))


def _text(start_response, text, status="200 OK", extra=()):
    body = text.encode("utf-8")
    start_response(status, [("Content-Type", "text/plain; charset=utf-8"),
                            ("Content-Length", str(len(body)))] + list(extra))
    return [body]


def _env_dump(environ):
    """One line per key: KEY TAB TYPE TAB ascii(value) TAB hex(latin-1 bytes of value, str values only).

    ascii() is Python's repr with non-ASCII escaped, so the line is plain ASCII; the hex field gives a str
    value exactly (or '!' if it is not latin-1, i.e. not a native string)."""
    lines = []
    for key in sorted(environ):
        value = environ[key]
        if isinstance(value, str):
            try:
                hexed = binascii.hexlify(value.encode("latin-1")).decode("ascii")
            except UnicodeEncodeError:
                hexed = "!"
        else:
            hexed = ""
        lines.append("%s\t%s\t%s\t%s" % (key, type(value).__name__, ascii(value), hexed))
    inp = environ.get("wsgi.input")
    err = environ.get("wsgi.errors")
    for name in ("read", "readline", "readlines", "__iter__"):
        lines.append("@input.%s\tbool\t%s\t" % (name, callable(getattr(inp, name, None))))
    for name in ("write", "writelines", "flush"):
        lines.append("@errors.%s\tbool\t%s\t" % (name, callable(getattr(err, name, None))))
    fw = environ.get("wsgi.file_wrapper")
    lines.append("@file_wrapper.callable\tbool\t%s\t" % callable(fw))
    lines.append("@thread\tstr\t%s\t" % ascii(threading.current_thread().name))
    lines.append("@pid\tint\t%d\t" % os.getpid())
    lines.append("@input.type\tstr\t%s\t" % ascii(type(inp).__name__))
    return ("\n".join(lines) + "\n").encode("ascii")


def _echo(environ, start_response):
    q = _query(environ)
    mode = q.get("mode", "read")
    inp = environ["wsgi.input"]
    length = environ.get("CONTENT_LENGTH") or ""
    if mode == "read":
        body = inp.read()
    elif mode == "read-cl":
        # The classic app: read exactly CONTENT_LENGTH bytes.
        body = inp.read(int(length)) if length else b""
    elif mode == "readn":
        n = int(q.get("n", "7"))
        parts = []
        while True:
            part = inp.read(n)
            if not isinstance(part, bytes):
                raise TypeError("read(n) returned %s" % type(part).__name__)
            if len(part) > n:
                raise AssertionError("read(%d) returned %d bytes" % (n, len(part)))
            if not part:
                break
            parts.append(part)
        body = b"".join(parts)
    elif mode == "read-none":
        body = inp.read(None)
    elif mode == "read-neg":
        body = inp.read(-1)
    elif mode == "readline":
        parts = []
        while True:
            line = inp.readline()
            if not line:
                break
            if b"\n" in line[:-1]:
                raise AssertionError("readline() returned more than one line: %r" % line[:80])
            parts.append(line)
        body = b"".join(parts)
    elif mode == "readline-n":
        n = int(q.get("n", "5"))
        parts = []
        while True:
            line = inp.readline(n)
            if not line:
                break
            if len(line) > n:
                raise AssertionError("readline(%d) returned %d bytes" % (n, len(line)))
            parts.append(line)
        body = b"".join(parts)
    elif mode == "readlines":
        lines = inp.readlines()
        if not isinstance(lines, list):
            raise TypeError("readlines() returned %s" % type(lines).__name__)
        body = b"".join(lines)
    elif mode == "readlines-hint":
        lines = inp.readlines(int(q.get("n", "10")))
        body = b"".join(lines) + inp.read()
    elif mode == "iter":
        body = b"".join(line for line in inp)
    elif mode == "lines":
        # How the body splits into lines: one hex line per line read by iteration.
        body = b"".join(binascii.hexlify(line) + b"\n" for line in inp)
    elif mode == "past-end":
        # Reads the whole body, then keeps reading: every further read must give b'' at once.
        body = inp.read(int(length)) if length else inp.read()
        extra = [inp.read(), inp.read(10), inp.readline(), inp.read(1)]
        if any(x != b"" for x in extra):
            return _text(start_response, "NOT EMPTY: %r" % (extra,), "500 Bad Read")
        body += b"|EOF-OK"
    elif mode == "none":
        body = b""
    else:
        return _text(start_response, "unknown mode", "400 Bad Request")
    start_response("200 OK", [("Content-Type", "application/octet-stream"),
                              ("Content-Length", str(len(body))),
                              ("X-Content-Length", length)])
    return [body]


def _stream(environ, start_response):
    q = _query(environ)
    n = int(q.get("n", "5"))
    size = int(q.get("size", "0"))
    start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        for i in range(n):
            if size:
                yield bytes([65 + i % 26]) * size
            else:
                yield b"chunk%d;" % i
            yield b""  # empty items must not end or corrupt the body
    return gen()


def _write(environ, start_response):
    q = _query(environ)
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"hello ")
    write(b"")
    write(b"world")
    if q.get("then") == "gen":
        def gen():
            yield b"!"
            yield b"?"
        return gen()
    return [b"!"]


def _closing(environ, start_response):
    q = _query(environ)
    tag = q["tag"]
    mode = q.get("mode", "ok")
    after = int(q.get("after", "0"))
    if mode == "list":
        start_response("200 OK", [("Content-Type", "text/plain")])
        return ClosingList(tag, [b"list ", b"body"])
    if mode == "start-raise":
        # close() even when the app... does not get to return: nothing to close. Here: the iterable is
        # returned, but the first next() raises before any output.
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Closing(tag, [b"never"], "raise", 0)
    if mode == "cl":
        items = [b"abc", b"def"]
        start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "6")])
        return Closing(tag, items)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return Closing(tag, [b"one;", b"two;", b"three;"], mode, after)


def _input_info(environ, start_response):
    """Reads the body and reports whether it sits in a regular file of this process (spilled to disk):
    'files=N ok=BOOL path=P', N = open regular files whose size is exactly CONTENT_LENGTH."""
    inp = environ["wsgi.input"]
    length = int(environ.get("CONTENT_LENGTH") or 0)
    found = []
    if length > 0:
        for fd in os.listdir("/proc/self/fd"):
            link = "/proc/self/fd/" + fd
            try:
                target = os.readlink(link)
                st = os.stat(link)
            except OSError:
                continue
            if stat.S_ISREG(st.st_mode) and st.st_size == length:
                found.append(target)
    data = inp.read()
    path = found[0] if found else ""
    if path.endswith(" (deleted)"):
        path = path[:-len(" (deleted)")]
    return _text(start_response, "files=%d ok=%s path=%s" % (len(found), len(data) == length, path))


def _exists(environ, start_response):
    return _text(start_response, "yes" if os.path.exists(_query(environ)["path"]) else "no")


def _closed_query(environ, start_response):
    tag = _query(environ)["tag"]
    with _lock:
        count = CLOSED.get(tag, 0)
        events = ",".join(EVENTS.get(tag, []))
    return _text(start_response, "%d %s" % (count, events))


def _file(environ, start_response):
    q = _query(environ)
    path = q["path"]
    tag = q.get("tag")
    kind = q.get("kind", "file")
    headers = [("Content-Type", "application/octet-stream")]
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    start_response("200 OK", headers)
    if kind == "bytesio":
        with open(path, "rb") as f:
            data = f.read()
        f = io.BytesIO(data)
    elif tag is not None:
        f = RecordingFile(path, tag)
    else:
        f = open(path, "rb")
    if "seek" in q:
        f.seek(int(q["seek"]))
    if "blksize" in q:
        return environ["wsgi.file_wrapper"](f, int(q["blksize"]))
    return environ["wsgi.file_wrapper"](f)


def _exc_info(environ, start_response):
    q = _query(environ)
    mode = q.get("mode", "before")
    if mode == "before":
        # PEP 3333: before any output, start_response(exc_info=...) replaces the status and headers.
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])
        try:
            raise ValueError("conformance: replaced by exc_info")
        except ValueError:
            start_response("503 Replaced", [("Content-Type", "text/plain"), ("X-Second", "1")], sys.exc_info())
        return [b"replaced body"]
    if mode == "before-empty":
        # An empty first item sends nothing, so the headers are not sent yet and can still be replaced.
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-First", "1")])

        def gen():
            yield b""
            try:
                raise ValueError("conformance: replaced after an empty item")
            except ValueError:
                start_response("502 Replaced Late", [("Content-Type", "text/plain"), ("X-Second", "1")],
                               sys.exc_info())
            yield b"replaced after empty item"
        return gen()
    if mode == "after":
        # After output: start_response(exc_info=...) must re-raise; the response cannot be repaired.
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            yield b"first part;"
            try:
                raise ValueError("conformance: error after headers (exc_info)")
            except ValueError:
                start_response("500 Too Late", [("Content-Type", "text/plain")], sys.exc_info())
            yield b"must never be sent"
        return gen()
    if mode == "after-caught":
        # After output, start_response(exc_info) raises; report which exception reached the app.
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"partial;")
        try:
            raise KeyError("conformance-original")
        except KeyError:
            try:
                start_response("500 Too Late", [("Content-Type", "text/plain")], sys.exc_info())
            except KeyError as e:
                _record("exc-info-after-caught", "reraised:%s" % e.args[0])
                raise
        return [b"unreachable"]
    if mode == "twice":
        # A second call without exc_info is an error (PEP 3333): the server must not send the 2nd status.
        start_response("200 OK", [("Content-Type", "text/plain")])
        start_response("201 Created", [("Content-Type", "text/plain")])
        return [b"twice"]
    return _text(start_response, "unknown mode", "400 Bad Request")


def _error(environ, start_response):
    raise RuntimeError("conformance-marker-before-headers " + _query(environ).get("id", ""))


def _error_after(environ, start_response):
    q = _query(environ)
    headers = [("Content-Type", "text/plain")]
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    start_response("200 OK", headers)

    def gen():
        yield b"first chunk;"
        raise RuntimeError("conformance-marker-after-headers " + q.get("id", ""))
    return gen()


def _error_after_start(environ, start_response):
    # start_response was called, but nothing was sent: the server can still answer 500.
    write = start_response("200 OK", [("Content-Type", "text/plain"), ("X-Must-Not-Appear", "1")])
    if _query(environ).get("via") == "write":
        write(b"")  # an empty write sends nothing either
        raise RuntimeError("conformance-marker-after-empty-write")

    def gen():
        yield b""
        raise RuntimeError("conformance-marker-after-empty-chunk")
    return gen()


def _sysexit(environ, start_response):
    q = _query(environ)
    if q.get("when") == "after":
        start_response("200 OK", [("Content-Type", "text/plain")])

        def gen():
            yield b"before exit;"
            sys.exit(0)
        return gen()
    if q.get("code") == "0":
        sys.exit(0)
    raise SystemExit("conformance: SystemExit from the app")


def _keyboard_interrupt(environ, start_response):
    raise KeyboardInterrupt("conformance: KeyboardInterrupt from the app")


def _nonbytes(environ, start_response):
    q = _query(environ)
    mode = q.get("mode", "list")
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    if mode == "write":
        write("a str through write()")
        return [b"unreachable"]
    if mode == "list":
        return ["a str, not bytes"]
    if mode == "mixed":
        return [b"bytes;", "then a str"]
    if mode == "gen":
        def gen():
            yield "a str first"
        return gen()
    if mode == "int":
        return [42]
    if mode == "none":
        return None
    return [b"?"]


def _status(environ, start_response):
    q = _query(environ)
    status = q.get("s", "200 OK")
    headers = [("Content-Type", "text/plain")]
    if "cl" in q:
        headers.append(("Content-Length", q["cl"]))
    start_response(status, headers)
    return [q.get("body", "").encode("latin-1")]


def _bad_header(environ, start_response):
    """Response headers PEP 3333 forbids; the server must answer 500 rather than send them."""
    kind = _query(environ).get("kind")
    headers = [("Content-Type", "text/plain")]
    if kind == "crlf-value":
        headers.append(("X-Bad", "a\r\nX-Injected: 1"))
    elif kind == "lf-value":
        headers.append(("X-Bad", "a\nX-Injected: 1"))
    elif kind == "space-name":
        headers.append(("X Bad", "1"))
    elif kind == "colon-name":
        headers.append(("X-Bad:", "1"))
    elif kind == "non-latin1":
        headers.append(("X-Bad", "\u20ac"))
    elif kind == "bytes-value":
        headers.append(("X-Bad", b"1"))
    elif kind == "not-tuple":
        headers.append(["X-Bad", "1"])
    elif kind == "not-list":
        headers = tuple(headers)
    elif kind == "bytes-status":
        start_response(b"200 OK", headers)
        return [b"bad"]
    start_response("200 OK", headers)
    return [b"bad"]


def _cl_short(environ, start_response):
    q = _query(environ)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", q.get("cl", "100"))])
    body = b"only ten.."
    if q.get("mode") == "gen":
        def gen():
            yield body
        return gen()
    return [body]


def _cl_long(environ, start_response):
    # Declares 5 bytes, returns 10: the server must send 5 and must not let the rest reach the client as
    # the start of the next response.
    q = _query(environ)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    if q.get("mode") == "gen":
        def gen():
            yield b"12345"
            yield b"67890"
        return gen()
    return [b"1234567890"]


def _head_test(environ, start_response):
    q = _query(environ)
    body = b"head-test body\n"  # the same for GET and HEAD: HEAD must report the GET's Content-Length
    if q.get("mode") == "stream":
        start_response("200 OK", [("Content-Type", "text/plain"), ("X-Head-Test", "yes")])

        def gen():
            yield body
            yield b"more\n"
        return gen()
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Head-Test", "yes"),
                              ("Content-Length", str(len(body)))])
    return [body]


def _conn_close(environ, start_response):
    q = _query(environ)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Connection", "close"), ("Content-Length", "6")])
    if q.get("mode") == "gen":
        def gen():
            yield b"closed"
        return gen()
    return [b"closed"]


def _slow(environ, start_response):
    q = _query(environ)
    ms = int(q.get("ms", "1000"))
    time.sleep(ms / 1000.0)
    return _text(start_response, "slept %d %s" % (ms, q.get("id", "")))


def _print(environ, start_response):
    marker = _query(environ).get("marker", "print-marker")
    where = _query(environ).get("to", "stdout")
    if where == "stdout":
        print("app says " + marker)
    elif where == "stderr":
        print("app complains " + marker, file=sys.stderr)
    elif where == "thread":
        # a thread the app starts itself: pure Python, it cannot call into Java, its output must still reach the log
        t = threading.Thread(target=lambda: print("app thread says " + marker))
        t.start()
        t.join(5)
    elif where == "partial":
        sys.stdout.write("partial line " + marker)
        sys.stdout.flush()
    elif where == "errors":
        environ["wsgi.errors"].write("wsgi.errors says " + marker + "\n")
        environ["wsgi.errors"].writelines(["wsgi.errors line2 " + marker + "\n"])
        environ["wsgi.errors"].flush()
    return _text(start_response, "printed")


def _path(environ, start_response):
    return _text(start_response, environ["REQUEST_METHOD"] + " " + environ["PATH_INFO"] + "?" + environ["QUERY_STRING"])


def _big(environ, start_response):
    q = _query(environ)
    size = int(q.get("size", str(1 << 20)))
    block = bytes(range(256)) * 256  # 64 KiB
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def gen():
        left = size
        while left > 0:
            n = min(left, len(block))
            yield block[:n]
            left -= n
    return gen()


def _headers(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Multi", "a"), ("X-Multi", "b"),
                              ("Set-Cookie", "a=1"), ("Set-Cookie", "b=2"), ("Content-Length", "2")])
    return [b"ok"]


def _sched(environ, start_response):
    """The process, the thread serving this request, that thread's nice value and the nice value of a thread
    it starts: 'pid tid nice child-nice'."""
    def nice():
        return os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    child = []
    t = threading.Thread(target=lambda: child.append(nice()))
    t.start()
    t.join(5)
    return _text(start_response, "%d %d %d %d" % (os.getpid(), threading.get_native_id(), nice(), child[0]))


def _burn(environ, start_response):
    """Keeps the CPU busy in Python for ?ms=N milliseconds (default 2): a CPU-bound request."""
    ms = float(environ.get("QUERY_STRING", "").partition("ms=")[2] or 2)
    end = time.thread_time() + ms / 1000
    n = 0
    while time.thread_time() < end:
        n += 1
    return _text(start_response, "burnt %d" % n)


ROUTES = {
    "/env": None,
    "/echo": _echo,
    "/stream": _stream,
    "/write": _write,
    "/close": _closing,
    "/closed": _closed_query,
    "/input-info": _input_info,
    "/exists": _exists,
    "/file": _file,
    "/exc-info": _exc_info,
    "/error": _error,
    "/error-after": _error_after,
    "/error-after-start": _error_after_start,
    "/sysexit": _sysexit,
    "/keyboard-interrupt": _keyboard_interrupt,
    "/nonbytes": _nonbytes,
    "/status": _status,
    "/cl-short": _cl_short,
    "/bad-header": _bad_header,
    "/cl-long": _cl_long,
    "/head-test": _head_test,
    "/conn-close": _conn_close,
    "/slow": _slow,
    "/print": _print,
    "/path": _path,
    "/big": _big,
    "/headers": _headers,
    "/sched": _sched,
    "/burn": _burn,
}


def _plain(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length)
    out = b"validated %s %d" % (environ["REQUEST_METHOD"].encode("latin-1"), len(body))
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(out)))])
    return [out]


def _strict_validator(inner):
    """wsgiref.validate around an app, its warnings turned into errors: any environ the server builds that
    the standard library's PEP 3333 checker dislikes becomes a 500."""
    import warnings
    from wsgiref.validate import WSGIWarning, validator
    checked = validator(inner)

    def run(environ, start_response):
        with warnings.catch_warnings():
            warnings.simplefilter("error", WSGIWarning)
            result = checked(environ, start_response)
            return [b"".join(result)] if not hasattr(result, "close") else _drain_and_close(result)
    return run


def _drain_and_close(result):
    try:
        return [b"".join(result)]
    finally:
        result.close()


_validated = _strict_validator(_plain)


def app(environ, start_response):
    path = environ["PATH_INFO"]
    if path.startswith("/validated"):
        return _validated(environ, start_response)
    if path == "/env" or path.startswith("/env/") or environ.get("QUERY_STRING", "").startswith("env-dump"):
        body = _env_dump(environ)
        start_response("200 OK", [("Content-Type", "text/plain; charset=us-ascii"),
                                  ("Content-Length", str(len(body)))])
        return [body]
    handler = ROUTES.get(path)
    if handler is None:
        return _text(start_response, "no route for %r" % path, "404 Not Found")
    return handler(environ, start_response)
