/*
 * libFuzzer harness for the uwsgi packet parser (uwsgi_packet.c), built by native/check with
 * -fsanitize=fuzzer,address,undefined. Besides the sanitizers' own checks it asserts what the request loop
 * relies on: a complete packet never claims more bytes than it was given, every var lies inside its vars
 * block, and a refusal always says why.
 */
#include "uwsgi_packet.h"

#include <stdlib.h>
#include <string.h>

static struct uwsgi_packet packet;

static void check(const unsigned char *data, size_t size, size_t max_block) {
    char error[UWSGI_ERROR_SIZE];
    error[0] = 0;
    long n = uwsgi_parse(data, size, max_block, &packet, error);
    if (n < 0) {
        if (error[0] == 0 || memchr(error, 0, sizeof error) == NULL) {
            abort();
        }
        return;
    }
    if ((size_t)n > size || (n > 0 && n < 4)) {
        abort();
    }
    if (n > 4 && (size_t)(n - 4) > max_block) {
        abort();
    }
    for (int i = 0; n > 0 && i < packet.nvars; i++) {
        const struct uwsgi_var *v = &packet.vars[i];
        const char *lo = (const char *)data + 4, *hi = (const char *)data + n;
        if (v->key < lo || v->key + v->key_len > hi || v->value < lo || v->value + v->value_len > hi ||
            v->key_len == 0 || memchr(v->value, 0, v->value_len) != NULL || packet.content_length < 0) {
            abort();
        }
    }
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size) {
    check(data, size, 65535);
    check(data, size, 64); /* a small --buffer-size */
    return 0;
}
