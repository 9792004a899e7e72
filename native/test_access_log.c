/*
 * Unit tests of the access log renderer (access_log.c), run by native/check under AddressSanitizer and
 * UndefinedBehaviorSanitizer. The expected lines are AccessLogFormatTest's (the Java renderer's) too, and
 * JSON_SPEC is what AccessLogFormat.compile("json").nativeSpec() makes (that test checks it).
 */
#include "access_log.h"
#include "access_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "test_check.h"

static const char JSON_SPEC[] =
    "j{\"time\":%r,\"addr\":%h,\"method\":%a,\"uri\":%b,\"proto\":%c,\"status\":%d,\"size\":%e,\"msecs\":%f,"
    "\"micros\":%g,\"host\":%i,\"referer\":%j,\"uagent\":%k,\"cl\":%q,\"pid\":%l,\"wid\":%m,\"core\":%n}";

#define V(s) ((struct access_value){s, sizeof(s) - 1})

/* 2026-12-03 15:48:49.003 UTC */
#define START_MS 1796312929003LL

static struct access_entry hostile(void) {
    struct access_entry e = {
        .method = V("GET"),
        .uri = V("/a\"b\\c%22d\xe9\xff?q=\x01"),
        .proto = V("HTTP/1.1"),
        .addr = V("192.0.2.7"),
        .host = V("example.org"),
        .referer = {NULL, 0},
        .uagent = V("ua \"quoted\"\ttab\x01\x7f\nline"),
        .status = 200, .size = 11, .micros = 1234, .pid = 42, .wid = 3, .core = 1, .cl = 0, .start_ms = START_MS,
    };
    return e;
}

static const char *render(const char *spec, const struct access_entry *e) {
    static char line[8192];
    size_t n = access_render(spec, strlen(spec), e, line, sizeof line - 1);
    line[n < sizeof line - 1 ? n : sizeof line - 1] = 0;
    return line;
}

static void json_escapes_hostile_values(void) {
    struct access_entry e = hostile();
    const char *line = render(JSON_SPEC, &e);
    const char *expected =
        "{\"time\":\"2026-12-03T15:48:49.003Z\",\"addr\":\"192.0.2.7\",\"method\":\"GET\","
        "\"uri\":\"/a\\\"b\\\\c%22d\\u00e9\\u00ff?q=\\u0001\",\"proto\":\"HTTP/1.1\",\"status\":200,\"size\":11,"
        "\"msecs\":1,\"micros\":1234,\"host\":\"example.org\",\"referer\":null,"
        "\"uagent\":\"ua \\\"quoted\\\"\\ttab\\u0001\\u007f\\nline\",\"cl\":0,\"pid\":42,\"wid\":3,\"core\":1}\n";
    CHECK(strcmp(line, expected) == 0, "json line:\n%s\nexpected:\n%s", line, expected);
    struct json_reader r;
    CHECK(json_line(&r, line, strlen(line)), "not one JSON line: %s", line);
}

static void json_reads_back_every_byte(void) {
    char all[256];
    for (int i = 0; i < 256; i++) {
        all[i] = (char)i;
    }
    struct access_entry e = {.uri = {all, sizeof all}, .uagent = V(""), .method = {NULL, 0}};
    char line[4096];
    size_t n = access_render("j[%b,%k,%a]", 11, &e, line, sizeof line);
    struct json_reader r;
    CHECK(n < sizeof line && json_line(&r, line, n), "not one JSON line: %.*s", (int)n, line);
    CHECK(r.nstrings == 2 && r.lengths[0] == 256 && memcmp(r.strings[0], all, 256) == 0 && r.lengths[1] == 0,
          "the 256 byte values read back (%d strings)", r.nstrings);
    for (size_t i = 0; i < n - 1; i++) {
        CHECK(line[i] >= 0x20 && line[i] < 0x7f, "byte %zu of the line is not printable ASCII: %d", i, line[i]);
    }
}

static void templates_escape_as_nginx_does(void) {
    struct access_entry e = hostile();
    const char *line =
        render("t%h - \"%a %b %c\" %d %e %f/%g \"%j\" \"%k\" pid=%l wid=%m core=%n cl=%q 100%% %o", &e);
    const char *expected = "192.0.2.7 - \"GET /a\\\"b\\\\c%22d\\xE9\\xFF?q=\\x01 HTTP/1.1\" 200 11 1/1234 \"-\" "
                           "\"ua \\\"quoted\\\"\\x09tab\\x01\\x7F\\x0Aline\" pid=42 wid=3 core=1 cl=0 100% 1796312929\n";
    CHECK(strcmp(line, expected) == 0, "template line:\n%s\nexpected:\n%s", line, expected);
}

static void absent_timing_is_null_or_dash(void) {
    struct access_entry e = hostile();
    e.micros = -1;
    CHECK(strcmp(render("j[%f,%g]", &e), "[null,null]\n") == 0, "%s", render("j[%f,%g]", &e));
    CHECK(strcmp(render("t%f %g", &e), "- -\n") == 0, "%s", render("t%f %g", &e));
}

static void ltime_is_local_time_as_uwsgi_writes_it(void) {
    struct access_entry e = hostile();
    setenv("TZ", "UTC0", 1);
    tzset();
    CHECK(strcmp(render("t%p", &e), "03/Dec/2026:15:48:49 +0000\n") == 0, "%s", render("t%p", &e));
    setenv("TZ", "IST-5:30", 1);
    tzset();
    CHECK(strcmp(render("t%p", &e), "03/Dec/2026:21:18:49 +0530\n") == 0, "%s", render("t%p", &e));
    setenv("TZ", "NST3:30", 1);
    tzset();
    CHECK(strcmp(render("j%p", &e), "\"03/Dec/2026:12:18:49 -0330\"\n") == 0, "%s", render("j%p", &e));
}

static void a_short_buffer_gets_a_prefix_and_the_whole_length(void) {
    struct access_entry e = hostile();
    char whole[4096], part[16];
    size_t n = access_render(JSON_SPEC, strlen(JSON_SPEC), &e, whole, sizeof whole);
    memset(part, '#', sizeof part);
    size_t m = access_render(JSON_SPEC, strlen(JSON_SPEC), &e, part, 10);
    CHECK(m == n && memcmp(part, whole, 10) == 0 && part[10] == '#', "a prefix of 10 bytes and the length %zu", n);
    CHECK(access_render(JSON_SPEC, strlen(JSON_SPEC), &e, NULL, 0) == n, "the length without a buffer");
}

static void specs(void) {
    CHECK(access_spec_valid(JSON_SPEC, strlen(JSON_SPEC)), "the JSON spec is valid");
    CHECK(access_spec_valid("t", 1) && access_spec_valid("tx %% y %a", 10), "templates");
    CHECK(!access_spec_valid("", 0) && !access_spec_valid("x%a", 3), "a mode byte first");
    CHECK(!access_spec_valid("t%", 2) && !access_spec_valid("t%z", 3) && !access_spec_valid("t%A", 3), "fields");
    struct access_entry e = hostile();
    CHECK(strcmp(render("t%", &e), "\n") == 0 && strcmp(render("ta%zb", &e), "ab\n") == 0, "bad specs render safely");
}

int main(void) {
    json_escapes_hostile_values();
    json_reads_back_every_byte();
    templates_escape_as_nginx_does();
    absent_timing_is_null_or_dash();
    ltime_is_local_time_as_uwsgi_writes_it();
    a_short_buffer_gets_a_prefix_and_the_whole_length();
    specs();
    if (failures > 0) {
        fprintf(stderr, "%d failure(s)\n", failures);
        return 1;
    }
    printf("access log tests passed\n");
    return 0;
}
