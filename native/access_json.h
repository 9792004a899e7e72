/*
 * A strict JSON reader for the access log's tests (test_access_log.c, fuzz_access_log.c): checks that a line is
 * one JSON value and nothing else, and reads back the strings of an array, so a test can compare them with the
 * bytes that went in. Each \u00XX escape reads back as the byte XX (the log writes a value's latin-1 reading).
 * Test code only: not part of the module.
 */
#ifndef BRIDGE_ACCESS_JSON_H
#define BRIDGE_ACCESS_JSON_H

#include <stddef.h>
#include <string.h>

struct json_reader {
    const char *p, *end;
    /* The strings of the top-level array, each decoded into its own buffer (up to 8 of up to 4096 bytes). */
    char strings[8][4096];
    size_t lengths[8];
    int nstrings;
    int depth;
};

static int json_value(struct json_reader *r, int top_array);

static int json_hex(char c) {
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* A string at r->p (its opening quote), decoded into out[0..*n) when out is not NULL. */
static int json_string(struct json_reader *r, char *out, size_t cap, size_t *n) {
    size_t len = 0;
    if (r->p >= r->end || *r->p != '"') {
        return 0;
    }
    r->p++;
    while (r->p < r->end && *r->p != '"') {
        unsigned char c = (unsigned char)*r->p++;
        int byte;
        if (c < 0x20) {
            return 0; /* a raw control character: not JSON */
        }
        if (c != '\\') {
            byte = c;
        } else {
            if (r->p >= r->end) {
                return 0;
            }
            char e = *r->p++;
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e != 0 && simple != NULL) {
                byte = "\"\\/\b\f\n\r\t"[simple - "\"\\/bfnrt"];
            } else if (e == 'u' && r->end - r->p >= 4) {
                int v = 0;
                for (int i = 0; i < 4; i++) {
                    int h = json_hex(r->p[i]);
                    if (h < 0) {
                        return 0;
                    }
                    v = v * 16 + h;
                }
                r->p += 4;
                if (v > 0xff) {
                    return 0; /* the log never writes one */
                }
                byte = v;
            } else {
                return 0;
            }
        }
        if (out != NULL && len < cap) {
            out[len] = (char)byte;
        }
        len++;
    }
    if (r->p >= r->end) {
        return 0;
    }
    r->p++;
    if (n != NULL) {
        *n = len;
    }
    return 1;
}

static int json_number(struct json_reader *r) {
    const char *start = r->p;
    if (r->p < r->end && *r->p == '-') {
        r->p++;
    }
    if (r->p >= r->end || *r->p < '0' || *r->p > '9' || (*r->p == '0' && r->p + 1 < r->end && r->p[1] >= '0' &&
                                                         r->p[1] <= '9')) {
        return 0;
    }
    while (r->p < r->end && *r->p >= '0' && *r->p <= '9') {
        r->p++;
    }
    return r->p > start;
}

static int json_value(struct json_reader *r, int top_array) {
    if (r->p >= r->end || ++r->depth > 4) {
        return 0;
    }
    int ok = 0;
    char c = *r->p;
    if (c == '"') {
        ok = json_string(r, NULL, 0, NULL);
    } else if (c == 'n') {
        ok = r->end - r->p >= 4 && memcmp(r->p, "null", 4) == 0;
        r->p += ok ? 4 : 0;
    } else if (c == '-' || (c >= '0' && c <= '9')) {
        ok = json_number(r);
    } else if (c == '{' || c == '[') {
        char close = c == '{' ? '}' : ']';
        r->p++;
        ok = 1;
        int first = 1;
        while (ok && r->p < r->end && *r->p != close) {
            if (!first) {
                ok = *r->p == ',';
                r->p++;
            }
            first = 0;
            if (ok && c == '{') {
                ok = json_string(r, NULL, 0, NULL) && r->p < r->end && *r->p++ == ':';
            }
            if (ok && top_array && r->p < r->end && *r->p == '"' && r->nstrings < 8) {
                int i = r->nstrings++;
                ok = json_string(r, r->strings[i], sizeof r->strings[i], &r->lengths[i]);
            } else if (ok) {
                ok = json_value(r, 0);
            }
        }
        ok = ok && r->p < r->end && *r->p++ == close;
    }
    r->depth--;
    return ok;
}

/* Whether line[0..n) is one JSON value followed by a newline and nothing else. */
static int json_line(struct json_reader *r, const char *line, size_t n) {
    memset(r, 0, sizeof *r);
    r->p = line;
    r->end = line + n;
    return n > 0 && line[n - 1] == '\n' && json_value(r, line[0] == '[') && r->p == line + n - 1;
}

#endif
