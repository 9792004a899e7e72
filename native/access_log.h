/*
 * The access line of a --log-format, for the C request loop: the same lines the Java side writes
 * (dev.bridge.logging.AccessLogFormat, whose Javadoc is the reference), from the compiled spec it makes
 * (AccessLogFormat.nativeSpec()): a mode byte, 't' (a template: values escaped as nginx does) or 'j' (JSON:
 * strings quoted and escaped to printable ASCII, absent values null), then literal bytes, in which "%" and a
 * field's code ('a' + its index below) stand for the field and "%%" for a '%'.
 * No Python here: the values are bytes from the network, so this is unit-tested (test_access_log.c) and fuzzed
 * (fuzz_access_log.c) on its own.
 */
#ifndef BRIDGE_ACCESS_LOG_H
#define BRIDGE_ACCESS_LOG_H

#include <stddef.h>

/* The fields, in the order of AccessLogFormat.Field (its Java test checks that). */
enum access_field {
    AF_METHOD, AF_URI, AF_PROTO, AF_STATUS, AF_SIZE, AF_MSECS, AF_MICROS, AF_ADDR, AF_HOST, AF_REFERER, AF_UAGENT,
    AF_PID, AF_WID, AF_CORE, AF_TIME, AF_LTIME, AF_CL, AF_ISOTIME, AF_COUNT
};

/* A value from the request: bytes, not NUL-terminated; p NULL when absent. */
struct access_value {
    const char *p;
    size_t n;
};

struct access_entry {
    struct access_value method, uri, proto, addr, host, referer, uagent;
    long long status, size;
    long long micros; /* the response time; < 0 when not measured */
    long long pid, wid, core, cl;
    long long start_ms; /* when the request began, ms since the epoch */
};

/* Whether spec[0..n) is a spec AccessLogFormat makes: a mode byte, then no '%' but "%%" and known fields. */
int access_spec_valid(const char *spec, size_t n);

/*
 * Renders the line of e in spec into out, newline included, as much as fits in cap bytes; returns the whole
 * line's length (as snprintf does: when it is over cap, render again into that much room). Any spec is safe;
 * one that is not valid renders unknown fields as nothing.
 */
size_t access_render(const char *spec, size_t n, const struct access_entry *e, char *out, size_t cap);

#endif
