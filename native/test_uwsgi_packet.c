/*
 * Unit tests of the uwsgi packet parser, run by native/check under AddressSanitizer and
 * UndefinedBehaviorSanitizer: the packets nginx wrote (src/test/resources/uwsgi/nginx, given as
 * arguments) and the malformed ones the Java decoder's tests refuse (UwsgiDecoderTest), same reasons.
 */
#include "uwsgi_packet.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_check.h"

static struct uwsgi_packet packet;

/* Builds a packet: modifier1, then vars as alternating key/value C strings, NULL-terminated. */
static size_t build(unsigned char *out, int modifier1, const char *const *kv) {
    size_t n = 4;
    for (int i = 0; kv[i] != NULL; i++) {
        size_t len = strlen(kv[i]);
        out[n] = (unsigned char)(len & 0xff);
        out[n + 1] = (unsigned char)(len >> 8);
        memcpy(out + n + 2, kv[i], len);
        n += 2 + len;
    }
    out[0] = (unsigned char)modifier1;
    out[1] = (unsigned char)((n - 4) & 0xff);
    out[2] = (unsigned char)((n - 4) >> 8);
    out[3] = 0;
    return n;
}

static long parse(const unsigned char *buf, size_t len, size_t max_block, char *error) {
    error[0] = 0;
    return uwsgi_parse(buf, len, max_block, &packet, error);
}

static void expect_bad(const unsigned char *buf, size_t len, size_t max_block, const char *fragment) {
    char error[UWSGI_ERROR_SIZE];
    long n = parse(buf, len, max_block, error);
    CHECK(n == -1 && strstr(error, fragment) != NULL, "expected a refusal mentioning '%s', got %ld '%s'", fragment, n,
          error);
}

static const char *var(const char *key) {
    static char value[65536];
    for (int i = 0; i < packet.nvars; i++) {
        if (packet.vars[i].key_len == strlen(key) && memcmp(packet.vars[i].key, key, strlen(key)) == 0) {
            memcpy(value, packet.vars[i].value, packet.vars[i].value_len);
            value[packet.vars[i].value_len] = 0;
            return value;
        }
    }
    return NULL;
}

static void nginx_capture(const char *path) {
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL, "cannot open %s", path);
    if (f == NULL) {
        return;
    }
    static unsigned char buf[1 << 17];
    size_t len = fread(buf, 1, sizeof buf, f);
    fclose(f);
    char error[UWSGI_ERROR_SIZE];
    long n = parse(buf, len, 65535, error);
    CHECK(n > 4 && (size_t)n + (size_t)packet.content_length == len, "%s: %ld bytes of %zu, body %lld (%s)", path, n,
          len, packet.content_length, error);
    CHECK(var("REQUEST_METHOD") != NULL && var("SERVER_PROTOCOL") != NULL, "%s: no REQUEST_METHOD", path);
    if (strstr(path, "get-query") != NULL) {
        CHECK(packet.nvars == 16 && strcmp(var("QUERY_STRING"), "a=1&b=%20x") == 0 &&
                  strcmp(var("PATH_INFO"), "/hello/world") == 0 && strcmp(var("CONTENT_LENGTH"), "") == 0 &&
                  packet.content_length == 0,
              "get-query: %d vars", packet.nvars);
    }
    if (strstr(path, "post-chunked-upload") != NULL) {
        CHECK(packet.content_length == 19 && strcmp(var("HTTP_TRANSFER_ENCODING"), "chunked") == 0,
              "post-chunked-upload: body %lld", packet.content_length);
    }
    if (strstr(path, "utf8-path") != NULL) {
        CHECK(strcmp(var("PATH_INFO"), "/caf\xc3\xa9/na\xc3\xafve") == 0, "utf8-path: the decoded bytes");
    }
    for (size_t cut = 0; cut < (size_t)n; cut++) {
        CHECK(parse(buf, cut, 65535, error) == 0, "%s: %zu bytes of %ld are not a whole packet", path, cut, n);
    }
}

int main(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        nginx_capture(argv[i]);
    }
    static unsigned char buf[1 << 18];
    char error[UWSGI_ERROR_SIZE];
    size_t n;

    n = build(buf, 0, (const char *[]){"REQUEST_METHOD", "POST", "CONTENT_LENGTH", "5", NULL});
    CHECK(parse(buf, n, 65535, error) == (long)n && packet.content_length == 5 && packet.nvars == 2, "a POST");
    n = build(buf, 30, (const char *[]){"REQUEST_METHOD", "GET", NULL});
    CHECK(parse(buf, n, 65535, error) == (long)n && packet.modifier1 == 30, "modifier1 30");
    n = build(buf, 0, (const char *[]){NULL});
    CHECK(parse(buf, n, 65535, error) == 4 && packet.nvars == 0, "an empty vars block");
    n = build(buf, 0, (const char *[]){"CONTENT_LENGTH", "", NULL});
    CHECK(parse(buf, n, 65535, error) == (long)n && packet.content_length == 0, "an empty CONTENT_LENGTH");
    n = build(buf, 0, (const char *[]){"HTTP_X_BLOB", "\xff\xfe\x80\x01\x7f", NULL});
    CHECK(parse(buf, n, 65535, error) == (long)n && strcmp(var("HTTP_X_BLOB"), "\xff\xfe\x80\x01\x7f") == 0,
          "value bytes that are not UTF-8");
    memcpy(buf, (const unsigned char[]){100, 0, 0, 0}, 4);
    CHECK(parse(buf, 4, 65535, error) == 4 && packet.modifier1 == 100, "a ping");

    /* the largest block a u16 datasize can announce: one cookie near 64 KiB */
    static char cookie[65535 - 4 - 11];
    memset(cookie, 'c', sizeof cookie - 1);
    cookie[sizeof cookie - 1] = 0;
    n = build(buf, 0, (const char *[]){"HTTP_COOKIE", cookie, NULL});
    CHECK(n - 4 == 65535 - 1 && parse(buf, n, 65535, error) == (long)n, "a big cookie: %zu", n - 4);
    CHECK(parse(buf, n, n - 5, error) == -1 && strstr(error, "over --buffer-size") != NULL, "one byte over --buffer-size");
    CHECK(parse(buf, n, n - 4, error) == (long)n, "exactly --buffer-size");

    memcpy(buf, (const unsigned char[]){5, 0, 0, 0}, 4);
    expect_bad(buf, 4, 65535, "unsupported modifier1 5");
    n = build(buf, 0, (const char *[]){"", "x", NULL});
    expect_bad(buf, n, 65535, "an empty var name");
    n = build(buf, 0, (const char *[]){"BAD KEY", "x", NULL});
    expect_bad(buf, n, 65535, "bad key");
    n = build(buf, 0, (const char *[]){"HTTP_X", "a", NULL});
    buf[n - 1] = 0;
    expect_bad(buf, n, 65535, "a NUL byte in the value of HTTP_X");
    n = build(buf, 0, (const char *[]){"CONTENT_LENGTH", "12a", NULL});
    expect_bad(buf, n, 65535, "bad CONTENT_LENGTH 12a");
    n = build(buf, 0, (const char *[]){"CONTENT_LENGTH", "1234567890123456789", NULL});
    expect_bad(buf, n, 65535, "bad CONTENT_LENGTH");
    n = build(buf, 0, (const char *[]){"KEY", "value", NULL});
    buf[1] = (unsigned char)(n - 4 - 2); /* the block ends inside the value */
    expect_bad(buf, n - 2, 65535, "the value of KEY runs past the vars block");
    buf[1] = 3; /* inside the key */
    expect_bad(buf, 7, 65535, "runs past the vars block");

    /* more than UWSGI_MAX_VARS vars */
    size_t at = 4;
    for (int i = 0; i <= UWSGI_MAX_VARS; i++) {
        memcpy(buf + at, (const unsigned char[]){1, 0, 'K', 0, 0}, 5); /* key "K", empty value */
        at += 5;
    }
    buf[0] = 0;
    buf[1] = (unsigned char)((at - 4) & 0xff);
    buf[2] = (unsigned char)((at - 4) >> 8);
    expect_bad(buf, at, 65535, "more than 1000 vars");

    if (failures) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("test_uwsgi_packet: all passed (%d nginx captures)\n", argc - 1);
    return 0;
}
