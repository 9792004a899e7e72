#include "access_log.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

static const char MONTHS[12][4] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                   "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
static const char HEX_UPPER[] = "0123456789ABCDEF";
static const char HEX_LOWER[] = "0123456789abcdef";

/* The line being written: what fits goes to out, len counts it all. */
struct writer {
    char *out;
    size_t cap, len;
};

static void put(struct writer *w, const char *s, size_t n) {
    if (w->len < w->cap) {
        size_t room = w->cap - w->len;
        memcpy(w->out + w->len, s, n < room ? n : room);
    }
    w->len += n;
}

static void put_char(struct writer *w, char c) {
    put(w, &c, 1);
}

static void put_number(struct writer *w, long long v) {
    char digits[24];
    int n = snprintf(digits, sizeof digits, "%lld", v);
    put(w, digits, (size_t)n);
}

/* nginx's escaping: '"' and '\' get a backslash, bytes outside printable ASCII are \xHH. */
static void put_text(struct writer *w, const struct access_value *v) {
    for (size_t i = 0; i < v->n; i++) {
        unsigned char c = (unsigned char)v->p[i];
        if (c == '"' || c == '\\') {
            char esc[2] = {'\\', (char)c};
            put(w, esc, 2);
        } else if (c >= 0x20 && c < 0x7f) {
            put_char(w, (char)c);
        } else {
            char esc[4] = {'\\', 'x', HEX_UPPER[c >> 4], HEX_UPPER[c & 15]};
            put(w, esc, 4);
        }
    }
}

/* A JSON string's content, printable ASCII only: each byte is a char of the value's latin-1 reading. */
static void put_json(struct writer *w, const struct access_value *v) {
    for (size_t i = 0; i < v->n; i++) {
        unsigned char c = (unsigned char)v->p[i];
        const char *esc = c == '"' ? "\\\"" : c == '\\' ? "\\\\" : c == '\n' ? "\\n" : c == '\r' ? "\\r"
                          : c == '\t' ? "\\t" : c == '\b' ? "\\b" : c == '\f' ? "\\f" : NULL;
        if (esc != NULL) {
            put(w, esc, 2);
        } else if (c >= 0x20 && c < 0x7f) {
            put_char(w, (char)c);
        } else {
            char u[6] = {'\\', 'u', '0', '0', HEX_LOWER[c >> 4], HEX_LOWER[c & 15]};
            put(w, u, 6);
        }
    }
}

static void put_string(struct writer *w, int json, const struct access_value *v) {
    if (v->p == NULL) {
        put(w, json ? "null" : "-", json ? 4 : 1);
    } else if (json) {
        put_char(w, '"');
        put_json(w, v);
        put_char(w, '"');
    } else {
        put_text(w, v);
    }
}

/* A value we made (a time, plain ASCII): quoted in JSON. */
static void put_made(struct writer *w, int json, const char *s, size_t n) {
    if (json) {
        put_char(w, '"');
    }
    put(w, s, n);
    if (json) {
        put_char(w, '"');
    }
}

static void put_time(struct writer *w, int json, long long start_ms, int iso) {
    long long ms = start_ms % 1000;
    time_t seconds = (time_t)(start_ms / 1000);
    if (ms < 0) {
        ms += 1000;
        seconds -= 1;
    }
    struct tm tm;
    char text[64];
    int n;
    if (iso) {
        gmtime_r(&seconds, &tm);
        n = snprintf(text, sizeof text, "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", tm.tm_year + 1900, tm.tm_mon + 1,
                     tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)ms);
    } else {
        localtime_r(&seconds, &tm);
        long off = tm.tm_gmtoff / 60;
        long abs_off = off < 0 ? -off : off;
        n = snprintf(text, sizeof text, "%02d/%s/%d:%02d:%02d:%02d %c%02ld%02ld", tm.tm_mday,
                     MONTHS[tm.tm_mon >= 0 && tm.tm_mon < 12 ? tm.tm_mon : 0], tm.tm_year + 1900, tm.tm_hour,
                     tm.tm_min, tm.tm_sec, off < 0 ? '-' : '+', abs_off / 60, abs_off % 60);
    }
    put_made(w, json, text, n < 0 ? 0 : (size_t)n < sizeof text ? (size_t)n : sizeof text - 1);
}

static void put_maybe(struct writer *w, int json, long long v) {
    if (v >= 0) {
        put_number(w, v);
    } else {
        put(w, json ? "null" : "-", json ? 4 : 1);
    }
}

static void put_field(struct writer *w, int json, int field, const struct access_entry *e) {
    switch (field) {
    case AF_METHOD: put_string(w, json, &e->method); break;
    case AF_URI: put_string(w, json, &e->uri); break;
    case AF_PROTO: put_string(w, json, &e->proto); break;
    case AF_ADDR: put_string(w, json, &e->addr); break;
    case AF_HOST: put_string(w, json, &e->host); break;
    case AF_REFERER: put_string(w, json, &e->referer); break;
    case AF_UAGENT: put_string(w, json, &e->uagent); break;
    case AF_STATUS: put_number(w, e->status); break;
    case AF_SIZE: put_number(w, e->size); break;
    case AF_MSECS: put_maybe(w, json, e->micros < 0 ? -1 : e->micros / 1000); break;
    case AF_MICROS: put_maybe(w, json, e->micros); break;
    case AF_PID: put_number(w, e->pid); break;
    case AF_WID: put_number(w, e->wid); break;
    case AF_CORE: put_number(w, e->core); break;
    case AF_TIME: put_number(w, e->start_ms >= 0 ? e->start_ms / 1000 : -((-e->start_ms + 999) / 1000)); break;
    case AF_CL: put_number(w, e->cl); break;
    case AF_LTIME: put_time(w, json, e->start_ms, 0); break;
    case AF_ISOTIME: put_time(w, json, e->start_ms, 1); break;
    default: break;
    }
}

int access_spec_valid(const char *spec, size_t n) {
    if (n == 0 || (spec[0] != 't' && spec[0] != 'j')) {
        return 0;
    }
    for (size_t i = 1; i < n; i++) {
        if (spec[i] == '%') {
            if (i + 1 == n || (spec[i + 1] != '%' && (spec[i + 1] < 'a' || spec[i + 1] >= 'a' + AF_COUNT))) {
                return 0;
            }
            i++;
        }
    }
    return 1;
}

size_t access_render(const char *spec, size_t n, const struct access_entry *e, char *out, size_t cap) {
    struct writer w = {out, cap, 0};
    int json = n > 0 && spec[0] == 'j';
    size_t i = n > 0 ? 1 : 0;
    while (i < n) {
        const char *pct = memchr(spec + i, '%', n - i);
        size_t end = pct == NULL ? n : (size_t)(pct - spec);
        put(&w, spec + i, end - i);
        if (pct == NULL || end + 1 >= n) {
            break;
        }
        char code = spec[end + 1];
        if (code == '%') {
            put_char(&w, '%');
        } else {
            put_field(&w, json, code - 'a', e);
        }
        i = end + 2;
    }
    put_char(&w, '\n');
    return w.len;
}
