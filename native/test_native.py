"""Tests of _bridge_native (bridge_native.c) in a plain CPython, over real unix sockets: the environ it builds,
start_response and write() by PEP 3333's rules, every way an app answers, bad packets, the pipes the Java
side drives it with, and its status block. native/check runs it with the module built under AddressSanitizer
and UndefinedBehaviorSanitizer.

usage: python test_native.py MODULE_PATH [unittest args]
"""
import importlib.util
import ipaddress
import io
import os
import socket
import struct
import sys
import tempfile
import threading
import time
import traceback
import unittest

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")
FIXTURES = os.path.join(ROOT, "src", "test", "resources", "uwsgi", "nginx")
sys.path.insert(0, os.path.join(ROOT, "src", "main", "python"))
from bridge_wsgi import FileWrapper, _input as http_input  # noqa: E402  the shim's parts that configure() takes

native = None
errors = []


def load(path):
    spec = importlib.util.spec_from_file_location("_bridge_native", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def fixture(name):
    with open(os.path.join(FIXTURES, name), "rb") as f:
        return f.read()


def log_error(summary, exc):
    errors.append(summary + ": " + "".join(traceback.format_exception_only(type(exc), exc)).strip())


STATIC = {"wsgi.version": (1, 0), "wsgi.errors": sys.stderr, "wsgi.multithread": False,
          "wsgi.multiprocess": True, "wsgi.run_once": False, "wsgi.file_wrapper": FileWrapper}


def pack(pairs, modifier1=0):
    block = b"".join(struct.pack("<H", len(k)) + k + struct.pack("<H", len(v)) + v for k, v in pairs)
    return bytes([modifier1]) + struct.pack("<H", len(block)) + b"\0" + block


def request_vars(path=b"/", method=b"GET", body=b"", extra=()):
    return [(b"REQUEST_METHOD", method), (b"REQUEST_URI", path), (b"PATH_INFO", path.split(b"?")[0]),
            (b"QUERY_STRING", path.partition(b"?")[2]), (b"SERVER_PROTOCOL", b"HTTP/1.1"),
            (b"CONTENT_LENGTH", str(len(body)).encode() if body else b""), (b"REMOTE_ADDR", b"127.0.0.1"),
            (b"REMOTE_PORT", b"40000")] + list(extra)


class EnvironTest(unittest.TestCase):
    def test_nginx_captures_parse_whole(self):
        for name in sorted(os.listdir(FIXTURES)):
            if not name.endswith(".uwsgi"):
                continue
            data = fixture(name)
            consumed, modifier1, length, pairs = native.parse_uwsgi(data)
            self.assertEqual(len(data), consumed + length, name)
            self.assertEqual(0, modifier1)
            self.assertIsNone(native.parse_uwsgi(data[:consumed - 1]), name + ": one byte short is incomplete")

    def test_pep3333_keys_from_nginx(self):
        data = fixture("post-chunked-upload.uwsgi")
        env = native.environ_of(data)
        self.assertEqual("text/plain", env["CONTENT_TYPE"])
        self.assertEqual("19", env["CONTENT_LENGTH"])
        self.assertNotIn("HTTP_CONTENT_TYPE", env, "PEP 3333 forbids the HTTP_ form")
        self.assertNotIn("HTTP_CONTENT_LENGTH", env)
        self.assertEqual("http", env["wsgi.url_scheme"])
        self.assertEqual((1, 0), env["wsgi.version"])
        for k, v in env.items():
            if k.isupper():
                self.assertIs(type(v), str, k)

    def test_repeated_headers_are_joined(self):
        env = native.environ_of(fixture("repeated-headers.uwsgi"))
        self.assertEqual("1,2", env["HTTP_X_DUP"])
        self.assertEqual("a=1; b=2", env["HTTP_COOKIE"])

    def test_values_are_latin1_native_strings(self):
        env = native.environ_of(fixture("utf8-path.uwsgi"))
        self.assertEqual("/café/naïve", env["PATH_INFO"].encode("latin-1").decode("utf-8"))

    def test_repeated_cgi_var_is_refused(self):
        with self.assertRaisesRegex(ValueError, "var REQUEST_METHOD given twice"):
            native.environ_of(pack(request_vars() + [(b"REQUEST_METHOD", b"POST")]))
        with self.assertRaisesRegex(ValueError, "var PATH_INFO given twice"):
            native.environ_of(pack(request_vars() + [(b"PATH_INFO", b"/other")]))

    def test_no_method_is_refused(self):
        with self.assertRaisesRegex(ValueError, "no REQUEST_METHOD"):
            native.environ_of(pack([(b"PATH_INFO", b"/")]))

    def test_path_info_from_request_uri_and_defaults(self):
        env = native.environ_of(pack([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/a%20b/%C3%A9?x=%20")]))
        self.assertEqual("/a b/\u00c3\u00a9", env["PATH_INFO"])
        self.assertEqual("", env["SCRIPT_NAME"])
        self.assertEqual("", env["QUERY_STRING"])
        self.assertEqual("HTTP/1.1", env["SERVER_PROTOCOL"])
        self.assertEqual("localhost", env["SERVER_NAME"])
        with self.assertRaisesRegex(ValueError, "NUL"):
            native.environ_of(pack([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_URI", b"/a%00b")]))

    def test_modifier30_strips_script_name_at_a_segment(self):
        def env(path):
            return native.environ_of(pack([(b"REQUEST_METHOD", b"GET"), (b"SCRIPT_NAME", b"/app"),
                                           (b"PATH_INFO", path)], modifier1=30))
        self.assertEqual(("/app", "/x"), (env(b"/app/x")["SCRIPT_NAME"], env(b"/app/x")["PATH_INFO"]))
        self.assertEqual(("/app", ""), (env(b"/app")["SCRIPT_NAME"], env(b"/app")["PATH_INFO"]))
        self.assertEqual(("", "/application"), (env(b"/application")["SCRIPT_NAME"], env(b"/application")["PATH_INFO"]))

    def test_url_scheme(self):
        def scheme(*pairs):
            return native.environ_of(pack([(b"REQUEST_METHOD", b"GET")] + list(pairs)))["wsgi.url_scheme"]
        self.assertEqual("https", scheme((b"HTTPS", b"on")))
        self.assertEqual("https", scheme((b"UWSGI_SCHEME", b"https"), (b"HTTPS", b"off")))
        self.assertEqual("https", scheme((b"REQUEST_SCHEME", b"https")))
        self.assertEqual("http", scheme())

    def test_static_environ_wins_over_vars(self):
        env = native.environ_of(pack([(b"REQUEST_METHOD", b"GET"), (b"wsgi.version", b"9")]))
        self.assertEqual((1, 0), env["wsgi.version"])


class Exchange:
    """What the Java side's ExchangeRouter does for the HTTP path, recorded."""

    def __init__(self, fail_after=None):
        self.calls = []
        self.fail_after = fail_after

    def _record(self, call):
        if self.fail_after is not None and len(self.calls) >= self.fail_after:
            raise OSError("the client connection is gone")
        self.calls.append(call)

    def send(self, status, headers, count, data):
        self._record(("send", status, headers, count, bytes(data)))

    def write(self, data):
        self._record(("write", bytes(data)))

    def sendfile(self, status, headers, count, fd, offset, length):
        self._record(("sendfile", status, headers, count, offset, length))


def meta(method="GET", path="/", extra=()):
    pairs = [("REQUEST_METHOD", method), ("SCRIPT_NAME", ""), ("PATH_INFO", path), ("QUERY_STRING", ""),
             ("REQUEST_URI", path), ("SERVER_PROTOCOL", "HTTP/1.1"), ("SERVER_NAME", "localhost"),
             ("SERVER_PORT", "80"), ("REMOTE_ADDR", "127.0.0.1"), ("REMOTE_PORT", "1"),
             ("wsgi.url_scheme", "https")] + list(extra)
    return "".join(k + "\0" + v + "\0" for k, v in pairs)


def unpack(packed):
    """The packed response (pack_response) as (status, [(name, value)], body)."""
    prefix, _, rest = packed.partition(b"\0")
    count, headlen = (int(x) for x in prefix.split())
    head, body = rest[:headlen].decode("latin-1"), rest[headlen:]
    parts = head.split("\0")
    return parts[0], list(zip(parts[1::2], parts[2::2])), body


class HandlerTest(unittest.TestCase):
    """The HTTP path's entry: the same environ builder and start_response, answers handed to Java."""

    def setUp(self):
        del errors[:]

    def call(self, app, body=None, exchange=None, **kw):
        exchange = exchange or Exchange()
        return native.Handler(app, exchange, "test[0]")(meta(**kw), body), exchange

    def test_environ_from_java_and_a_packed_answer(self):
        seen = {}

        def app(environ, start_response):
            seen.update(environ)
            start_response("201 Created", [("X-A", "1"), ("Content-Type", "text/plain")])
            return [b"ab", b"c", environ["wsgi.input"].read()]
        packed, ex = self.call(app, body=bytearray(b"xyz"), method="POST",
                               extra=[("CONTENT_LENGTH", "3"), ("HTTP_X_Y", "\u00e9")])
        self.assertEqual(("201 Created", [("X-A", "1"), ("Content-Type", "text/plain")], b"abcxyz"), unpack(packed))
        self.assertEqual([], ex.calls)
        self.assertEqual("https", seen["wsgi.url_scheme"], "the scheme Java decided")
        self.assertEqual("\u00e9", seen["HTTP_X_Y"])
        self.assertEqual((1, 0), seen["wsgi.version"])

    def test_a_first_chunk_of_the_whole_declared_length_is_answered_in_one_piece(self):
        def app(environ, start_response):
            start_response("200 OK", [("Content-Length", "5")])
            return iter([b"hello"])
        packed, ex = self.call(app)
        self.assertEqual(b"hello", unpack(packed)[2])
        self.assertEqual([], ex.calls)

    def test_a_stream_goes_through_the_exchange(self):
        def app(environ, start_response):
            start_response("200 OK", [("Content-Length", "5"), ("X-B", "2")])
            return iter([b"hello", b"", b"more"])
        result, ex = self.call(app)
        self.assertIsNone(result)
        self.assertEqual([("send", "200 OK", "Content-Length\x005\x00X-B\x002", 2, b"hello"), ("write", b"more")],
                         ex.calls)

    def test_write_sends_at_once(self):
        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"a")
            write(b"")
            return [b"b"]
        result, ex = self.call(app)
        self.assertIsNone(result)
        self.assertEqual([("send", "200 OK", "", 0, b"a"), ("write", b"b")], ex.calls)

    def test_write_of_the_whole_declared_length_then_an_empty_list(self):
        def app(environ, start_response):
            write = start_response("200 OK", [("Content-Length", "5")])
            write(b"hello")
            return []
        result, ex = self.call(app)
        self.assertIsNone(result)
        self.assertEqual([("send", "200 OK", "Content-Length\x005", 1, b"hello")], ex.calls)

    def test_an_error_before_the_head_is_a_500(self):
        def app(environ, start_response):
            raise KeyError("nope")
        packed, _ = self.call(app, path="/x")
        self.assertEqual(("500 Internal Server Error", [("Content-Type", "text/plain; charset=utf-8")],
                          b"Internal Server Error\n"), unpack(packed))
        self.assertEqual(["error in app handling GET /x HTTP/1.1: KeyError: 'nope'"], errors)

    def test_an_error_after_the_head_aborts(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            yield b"a"
            raise ValueError("late")
        result, ex = self.call(app)
        self.assertIs(False, result)
        self.assertEqual("send", ex.calls[0][0])

    def test_a_gone_client_ends_the_stream_and_close_is_called(self):
        closed = []

        class Body:
            def __iter__(self):
                return iter([b"a", b"b", b"c"])

            def close(self):
                closed.append(1)

        def app(environ, start_response):
            start_response("200 OK", [])
            return Body()
        result, ex = self.call(app, exchange=Exchange(fail_after=1))
        self.assertIs(False, result)
        self.assertEqual([1], closed)

    def test_bad_header_items_and_no_start_response(self):
        def bad_item(environ, start_response):
            start_response("200 OK", [("A", 1)])
            return [b"x"]

        def silent(environ, start_response):
            return [b"x"]
        self.assertEqual("500 Internal Server Error", unpack(self.call(bad_item)[0])[0])
        self.assertEqual("500 Internal Server Error", unpack(self.call(silent)[0])[0])
        self.assertTrue(any("(str, str) tuple" in e for e in errors), errors)
        self.assertTrue(any("without calling start_response" in e for e in errors), errors)

    def test_a_non_latin1_head_is_a_500(self):
        def app(environ, start_response):
            start_response("200 OK", [("X", "\u20ac")])
            return [b"x"]
        self.assertEqual("500 Internal Server Error", unpack(self.call(app)[0])[0])

    def test_file_wrapper_goes_to_javas_sendfile(self):
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(b"x" * 1000)

        def app(environ, start_response):
            start_response("200 OK", [])
            fh = open(f.name, "rb")
            fh.seek(100)
            return environ["wsgi.file_wrapper"](fh)
        try:
            result, ex = self.call(app)
        finally:
            os.unlink(f.name)
        self.assertIsNone(result)
        self.assertEqual([("sendfile", "200 OK", "", 0, 100, 900)], ex.calls)

    def test_the_warm_up_app_replaces_the_app_for_one_call(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"app"]

        def warm(environ, start_response):
            start_response("200 OK", [])
            return [b"warm"]
        handler = native.Handler(app, Exchange(), "test[0]")
        self.assertEqual(b"warm", unpack(handler(meta(), None, warm))[2])
        self.assertEqual(b"app", unpack(handler(meta(), None))[2])


class Server:
    """A Loop on one thread serving a unix socket, driven like the Java side does."""

    def __init__(self, app, limit_body=0, spill_threshold=1 << 20, header_timeout=5, access_log=False, tcp=False,
                 **loop_kw):
        self.dir = tempfile.mkdtemp(prefix="test-native-")
        self.path = os.path.join(self.dir, "s.sock")
        self.tcp = tcp
        self.listener = socket.socket(socket.AF_INET if tcp else socket.AF_UNIX)
        self.listener.bind(("127.0.0.1", 0) if tcp else self.path)
        self.listener.listen(64)
        self.listener.setblocking(False)
        self.wake = os.pipe()
        self.control = os.pipe()
        self.status = bytearray(native.STATUS_SIZE)
        self.loop = native.Loop(app, [self.listener.fileno()], self.wake[0], self.control[0], self.status, 65535,
                                limit_body, spill_threshold, header_timeout, access_log, "test[0]", self.dir,
                                **loop_kw)
        self.codes = []
        self.accepting = True
        self.thread = threading.Thread(target=self._run)
        self.thread.start()

    def _run(self):
        while True:
            code = self.loop.run(self.accepting)
            self.codes.append(code)
            if code == native.RUN_CONTROL:
                return

    def stop(self):
        os.write(self.control[1], b"x")
        self.thread.join(10)
        for fd in self.wake + self.control:
            os.close(fd)
        self.listener.close()

    def send(self, data, shut=False, source=None):
        c = socket.socket(socket.AF_INET if self.tcp else socket.AF_UNIX)
        c.settimeout(10)
        if source:
            c.bind((source, 0))
        c.connect(self.listener.getsockname() if self.tcp else self.path)
        c.sendall(data)
        if shut:
            c.shutdown(socket.SHUT_WR)
        out = b""
        try:
            while True:
                d = c.recv(1 << 16)
                if not d:
                    break
                out += d
        except ConnectionResetError:
            out += b"<reset>"
        c.close()
        return out

    def get(self, path=b"/", method=b"GET", body=b"", extra=(), source=None):
        return self.send(pack(request_vars(path, method, body, extra)) + body, source=source)

    def served(self):
        return struct.unpack_from("<q", self.status, 8)[0]


def parse_response(raw):
    head, _, body = raw.partition(b"\r\n\r\n")
    lines = head.split(b"\r\n")
    headers = {}
    for line in lines[1:]:
        k, _, v = line.partition(b": ")
        headers[k.decode().lower()] = v.decode("latin-1")
    return lines[0].decode(), headers, body


class LoopTest(unittest.TestCase):
    def setUp(self):
        del errors[:]
        self.server = None

    def tearDown(self):
        if self.server:
            self.server.stop()

    def serve(self, app, **kw):
        self.server = Server(app, **kw)
        return self.server

    def test_a_tcp_peer_not_in_the_allow_list_is_closed_unanswered(self):
        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [environ["REMOTE_ADDR"].encode()]
        blocks = b"".join(bytes([n.version, n.prefixlen]) + n.network_address.packed.ljust(16, b"\0")
                          for n in map(ipaddress.ip_network, ["127.0.0.2/32", "::1/128"]))
        server = self.serve(app, tcp=True, allow=blocks)
        with socket.create_connection(server.listener.getsockname(), timeout=10,
                                      source_address=("127.0.0.1", 0)) as refused:
            self.assertEqual(b"", refused.recv(100))                 # closed before it said a word
        self.assertEqual(0, server.served())
        status, _, body = parse_response(server.get(source="127.0.0.2"))
        self.assertEqual("HTTP/1.1 200 OK", status)
        self.assertEqual(1, server.served())
        with self.assertRaises(ValueError):                           # no such family
            native.Loop(app, [server.listener.fileno()], server.wake[0], server.control[0], server.status, 65535,
                        0, 1 << 20, 5, False, "test[0]", server.dir, allow=b"\x05" * 18)

    def test_list_response_gets_content_length_and_date(self):
        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return [b"hello ", b"world"]
        status, headers, body = parse_response(self.serve(app).get(b"/x?y=1"))
        self.assertEqual("HTTP/1.1 200 OK", status)
        self.assertEqual("11", headers["content-length"])
        self.assertIn("GMT", headers["date"])
        self.assertEqual("close", headers["connection"])
        self.assertEqual(b"hello world", body)
        self.assertEqual(1, self.server.served())

    def test_environ_input_and_body(self):
        seen = {}

        def app(environ, start_response):
            seen.update(environ)
            data = environ["wsgi.input"].read()
            start_response("200 OK", [])
            return [data[::-1]]
        _, _, body = parse_response(self.serve(app).get(b"/echo", b"POST", b"abcdef",
                                                        [(b"HTTP_CONTENT_TYPE", b"x/y"), (b"CONTENT_TYPE", b"x/y")]))
        self.assertEqual(b"fedcba", body)
        self.assertEqual("6", seen["CONTENT_LENGTH"])
        self.assertNotIn("HTTP_CONTENT_TYPE", seen)

    def test_big_body_spills_to_a_file(self):
        def app(environ, start_response):
            f = environ["wsgi.input"]
            data = f.read()
            start_response("200 OK", [("X-Input", type(f).__name__)])
            return [b"%d %d" % (len(data), sum(data) % 1000)]
        payload = bytes(range(256)) * 8000
        status, headers, body = parse_response(self.serve(app, spill_threshold=100000).get(b"/", b"POST", payload))
        self.assertEqual(("%d %d" % (len(payload), sum(payload) % 1000)).encode(), body)
        self.assertEqual("BufferedReader", headers["x-input"])

    def test_limit_body_answers_413(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"no"]
        status, _, body = parse_response(self.serve(app, limit_body=10).get(b"/", b"POST", b"x" * 11))
        self.assertEqual("HTTP/1.1 413 Content Too Large", status)

    def test_generator_streams_close_delimited_and_close_is_called(self):
        closed = []

        class Body:
            def __iter__(self):
                yield b"a"
                yield b""
                yield b"bc"

            def close(self):
                closed.append(True)

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "text/plain")])
            return Body()
        status, headers, body = parse_response(self.serve(app).get())
        self.assertEqual(b"abc", body)
        self.assertNotIn("content-length", headers)
        self.assertEqual([True], closed)

    def test_write_callable(self):
        def app(environ, start_response):
            write = start_response("200 OK", [("Content-Length", "6")])
            write(b"abc")
            return [b"def"]
        _, headers, body = parse_response(self.serve(app).get())
        self.assertEqual(b"abcdef", body)
        self.assertEqual("6", headers["content-length"])

    def test_exc_info_replaces_the_head_before_it_is_sent(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            try:
                raise KeyError("x")
            except KeyError:
                start_response("503 Busy", [("Retry-After", "1")], sys.exc_info())
            return [b"busy"]
        status, headers, body = parse_response(self.serve(app).get())
        self.assertEqual("HTTP/1.1 503 Busy", status)
        self.assertEqual("1", headers["retry-after"])

    def test_exc_info_after_the_head_reraises_and_cuts(self):
        def app(environ, start_response):
            write = start_response("200 OK", [])
            write(b"partial")
            try:
                raise KeyError("late")
            except KeyError:
                start_response("500 Oops", [], sys.exc_info())
            return []
        raw = self.serve(app).get()
        self.assertTrue(raw.startswith(b"HTTP/1.1 200 OK"), raw)
        self.assertTrue(any("KeyError" in e for e in errors), errors)

    def test_second_start_response_without_exc_info_is_an_error(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            start_response("200 OK", [])
            return []
        status, _, body = parse_response(self.serve(app).get())
        self.assertEqual("HTTP/1.1 500 Internal Server Error", status)
        self.assertTrue(any("second time" in e for e in errors), errors)

    def test_app_exception_is_a_500_with_its_traceback_logged(self):
        def app(environ, start_response):
            raise ZeroDivisionError("nope")
        status, _, body = parse_response(self.serve(app).get(b"/boom"))
        self.assertEqual("HTTP/1.1 500 Internal Server Error", status)
        self.assertEqual(b"Internal Server Error\n", body)
        self.assertEqual(["error in app handling GET /boom HTTP/1.1: ZeroDivisionError: nope"], errors)

    def test_system_exit_does_not_end_the_loop(self):
        def app(environ, start_response):
            if environ["PATH_INFO"] == "/exit":
                raise SystemExit(3)
            start_response("200 OK", [])
            return [b"alive"]
        s = self.serve(app)
        self.assertIn(b"500", s.get(b"/exit").split(b"\r\n")[0])
        self.assertEqual(b"alive", parse_response(s.get(b"/"))[2])

    def test_bad_heads_are_500s(self):
        cases = {
            b"/status": ("OK", [], "bad status"),
            b"/status-type": (b"200 OK", [], "status must be a str"),
            b"/headers-type": ("200 OK", (("A", "b"),), "must be a list"),
            b"/header-item": ("200 OK", [("A", 1)], "(str, str) tuple"),
            b"/header-name": ("200 OK", [("Bad Name", "x")], "bad response header name"),
            b"/header-ctl": ("200 OK", [("X", "a\r\nb")], "control character"),
            b"/header-latin1": ("200 OK", [("X", "\u20ac")], "not latin-1"),
            b"/length": ("200 OK", [("Content-Length", "1"), ("Content-Length", "2")], "conflicting"),
            b"/informational": ("100 Continue", [], "informational"),
        }

        def app(environ, start_response):
            status, headers, _ = cases[environ["PATH_INFO"].encode()]
            start_response(status, headers)
            return [b"x"]
        s = self.serve(app)
        for path, (_, _, fragment) in cases.items():
            del errors[:]
            status, _, _ = parse_response(s.get(path))
            self.assertEqual("HTTP/1.1 500 Internal Server Error", status, path)
            self.assertTrue(any(fragment in e for e in errors), (path, errors))

    def test_body_items_must_be_bytes(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            return ["text"]
        status, _, _ = parse_response(self.serve(app).get())
        self.assertEqual("HTTP/1.1 500 Internal Server Error", status)
        self.assertTrue(any("must be bytes" in e for e in errors), errors)

    def test_head_request_and_204_have_no_body(self):
        def app(environ, start_response):
            start_response("204 No Content" if environ["PATH_INFO"] == "/204" else "200 OK", [])
            return [b"body"]
        s = self.serve(app)
        self.assertEqual(b"", parse_response(s.get(b"/", b"HEAD"))[2])
        status, headers, body = parse_response(s.get(b"/204"))
        self.assertEqual(("HTTP/1.1 204 No Content", b""), (status, body))

    def test_hop_by_hop_headers_are_dropped(self):
        def app(environ, start_response):
            start_response("200 OK", [("Connection", "keep-alive"), ("Transfer-Encoding", "chunked"), ("X-A", "1")])
            return [b"x"]
        _, headers, _ = parse_response(self.serve(app).get())
        self.assertEqual("close", headers["connection"])
        self.assertNotIn("transfer-encoding", headers)
        self.assertEqual("1", headers["x-a"])

    def test_short_declared_length_is_cut(self):
        def app(environ, start_response):
            start_response("200 OK", [("Content-Length", "10")])
            return iter([b"abc"])
        raw = self.serve(app).get()
        self.assertTrue(raw.startswith(b"HTTP/1.1 200 OK"))
        self.assertTrue(raw.endswith(b"abc"), raw)

    def test_file_wrapper_is_sent_with_sendfile(self):
        with tempfile.NamedTemporaryFile(delete=False) as f:
            f.write(b"0123456789" * 1000)

        def app(environ, start_response):
            start_response("200 OK", [("Content-Type", "application/octet-stream")])
            fh = open(f.name, "rb")
            fh.seek(5)
            return environ["wsgi.file_wrapper"](fh)
        try:
            _, headers, body = parse_response(self.serve(app).get())
        finally:
            os.unlink(f.name)
        self.assertEqual("9995", headers["content-length"])
        self.assertEqual((b"0123456789" * 1000)[5:], body)

    def test_bad_packets_close_and_the_loop_lives_on(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"ok"]
        s = self.serve(app)
        self.assertEqual(b"", s.send(b"\x05\x00\x00\x00"))
        self.assertEqual(b"", s.send(pack([(b"REQUEST_METHOD", b"GET"), (b"REQUEST_METHOD", b"GET")])))
        self.assertEqual(b"", s.send(b"\x00\x10\x00", shut=True))
        self.assertEqual(b"", s.send(pack([(b"PATH_INFO", b"/")])))
        self.assertEqual(b"", s.send(pack(request_vars(b"/", b"POST", b"12345")) + b"12", shut=True))
        self.assertEqual(bytes([100, 0, 0, 0]), s.send(bytes([100, 0, 0, 0])))
        self.assertEqual(b"ok", parse_response(s.get())[2])
        self.assertEqual(1, s.served(), "refused requests and pings do not count towards --max-requests")

    def test_header_timeout(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"ok"]
        s = self.serve(app, header_timeout=1)
        c = socket.socket(socket.AF_UNIX)
        c.connect(s.path)
        c.sendall(b"\x00\x20")
        t0 = time.monotonic()
        c.settimeout(5)
        self.assertEqual(b"", c.recv(10))
        self.assertLess(time.monotonic() - t0, 3)
        c.close()

    def test_wake_pipe_returns_work_and_control_returns(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"ok"]
        s = self.serve(app)
        os.write(s.wake[1], b"x")
        deadline = time.monotonic() + 5
        while native.RUN_WORK not in s.codes and time.monotonic() < deadline:
            time.sleep(0.01)
        self.assertIn(native.RUN_WORK, s.codes)

    # AccessLogFormat.compile("json").nativeSpec() (AccessLogFormatTest checks the same string)
    JSON_SPEC = ('j{"time":%r,"addr":%h,"method":%a,"uri":%b,"proto":%c,"status":%d,"size":%e,"msecs":%f,'
                 '"micros":%g,"host":%i,"referer":%j,"uagent":%k,"cl":%q,"pid":%l,"wid":%m,"core":%n}')

    def logged(self, request, **loop_kw):
        """The bytes the loop wrote to fd 2 while it answered request (fd 2 is a temp file meanwhile)."""
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"hello"]
        s = self.serve(app, access_log=True, **loop_kw)
        with tempfile.TemporaryFile() as f:
            saved = os.dup(2)
            os.dup2(f.fileno(), 2)
            try:
                s.send(request)
            finally:
                os.dup2(saved, 2)
                os.close(saved)
            f.seek(0)
            return f.read()

    def test_json_access_lines_stay_one_valid_line(self):
        uri = b'/a"b\\c%22\n\r\xe9\xff?q=\x01'
        agent = b'ua "quoted"\ttab\x01\x7f'
        line = self.logged(pack(request_vars(uri, extra=[(b"HTTP_USER_AGENT", agent), (b"HTTP_HOST", b"h")])),
                           log_format=self.JSON_SPEC, wid=3, core=2)
        self.assertEqual(1, line.count(b"\n"), line)
        self.assertTrue(line.endswith(b"\n") and all(0x20 <= c < 0x7f for c in line[:-1]), line)
        import json
        o = json.loads(line)
        self.assertEqual(uri.decode("latin-1"), o["uri"])
        self.assertEqual(agent.decode("latin-1"), o["uagent"])
        self.assertEqual(["GET", "HTTP/1.1", "127.0.0.1", "h", None, 200, 5, 0, os.getpid(), 3, 2],
                         [o[k] for k in ("method", "proto", "addr", "host", "referer", "status", "size", "cl", "pid",
                                         "wid", "core")])
        self.assertRegex(o["time"], r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
        self.assertEqual(o["micros"] // 1000, o["msecs"])

    def test_template_access_lines_escape_as_nginx_does(self):
        line = self.logged(pack(request_vars(b'/x"\n\xff')), log_format='t%a "%b" %d %e wid=%m 100%%')
        self.assertEqual(b'GET "/x\\"\\x0A\\xFF" 200 5 wid=0 100%\n', line)

    def test_a_bad_log_format_is_refused(self):
        for spec in ("t%(uri)", "t%", "x%a", "t%z"):
            with self.assertRaises(ValueError):
                native.Loop(None, [], 0, 0, None, 65535, 0, 1 << 20, 5, True, "test[0]", "/tmp", log_format=spec)

    def test_not_accepting_leaves_connections_queued(self):
        def app(environ, start_response):
            start_response("200 OK", [])
            return [b"ok"]
        s = self.serve(app)
        s.accepting = False
        os.write(s.wake[1], b"x")  # run() returns, and is entered again without the listener
        time.sleep(0.2)
        c = socket.socket(socket.AF_UNIX)
        c.connect(s.path)
        c.sendall(pack(request_vars()))
        c.settimeout(0.5)
        with self.assertRaises(socket.timeout):
            c.recv(10)
        c.close()
        s.accepting = True
        os.write(s.wake[1], b"x")
        self.assertEqual(b"ok", parse_response(s.get())[2])


if __name__ == "__main__":
    native = load(sys.argv.pop(1))
    native.configure(STATIC, FileWrapper, log_error, io.BytesIO, lambda fd: open(fd, "rb"), http_input)
    unittest.main()
