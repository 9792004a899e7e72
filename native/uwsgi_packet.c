#include "uwsgi_packet.h"

#include <stdio.h>
#include <string.h>

static unsigned u16le(const unsigned char *p) {
    return (unsigned)p[0] | ((unsigned)p[1] << 8);
}

long long uwsgi_parse_length(const char *s, size_t n) {
    long long v = 0;
    if (n > 18) {
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') {
            return -1;
        }
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

long uwsgi_parse(const unsigned char *buf, size_t len, size_t max_block, struct uwsgi_packet *out,
                 char error[UWSGI_ERROR_SIZE]) {
    if (len < 4) {
        return 0;
    }
    size_t datasize = u16le(buf + 1);
    out->modifier1 = buf[0];
    out->nvars = 0;
    out->content_length = 0;
    if (out->modifier1 == UWSGI_PING) {
        return 4;
    }
    if (out->modifier1 != UWSGI_WSGI && out->modifier1 != UWSGI_WSGI_STRIP_SCRIPT_NAME) {
        snprintf(error, UWSGI_ERROR_SIZE, "unsupported modifier1 %d", out->modifier1);
        return -1;
    }
    if (datasize > max_block) {
        snprintf(error, UWSGI_ERROR_SIZE, "vars block of %zu bytes is over --buffer-size %zu", datasize, max_block);
        return -1;
    }
    if (len - 4 < datasize) {
        return 0;
    }
    const unsigned char *p = buf + 4, *end = p + datasize;
    while (p < end) {
        if (out->nvars >= UWSGI_MAX_VARS) {
            snprintf(error, UWSGI_ERROR_SIZE, "more than %d vars", UWSGI_MAX_VARS);
            return -1;
        }
        if (end - p < 2 || (size_t)(end - p - 2) < u16le(p)) {
            snprintf(error, UWSGI_ERROR_SIZE, "a var runs past the vars block or has a bad key");
            return -1;
        }
        struct uwsgi_var *v = &out->vars[out->nvars];
        v->key_len = u16le(p);
        v->key = (const char *)p + 2;
        p += 2 + v->key_len;
        if (v->key_len == 0) {
            snprintf(error, UWSGI_ERROR_SIZE, "an empty var name");
            return -1;
        }
        for (unsigned i = 0; i < v->key_len; i++) {
            unsigned char c = (unsigned char)v->key[i];
            if (c < 0x21 || c > 0x7e) {
                snprintf(error, UWSGI_ERROR_SIZE, "a var runs past the vars block or has a bad key");
                return -1;
            }
        }
        if (end - p < 2 || (size_t)(end - p - 2) < u16le(p)) {
            snprintf(error, UWSGI_ERROR_SIZE, "the value of %.*s runs past the vars block",
                     v->key_len > 64 ? 64 : (int)v->key_len, v->key);
            return -1;
        }
        v->value_len = u16le(p);
        v->value = (const char *)p + 2;
        p += 2 + v->value_len;
        if (memchr(v->value, 0, v->value_len) != NULL) {
            snprintf(error, UWSGI_ERROR_SIZE, "a NUL byte in the value of %.*s",
                     v->key_len > 64 ? 64 : (int)v->key_len, v->key);
            return -1;
        }
        if (v->key_len == 14 && memcmp(v->key, "CONTENT_LENGTH", 14) == 0) {
            long long n = uwsgi_parse_length(v->value, v->value_len);
            if (n < 0) {
                snprintf(error, UWSGI_ERROR_SIZE, "bad CONTENT_LENGTH %.*s",
                         v->value_len > 32 ? 32 : (int)v->value_len, v->value);
                return -1;
            }
            out->content_length = n;
        }
        out->nvars++;
    }
    return (long)(4 + datasize);
}
