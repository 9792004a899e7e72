/*
 * libFuzzer harness for the access log renderer (access_log.c), built by native/check with
 * -fsanitize=fuzzer,address,undefined. The input is cut into seven request values (method, uri, proto, addr,
 * host, referer, uagent: any bytes, as a uwsgi packet may carry them). Besides the sanitizers' own checks it
 * asserts what the log's readers rely on: a JSON line is one valid JSON value, printable ASCII, whose strings
 * read back as the bytes that went in; a template line is printable ASCII with one newline, at its end; a short
 * buffer gets a prefix of the line and its whole length. A spec taken from the input renders safely too.
 */
#include "access_log.h"
#include "access_json.h"

#include <stdlib.h>
#include <string.h>

static const char JSON_SPEC[] =
    "j{\"time\":%r,\"addr\":%h,\"method\":%a,\"uri\":%b,\"proto\":%c,\"status\":%d,\"size\":%e,\"msecs\":%f,"
    "\"micros\":%g,\"host\":%i,\"referer\":%j,\"uagent\":%k,\"cl\":%q,\"pid\":%l,\"wid\":%m,\"core\":%n}";
static const char VALUES_SPEC[] = "j[%a,%b,%c,%h,%i,%j,%k]";
static const char TEXT_SPEC[] = "t%h - \"%a %b %c\" %d %e %f %g \"%j\" \"%k\" %i %l %m %n %o %p %q %%";

static char line[1 << 18];
static char part[64];
static struct json_reader reader;

static size_t render(const char *spec, size_t n, const struct access_entry *e) {
    size_t len = access_render(spec, n, e, line, sizeof line);
    if (len > sizeof line) {
        abort(); /* seven values of at most 4 KiB, each byte at most 6 escaped: it fits */
    }
    size_t m = access_render(spec, n, e, part, sizeof part);
    if (m != len || memcmp(part, line, len < sizeof part ? len : sizeof part) != 0) {
        abort();
    }
    return len;
}

static void printable(size_t len) {
    for (size_t i = 0; i + 1 < len; i++) {
        if (line[i] < 0x20 || line[i] >= 0x7f) {
            abort();
        }
    }
    if (len == 0 || line[len - 1] != '\n') {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    if (size > 7 * 4096) {
        return 0;
    }
    struct access_entry e = {.status = 200, .size = (long long)size, .micros = (long long)size * 977 - 1, .pid = 1,
                             .wid = 2, .core = 3, .cl = (long long)size, .start_ms = (long long)size * 86400123};
    struct access_value *values[7] = {&e.method, &e.uri, &e.proto, &e.addr, &e.host, &e.referer, &e.uagent};
    for (int i = 0; i < 7; i++) {
        size_t from = size * (size_t)i / 7, to = size * (size_t)(i + 1) / 7;
        values[i]->p = (const char *)data + from;
        values[i]->n = to - from;
    }
    if (size > 0 && data[0] == 'N') {
        e.referer.p = NULL; /* absent */
    }

    size_t len = render(JSON_SPEC, sizeof JSON_SPEC - 1, &e);
    printable(len);
    if (!json_line(&reader, line, len)) {
        abort();
    }
    len = render(VALUES_SPEC, sizeof VALUES_SPEC - 1, &e);
    printable(len);
    if (!json_line(&reader, line, len)) {
        abort();
    }
    for (int i = 0, s = 0; i < 7; i++) {
        if (values[i]->p == NULL) {
            continue;
        }
        if (s >= reader.nstrings || reader.lengths[s] != values[i]->n ||
            memcmp(reader.strings[s], values[i]->p, values[i]->n) != 0) {
            abort();
        }
        s++;
    }
    len = render(TEXT_SPEC, sizeof TEXT_SPEC - 1, &e);
    printable(len);

    /* The spec from the input: whatever it says, rendering stays inside its buffers. */
    size_t n = size < 48 ? size : 48;
    render((const char *)data, n, &e);
    (void)access_spec_valid((const char *)data, n);
    return 0;
}
