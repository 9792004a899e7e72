/*
 * _bridge_native: the seed's C request flow (shared/seed), for both protocols.
 *
 * The uwsgi listeners are served on a worker's Python threads themselves: a Loop waits (epoll), without
 * the GIL, on the inherited listening sockets and two pipes of the worker's Java side (work queued for
 * the Python threads, a control pipe of this thread's own); it accepts a connection, reads the packet
 * (uwsgi_packet.c), builds the environ with PyDict_SetItem, calls the app with a start_response written
 * in C, writes the response in as few writes as it takes, and closes. No Netty channel per connection and
 * no hand-off between threads. HTTP requests, which Netty decodes, come in through a Handler: the same
 * environ builder, start_response and iteration, the answer handed back to Java.
 *
 * Threads: a Loop belongs to the Python thread that created it (one per --threads thread); run() is
 * entered with the GIL held (from Jep) and releases it around every system call.
 *
 * Sub-interpreters: multi-phase init, every Python object in per-module state or in the Loop, heap
 * types only; nothing static but constant C data.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>

#include <errno.h>
#include <fcntl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "access_log.h"
#include "peer_allow.h"
#include "uwsgi_packet.h"

/* What newer CPythons have, for the older ones the bridge supports (3.9+). */
#if PY_VERSION_HEX < 0x030A0000
static inline PyObject *Py_NewRef(PyObject *o) { Py_INCREF(o); return o; }
static inline PyObject *Py_XNewRef(PyObject *o) { Py_XINCREF(o); return o; }
#define Py_TPFLAGS_IMMUTABLETYPE 0
#define Py_TPFLAGS_DISALLOW_INSTANTIATION 0
#endif
#if PY_VERSION_HEX < 0x030C0000
static PyObject *PyErr_GetRaisedException(void) {
    PyObject *t, *v, *tb;
    PyErr_Fetch(&t, &v, &tb);
    if (t == NULL) {
        return NULL;
    }
    PyErr_NormalizeException(&t, &v, &tb);
    if (tb != NULL) {
        PyException_SetTraceback(v, tb);
    }
    Py_XDECREF(t);
    Py_XDECREF(tb);
    return v;
}
#endif

/* The attribute, NULL when absent (AttributeError cleared) or on another error (left set). */
static PyObject *optional_attr(PyObject *o, PyObject *name) {
    PyObject *v = PyObject_GetAttr(o, name);
    if (v == NULL && PyErr_ExceptionMatches(PyExc_AttributeError)) {
        PyErr_Clear();
    }
    return v;
}

/* What Loop.run() returns to the Java side. */
enum { RUN_CONTROL = 0, RUN_WORK = 1, RUN_IDLE = 2 };
/* run() returns RUN_IDLE after this long without a connection, in milliseconds (Java's housekeeping). */
#define IDLE_MILLIS 1000
/* A write that makes no progress for this long cuts the connection, in milliseconds (WsgiExchange's). */
#define WRITE_STALL_MILLIS 60000
/* After a response that leaves input unread, how long to wait for the peer's FIN, in milliseconds. */
#define LINGER_MILLIS 2000
/* Most listening sockets one Loop polls. */
#define MAX_LISTENERS 64
/* Bytes read past the vars block in the first reads (the start of the body), at most. */
#define READ_AHEAD 65536
/* Most iovecs handed to one writev (Linux's IOV_MAX is 1024). */
#define MAX_IOV 64

/* The status block a Loop shares with Java (a direct ByteBuffer), little-endian, 8-byte aligned. */
#define STATUS_BUSY_SINCE 0 /* int64: epoch ms the current request began, 0 when idle */
#define STATUS_SERVED 8     /* int64: requests served */
#define STATUS_SUMMARY 16   /* NUL-terminated "METHOD target PROTOCOL" of the current request */
#define SUMMARY_SIZE 240
/*
 * The loop's request counters, int64 each, in dev.bridge.stats.RequestCounters' layout (its Javadoc is the
 * reference): requests, body bytes sent, microseconds spent, responses per status class 1xx..5xx, and the
 * duration histogram's buckets (upper bounds in BUCKET_MICROS, the last one unbounded). Written only by
 * this loop's thread, read by Java at any time.
 */
#define STATUS_COUNTERS 256
#define C_REQUESTS 0
#define C_TX 1
#define C_MICROS 2
#define C_STATUS_1XX 3
#define C_BUCKETS 8
#define N_BUCKETS 14
#define N_COUNTERS (C_BUCKETS + N_BUCKETS)
#define STATUS_SIZE 512
static const long long BUCKET_MICROS[N_BUCKETS - 1] = {1000,   2500,   5000,    10000,   25000,   50000,  100000,
                                                       250000, 500000, 1000000, 2500000, 5000000, 10000000};

static const unsigned char PONG[4] = {100, 0, 0, 0};
static const char ERROR_500_BODY[] = "Internal Server Error\n";
static const char ERROR_413_BODY[] = "413 Content Too Large\n";

/* Environ keys kept interned in the module state: nginx's uwsgi_params and the headers most requests have. */
/* With their lengths, so a var's name is matched without strlen. */
#define KEY(name) {name, sizeof(name) - 1}
static const struct {
    const char *name;
    size_t len;
} KNOWN_KEYS[] = {
    KEY("REQUEST_METHOD"), KEY("REQUEST_URI"), KEY("QUERY_STRING"), KEY("CONTENT_TYPE"), KEY("CONTENT_LENGTH"),
    KEY("SERVER_PROTOCOL"), KEY("SERVER_NAME"), KEY("SERVER_PORT"), KEY("REMOTE_ADDR"), KEY("REMOTE_PORT"),
    KEY("REQUEST_SCHEME"), KEY("HTTPS"), KEY("DOCUMENT_ROOT"), KEY("HTTP_HOST"), KEY("HTTP_USER_AGENT"),
    KEY("HTTP_ACCEPT"), KEY("HTTP_ACCEPT_ENCODING"), KEY("HTTP_ACCEPT_LANGUAGE"), KEY("HTTP_CONNECTION"),
    KEY("HTTP_COOKIE"), KEY("HTTP_REFERER"), KEY("HTTP_CACHE_CONTROL"), KEY("HTTP_ORIGIN"),
    KEY("HTTP_UPGRADE_INSECURE_REQUESTS"), KEY("HTTP_X_FORWARDED_FOR"), KEY("HTTP_X_FORWARDED_PROTO"),
};
#undef KEY
#define N_KNOWN (sizeof(KNOWN_KEYS) / sizeof(KNOWN_KEYS[0]))

typedef struct {
    PyTypeObject *loop_type;
    PyTypeObject *start_response_type;
    PyTypeObject *handler_type;
    PyObject *known[N_KNOWN];
    PyObject *key_script_name, *key_path_info, *key_url_scheme, *key_input;
    PyObject *str_http, *str_https, *str_empty, *str_close, *str_fileno, *str_tell;
    PyObject *str_send, *str_write, *str_nul, *str_http11, *str_localhost, *error_500_packed;
    /* Set by configure(): the parts of the environ every request shares, and the shim's helpers. */
    PyObject *static_environ, *file_wrapper, *log_error, *bytes_io, *open_fd, *http_input;
} bridge_state;

static bridge_state *state_of_module(PyObject *module) {
    return (bridge_state *)PyModule_GetState(module);
}

/* ---- the server log, in the Java side's format: "date LEVEL tag - message" on fd 2 ---- */

static void log_line(const char *tag, const char *level, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

static void log_line(const char *tag, const char *level, const char *fmt, ...) {
    char line[1024];
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    localtime_r(&ts.tv_sec, &tm);
    int n = (int)strftime(line, sizeof line, "%Y-%m-%d %H:%M:%S", &tm);
    n += snprintf(line + n, sizeof line - n, ".%03ld %s %s - ", ts.tv_nsec / 1000000, level, tag);
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - n - 1, fmt, ap);
    va_end(ap);
    n = m < 0 ? n : (n + m > (int)sizeof line - 2 ? (int)sizeof line - 2 : n + m);
    line[n++] = '\n';
    ssize_t w = write(2, line, n);
    (void)w;
}

static long long now_millis(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static long long monotonic_millis(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static double monotonic_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* ---- the Loop ---- */

typedef struct {
    PyObject_HEAD
    PyObject *module;
    PyObject *app;
    PyObject *status_owner; /* keeps the status block's memory alive */
    Py_buffer status_view;
    unsigned char *status;
    int listeners[MAX_LISTENERS];
    int nlisteners;
    int wake_fd, control_fd;
    int epfd;       /* this loop's epoll set: the two pipes, and the listeners while registered */
    int registered; /* whether the listeners are in the set */
    size_t max_block;
    long long limit_body, spill_threshold;
    int header_timeout_ms;
    int access_log;
    char *log_spec;      /* --log-format's compiled spec (access_log.h), or NULL for the bridge's own line */
    size_t log_spec_len;
    int wid, core;       /* for the access log: the worker's number, this Python thread's index */
    int check_peers;     /* TCP peers must be in allow[0..nallow) (--uwsgi-allow-from) */
    int nallow;
    struct peer_block allow[PEER_MAX_BLOCKS];
    char tag[64];
    char spill_dir[512];
    unsigned char *buf;
    size_t buf_cap;
    char *head;
    size_t head_cap, head_len;
    long long date_second;
    char date[40];
    struct uwsgi_packet packet;
} LoopObject;

/* What a request needs while it is answered; lives on run()'s stack. */
enum framing { F_NONE, F_LENGTH, F_CLOSE };

struct request {
    LoopObject *loop;   /* the uwsgi path: the loop whose socket and buffers this request uses */
    PyObject *exchange; /* the HTTP path: the Java side's ExchangeRouter (borrowed); NULL for uwsgi */
    PyObject *held;     /* the HTTP path: a first chunk as long as the declared Content-Length, not yet sent */
    PyObject *packed;   /* the HTTP path: the whole response, packed for Java (see pack_response) */
    const char *tag;    /* this process in the log */
    PyObject *app;      /* the WSGI callable (borrowed) */
    bridge_state *st;
    int fd;
    int tcp;
    int http10, head_request;
    PyObject *status, *headers; /* from start_response, strong */
    int headers_sent;
    int code;
    long long declared; /* the app's Content-Length, or -1 */
    long long sent;     /* body bytes sent */
    enum framing framing;
    int broken;         /* the connection failed or was cut */
    char summary[SUMMARY_SIZE];
    char client[128];
};

typedef struct {
    PyObject_HEAD
    struct request *req; /* NULL once the request is over */
} StartResponseObject;

/* ---- I/O without the GIL ---- */

/* Waits for events on fd until deadline (monotonic ms); 1 ready, 0 timed out, -1 error. */
static int wait_fd(int fd, short events, long long deadline) {
    for (;;) {
        long long left = deadline - monotonic_millis();
        if (left <= 0) {
            return 0;
        }
        struct pollfd p = {.fd = fd, .events = events};
        int n = poll(&p, 1, (int)(left > INT32_MAX ? INT32_MAX : left));
        if (n > 0) {
            return 1;
        }
        if (n < 0 && errno != EINTR) {
            return -1;
        }
    }
}

/* Reads at most n bytes; >0 read, 0 EOF, -1 error, -2 timed out. */
static ssize_t read_some(int fd, void *p, size_t n, long long deadline) {
    for (;;) {
        ssize_t r = recv(fd, p, n, 0);
        if (r >= 0) {
            return r;
        }
        if (errno == EINTR) {
            continue;
        }
        if (errno != EAGAIN) {
            return -1;
        }
        int w = wait_fd(fd, POLLIN, deadline);
        if (w <= 0) {
            return w == 0 ? -2 : -1;
        }
    }
}

/* Writes every byte of iov (consumed as it goes); 0 done, -1 failed or stalled. */
static int write_all(int fd, struct iovec *iov, int n) {
    while (n > 0) {
        ssize_t w = writev(fd, iov, n > MAX_IOV ? MAX_IOV : n);
        if (w < 0) {
            if (errno == EINTR) {
                continue;
            }
            if (errno != EAGAIN || wait_fd(fd, POLLOUT, monotonic_millis() + WRITE_STALL_MILLIS) <= 0) {
                return -1;
            }
            continue;
        }
        while (n > 0 && (size_t)w >= iov->iov_len) {
            w -= (ssize_t)iov->iov_len;
            iov++;
            n--;
        }
        if (n > 0) {
            iov->iov_base = (char *)iov->iov_base + w;
            iov->iov_len -= (size_t)w;
        }
    }
    return 0;
}

/* Closes without losing what was sent when input is left unread: FIN first, then the peer's FIN (or 2 s). */
static void close_gracefully(int fd) {
    char sink[4096];
    shutdown(fd, SHUT_WR);
    long long deadline = monotonic_millis() + LINGER_MILLIS;
    while (read_some(fd, sink, sizeof sink, deadline) > 0) {
    }
    close(fd);
}

/* Cuts the connection: over TCP the peer sees a reset, so a truncated response is never taken as whole. */
static void cut(int fd, int tcp) {
    if (tcp) {
        struct linger l = {.l_onoff = 1, .l_linger = 0};
        setsockopt(fd, SOL_SOCKET, SO_LINGER, &l, sizeof l);
    }
    close(fd);
}

/* ---- the response head ---- */

static int head_reserve(LoopObject *lp, size_t more) {
    if (lp->head_len + more <= lp->head_cap) {
        return 0;
    }
    size_t cap = lp->head_cap * 2;
    while (cap < lp->head_len + more) {
        cap *= 2;
    }
    char *p = PyMem_RawRealloc(lp->head, cap);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    lp->head = p;
    lp->head_cap = cap;
    return 0;
}

static int head_put(LoopObject *lp, const char *s, size_t n) {
    if (head_reserve(lp, n) < 0) {
        return -1;
    }
    memcpy(lp->head + lp->head_len, s, n);
    lp->head_len += n;
    return 0;
}

static int head_header(LoopObject *lp, const char *name, size_t nlen, const char *value, size_t vlen) {
    if (head_reserve(lp, nlen + vlen + 4) < 0) {
        return -1;
    }
    char *p = lp->head + lp->head_len;
    memcpy(p, name, nlen);
    p[nlen] = ':';
    p[nlen + 1] = ' ';
    memcpy(p + nlen + 2, value, vlen);
    p[nlen + 2 + vlen] = '\r';
    p[nlen + 3 + vlen] = '\n';
    lp->head_len += nlen + vlen + 4;
    return 0;
}

static const char *http_date(LoopObject *lp) {
    time_t now = time(NULL);
    if (now != lp->date_second) {
        struct tm tm;
        gmtime_r(&now, &tm);
        strftime(lp->date, sizeof lp->date, "%a, %d %b %Y %H:%M:%S GMT", &tm);
        lp->date_second = now;
    }
    return lp->date;
}

static int is_token_char(unsigned char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           (c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static int ascii_ieq(const char *a, size_t n, const char *lower) {
    if (strlen(lower) != n) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = a[i];
        if (c >= 'A' && c <= 'Z') {
            c += 32;
        }
        if (c != lower[i]) {
            return 0;
        }
    }
    return 1;
}

/* The latin-1 bytes of a str (one byte per char), or NULL with ValueError naming what. */
static const char *latin1(PyObject *s, Py_ssize_t *n, const char *what) {
    if (PyUnicode_KIND(s) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError, "%s: not latin-1 (encode it per RFC 8187)", what);
        return NULL;
    }
    *n = PyUnicode_GET_LENGTH(s);
    return (const char *)PyUnicode_1BYTE_DATA(s);
}

static int has_ctl(const char *s, Py_ssize_t n) {
    for (Py_ssize_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) {
            return 1;
        }
    }
    return 0;
}

/* A response header as PEP 3333 wants it: a (str, str) tuple. */
static int is_header_pair(PyObject *item) {
    return PyTuple_CheckExact(item) && PyTuple_GET_SIZE(item) == 2 && PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 0)) &&
           PyUnicode_CheckExact(PyTuple_GET_ITEM(item, 1));
}

/* A Content-Length value: up to 18 digits, blanks around them allowed. -1 when it is not one. */
static long long parse_content_length(const char *v, Py_ssize_t n) {
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++, n--;
    }
    while (n > 0 && (v[n - 1] == ' ' || v[n - 1] == '\t')) {
        n--;
    }
    return n == 0 ? -1 : uwsgi_parse_length(v, (size_t)n);
}

static const char *const HOP_BY_HOP[] = {"connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
                                         "te", "trailer", "trailers", "transfer-encoding", "upgrade"};

/*
 * Checks the app's status and headers (PEP 3333, RFC 9110: dev.bridge.wsgi.AppResponseHead's rules) and
 * notes the code and the declared Content-Length. -1 with ValueError/TypeError naming the culprit.
 */
static int check_head(struct request *req) {
    Py_ssize_t n;
    const char *s = latin1(req->status, &n, "the status");
    if (s == NULL) {
        return -1;
    }
    int code = 0;
    for (int i = 0; i < 3 && i < n; i++) {
        code = s[i] >= '0' && s[i] <= '9' ? code * 10 + (s[i] - '0') : -1000;
    }
    if (n < 3 || code < 100 || (n > 3 && s[3] != ' ') || has_ctl(s, n)) {
        PyErr_Format(PyExc_ValueError, "bad status %R: expected e.g. '200 OK'", req->status);
        return -1;
    }
    if (code < 200) {
        PyErr_Format(PyExc_ValueError, "status %R is informational: it cannot be the response", req->status);
        return -1;
    }
    req->code = code;
    req->declared = -1;
    Py_ssize_t count = PyList_GET_SIZE(req->headers);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(req->headers, i);
        if (!is_header_pair(item)) {
            PyErr_Format(PyExc_TypeError, "each response header must be a (str, str) tuple, got %R", item);
            return -1;
        }
        Py_ssize_t nl, vl;
        const char *name = latin1(PyTuple_GET_ITEM(item, 0), &nl, "a response header name");
        const char *value = name == NULL ? NULL : latin1(PyTuple_GET_ITEM(item, 1), &vl, "a response header value");
        if (value == NULL) {
            return -1;
        }
        if (nl == 0) {
            PyErr_SetString(PyExc_ValueError, "empty response header name");
            return -1;
        }
        for (Py_ssize_t k = 0; k < nl; k++) {
            if (!is_token_char((unsigned char)name[k])) {
                PyErr_Format(PyExc_ValueError, "bad response header name %R", PyTuple_GET_ITEM(item, 0));
                return -1;
            }
        }
        if (has_ctl(value, vl)) {
            PyErr_Format(PyExc_ValueError, "bad value for response header %R: control character",
                         PyTuple_GET_ITEM(item, 0));
            return -1;
        }
        if (ascii_ieq(name, nl, "content-length")) {
            long long cl = parse_content_length(value, vl);
            if (cl < 0) {
                PyErr_Format(PyExc_ValueError, "bad Content-Length %R", PyTuple_GET_ITEM(item, 1));
                return -1;
            }
            if (req->declared >= 0 && req->declared != cl) {
                PyErr_Format(PyExc_ValueError, "conflicting Content-Length headers: %lld and %lld", req->declared, cl);
                return -1;
            }
            req->declared = cl;
        }
    }
    return 0;
}

static int body_forbidden(int code) {
    return code < 200 || code == 204 || code == 304;
}

/* Writes the head into lp->head (checked by check_head before). length: Content-Length to add under F_LENGTH. */
static int build_head(struct request *req, enum framing framing, long long length) {
    LoopObject *lp = req->loop;
    Py_ssize_t n;
    const char *s = latin1(req->status, &n, "the status");
    lp->head_len = 0;
    if (head_put(lp, req->http10 ? "HTTP/1.0 " : "HTTP/1.1 ", 9) < 0 || head_put(lp, s, n) < 0 ||
        (n == 3 && head_put(lp, " ", 1) < 0) || head_put(lp, "\r\n", 2) < 0) {
        return -1;
    }
    int has_date = 0, has_length = 0;
    Py_ssize_t count = PyList_GET_SIZE(req->headers);
    for (Py_ssize_t i = 0; i < count; i++) {
        PyObject *item = PyList_GET_ITEM(req->headers, i);
        Py_ssize_t nl, vl;
        const char *name = latin1(PyTuple_GET_ITEM(item, 0), &nl, "name");
        const char *value = latin1(PyTuple_GET_ITEM(item, 1), &vl, "value");
        int skip = 0;
        for (size_t h = 0; h < sizeof HOP_BY_HOP / sizeof HOP_BY_HOP[0] && !skip; h++) {
            skip = ascii_ieq(name, nl, HOP_BY_HOP[h]); /* the server's business; uwsgi always closes */
        }
        if (ascii_ieq(name, nl, "content-length")) {
            skip = has_length; /* a repeated equal Content-Length once */
            has_length = 1;
        } else if (ascii_ieq(name, nl, "date")) {
            has_date = 1;
        }
        if (!skip && head_header(lp, name, nl, value, vl) < 0) {
            return -1;
        }
    }
    if (!has_date && head_header(lp, "Date", 4, http_date(lp), strlen(http_date(lp))) < 0) {
        return -1;
    }
    if (framing == F_LENGTH && req->declared < 0) {
        char num[24];
        int k = snprintf(num, sizeof num, "%lld", length);
        if (head_header(lp, "Content-Length", 14, num, k) < 0) {
            return -1;
        }
    }
    if (!req->http10 && head_header(lp, "Connection", 10, "close", 5) < 0) {
        return -1;
    }
    return head_put(lp, "\r\n", 2);
}

/* Sends iov with the GIL released; on failure the request is broken. */
static int send_iov(struct request *req, struct iovec *iov, int n) {
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = write_all(req->fd, iov, n);
    Py_END_ALLOW_THREADS
    if (rc < 0) {
        req->broken = 1;
    }
    return rc;
}

/* The bytes of a body item: bytes as they are; bytearray and memoryview copied; anything else TypeError. */
static PyObject *as_bytes(PyObject *item) {
    if (PyBytes_CheckExact(item)) {
        Py_INCREF(item);
        return item;
    }
    if (PyByteArray_Check(item) || PyMemoryView_Check(item)) {
        return PyBytes_FromObject(item);
    }
    PyErr_Format(PyExc_TypeError, "response body items must be bytes, not %s", Py_TYPE(item)->tp_name);
    return NULL;
}

/*
 * The regular file behind a wsgi.file_wrapper: its descriptor, the position the app left it at, and the
 * bytes from there to its end. 0 when it is no regular file (the wrapper is then iterated like any body).
 */
static int wrapped_file(bridge_state *st, PyObject *wrapper, long *fd, long long *offset, long long *count) {
    PyObject *filelike = PyObject_GetAttrString(wrapper, "filelike");
    PyObject *fdo = filelike == NULL ? NULL : PyObject_CallMethodNoArgs(filelike, st->str_fileno);
    PyObject *pos = fdo == NULL ? NULL : PyObject_CallMethodNoArgs(filelike, st->str_tell);
    Py_XDECREF(filelike);
    *fd = fdo == NULL ? -1 : PyLong_AsLong(fdo);
    *offset = pos == NULL ? -1 : PyLong_AsLongLong(pos);
    Py_XDECREF(fdo);
    Py_XDECREF(pos);
    struct stat sb;
    if (PyErr_Occurred() || *fd < 0 || *offset < 0 || fstat((int)*fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
        PyErr_Clear();
        return 0;
    }
    *count = sb.st_size > *offset ? sb.st_size - *offset : 0;
    return 1;
}

/* ---- the HTTP path's sink: the Java side's exchange (dev.bridge.wsgi.ExchangeRouter) ----
 * Netty decodes HTTP and writes responses; this core hands them over the way the Python shim did: a whole
 * response packed in one bytes object (returned to Java, one crossing), or, when the app streams,
 * exchange.send(status, headers, count, data), exchange.write(data), exchange.sendfile(...). Java checks
 * the head (AppResponseHead) and frames the body. */

/* The headers as Java takes them, "name\0value\0name\0value", and their count. New reference. */
static PyObject *header_block(struct request *req, Py_ssize_t *count) {
    *count = PyList_GET_SIZE(req->headers);
    PyObject *flat = PyList_New(2 * *count);
    if (flat == NULL) {
        return NULL;
    }
    for (Py_ssize_t i = 0; i < *count; i++) {
        PyObject *item = PyList_GET_ITEM(req->headers, i);
        if (!is_header_pair(item)) {
            Py_DECREF(flat);
            PyErr_Format(PyExc_TypeError, "each response header must be a (str, str) tuple, got %R", item);
            return NULL;
        }
        PyList_SET_ITEM(flat, 2 * i, Py_NewRef(PyTuple_GET_ITEM(item, 0)));
        PyList_SET_ITEM(flat, 2 * i + 1, Py_NewRef(PyTuple_GET_ITEM(item, 1)));
    }
    PyObject *block = PyUnicode_Join(req->st->str_nul, flat);
    Py_DECREF(flat);
    return block;
}

/* The app's Content-Length (the first such header), or -1 when absent or not a number. */
static long long declared_length(PyObject *headers) {
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(headers); i++) {
        PyObject *item = PyList_GET_ITEM(headers, i);
        if (!is_header_pair(item)) {
            return -1;
        }
        Py_ssize_t nl, vl;
        const char *name = PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(item, 0), &nl);
        const char *value = name == NULL ? NULL : PyUnicode_AsUTF8AndSize(PyTuple_GET_ITEM(item, 1), &vl);
        if (value == NULL) {
            PyErr_Clear();
            return -1;
        }
        if (ascii_ieq(name, (size_t)nl, "content-length")) {
            return parse_content_length(value, vl);
        }
    }
    return -1;
}

/* The whole response for Java: b"<count> <headlen>\0" + "status\0headers" (latin-1) + the body parts. */
static int pack_response(struct request *req, PyObject *const *parts, Py_ssize_t nparts) {
    if (req->status == NULL) {
        PyErr_SetString(PyExc_AssertionError, "the app returned without calling start_response()");
        return -1;
    }
    Py_ssize_t count;
    PyObject *block = header_block(req, &count);
    PyObject *head = block == NULL ? NULL : PyUnicode_FromFormat("%U%c%U", req->status, 0, block);
    PyObject *latin = head == NULL ? NULL : PyUnicode_AsLatin1String(head);
    Py_XDECREF(block);
    Py_XDECREF(head);
    if (latin == NULL) {
        return -1;
    }
    char prefix[48];
    int np = snprintf(prefix, sizeof prefix, "%zd %zd", count, PyBytes_GET_SIZE(latin)) + 1; /* with its NUL */
    Py_ssize_t total = np + PyBytes_GET_SIZE(latin);
    for (Py_ssize_t i = 0; i < nparts; i++) {
        total += PyBytes_GET_SIZE(parts[i]);
    }
    PyObject *out = PyBytes_FromStringAndSize(NULL, total);
    if (out == NULL) {
        Py_DECREF(latin);
        return -1;
    }
    char *p = PyBytes_AS_STRING(out);
    memcpy(p, prefix, (size_t)np);
    p += np;
    memcpy(p, PyBytes_AS_STRING(latin), (size_t)PyBytes_GET_SIZE(latin));
    p += PyBytes_GET_SIZE(latin);
    for (Py_ssize_t i = 0; i < nparts; i++) {
        memcpy(p, PyBytes_AS_STRING(parts[i]), (size_t)PyBytes_GET_SIZE(parts[i]));
        p += PyBytes_GET_SIZE(parts[i]);
    }
    Py_DECREF(latin);
    Py_XSETREF(req->packed, out);
    req->headers_sent = 1;
    return 0;
}

/* Streams: the head with the first chunk (exchange.send), or a further chunk (exchange.write). */
static int exchange_send(struct request *req, PyObject *data) {
    bridge_state *st = req->st;
    PyObject *r;
    if (req->headers_sent) {
        r = PyObject_CallMethodObjArgs(req->exchange, st->str_write, data, NULL);
    } else {
        if (req->status == NULL) {
            PyErr_SetString(PyExc_AssertionError, "the app sent body data before calling start_response()");
            return -1;
        }
        Py_ssize_t count;
        PyObject *block = header_block(req, &count);
        PyObject *n = block == NULL ? NULL : PyLong_FromSsize_t(count);
        r = n == NULL ? NULL : PyObject_CallMethodObjArgs(req->exchange, st->str_send, req->status, block, n, data, NULL);
        Py_XDECREF(block);
        Py_XDECREF(n);
        req->headers_sent = r != NULL;
    }
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* A non-empty chunk on the HTTP path. The first, when it is the whole declared Content-Length (Werkzeug's and
 * Django's usual response), is held: if the iterable ends there, the response goes to Java in one piece. */
static int exchange_chunk(struct request *req, PyObject *data) {
    if (req->held != NULL) {
        PyObject *first = req->held;
        req->held = NULL;
        int rc = exchange_send(req, first);
        Py_DECREF(first);
        if (rc < 0) {
            return -1;
        }
    } else if (!req->headers_sent && req->status != NULL && declared_length(req->headers) == PyBytes_GET_SIZE(data)) {
        req->held = Py_NewRef(data);
        return 0;
    }
    return exchange_send(req, data);
}

/* wsgi.file_wrapper around a regular file on the HTTP path: Java sends it with sendfile(). 1 sent, 0 not a file. */
static int exchange_sendfile(struct request *req, PyObject *wrapper) {
    long file_fd;
    long long offset, length;
    if (!wrapped_file(req->st, wrapper, &file_fd, &offset, &length)) {
        return 0;
    }
    Py_ssize_t count;
    PyObject *block = header_block(req, &count);
    if (block == NULL) {
        return -1;
    }
    PyObject *r = PyObject_CallMethod(req->exchange, "sendfile", "OOnlLL", req->status, block, count, file_fd, offset,
                                      length);
    Py_DECREF(block);
    if (r == NULL) {
        return -1;
    }
    Py_DECREF(r);
    req->headers_sent = 1;
    return 1;
}

/* Commits the head for a streamed body and sends it with the first chunk (may be empty). */
static int start_stream(struct request *req, const char *data, Py_ssize_t n) {
    if (req->status == NULL) {
        PyErr_SetString(PyExc_AssertionError, "the app sent body data before calling start_response()");
        return -1;
    }
    if (check_head(req) < 0) {
        return -1;
    }
    if (req->head_request || body_forbidden(req->code)) {
        req->framing = F_NONE;
    } else {
        req->framing = req->declared >= 0 ? F_LENGTH : F_CLOSE;
    }
    if (build_head(req, req->framing, 0) < 0) {
        return -1;
    }
    req->headers_sent = 1;
    LoopObject *lp = req->loop;
    Py_ssize_t body = req->framing == F_NONE ? 0 : n;
    if (req->framing == F_LENGTH && body > req->declared) {
        body = (Py_ssize_t)req->declared;
        log_line(lp->tag, "ERROR", "the app sent more than its Content-Length %lld for %s: the excess is dropped",
                 req->declared, req->summary);
    }
    struct iovec iov[2] = {{lp->head, lp->head_len}, {(void *)data, (size_t)body}};
    req->sent += body;
    return send_iov(req, iov, body > 0 ? 2 : 1) < 0 ? -2 : 0;
}

/* A further streamed chunk. -2: the connection failed. */
static int stream_chunk(struct request *req, const char *data, Py_ssize_t n) {
    if (req->framing == F_NONE || n == 0 || req->broken) {
        return req->broken ? -2 : 0;
    }
    if (req->framing == F_LENGTH && req->sent + n > req->declared) {
        if (req->sent >= req->declared) {
            return 0;
        }
        n = (Py_ssize_t)(req->declared - req->sent);
        log_line(req->tag, "ERROR", "the app sent more than its Content-Length %lld for %s: the excess is dropped",
                 req->declared, req->summary);
    }
    struct iovec iov = {(void *)data, (size_t)n};
    req->sent += n;
    return send_iov(req, &iov, 1) < 0 ? -2 : 0;
}

/* A whole response from a list or tuple of bytes: one writev. -1 app error (exception set), -2 I/O. */
static int send_sequence(struct request *req, PyObject *seq) {
    PyObject *items = PySequence_Fast(seq, "");
    if (items == NULL) {
        return -1;
    }
    Py_ssize_t count = PySequence_Fast_GET_SIZE(items);
    PyObject **refs = PyMem_Calloc(count ? count : 1, sizeof(PyObject *));
    struct iovec *iov = PyMem_Malloc((count + 1) * sizeof(struct iovec));
    int rc = -1;
    long long available = 0;
    if (refs == NULL || iov == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (Py_ssize_t i = 0; i < count; i++) {
        refs[i] = as_bytes(PySequence_Fast_GET_ITEM(items, i));
        if (refs[i] == NULL) {
            goto done;
        }
        available += PyBytes_GET_SIZE(refs[i]);
    }
    if (req->exchange != NULL) {
        rc = pack_response(req, refs, count);
        goto done;
    }
    if (req->status == NULL) {
        PyErr_SetString(PyExc_AssertionError, "the app returned without calling start_response()");
        goto done;
    }
    if (check_head(req) < 0) {
        goto done;
    }
    int no_body = req->head_request || body_forbidden(req->code);
    long long length = req->declared >= 0 ? req->declared : available;
    long long body = no_body ? 0 : (length < available ? length : available);
    if (!no_body && req->declared >= 0 && req->declared != available) {
        log_line(req->tag, "ERROR", "the app declared Content-Length %lld but sent %lld bytes for %s",
                 req->declared, available, req->summary);
    }
    enum framing f = no_body && req->declared < 0 && (available == 0 || body_forbidden(req->code)) ? F_NONE : F_LENGTH;
    if (build_head(req, f, length) < 0) {
        goto done;
    }
    req->headers_sent = 1;
    req->framing = f;
    int n = 0;
    iov[n++] = (struct iovec){req->loop->head, req->loop->head_len};
    long long left = body;
    for (Py_ssize_t i = 0; i < count && left > 0; i++) {
        Py_ssize_t len = PyBytes_GET_SIZE(refs[i]);
        if (len > left) {
            len = (Py_ssize_t)left;
        }
        if (len > 0) {
            iov[n++] = (struct iovec){PyBytes_AS_STRING(refs[i]), (size_t)len};
            left -= len;
        }
    }
    req->sent = body;
    rc = send_iov(req, iov, n) < 0 ? -2 : 0;
done:
    if (refs != NULL) {
        for (Py_ssize_t i = 0; i < count; i++) {
            Py_XDECREF(refs[i]);
        }
    }
    PyMem_Free(refs);
    PyMem_Free(iov);
    Py_DECREF(items);
    return rc;
}

/* wsgi.file_wrapper around a regular file: sendfile(). 1 sent (or failed: see broken), 0 not a regular file. */
static int try_sendfile(struct request *req, PyObject *wrapper) {
    long file_fd;
    long long offset, count;
    if (!wrapped_file(req->st, wrapper, &file_fd, &offset, &count)) {
        return 0;
    }
    if (check_head(req) < 0) {
        return -1;
    }
    long long length = req->declared >= 0 && req->declared < count ? req->declared : count;
    if (req->declared > count) {
        log_line(req->tag, "ERROR", "the app declared Content-Length %lld for a file of %lld bytes for %s",
                 req->declared, count, req->summary);
    }
    if (build_head(req, F_LENGTH, length) < 0) {
        return -1;
    }
    req->headers_sent = 1;
    req->framing = F_LENGTH;
    struct iovec iov = {req->loop->head, req->loop->head_len};
    if (send_iov(req, &iov, 1) < 0) {
        return 1;
    }
    if (req->head_request || body_forbidden(req->code)) {
        return 1;
    }
    off_t off = (off_t)offset;
    long long left = length;
    int failed = 0;
    Py_BEGIN_ALLOW_THREADS
    while (left > 0) {
        ssize_t w = sendfile(req->fd, (int)file_fd, &off, (size_t)(left > (1 << 30) ? (1 << 30) : left));
        if (w > 0) {
            left -= w;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN && wait_fd(req->fd, POLLOUT, monotonic_millis() + WRITE_STALL_MILLIS) > 0) {
            continue;
        } else {
            failed = 1; /* the file shrank (0) or the peer is gone */
            break;
        }
    }
    Py_END_ALLOW_THREADS
    req->sent = length - left;
    req->broken |= failed;
    return 1;
}

/* ---- start_response and write ---- */

static PyObject *write_callable(PyObject *self, PyObject *data);

static PyMethodDef WRITE_DEF = {"write", (PyCFunction)write_callable, METH_O,
                                "write(data): PEP 3333's imperative write, sent at once."};

static PyObject *start_response_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    StartResponseObject *sr = (StartResponseObject *)self;
    static char *names[] = {"status", "headers", "exc_info", NULL};
    PyObject *status, *headers, *exc_info = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OO|O:start_response", names, &status, &headers, &exc_info)) {
        return NULL;
    }
    struct request *req = sr->req;
    if (req == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start_response() called after the request ended");
        return NULL;
    }
    if (exc_info != Py_None) {
        if (req->headers_sent) {
            if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
                PyErr_SetString(PyExc_TypeError, "exc_info must be a (type, value, traceback) tuple");
                return NULL;
            }
            PyObject *t = PyTuple_GET_ITEM(exc_info, 0), *v = PyTuple_GET_ITEM(exc_info, 1),
                     *tb = PyTuple_GET_ITEM(exc_info, 2);
            Py_INCREF(t);
            Py_INCREF(v);
            Py_INCREF(tb);
            PyErr_Restore(t, v, tb); /* PEP 3333: re-raise, the response cannot change any more */
            return NULL;
        }
    } else if (req->status != NULL) {
        PyErr_SetString(PyExc_AssertionError, "start_response() called a second time without exc_info");
        return NULL;
    }
    if (!PyUnicode_CheckExact(status)) {
        PyErr_Format(PyExc_TypeError, "status must be a str, not %s", Py_TYPE(status)->tp_name);
        return NULL;
    }
    if (!PyList_CheckExact(headers)) {
        PyErr_Format(PyExc_TypeError, "response headers must be a list, not %s", Py_TYPE(headers)->tp_name);
        return NULL;
    }
    Py_INCREF(status);
    Py_INCREF(headers);
    Py_XSETREF(req->status, status);
    Py_XSETREF(req->headers, headers);
    return PyCFunction_New(&WRITE_DEF, self);
}

static PyObject *write_callable(PyObject *self, PyObject *data) {
    struct request *req = ((StartResponseObject *)self)->req;
    if (req == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "write() called after the request ended");
        return NULL;
    }
    if (req->status == NULL) {
        PyErr_SetString(PyExc_AssertionError, "write() called before start_response()");
        return NULL;
    }
    PyObject *b = as_bytes(data);
    if (b == NULL) {
        return NULL;
    }
    int rc = 0;
    if (PyBytes_GET_SIZE(b) > 0 && req->exchange != NULL) {
        rc = exchange_send(req, b); /* PEP 3333: write() sends before it returns; nothing is held */
    } else if (PyBytes_GET_SIZE(b) > 0) {
        rc = req->headers_sent ? stream_chunk(req, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))
                               : start_stream(req, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    }
    Py_DECREF(b);
    if (rc == -2) {
        PyErr_SetString(PyExc_OSError, "the client connection is gone");
    }
    return rc < 0 ? NULL : Py_NewRef(Py_None);
}

static PyType_Slot START_RESPONSE_SLOTS[] = {
    {Py_tp_call, start_response_call},
    {Py_tp_doc, "start_response(status, headers, exc_info=None) of one request (PEP 3333)."},
    {0, NULL},
};

static PyType_Spec START_RESPONSE_SPEC = {
    .name = "_bridge_native.StartResponse",
    .basicsize = sizeof(StartResponseObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_IMMUTABLETYPE | Py_TPFLAGS_DISALLOW_INSTANTIATION,
    .slots = START_RESPONSE_SLOTS,
};

/* ---- the environ ---- */

/* The interned key for a var name, or a new str. New reference. */
static PyObject *environ_key(bridge_state *st, const char *k, size_t n) {
    for (size_t i = 0; i < N_KNOWN; i++) {
        if (KNOWN_KEYS[i].len == n && memcmp(KNOWN_KEYS[i].name, k, n) == 0) {
            return Py_NewRef(st->known[i]);
        }
    }
    return PyUnicode_DecodeLatin1(k, (Py_ssize_t)n, NULL);
}

static int var_is(const struct uwsgi_var *v, const char *name) {
    size_t n = strlen(name);
    return v->key_len == n && memcmp(v->key, name, n) == 0;
}

/* The vars a request's handling looks at; NULL when absent. */
struct special_vars {
    const struct uwsgi_var *method, *uri, *path_info, *script_name, *protocol, *url_scheme, *uwsgi_scheme, *https,
        *request_scheme, *remote_addr, *remote_port, *query, *server_name, *server_port;
};

static void find_special(const struct uwsgi_var *vars, int nvars, struct special_vars *sv) {
    memset(sv, 0, sizeof *sv);
    for (int i = 0; i < nvars; i++) {
        const struct uwsgi_var *v = &vars[i];
        const struct uwsgi_var **slot = NULL;
        switch (v->key[0]) {
        case 'R':
            slot = var_is(v, "REQUEST_METHOD") ? &sv->method : var_is(v, "REQUEST_URI") ? &sv->uri
                   : var_is(v, "REQUEST_SCHEME") ? &sv->request_scheme : var_is(v, "REMOTE_ADDR") ? &sv->remote_addr
                   : var_is(v, "REMOTE_PORT") ? &sv->remote_port : NULL;
            break;
        case 'P':
            slot = var_is(v, "PATH_INFO") ? &sv->path_info : NULL;
            break;
        case 'S':
            slot = var_is(v, "SCRIPT_NAME") ? &sv->script_name : var_is(v, "SERVER_PROTOCOL") ? &sv->protocol
                   : var_is(v, "SERVER_NAME") ? &sv->server_name : var_is(v, "SERVER_PORT") ? &sv->server_port : NULL;
            break;
        case 'U':
            slot = var_is(v, "UWSGI_SCHEME") ? &sv->uwsgi_scheme : NULL;
            break;
        case 'w':
            slot = var_is(v, "wsgi.url_scheme") ? &sv->url_scheme : NULL; /* the HTTP path decided it */
            break;
        case 'H':
            slot = var_is(v, "HTTPS") ? &sv->https : NULL;
            break;
        case 'Q':
            slot = var_is(v, "QUERY_STRING") ? &sv->query : NULL;
            break;
        default:
            break;
        }
        if (slot != NULL && *slot == NULL) {
            *slot = v;
        }
    }
}

static int hexval(char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
}

/* PATH_INFO from REQUEST_URI: the path before '?', percent-decoded (malformed escapes kept). NULL on %00. */
static PyObject *path_from_uri(const char *uri, size_t n) {
    const char *q = memchr(uri, '?', n);
    size_t len = q ? (size_t)(q - uri) : n;
    char *out = PyMem_Malloc(len + 1);
    if (out == NULL) {
        return PyErr_NoMemory();
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int hi, lo;
        if (uri[i] == '%' && i + 2 < len + 0 + 1 && i + 2 <= len - 1 + 0 && (hi = hexval(uri[i + 1])) >= 0 &&
            (lo = hexval(uri[i + 2])) >= 0) {
            if (hi == 0 && lo == 0) {
                PyMem_Free(out);
                PyErr_SetString(PyExc_ValueError, "REQUEST_URI decodes to a NUL byte");
                return NULL;
            }
            out[o++] = (char)(hi * 16 + lo);
            i += 2;
        } else {
            out[o++] = uri[i];
        }
    }
    PyObject *s = PyUnicode_DecodeLatin1(out, (Py_ssize_t)o, NULL);
    PyMem_Free(out);
    return s;
}

static void given_twice(const struct uwsgi_var *v) {
    char text[UWSGI_ERROR_SIZE];
    snprintf(text, sizeof text, "var %.*s given twice", v->key_len > 64 ? 64 : (int)v->key_len, v->key);
    PyErr_SetString(PyExc_ValueError, text);
}

static int set_str(PyObject *d, PyObject *key, const char *s, size_t n) {
    PyObject *v = PyUnicode_DecodeLatin1(s, (Py_ssize_t)n, NULL);
    int rc = v == NULL ? -1 : PyDict_SetItem(d, key, v);
    Py_XDECREF(v);
    return rc;
}

static int set_default(PyObject *d, PyObject *key, PyObject *value) {
    PyObject *had = PyDict_SetDefault(d, key, value);
    return had == NULL ? -1 : 0;
}

/*
 * The environ of a uwsgi request (dev.bridge.uwsgi.UwsgiEnviron's rules): the vars as nginx sent them,
 * HTTP_CONTENT_TYPE and HTTP_CONTENT_LENGTH left out (PEP 3333), a repeated HTTP_ var joined with ","
 * ("; " for cookies), SCRIPT_NAME stripped from PATH_INFO under modifier1 30, wsgi.url_scheme from
 * UWSGI_SCHEME, HTTPS or REQUEST_SCHEME, defaults for what PEP 3333 requires. NULL with ValueError
 * saying why the packet is refused.
 */
static PyObject *build_environ(bridge_state *st, const struct uwsgi_var *vars, int nvars, int modifier1,
                               const struct special_vars *sv) {
    if (sv->method == NULL) {
        PyErr_SetString(PyExc_ValueError, "no REQUEST_METHOD among the vars");
        return NULL;
    }
    PyObject *env = PyDict_New();
    if (env == NULL) {
        return NULL;
    }
    for (int i = 0; i < nvars; i++) {
        const struct uwsgi_var *v = &vars[i];
        if (v == sv->path_info || v == sv->script_name || var_is(v, "HTTP_CONTENT_TYPE") ||
            var_is(v, "HTTP_CONTENT_LENGTH")) {
            continue;
        }
        int http = v->key_len > 5 && memcmp(v->key, "HTTP_", 5) == 0;
        if (!http && (var_is(v, "PATH_INFO") || var_is(v, "SCRIPT_NAME"))) {
            given_twice(v);
            goto fail;
        }
        PyObject *key = environ_key(st, v->key, v->key_len);
        PyObject *value = key == NULL ? NULL : PyUnicode_DecodeLatin1(v->value, v->value_len, NULL);
        PyObject *had = value == NULL ? NULL : PyDict_SetDefault(env, key, value);
        int rc = had == NULL ? -1 : 0;
        if (had != NULL && had != value) {
            if (!http) {
                given_twice(v);
                rc = -1;
            } else {
                /* nginx passes a repeated request header as a repeated var: join it as HTTP does */
                PyObject *joined = PyUnicode_FromFormat("%U%s%U", had, var_is(v, "HTTP_COOKIE") ? "; " : ",", value);
                rc = joined == NULL ? -1 : PyDict_SetItem(env, key, joined);
                Py_XDECREF(joined);
            }
        }
        Py_XDECREF(key);
        Py_XDECREF(value);
        if (rc < 0) {
            goto fail;
        }
    }
    const char *script = sv->script_name ? sv->script_name->value : "";
    size_t script_len = sv->script_name ? sv->script_name->value_len : 0;
    PyObject *path;
    if (sv->path_info != NULL) {
        path = NULL; /* set below from the raw bytes, possibly stripped */
    } else {
        path = sv->uri ? path_from_uri(sv->uri->value, sv->uri->value_len) : PyUnicode_FromString("/");
        if (path == NULL) {
            goto fail;
        }
    }
    if (modifier1 == UWSGI_WSGI_STRIP_SCRIPT_NAME && script_len > 0) {
        /* uWSGI's mount point: /app mounts /app and /app/..., not /application */
        if (path == NULL) {
            const char *p = sv->path_info->value;
            size_t n = sv->path_info->value_len;
            if (n >= script_len && memcmp(p, script, script_len) == 0 && (n == script_len || p[script_len] == '/')) {
                path = PyUnicode_DecodeLatin1(p + script_len, (Py_ssize_t)(n - script_len), NULL);
            } else {
                script_len = 0;
            }
        } else {
            Py_ssize_t n = PyUnicode_GET_LENGTH(path);
            PyObject *prefix = PyUnicode_DecodeLatin1(script, (Py_ssize_t)script_len, NULL);
            int starts = prefix == NULL ? -1 : PyUnicode_Tailmatch(path, prefix, 0, (Py_ssize_t)script_len, -1);
            Py_XDECREF(prefix);
            if (starts < 0) {
                Py_DECREF(path);
                goto fail;
            }
            if (starts && (n == (Py_ssize_t)script_len || PyUnicode_READ_CHAR(path, script_len) == '/')) {
                Py_SETREF(path, PyUnicode_Substring(path, (Py_ssize_t)script_len, n));
                if (path == NULL) {
                    goto fail;
                }
            } else {
                script_len = 0;
            }
        }
    }
    if (path == NULL && sv->path_info != NULL) {
        path = PyUnicode_DecodeLatin1(sv->path_info->value, sv->path_info->value_len, NULL);
    }
    int rc = path == NULL ? -1 : PyDict_SetItem(env, st->key_path_info, path);
    Py_XDECREF(path);
    if (rc < 0 || set_str(env, st->key_script_name, script, script_len) < 0) {
        goto fail;
    }
    PyObject *scheme;
    if (sv->url_scheme != NULL) {
        scheme = PyUnicode_DecodeLatin1(sv->url_scheme->value, sv->url_scheme->value_len, NULL);
    } else if (sv->uwsgi_scheme != NULL) {
        scheme = PyUnicode_DecodeLatin1(sv->uwsgi_scheme->value, sv->uwsgi_scheme->value_len, NULL);
    } else if (sv->https != NULL && ((sv->https->value_len == 2 && strncasecmp(sv->https->value, "on", 2) == 0) ||
                                     (sv->https->value_len == 1 && sv->https->value[0] == '1'))) {
        scheme = Py_NewRef(st->str_https);
    } else if (sv->request_scheme != NULL) {
        scheme = PyUnicode_DecodeLatin1(sv->request_scheme->value, sv->request_scheme->value_len, NULL);
    } else {
        scheme = Py_NewRef(st->str_http);
    }
    rc = scheme == NULL ? -1 : PyDict_SetItem(env, st->key_url_scheme, scheme);
    Py_XDECREF(scheme);
    if (rc < 0) {
        goto fail;
    }
    /* QUERY_STRING, SERVER_PROTOCOL, SERVER_NAME, SERVER_PORT, REMOTE_ADDR: known[2], [5], [6], [7], [8] */
    if (set_default(env, st->known[2], st->str_empty) < 0 || set_default(env, st->known[5], st->str_http11) < 0 ||
        set_default(env, st->known[6], st->str_localhost) < 0 || set_default(env, st->known[7], st->str_empty) < 0 ||
        set_default(env, st->known[8], st->str_empty) < 0 || PyDict_Merge(env, st->static_environ, 1) < 0) {
        goto fail;
    }
    return env;
fail:
    Py_DECREF(env);
    return NULL;
}

/* ---- one connection ---- */

static void status_begin(LoopObject *lp, struct request *req) {
    if (lp->status == NULL) {
        return;
    }
    memcpy(lp->status + STATUS_SUMMARY, req->summary, sizeof req->summary);
    atomic_store((_Atomic int64_t *)(lp->status + STATUS_BUSY_SINCE), now_millis());
}

static void count(LoopObject *lp, int index, long long n) {
    _Atomic int64_t *c = (_Atomic int64_t *)(lp->status + STATUS_COUNTERS) + index;
    atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n, memory_order_relaxed);
}

/* Adds one response to the loop's counters (the loop's thread is their only writer: no atomic add needed). */
static void count_response(LoopObject *lp, int code, long long sent, long long micros) {
    if (lp->status == NULL) {
        return;
    }
    count(lp, C_REQUESTS, 1);
    count(lp, C_TX, sent);
    count(lp, C_MICROS, micros);
    if (code >= 100 && code < 600) {
        count(lp, C_STATUS_1XX + code / 100 - 1, 1);
    }
    int b = 0;
    while (b < N_BUCKETS - 1 && micros > BUCKET_MICROS[b]) {
        b++;
    }
    count(lp, C_BUCKETS + b, 1);
}

/* The request is over; it counts as served (--max-requests, the heartbeat) unless it was refused. */
static void status_end(LoopObject *lp, int served) {
    if (lp->status == NULL) {
        return;
    }
    atomic_store((_Atomic int64_t *)(lp->status + STATUS_BUSY_SINCE), 0);
    if (served) {
        atomic_fetch_add((_Atomic int64_t *)(lp->status + STATUS_SERVED), 1);
    }
}

static void copy_var(char *dst, size_t cap, const struct uwsgi_var *v, const char *fallback) {
    const char *s = v ? v->value : fallback;
    size_t n = v ? v->value_len : strlen(fallback);
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(dst, s, n);
    dst[n] = 0;
}

static struct access_value access_var(const struct uwsgi_var *v) {
    struct access_value a = {v ? v->value : NULL, v ? v->value_len : 0};
    return a;
}

/*
 * The access line in --log-format's spec (access_log.c), raw (the user chose the whole line): one write to fd 2,
 * so lines of other threads and processes never cut into it. Without the GIL.
 */
static void log_access(LoopObject *lp, const struct uwsgi_packet *pk, const struct special_vars *sv, int code,
                       long long sent, double seconds) {
    const struct uwsgi_var *host = NULL, *referer = NULL, *uagent = NULL;
    for (int i = 0; i < pk->nvars; i++) {
        const struct uwsgi_var *v = &pk->vars[i];
        if (v->key[0] == 'H') {
            host = host == NULL && var_is(v, "HTTP_HOST") ? v : host;
            referer = referer == NULL && var_is(v, "HTTP_REFERER") ? v : referer;
            uagent = uagent == NULL && var_is(v, "HTTP_USER_AGENT") ? v : uagent;
        }
    }
    long long micros = (long long)(seconds * 1e6);
    struct access_entry e = {
        .method = access_var(sv->method), .uri = access_var(sv->uri ? sv->uri : sv->path_info),
        .proto = access_var(sv->protocol), .addr = access_var(sv->remote_addr), .host = access_var(host),
        .referer = access_var(referer), .uagent = access_var(uagent), .status = code, .size = sent, .micros = micros,
        .pid = getpid(), .wid = lp->wid, .core = lp->core, .cl = pk->content_length,
        .start_ms = now_millis() - micros / 1000,
    };
    char stack[4096];
    char *line = stack;
    size_t n = access_render(lp->log_spec, lp->log_spec_len, &e, stack, sizeof stack);
    if (n > sizeof stack) {
        line = PyMem_RawMalloc(n);
        if (line == NULL) {
            log_line(lp->tag, "WARN", "no memory for an access line of %zu bytes", n);
            return;
        }
        access_render(lp->log_spec, lp->log_spec_len, &e, line, n);
    }
    for (size_t done = 0; done < n;) {
        ssize_t w = write(2, line + done, n - done);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            break;
        }
        done += (size_t)w;
    }
    if (line != stack) {
        PyMem_RawFree(line);
    }
}

/* Logs the app's exception with its traceback (through the shim, as the Java path does). GIL held. */
static void log_app_error(struct request *req, const char *what) {
    PyObject *exc = PyErr_GetRaisedException();
    PyObject *summary = PyUnicode_FromFormat("%s %s", what, req->summary);
    PyObject *r = summary == NULL ? NULL : PyObject_CallFunctionObjArgs(req->st->log_error, summary, exc, NULL);
    if (r == NULL) {
        PyErr_Clear();
        log_line(req->tag, "ERROR", "%s %s (and the traceback could not be logged)", what, req->summary);
    }
    Py_XDECREF(r);
    Py_XDECREF(summary);
    Py_XDECREF(exc);
}

/* The server's own answer (500, 413): a short text/plain response. GIL held. */
static void send_error(struct request *req, int code, const char *reason, const char *body) {
    char head[512];
    int n = snprintf(head, sizeof head,
                     "HTTP/1.%d %d %s\r\nContent-Type: text/plain; charset=utf-8\r\nDate: %s\r\n"
                     "Content-Length: %zu\r\n%s\r\n",
                     req->http10 ? 0 : 1, code, reason, http_date(req->loop), strlen(body),
                     req->http10 ? "" : "Connection: close\r\n");
    struct iovec iov[2] = {{head, (size_t)n}, {(void *)body, req->head_request ? 0 : strlen(body)}};
    req->code = code;
    req->headers_sent = 1;
    req->sent = (long long)iov[1].iov_len;
    send_iov(req, iov, 2);
}

/* Consumes the app's iterable. -1 app error (exception set), -2 I/O. GIL held. */
static int iterate(struct request *req, PyObject *result) {
    PyObject *it = PyObject_GetIter(result);
    if (it == NULL) {
        return -1;
    }
    int rc = 0;
    PyObject *item;
    while (rc == 0 && (item = PyIter_Next(it)) != NULL) {
        PyObject *b = as_bytes(item);
        Py_DECREF(item);
        if (b == NULL) {
            rc = -1;
            break;
        }
        if (PyBytes_GET_SIZE(b) > 0 && req->exchange != NULL) {
            rc = exchange_chunk(req, b);
        } else if (PyBytes_GET_SIZE(b) > 0) {
            rc = req->headers_sent ? stream_chunk(req, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b))
                                   : start_stream(req, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
        }
        Py_DECREF(b);
    }
    Py_DECREF(it);
    if (rc == 0 && PyErr_Occurred()) {
        rc = -1;
    }
    if (rc == 0 && req->held != NULL) {
        rc = pack_response(req, &req->held, 1); /* the whole body came in the first chunk */
    }
    if (rc == 0 && !req->headers_sent) {
        /* no body at all: as a whole response of zero bytes */
        PyObject *empty = PyList_New(0);
        rc = empty == NULL ? -1 : send_sequence(req, empty);
        Py_XDECREF(empty);
    }
    if (rc == 0 && req->framing == F_LENGTH && req->sent < req->declared) {
        log_line(req->tag, "ERROR", "aborting the response to %s: the app sent %lld of its declared "
                 "Content-Length %lld bytes", req->summary, req->sent, req->declared);
        req->broken = 1;
    }
    return rc;
}

/* Calls the app and answers. GIL held. */
static void serve_request(struct request *req, PyObject *environ) {
    bridge_state *st = req->st;
    StartResponseObject *sr = PyObject_New(StartResponseObject, st->start_response_type);
    if (sr == NULL) {
        log_app_error(req, "internal error serving");
        if (req->exchange != NULL) {
            Py_XSETREF(req->packed, Py_NewRef(st->error_500_packed));
        } else {
            send_error(req, 500, "Internal Server Error", ERROR_500_BODY);
        }
        return;
    }
    sr->req = req;
    PyObject *result = PyObject_CallFunctionObjArgs(req->app, environ, (PyObject *)sr, NULL);
    int rc;
    if (result == NULL) {
        rc = -1;
    } else if ((PyList_CheckExact(result) || PyTuple_CheckExact(result)) && !req->headers_sent) {
        rc = send_sequence(req, result);
    } else if (Py_TYPE(result) == (PyTypeObject *)st->file_wrapper && !req->headers_sent && req->status != NULL &&
               (rc = req->exchange != NULL ? exchange_sendfile(req, result) : try_sendfile(req, result)) != 0) {
        rc = rc < 0 ? -1 : 0;
    } else {
        rc = iterate(req, result);
    }
    if (rc == -1) {
        int bad_head = PyErr_ExceptionMatches(PyExc_ValueError) && result != NULL && req->status != NULL && !req->headers_sent;
        log_app_error(req, bad_head ? "bad response from the app for" : "error in app handling");
        if (req->headers_sent) {
            req->broken = 1; /* the head went out: cut, so the client cannot take it for whole */
        } else if (req->exchange != NULL) {
            Py_CLEAR(req->held);
            Py_XSETREF(req->packed, Py_NewRef(st->error_500_packed));
        } else {
            send_error(req, 500, "Internal Server Error", ERROR_500_BODY);
        }
    }
    if (result != NULL) {
        PyObject *close = optional_attr(result, st->str_close);
        if (close == NULL && PyErr_Occurred()) {
            log_app_error(req, "error looking up close() of the app's response to");
        }
        if (close != NULL) {
            PyObject *r = PyObject_CallNoArgs(close);
            if (r == NULL) {
                log_app_error(req, "error in close() of the app's response to");
            }
            Py_XDECREF(r);
            Py_DECREF(close);
        }
        Py_DECREF(result);
    }
    sr->req = NULL;
    Py_DECREF(sr);
}

/* wsgi.input: the body in memory (io.BytesIO over bytes, no copy) or the spilled file. New reference. */
static PyObject *make_input(bridge_state *st, PyObject *body, int spill_fd) {
    if (spill_fd >= 0) {
        PyObject *fd = PyLong_FromLong(spill_fd);
        PyObject *f = fd == NULL ? NULL : PyObject_CallOneArg(st->open_fd, fd);
        Py_XDECREF(fd);
        if (f == NULL) {
            close(spill_fd);
        }
        return f;
    }
    return body == NULL ? PyObject_CallNoArgs(st->bytes_io) : PyObject_CallOneArg(st->bytes_io, body);
}

/*
 * Reads the body (content_length bytes, of which `have` already read into `pre`), into memory or, past
 * the spill threshold, a temp file. No GIL. 0 ok, -1 with the reason (NULL: --header-timeout ran out).
 * *mem is PyMem_Raw-allocated.
 */
static int read_body(LoopObject *lp, int fd, long long cl, const unsigned char *pre, size_t have, long long deadline,
                     char **mem, int *spill_fd, const char **why) {
    if (cl <= lp->spill_threshold) {
        *mem = PyMem_RawMalloc((size_t)cl);
        if (*mem == NULL) {
            *why = "no memory for the request body";
            return -1;
        }
        memcpy(*mem, pre, have);
        for (size_t got = have; got < (size_t)cl;) {
            ssize_t r = read_some(fd, *mem + got, (size_t)cl - got, deadline);
            if (r <= 0) {
                *why = r == -2 ? NULL : "the connection closed in the middle of a request (read_body)";
                return -1;
            }
            got += (size_t)r;
        }
        return 0;
    }
    *spill_fd = open(lp->spill_dir, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (*spill_fd < 0) {
        *why = "cannot store the request body (O_TMPFILE in the spill directory)";
        return -1;
    }
    /* Not lp->buf: the packet's vars point into it. */
    unsigned char *chunk = PyMem_RawMalloc(READ_AHEAD);
    if (chunk == NULL) {
        *why = "no memory for the request body";
        return -1;
    }
    long long left = cl;
    const unsigned char *p = pre;
    size_t n = have;
    int rc = 0;
    for (;;) {
        while (n > 0) {
            ssize_t w = write(*spill_fd, p, n);
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w <= 0) {
                *why = "cannot store the request body";
                rc = -1;
                goto done;
            }
            p += w, n -= (size_t)w, left -= w;
        }
        if (left <= 0) {
            break;
        }
        ssize_t r = read_some(fd, chunk, (size_t)(left < READ_AHEAD ? left : READ_AHEAD), deadline);
        if (r <= 0) {
            *why = r == -2 ? NULL : "the connection closed in the middle of a request (read_body)";
            rc = -1;
            goto done;
        }
        p = chunk, n = (size_t)r;
    }
    lseek(*spill_fd, 0, SEEK_SET);
done:
    PyMem_RawFree(chunk);
    return rc;
}

/* Who is on the other end, as the Java side names it in the log: "/127.0.0.1:40000", "unix socket PATH". */
static const char *peer_name(int fd, int tcp, char *out, size_t cap) {
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    char host[INET6_ADDRSTRLEN] = "?";
    if (!tcp) {
        struct sockaddr_un *un = (struct sockaddr_un *)&ss;
        if (getsockname(fd, (struct sockaddr *)&ss, &len) < 0 || len <= offsetof(struct sockaddr_un, sun_path)) {
            snprintf(out, cap, "unix socket");
        } else {
            snprintf(out, cap, "unix socket %.*s", (int)(len - offsetof(struct sockaddr_un, sun_path)), un->sun_path);
        }
    } else if (getpeername(fd, (struct sockaddr *)&ss, &len) == 0 && ss.ss_family == AF_INET6 &&
               !IN6_IS_ADDR_V4MAPPED(&((struct sockaddr_in6 *)&ss)->sin6_addr)) {
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET6, &in6->sin6_addr, host, sizeof host);
        snprintf(out, cap, "/[%s]:%d", host, ntohs(in6->sin6_port));
    } else if (ss.ss_family == AF_INET6) { /* an IPv4 peer of a dual-stack listener: as Java shows it */
        struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
        inet_ntop(AF_INET, &in6->sin6_addr.s6_addr[12], host, sizeof host);
        snprintf(out, cap, "/%s:%d", host, ntohs(in6->sin6_port));
    } else if (ss.ss_family == AF_INET) {
        struct sockaddr_in *in = (struct sockaddr_in *)&ss;
        inet_ntop(AF_INET, &in->sin_addr, host, sizeof host);
        snprintf(out, cap, "/%s:%d", host, ntohs(in->sin_port));
    } else {
        snprintf(out, cap, "a TCP peer");
    }
    out[cap - 1] = 0;
    return out;
}

/* The refusal of a request that did not arrive within --header-timeout, as the Java path words it. */
static void timed_out(LoopObject *lp, char error[UWSGI_ERROR_SIZE]) {
    snprintf(error, UWSGI_ERROR_SIZE, "the request was not received within %d s", lp->header_timeout_ms / 1000);
}

/* One accepted connection, from its first byte to its close. Entered and left without the GIL. */
static void serve_connection(LoopObject *lp, bridge_state *st, int fd, int tcp, PyThreadState **ts) {
    long long deadline = monotonic_millis() + lp->header_timeout_ms;
    size_t len = 0;
    long consumed;
    char error[UWSGI_ERROR_SIZE];
    char peer[160];
    for (;;) {
        consumed = uwsgi_parse(lp->buf, len, lp->max_block, &lp->packet, error);
        if (consumed != 0) {
            break;
        }
        if (len == lp->buf_cap) {
            snprintf(error, sizeof error, "the vars block does not fit the read buffer");
            consumed = -1;
            break;
        }
        ssize_t r = read_some(fd, lp->buf + len, lp->buf_cap - len, deadline);
        if (r == 0 && len == 0) {
            close(fd); /* a connection that never spoke: nothing to answer */
            return;
        }
        if (r <= 0) {
            if (r == -2) {
                timed_out(lp, error);
            } else {
                snprintf(error, sizeof error, "the connection closed in the middle of a request (%s)",
                         len < 4 ? "read_header" : "read_vars");
            }
            consumed = -1;
            break;
        }
        len += (size_t)r;
    }
    if (consumed < 0) {
        log_line(lp->tag, "WARN", "uwsgi request from %s refused: %s; closing the connection",
                 peer_name(fd, tcp, peer, sizeof peer), error);
        close(fd);
        return;
    }
    struct uwsgi_packet *pk = &lp->packet;
    if (pk->modifier1 == UWSGI_PING) {
        struct iovec iov = {(void *)PONG, sizeof PONG};
        write_all(fd, &iov, 1);
        close(fd);
        return;
    }
    struct special_vars sv;
    find_special(pk->vars, pk->nvars, &sv);
    struct request req = {.loop = lp, .tag = lp->tag, .app = lp->app, .st = st, .fd = fd, .tcp = tcp, .declared = -1};
    req.http10 = sv.protocol && sv.protocol->value_len == 8 && memcmp(sv.protocol->value, "HTTP/1.0", 8) == 0;
    req.head_request = sv.method && sv.method->value_len == 4 && memcmp(sv.method->value, "HEAD", 4) == 0;
    {
        char method[32], target[160], protocol[16];
        copy_var(method, sizeof method, sv.method, "-");
        copy_var(target, sizeof target, sv.uri ? sv.uri : sv.path_info, "");
        copy_var(protocol, sizeof protocol, sv.protocol, "HTTP/1.1");
        snprintf(req.summary, sizeof req.summary, "%s %s %s", method, target, protocol);
        char addr[64], port[16];
        copy_var(addr, sizeof addr, sv.remote_addr, "-");
        copy_var(port, sizeof port, sv.remote_port, "-");
        snprintf(req.client, sizeof req.client, "%s:%s", addr, port);
    }
    double start = monotonic_seconds();
    long long cl = pk->content_length;
    if (lp->limit_body > 0 && cl > lp->limit_body) {
        log_line(lp->tag, "INFO", "uwsgi request from %s: body of %lld bytes over --limit-body: 413",
                 peer_name(fd, tcp, peer, sizeof peer), cl);
        char head[256];
        int n = snprintf(head, sizeof head, "HTTP/1.%d 413 Content Too Large\r\nContent-Type: text/plain; charset=utf-8\r\n"
                         "Content-Length: %zu\r\n%s\r\n%s", req.http10 ? 0 : 1, strlen(ERROR_413_BODY),
                         req.http10 ? "" : "Connection: close\r\n", ERROR_413_BODY);
        struct iovec iov = {head, (size_t)n};
        write_all(fd, &iov, 1);
        close_gracefully(fd);
        count_response(lp, 413, (long long)strlen(ERROR_413_BODY), (long long)((monotonic_seconds() - start) * 1e6));
        return;
    }
    size_t have = len - (size_t)consumed;
    if ((long long)have > cl) {
        have = (size_t)cl; /* one request per connection: anything after the body is ignored */
    }
    char *mem = NULL;
    int spill_fd = -1;
    const char *why = NULL;
    if (cl > 0 && read_body(lp, fd, cl, lp->buf + consumed, have, deadline, &mem, &spill_fd, &why) < 0) {
        if (why == NULL) {
            timed_out(lp, error);
        }
        log_line(lp->tag, "WARN", "uwsgi request from %s refused: %s; closing the connection",
                 peer_name(fd, tcp, peer, sizeof peer), why ? why : error);
        PyMem_RawFree(mem);
        if (spill_fd >= 0) {
            close(spill_fd);
        }
        close(fd);
        return;
    }
    status_begin(lp, &req);
    PyEval_RestoreThread(*ts);
    PyObject *body = NULL;
    if (mem != NULL) {
        body = PyBytes_FromStringAndSize(mem, (Py_ssize_t)cl);
        PyMem_RawFree(mem);
    }
    PyObject *input = cl > 0 && body == NULL && spill_fd < 0 ? NULL : make_input(st, body, spill_fd);
    Py_XDECREF(body);
    PyObject *environ = input == NULL ? NULL : build_environ(st, pk->vars, pk->nvars, pk->modifier1, &sv);
    if (environ == NULL || PyDict_SetItem(environ, st->key_input, input) < 0) {
        PyObject *exc = PyErr_GetRaisedException();
        PyObject *text = exc == NULL ? NULL : PyObject_Str(exc);
        const char *reason = text == NULL ? NULL : PyUnicode_AsUTF8(text);
        PyErr_Clear();
        log_line(lp->tag, "WARN", "uwsgi request from %s refused: %s; closing the connection",
                 peer_name(fd, tcp, peer, sizeof peer), reason ? reason : "cannot build the environ");
        Py_XDECREF(text);
        Py_XDECREF(exc);
        Py_XDECREF(environ);
        Py_XDECREF(input);
        *ts = PyEval_SaveThread();
        status_end(lp, 0);
        close(fd);
        return;
    }
    serve_request(&req, environ);
    Py_DECREF(environ);
    if (spill_fd >= 0) {
        /* the temp file goes now, whoever still holds the environ */
        PyObject *r = PyObject_CallMethod(input, "close", NULL);
        Py_XDECREF(r);
        PyErr_Clear();
    }
    Py_DECREF(input);
    Py_CLEAR(req.status);
    Py_CLEAR(req.headers);
    *ts = PyEval_SaveThread();
    double seconds = monotonic_seconds() - start;
    count_response(lp, req.code ? req.code : 500, req.sent, (long long)(seconds * 1e6));
    status_end(lp, 1);
    if (lp->access_log && lp->log_spec != NULL) {
        log_access(lp, pk, &sv, req.code ? req.code : 500, req.sent, seconds);
    } else if (lp->access_log) {
        log_line(lp->tag, "INFO", "%s \"%s\" %d %lld %.2fms", req.client, req.summary, req.code ? req.code : 500,
                 req.sent, seconds * 1e3);
    }
    if (req.broken) {
        cut(fd, tcp);
    } else {
        /* The request was read to its last byte, so a plain close loses nothing. */
        close(fd);
    }
}

/* ---- Loop: the per-thread request loop ---- */

/*
 * Registers the listeners in the loop's epoll set, or takes them out. EPOLLEXCLUSIVE: a connection wakes one
 * of the loops waiting on a listener (in this worker or another), not all of them (the thundering herd).
 * Out whenever run() returns to Java for a control change: the Java side may close the listeners once every
 * loop has seen that change, and a closed descriptor whose socket other processes still hold would stay in
 * the set.
 */
static void register_listeners(LoopObject *lp, int on) {
    if (on == lp->registered) {
        return;
    }
    for (int i = 0; i < lp->nlisteners; i++) {
        struct epoll_event ev = {.events = EPOLLIN | EPOLLEXCLUSIVE, .data.u32 = (uint32_t)i + 2};
        epoll_ctl(lp->epfd, on ? EPOLL_CTL_ADD : EPOLL_CTL_DEL, lp->listeners[i], &ev);
    }
    lp->registered = on;
}

static PyObject *loop_run(PyObject *self, PyObject *arg) {
    LoopObject *lp = (LoopObject *)self;
    int accepting = PyObject_IsTrue(arg);
    if (accepting < 0) {
        return NULL;
    }
    bridge_state *st = state_of_module(lp->module);
    if (st->static_environ == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_bridge_native.configure() was not called");
        return NULL;
    }
    int tcp[MAX_LISTENERS];
    for (int i = 0; i < lp->nlisteners; i++) {
        int domain = AF_UNIX;
        socklen_t len = sizeof domain;
        getsockopt(lp->listeners[i], SOL_SOCKET, SO_DOMAIN, &domain, &len);
        tcp[i] = domain != AF_UNIX;
    }
    int code = RUN_IDLE;
    PyThreadState *ts = PyEval_SaveThread();
    register_listeners(lp, accepting);
    for (;;) {
        struct epoll_event events[MAX_LISTENERS + 2];
        int n = epoll_wait(lp->epfd, events, MAX_LISTENERS + 2, IDLE_MILLIS);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            code = RUN_IDLE;
            break;
        }
        int control = 0, wake = 0;
        for (int e = 0; e < n; e++) {
            control |= events[e].data.u32 == 0;
            wake |= events[e].data.u32 == 1;
        }
        if (control) {
            char drain[64];
            ssize_t r = read(lp->control_fd, drain, sizeof drain);
            (void)r;
            register_listeners(lp, 0);
            code = RUN_CONTROL; /* the Java side changed what this thread should do */
            break;
        }
        if (wake) {
            char token;
            if (read(lp->wake_fd, &token, 1) == 1) {
                code = RUN_WORK; /* a request the Java side queued (HTTP) */
                break;
            }
        }
        for (int e = 0; e < n; e++) {
            uint32_t i = events[e].data.u32 - 2;
            if (events[e].data.u32 >= 2 && i < (uint32_t)lp->nlisteners) {
                struct sockaddr_storage from;
                socklen_t from_len = sizeof from;
                int fd = accept4(lp->listeners[i], (struct sockaddr *)&from, &from_len, SOCK_NONBLOCK | SOCK_CLOEXEC);
                if (fd < 0) {
                    continue; /* another worker or thread took it: EAGAIN */
                }
                if (tcp[i] && lp->check_peers && !peer_allowed(lp->allow, lp->nallow, (struct sockaddr *)&from)) {
                    char peer[160];
                    log_line(lp->tag, "WARN", "uwsgi connection from %s refused: not in --uwsgi-allow-from, so it "
                             "could forge REMOTE_ADDR and any header; closing it", peer_name(fd, 1, peer, sizeof peer));
                    close(fd);
                    continue;
                }
                serve_connection(lp, st, fd, tcp[i], &ts);
            }
        }
    }
    PyEval_RestoreThread(ts);
    return PyLong_FromLong(code);
}

static PyObject *loop_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"app", "listeners", "wake_fd", "control_fd", "status", "buffer_size", "limit_body",
                            "spill_threshold", "header_timeout", "access_log", "tag", "spill_dir", "log_format",
                            "wid", "core", "allow", NULL};
    PyObject *app, *listeners, *status;
    int wake_fd, control_fd, header_timeout, access_log, wid = 0, core = 0;
    Py_ssize_t buffer_size, log_format_len = 0, allow_len = -1;
    const char *allow = NULL;
    long long limit_body, spill_threshold;
    const char *tag, *spill_dir, *log_format = "";
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOiiOnLLipss|s#iiz#:Loop", names, &app, &listeners, &wake_fd,
                                     &control_fd, &status, &buffer_size, &limit_body, &spill_threshold,
                                     &header_timeout, &access_log, &tag, &spill_dir, &log_format, &log_format_len,
                                     &wid, &core, &allow, &allow_len)) {
        return NULL;
    }
    struct peer_block blocks[PEER_MAX_BLOCKS];
    int nblocks = allow == NULL ? 0 : peer_blocks_parse((const unsigned char *)allow, (size_t)allow_len, blocks);
    if (nblocks < 0) {
        PyErr_SetString(PyExc_ValueError, "Loop: allow is not packed address blocks (peer_allow.h)");
        return NULL;
    }
    if (log_format_len > 0 && !access_spec_valid(log_format, (size_t)log_format_len)) {
        PyErr_SetString(PyExc_ValueError, "Loop: log_format is not a spec of AccessLogFormat.nativeSpec()");
        return NULL;
    }
    PyObject *fds = PySequence_Fast(listeners, "listeners must be a sequence of file descriptors");
    if (fds == NULL) {
        return NULL;
    }
    if (PySequence_Fast_GET_SIZE(fds) > MAX_LISTENERS || buffer_size < 4 || buffer_size > 65535 ||
        header_timeout <= 0) {
        Py_DECREF(fds);
        PyErr_SetString(PyExc_ValueError, "Loop: too many listeners, or a bad buffer_size or header_timeout");
        return NULL;
    }
    LoopObject *lp = (LoopObject *)type->tp_alloc(type, 0);
    if (lp == NULL) {
        Py_DECREF(fds);
        return NULL;
    }
    lp->epfd = -1;
    lp->nlisteners = (int)PySequence_Fast_GET_SIZE(fds);
    for (int i = 0; i < lp->nlisteners; i++) {
        lp->listeners[i] = (int)PyLong_AsLong(PySequence_Fast_GET_ITEM(fds, i));
    }
    Py_DECREF(fds);
    if (PyErr_Occurred()) {
        Py_DECREF(lp);
        return NULL;
    }
    lp->module = PyType_GetModule(type);
    Py_XINCREF(lp->module);
    lp->app = Py_NewRef(app);
    lp->wake_fd = wake_fd;
    lp->control_fd = control_fd;
    /* Every Python thread polls the shared wake pipe; the ones that lose the token must not block reading it. */
    struct epoll_event control_ev = {.events = EPOLLIN, .data.u32 = 0}, wake_ev = {.events = EPOLLIN, .data.u32 = 1};
    lp->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (lp->epfd < 0 || fcntl(wake_fd, F_SETFL, fcntl(wake_fd, F_GETFL) | O_NONBLOCK) < 0 ||
        fcntl(control_fd, F_SETFL, fcntl(control_fd, F_GETFL) | O_NONBLOCK) < 0 ||
        epoll_ctl(lp->epfd, EPOLL_CTL_ADD, control_fd, &control_ev) < 0 ||
        epoll_ctl(lp->epfd, EPOLL_CTL_ADD, wake_fd, &wake_ev) < 0) {
        PyErr_SetFromErrno(PyExc_OSError);
        Py_DECREF(lp);
        return NULL;
    }
    lp->max_block = (size_t)buffer_size;
    lp->limit_body = limit_body;
    lp->spill_threshold = spill_threshold;
    lp->header_timeout_ms = header_timeout * 1000;
    lp->access_log = access_log;
    lp->wid = wid;
    lp->core = core;
    lp->check_peers = allow != NULL;
    lp->nallow = nblocks;
    memcpy(lp->allow, blocks, sizeof(struct peer_block) * (size_t)nblocks);
    if (log_format_len > 0) {
        lp->log_spec = PyMem_RawMalloc((size_t)log_format_len);
        if (lp->log_spec == NULL) {
            Py_DECREF(lp);
            return PyErr_NoMemory();
        }
        memcpy(lp->log_spec, log_format, (size_t)log_format_len);
        lp->log_spec_len = (size_t)log_format_len;
    }
    snprintf(lp->tag, sizeof lp->tag, "%s", tag);
    snprintf(lp->spill_dir, sizeof lp->spill_dir, "%s", spill_dir);
    if (status != Py_None) {
        if (PyObject_GetBuffer(status, &lp->status_view, PyBUF_WRITABLE) < 0) {
            PyErr_Clear(); /* Jep's direct ByteBuffer may say read-only: its memory is still Java's to read */
            if (PyObject_GetBuffer(status, &lp->status_view, PyBUF_SIMPLE) < 0) {
                Py_DECREF(lp);
                return NULL;
            }
        }
        lp->status_owner = Py_NewRef(status);
        if (lp->status_view.len < STATUS_SIZE) {
            Py_DECREF(lp);
            PyErr_Format(PyExc_ValueError, "the status block needs %d bytes", STATUS_SIZE);
            return NULL;
        }
        lp->status = lp->status_view.buf;
    }
    lp->buf_cap = (size_t)buffer_size + 4 + READ_AHEAD;
    lp->buf = PyMem_RawMalloc(lp->buf_cap);
    lp->head_cap = 1024;
    lp->head = PyMem_RawMalloc(lp->head_cap);
    lp->date_second = -1;
    if (lp->module == NULL) {
        Py_DECREF(lp);
        return NULL;
    }
    if (lp->buf == NULL || lp->head == NULL) {
        Py_DECREF(lp);
        return PyErr_NoMemory();
    }
    return (PyObject *)lp;
}

static int loop_traverse(PyObject *self, visitproc visit, void *arg) {
    LoopObject *lp = (LoopObject *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(lp->module);
    Py_VISIT(lp->app);
    Py_VISIT(lp->status_owner);
    return 0;
}

static int loop_clear(PyObject *self) {
    LoopObject *lp = (LoopObject *)self;
    if (lp->status != NULL) {
        PyBuffer_Release(&lp->status_view);
        lp->status = NULL;
    }
    Py_CLEAR(lp->module);
    Py_CLEAR(lp->app);
    Py_CLEAR(lp->status_owner);
    return 0;
}

static void loop_dealloc(PyObject *self) {
    LoopObject *lp = (LoopObject *)self;
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    loop_clear(self);
    if (lp->epfd >= 0) {
        close(lp->epfd);
    }
    PyMem_RawFree(lp->buf);
    PyMem_RawFree(lp->head);
    PyMem_RawFree(lp->log_spec);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyMethodDef LOOP_METHODS[] = {
    {"run", loop_run, METH_O,
     "run(accepting) -> 0 control (bytes came on this thread's control pipe), 1 work (a token was read from the\n"
     "wake pipe: a request is queued on the Java side), 2 idle (a second without either). Until then it serves\n"
     "the uwsgi listeners if accepting, the GIL released while it waits."},
    {NULL, NULL, 0, NULL},
};

static PyType_Slot LOOP_SLOTS[] = {
    {Py_tp_new, loop_new},
    {Py_tp_dealloc, loop_dealloc},
    {Py_tp_traverse, loop_traverse},
    {Py_tp_clear, loop_clear},
    {Py_tp_methods, LOOP_METHODS},
    {Py_tp_doc, "Loop(app, listeners, wake_fd, control_fd, status, buffer_size, limit_body, spill_threshold, "
                "header_timeout, access_log, tag, spill_dir, log_format='', wid=0, core=0): one Python thread's uwsgi\n"
                "request loop. log_format: AccessLogFormat.nativeSpec() ('' for the bridge's own access line)."},
    {0, NULL},
};

static PyType_Spec LOOP_SPEC = {
    .name = "_bridge_native.Loop",
    .basicsize = sizeof(LoopObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = LOOP_SLOTS,
};

/* ---- Handler: the HTTP path's entry, one per Python thread ---- */

typedef struct {
    PyObject_HEAD
    PyObject *module;
    PyObject *app;
    PyObject *exchange;
    char tag[64];
} HandlerObject;

/* Splits the Java side's "KEY\0value\0KEY\0value\0" (dev.bridge.wsgi.Environ) into vars. PyMem-allocated. */
static struct uwsgi_var *split_meta(const char *p, size_t n, int *nvars) {
    size_t nuls = 0;
    for (size_t i = 0; i < n; i++) {
        nuls += p[i] == 0;
    }
    struct uwsgi_var *vars = PyMem_Malloc((nuls / 2 + 1) * sizeof *vars);
    if (vars == NULL) {
        PyErr_NoMemory();
        return NULL;
    }
    const char *end = p + n;
    int k = 0;
    while (p < end) {
        const char *key_end = memchr(p, 0, (size_t)(end - p));
        if (key_end == NULL) {
            break;
        }
        const char *value = key_end + 1;
        const char *value_end = memchr(value, 0, (size_t)(end - value));
        if (value_end == NULL) {
            value_end = end;
        }
        vars[k++] = (struct uwsgi_var){p, value, (uint32_t)(key_end - p), (uint32_t)(value_end - value)};
        p = value_end + 1;
    }
    *nvars = k;
    return vars;
}

/*
 * handler(meta, body, app=None): serves one HTTP request whose CGI variables Java built (meta) and whose body
 * Java received (None, a temp file's path, or a direct buffer). Returns the packed response (bytes), None
 * when it was streamed through the exchange, False when the app failed after the head went out.
 */
static PyObject *handler_call(PyObject *self, PyObject *args, PyObject *kwargs) {
    HandlerObject *h = (HandlerObject *)self;
    bridge_state *st = state_of_module(h->module);
    static char *names[] = {"meta", "body", "app", NULL};
    PyObject *meta, *body, *app = Py_None;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "UO|O:handle", names, &meta, &body, &app)) {
        return NULL;
    }
    if (PyUnicode_KIND(meta) != PyUnicode_1BYTE_KIND) {
        PyErr_SetString(PyExc_ValueError, "the environ's strings must be latin-1");
        return NULL;
    }
    int nvars;
    struct uwsgi_var *vars = split_meta((const char *)PyUnicode_1BYTE_DATA(meta), (size_t)PyUnicode_GET_LENGTH(meta), &nvars);
    if (vars == NULL) {
        return NULL;
    }
    struct special_vars sv;
    find_special(vars, nvars, &sv);
    struct request req = {.exchange = h->exchange, .tag = h->tag, .app = app != Py_None ? app : h->app, .st = st,
                          .fd = -1, .declared = -1};
    char method[32], target[160], protocol[16];
    copy_var(method, sizeof method, sv.method, "-");
    copy_var(target, sizeof target, sv.uri ? sv.uri : sv.path_info, "");
    copy_var(protocol, sizeof protocol, sv.protocol, "HTTP/1.1");
    snprintf(req.summary, sizeof req.summary, "%s %s %s", method, target, protocol);
    PyObject *environ = build_environ(st, vars, nvars, UWSGI_WSGI, &sv);
    PyMem_Free(vars);
    PyObject *input = environ == NULL ? NULL : PyObject_CallOneArg(st->http_input, body);
    if (input == NULL || PyDict_SetItem(environ, st->key_input, input) < 0) {
        Py_XDECREF(input);
        Py_XDECREF(environ);
        return NULL; /* Java answers 500 and logs it */
    }
    Py_DECREF(input);
    serve_request(&req, environ);
    Py_DECREF(environ);
    Py_CLEAR(req.status);
    Py_CLEAR(req.headers);
    Py_CLEAR(req.held);
    if (req.packed != NULL) {
        return req.packed;
    }
    return Py_NewRef(req.broken ? Py_False : Py_None);
}

static PyObject *handler_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    static char *names[] = {"app", "exchange", "tag", NULL};
    PyObject *app, *exchange;
    const char *tag;
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "OOs:Handler", names, &app, &exchange, &tag)) {
        return NULL;
    }
    HandlerObject *h = (HandlerObject *)type->tp_alloc(type, 0);
    if (h == NULL) {
        return NULL;
    }
    h->module = Py_XNewRef(PyType_GetModule(type));
    h->app = Py_NewRef(app);
    h->exchange = Py_NewRef(exchange);
    snprintf(h->tag, sizeof h->tag, "%s", tag);
    if (h->module == NULL) {
        Py_DECREF(h);
        return NULL;
    }
    return (PyObject *)h;
}

static int handler_traverse(PyObject *self, visitproc visit, void *arg) {
    HandlerObject *h = (HandlerObject *)self;
    Py_VISIT(Py_TYPE(self));
    Py_VISIT(h->module);
    Py_VISIT(h->app);
    Py_VISIT(h->exchange);
    return 0;
}

static int handler_clear(PyObject *self) {
    HandlerObject *h = (HandlerObject *)self;
    Py_CLEAR(h->module);
    Py_CLEAR(h->app);
    Py_CLEAR(h->exchange);
    return 0;
}

static void handler_dealloc(PyObject *self) {
    PyTypeObject *type = Py_TYPE(self);
    PyObject_GC_UnTrack(self);
    handler_clear(self);
    type->tp_free(self);
    Py_DECREF(type);
}

static PyType_Slot HANDLER_SLOTS[] = {
    {Py_tp_new, handler_new},
    {Py_tp_call, handler_call},
    {Py_tp_dealloc, handler_dealloc},
    {Py_tp_traverse, handler_traverse},
    {Py_tp_clear, handler_clear},
    {Py_tp_doc, "Handler(app, exchange, tag): one Python thread's entry for HTTP requests; "
                "handler(meta, body, app=None) serves one (see handler_call)."},
    {0, NULL},
};

static PyType_Spec HANDLER_SPEC = {
    .name = "_bridge_native.Handler",
    .basicsize = sizeof(HandlerObject),
    .flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_IMMUTABLETYPE,
    .slots = HANDLER_SLOTS,
};

/* ---- module functions ---- */

static PyObject *configure(PyObject *module, PyObject *args) {
    bridge_state *st = state_of_module(module);
    PyObject *static_environ, *file_wrapper, *log_error, *bytes_io, *open_fd, *http_input;
    if (!PyArg_ParseTuple(args, "O!OOOOO:configure", &PyDict_Type, &static_environ, &file_wrapper, &log_error,
                          &bytes_io, &open_fd, &http_input)) {
        return NULL;
    }
    Py_XSETREF(st->http_input, Py_NewRef(http_input));
    Py_XSETREF(st->static_environ, Py_NewRef(static_environ));
    Py_XSETREF(st->file_wrapper, Py_NewRef(file_wrapper));
    Py_XSETREF(st->log_error, Py_NewRef(log_error));
    Py_XSETREF(st->bytes_io, Py_NewRef(bytes_io));
    Py_XSETREF(st->open_fd, Py_NewRef(open_fd));
    Py_RETURN_NONE;
}

/* Parses one packet: None when incomplete, else (consumed, modifier1, content_length, [(key, value), ...]). */
static PyObject *parse_uwsgi(PyObject *module, PyObject *args) {
    (void)module;
    Py_buffer data;
    Py_ssize_t max_block = 65535;
    if (!PyArg_ParseTuple(args, "y*|n:parse_uwsgi", &data, &max_block)) {
        return NULL;
    }
    struct uwsgi_packet *pk = PyMem_Malloc(sizeof *pk);
    if (pk == NULL) {
        PyBuffer_Release(&data);
        return PyErr_NoMemory();
    }
    char error[UWSGI_ERROR_SIZE];
    long consumed = uwsgi_parse(data.buf, (size_t)data.len, (size_t)max_block, pk, error);
    PyObject *result = NULL;
    if (consumed < 0) {
        PyErr_SetString(PyExc_ValueError, error);
    } else if (consumed == 0) {
        result = Py_NewRef(Py_None);
    } else {
        PyObject *vars = PyList_New(pk->nvars);
        for (int i = 0; vars != NULL && i < pk->nvars; i++) {
            PyObject *kv = Py_BuildValue("(y#y#)", pk->vars[i].key, (Py_ssize_t)pk->vars[i].key_len,
                                         pk->vars[i].value, (Py_ssize_t)pk->vars[i].value_len);
            if (kv == NULL) {
                Py_CLEAR(vars);
                break;
            }
            PyList_SET_ITEM(vars, i, kv);
        }
        result = vars == NULL ? NULL : Py_BuildValue("(liLN)", consumed, pk->modifier1, pk->content_length, vars);
    }
    PyMem_Free(pk);
    PyBuffer_Release(&data);
    return result;
}

/* The environ a packet gets (without wsgi.input), or ValueError saying why it is refused. For tests. */
static PyObject *environ_of(PyObject *module, PyObject *args) {
    bridge_state *st = state_of_module(module);
    Py_buffer data;
    if (st->static_environ == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "_bridge_native.configure() was not called");
        return NULL;
    }
    if (!PyArg_ParseTuple(args, "y*:environ_of", &data)) {
        return NULL;
    }
    struct uwsgi_packet *pk = PyMem_Malloc(sizeof *pk);
    PyObject *env = NULL;
    char error[UWSGI_ERROR_SIZE];
    if (pk == NULL) {
        PyErr_NoMemory();
    } else {
        long consumed = uwsgi_parse(data.buf, (size_t)data.len, 65535, pk, error);
        if (consumed <= 0) {
            PyErr_SetString(PyExc_ValueError, consumed < 0 ? error : "incomplete packet");
        } else {
            struct special_vars sv;
            find_special(pk->vars, pk->nvars, &sv);
            env = build_environ(st, pk->vars, pk->nvars, pk->modifier1, &sv);
        }
    }
    PyMem_Free(pk);
    PyBuffer_Release(&data);
    return env;
}

static PyMethodDef MODULE_METHODS[] = {
    {"configure", configure, METH_VARARGS,
     "configure(static_environ, file_wrapper, log_error, bytes_io, open_fd, http_input): the shim's parts, once per "
     "interpreter."},
    {"parse_uwsgi", parse_uwsgi, METH_VARARGS, "parse_uwsgi(data, max_block=65535): the packet parser, for tests."},
    {"environ_of", environ_of, METH_VARARGS, "environ_of(packet): the environ built for a packet, for tests."},
    {NULL, NULL, 0, NULL},
};

static int module_exec(PyObject *module) {
    bridge_state *st = state_of_module(module);
    st->loop_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &LOOP_SPEC, NULL);
    st->start_response_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &START_RESPONSE_SPEC, NULL);
    st->handler_type = (PyTypeObject *)PyType_FromModuleAndSpec(module, &HANDLER_SPEC, NULL);
    if (st->loop_type == NULL || st->start_response_type == NULL || st->handler_type == NULL ||
        PyModule_AddObject(module, "Loop", Py_NewRef((PyObject *)st->loop_type)) < 0 ||
        PyModule_AddObject(module, "Handler", Py_NewRef((PyObject *)st->handler_type)) < 0) {
        return -1;
    }
    for (size_t i = 0; i < N_KNOWN; i++) {
        if ((st->known[i] = PyUnicode_InternFromString(KNOWN_KEYS[i].name)) == NULL) {
            return -1;
        }
    }
    st->key_script_name = PyUnicode_InternFromString("SCRIPT_NAME");
    st->key_path_info = PyUnicode_InternFromString("PATH_INFO");
    st->key_url_scheme = PyUnicode_InternFromString("wsgi.url_scheme");
    st->key_input = PyUnicode_InternFromString("wsgi.input");
    st->str_http = PyUnicode_InternFromString("http");
    st->str_https = PyUnicode_InternFromString("https");
    st->str_empty = PyUnicode_InternFromString("");
    st->str_close = PyUnicode_InternFromString("close");
    st->str_fileno = PyUnicode_InternFromString("fileno");
    st->str_tell = PyUnicode_InternFromString("tell");
    st->str_send = PyUnicode_InternFromString("send");
    st->str_write = PyUnicode_InternFromString("write");
    st->str_nul = PyUnicode_FromStringAndSize("", 1);
    st->str_http11 = PyUnicode_InternFromString("HTTP/1.1");
    st->str_localhost = PyUnicode_InternFromString("localhost");
    /* what the shim's _ERROR_500 was: a 500 packed for Java */
    static const char error_500[] = "1 64\0" "500 Internal Server Error\0" "Content-Type\0" "text/plain; charset=utf-8"
                                    "Internal Server Error\n";
    st->error_500_packed = PyBytes_FromStringAndSize(error_500, sizeof error_500 - 1);
    if (st->key_script_name == NULL || st->key_path_info == NULL || st->key_url_scheme == NULL ||
        st->key_input == NULL || st->str_http == NULL || st->str_https == NULL || st->str_empty == NULL ||
        st->str_close == NULL || st->str_fileno == NULL || st->str_tell == NULL || st->str_send == NULL ||
        st->str_write == NULL || st->str_nul == NULL || st->str_http11 == NULL || st->str_localhost == NULL ||
        st->error_500_packed == NULL) {
        return -1;
    }
    return PyModule_AddIntConstant(module, "STATUS_SIZE", STATUS_SIZE) < 0 ||
                   PyModule_AddIntConstant(module, "RUN_CONTROL", RUN_CONTROL) < 0 ||
                   PyModule_AddIntConstant(module, "RUN_WORK", RUN_WORK) < 0 ||
                   PyModule_AddIntConstant(module, "RUN_IDLE", RUN_IDLE) < 0
               ? -1 : 0;
}

#define STATE_OBJECTS(X)                                                                                    \
    X(loop_type) X(start_response_type) X(handler_type) X(key_script_name) X(key_path_info) X(key_url_scheme) \
    X(key_input) X(str_http) X(str_https) X(str_empty) X(str_close) X(str_fileno) X(str_tell) X(str_send)      \
    X(str_write) X(str_nul) X(str_http11) X(str_localhost) X(error_500_packed) X(static_environ)               \
    X(file_wrapper) X(log_error) X(bytes_io) X(open_fd) X(http_input)

static int module_traverse(PyObject *module, visitproc visit, void *arg) {
    bridge_state *st = state_of_module(module);
    if (st == NULL) {
        return 0;
    }
#define VISIT(f) Py_VISIT(st->f);
    STATE_OBJECTS(VISIT)
#undef VISIT
    for (size_t i = 0; i < N_KNOWN; i++) {
        Py_VISIT(st->known[i]);
    }
    return 0;
}

static int module_clear(PyObject *module) {
    bridge_state *st = state_of_module(module);
    if (st == NULL) {
        return 0;
    }
#define CLEAR(f) Py_CLEAR(st->f);
    STATE_OBJECTS(CLEAR)
#undef CLEAR
    for (size_t i = 0; i < N_KNOWN; i++) {
        Py_CLEAR(st->known[i]);
    }
    return 0;
}

static void module_free(void *module) {
    module_clear((PyObject *)module);
}

static PyModuleDef_Slot MODULE_SLOTS[] = {
    {Py_mod_exec, module_exec},
#if PY_VERSION_HEX >= 0x030C0000
    {Py_mod_multiple_interpreters, Py_MOD_PER_INTERPRETER_GIL_SUPPORTED},
#endif
    {0, NULL},
};

static struct PyModuleDef MODULE_DEF = {
    PyModuleDef_HEAD_INIT,
    .m_name = "_bridge_native",
    .m_doc = "The bridge's C request flow: uwsgi served on the Python thread (see native/bridge_native.c).",
    .m_size = sizeof(bridge_state),
    .m_methods = MODULE_METHODS,
    .m_slots = MODULE_SLOTS,
    .m_traverse = module_traverse,
    .m_clear = module_clear,
    .m_free = module_free,
};

PyMODINIT_FUNC PyInit__bridge_native(void) {
    return PyModuleDef_Init(&MODULE_DEF);
}
