"""The WSGI side of a bridge worker (PEP 3333).

Runs inside the worker's embedded CPython. Java calls ``boot()`` once, then ``handle()`` once per request
from each Python thread; everything between the request's environ and its last body byte happens here, so
a request crosses the Java/Python boundary once on the common path (a list body), plus once per chunk when
the app streams. The Java side is ``dev.bridge.wsgi.WsgiExchange``.

What ``handle()`` returns to Java (one bytes object costs a fraction of a tuple at the boundary):
    bytes   the whole response, packed by _pack(): b"<count> <headlen>\\0" + head + body, where head is
            "status\\0name\\0value\\0..." in latin-1; Java frames it (adds Content-Length)
    None    already sent through the exchange's send()/write()/sendfile(); Java ends it
    False   the app failed after the headers went out: Java cuts the connection
Headers travel NUL-joined with their count, so Java can tell a NUL inside a name or value.
The exchange (Java's ExchangeRouter) is bound once per Python thread, not passed per request.
"""

import io
import ipaddress
import os
import site
import stat
import sys
import time
import threading
import traceback

STREAMED = None
ABORT = False

_local = threading.local()

_app = None
_static_environ = {}
_log_tag = "worker"


class _LogStream(io.TextIOBase):
    """Line-buffered text stream that writes each line to fd 2 in the server log's format.

    Replaces sys.stdout and sys.stderr, and is wsgi.errors. Pure Python, so threads the app starts can
    use it too (they cannot call into Java)."""

    def __init__(self, kind):
        self._kind = kind
        self._buf = ""

    def writable(self):
        return True

    def write(self, s):
        if not isinstance(s, str):
            raise TypeError("write() argument must be str, not %s" % type(s).__name__)
        self._buf += s
        if "\n" in self._buf:
            lines, _, self._buf = self._buf.rpartition("\n")
            self._emit(lines)
        return len(s)

    def writelines(self, lines):
        for line in lines:
            self.write(line)

    def flush(self):
        if self._buf:
            line, self._buf = self._buf, ""
            self._emit(line)

    def _emit(self, text):
        now = time.time()
        stamp = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now)) + ".%03d" % (int(now * 1000) % 1000)
        prefix = "%s %s %s - " % (stamp, self._kind, _log_tag)
        data = "".join(prefix + line + "\n" for line in text.split("\n"))
        os.write(2, data.encode("utf-8", "backslashreplace"))


class FileWrapper:
    """wsgi.file_wrapper. When the app returns one around a real file, Java sends it with sendfile()."""

    def __init__(self, filelike, blksize=8192):
        self.filelike = filelike
        self.blksize = blksize
        if hasattr(filelike, "close"):
            self.close = filelike.close

    def __iter__(self):
        read = self.filelike.read
        blksize = self.blksize
        while True:
            data = read(blksize)
            if not data:
                return
            yield data


class _Response:
    """start_response and write() for one request."""

    __slots__ = ("exchange", "status", "headers", "sent")

    def __init__(self, exchange):
        self.exchange = exchange
        self.status = None
        self.headers = None
        self.sent = False

    def start_response(self, status, headers, exc_info=None):
        if exc_info is not None:
            try:
                if self.sent:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif self.status is not None:
            raise AssertionError("start_response() called a second time without exc_info")
        if type(status) is not str:
            raise TypeError("status must be a str, not %s" % type(status).__name__)
        if type(headers) is not list:
            raise TypeError("response headers must be a list, not %s" % type(headers).__name__)
        self.status = status
        self.headers = headers
        return self.write

    def header_block(self):
        try:
            return "\0".join([n + "\0" + v for n, v in self.headers])
        except (TypeError, ValueError):
            for item in self.headers:
                if type(item) is not tuple or len(item) != 2 or type(item[0]) is not str or type(item[1]) is not str:
                    raise TypeError("each response header must be a (str, str) tuple, got %r" % (item,))
            raise

    def write(self, data):
        if self.status is None:
            raise AssertionError("write() called before start_response()")
        if type(data) is not bytes:
            data = _as_bytes(data)
        if not data:
            return
        if self.sent:
            self.exchange.write(data)
        else:
            self.exchange.send(self.status, self.header_block(), len(self.headers), data)
            self.sent = True


def _declared_length(headers):
    for name, value in headers:
        if len(name) == 14 and name.lower() == "content-length":
            try:
                return int(value)
            except ValueError:
                return -1
    return -1


def _pack(status, headers, count, body):
    head = (status + "\0" + headers).encode("latin-1")
    return b"".join((b"%d %d\0" % (count, len(head)), head, body))


_ERROR_500 = _pack("500 Internal Server Error", "Content-Type\0text/plain; charset=utf-8", 1,
                   b"Internal Server Error\n")


def bind(exchange):
    """Called once on each Python thread with that thread's Java ExchangeRouter. With the native module
    loaded, the thread's requests go to its C Handler (the same environ and start_response as the uwsgi
    loop's); handle() below is the fallback when the module could not be built."""
    _local.exchange = exchange
    _local.handler = _native.Handler(_app, exchange, _log_tag) if _native is not None else None


def lower_priority(levels):
    """Makes the calling thread (a Python thread, after the app is loaded) `levels` nice levels less
    important than it is, so the worker's event loop, at the worker's own priority, is scheduled first on a
    busy machine. Linux's nice is per thread; threads the app starts from here on inherit it. Raising a nice
    value needs no privilege. Returns None, or why it could not."""
    if levels <= 0:
        return None
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + levels))
    except (AttributeError, OSError) as e:
        return "%s: %s" % (type(e).__name__, e)
    return None


def _as_bytes(data):
    if isinstance(data, (bytearray, memoryview)):
        return bytes(data)
    raise TypeError("response body items must be bytes, not %s" % type(data).__name__)


def _input(body):
    if body is None:
        return io.BytesIO()
    if type(body) is str:
        return open(body, "rb")
    return io.BytesIO(memoryview(body))


def _warm_app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def warm(meta, body):
    """handle() with the shim's own app in place of the app's: the worker's warm-up before it is ready."""
    if _local.handler is not None:
        return _local.handler(meta, body, _warm_app)
    return handle(meta, body, _warm_app)


def handle(meta, body, app=None):
    """Serves one request. meta is 'KEY\\0value\\0...' (the CGI part of the environ, built by Java)."""
    parts = meta.split("\0")
    environ = dict(zip(parts[::2], parts[1::2]))
    environ.update(_static_environ)
    environ["wsgi.input"] = _input(body)
    response = _Response(_local.exchange)
    result = None
    try:
        result = (app or _app)(environ, response.start_response)
        if not response.sent and (type(result) is list or type(result) is tuple):
            if response.status is None:
                raise AssertionError("the app returned without calling start_response()")
            if len(result) == 1 and type(result[0]) is bytes:
                data = result[0]
            else:
                data = b"".join([item if type(item) is bytes else _as_bytes(item) for item in result])
            return _pack(response.status, response.header_block(), len(response.headers), data)
        if not response.sent and type(result) is FileWrapper and response.status is not None:
            if _sendfile(response, result):
                return STREAMED
        write = response.write
        iterator = iter(result)
        for data in iterator:
            if response.sent or not data:
                write(data)
                continue
            # The first body bytes. When they are the whole declared Content-Length (Werkzeug's and Django's
            # usual response), finish iterating and answer in one piece instead of streaming.
            if type(data) is not bytes:
                data = _as_bytes(data)
            if response.status is None:
                raise AssertionError("the app yielded body data before calling start_response()")
            if _declared_length(response.headers) != len(data):
                write(data)
                continue
            for more in iterator:
                if more:
                    write(data)
                    write(more)
                    break
            else:
                return _pack(response.status, response.header_block(), len(response.headers), data)
        if response.sent:
            return STREAMED
        if response.status is None:
            raise AssertionError("the app returned without calling start_response()")
        return _pack(response.status, response.header_block(), len(response.headers), b"")
    except BaseException:
        # BaseException too: SystemExit or KeyboardInterrupt raised by app code must not end the worker.
        _log_exception("error in app handling %s %s" % (environ.get("REQUEST_METHOD"), environ.get("REQUEST_URI")))
        return ABORT if response.sent else _ERROR_500
    finally:
        close = getattr(result, "close", None)
        if close is not None:
            try:
                close()
            except BaseException:
                _log_exception("error in close() of the app's response")


def _sendfile(response, wrapper):
    """Hands a real file to Java for zero-copy sending; False when it is not a regular file."""
    filelike = wrapper.filelike
    try:
        fd = filelike.fileno()
        offset = filelike.tell()
        st = os.fstat(fd)
    except (AttributeError, OSError, io.UnsupportedOperation, ValueError):
        return False
    if not stat.S_ISREG(st.st_mode):
        return False
    size = st.st_size
    response.exchange.sendfile(response.status, response.header_block(), len(response.headers), fd,
                               offset, max(0, size - offset))
    response.sent = True
    return True


def _log_exception(summary):
    sys.stderr.write(summary + ":\n" + traceback.format_exc())
    sys.stderr.flush()
    _count_exception()


def _log_error(summary, exc):
    """_log_exception for an exception handed over by the native loop (it is not being handled here)."""
    sys.stderr.write(summary + ":\n" + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    sys.stderr.flush()
    _count_exception()


def _count_exception():
    """Counts an exception of the app for the stats (the thread's Java ExchangeRouter: only its Python thread
    can call it)."""
    exchange = getattr(_local, "exchange", None)
    if exchange is not None:
        try:
            exchange.appFailed()
        except Exception:
            pass


_native = None


def load_native(path):
    """Loads _bridge_native (native/, built for this Python by the launcher) once per interpreter. Returns
    None, or one line saying why it cannot be used."""
    global _native
    try:
        if _native is None:
            import importlib.util
            spec = importlib.util.spec_from_file_location("_bridge_native", path)
            module = importlib.util.module_from_spec(spec)
            spec.loader.exec_module(module)
            module.configure(_static_environ, FileWrapper, _log_error, io.BytesIO, _open_spilled, _input)
            _native = module
    except Exception as e:
        return "%s: %s" % (type(e).__name__, e)
    return None


def native_loop(listeners, wake_fd, control_fd, status, buffer_size, limit_body, spill_threshold,
                header_timeout, access_log, spill_dir, log_format, wid, core, allow):
    """Called once on each Python thread of a worker that serves its uwsgi listeners in C: makes this
    thread's Loop. log_format is AccessLogFormat.nativeSpec(), or "" for the bridge's own access line; wid and
    core are the worker's number and this thread's index, for it; allow is --uwsgi-allow-from, "CIDR,CIDR",
    packed for the C loop as native/peer_allow.h says. Returns None, or one line saying why it cannot."""
    try:
        fds = [int(fd) for fd in listeners.split(",") if fd]
        blocks = b"".join(bytes([n.version, n.prefixlen]) + n.network_address.packed.ljust(16, b"\0")
                          for n in map(ipaddress.ip_network, allow.split(",")))
        _local.loop = _native.Loop(_app, fds, wake_fd, control_fd, status, buffer_size, limit_body,
                                   spill_threshold, header_timeout, access_log, _log_tag, spill_dir,
                                   log_format=log_format, wid=wid, core=core, allow=blocks)
    except Exception as e:
        return "%s: %s" % (type(e).__name__, e)
    return None


def _open_spilled(fd):
    return open(fd, "rb")


def native_run(accepting):
    """Serves uwsgi connections in C on this thread until the Java side has something for it: see
    _bridge_native.Loop.run()."""
    return _local.loop.run(accepting)


def boot(settings):
    """Prepares the interpreter and loads the app. Returns None, or a one-line error summary after the
    traceback has been printed to the log."""
    global _app, _log_tag
    s = dict(line.split("=", 1) for line in settings.split("\n") if "=" in line)
    _log_tag = s["tag"]
    for key, value in s.items():
        if key.startswith("environ."):
            os.environ[key[len("environ."):]] = value
    sys.stdout = _LogStream("OUT")
    sys.stderr = _LogStream("ERR")
    sys.argv = ["bridge"]
    paths = [p for p in s["sys_path"].split(os.pathsep) if p]
    if paths:
        sys.path[:] = paths
    for sp in s["site_packages"].split(os.pathsep):
        if sp:
            site.addsitedir(sp)
    front = [p for p in s["pythonpath"].split(os.pathsep) if p]
    if s["chdir"]:
        os.chdir(s["chdir"])
        front.insert(0, os.getcwd())
    elif "" not in sys.path:
        front.insert(0, os.getcwd())
    for p in reversed(front):
        if p in sys.path:
            sys.path.remove(p)
        sys.path.insert(0, os.path.abspath(p))
    _static_environ.update({
        "wsgi.version": (1, 0),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": s["multithread"] == "1",
        "wsgi.multiprocess": s["multiprocess"] == "1",
        "wsgi.run_once": False,
        "wsgi.input_terminated": True,
        "wsgi.file_wrapper": FileWrapper,
    })
    try:
        _app = load_app(s["module"])
    except _AppSpecError as e:
        return str(e)
    except BaseException as e:
        refused = _refused_extension(e)
        if refused is not None:
            return ("%s imports %s, a C extension that cannot load in an isolated interpreter: run processes "
                    "instead (--interpreters 1 --workers N)" % (s["module"], refused))
        # The app's frames only: ours and importlib's machinery say nothing to the user.
        tb = e.__traceback__
        while tb is not None and (tb.tb_frame.f_code.co_filename == __file__
                                  or tb.tb_frame.f_code.co_filename.startswith("<frozen importlib")
                                  or tb.tb_frame.f_code.co_filename.endswith("importlib/__init__.py")):
            tb = tb.tb_next
        sys.stderr.write("cannot load the app %s:\n%s" % (
            s["module"], "".join(traceback.format_exception(type(e), e, tb))))
        sys.stderr.flush()
        return "%s: %s" % (type(e).__name__, e)
    return None


_NO_SUBINTERPRETERS = "does not support loading in subinterpreters"


def _refused_extension(error):
    """The name of the C extension whose refusal of isolated interpreters caused error (CPython's ImportError
    "module X does not support loading in subinterpreters", perhaps re-raised as another error), or None."""
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        if isinstance(error, ImportError) and _NO_SUBINTERPRETERS in str(error):
            return error.name or str(error).split()[1]
        error = error.__cause__ or error.__context__
    return None


class _AppSpecError(Exception):
    pass


def load_app(spec):
    """Resolves 'pkg.mod:callable', 'mod' (then 'application', else 'app') or 'path/file.py:callable'."""
    import importlib
    import importlib.util
    module_part, _, attr = spec.partition(":")
    if module_part.endswith(".py") or "/" in module_part:
        path = os.path.abspath(module_part)
        if not os.path.isfile(path):
            raise _AppSpecError("no such file: %s" % path)
        name = os.path.splitext(os.path.basename(path))[0]
        sys.path.insert(0, os.path.dirname(path))
        file_spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(file_spec)
        sys.modules[name] = module
        file_spec.loader.exec_module(module)
    else:
        module = importlib.import_module(module_part)
    names = [attr] if attr else ["application", "app"]
    for candidate in names:
        obj = module
        try:
            for part in candidate.split("."):
                obj = getattr(obj, part)
        except AttributeError:
            continue
        if not callable(obj):
            raise _AppSpecError("%s:%s is not callable (it is a %s)" % (module_part, candidate, type(obj).__name__))
        return obj
    if attr:
        raise _AppSpecError("module %s has no attribute %r" % (module_part, attr))
    raise _AppSpecError("module %s has neither 'application' nor 'app'; name the callable: --module %s:NAME"
                        % (module_part, module_part))
