/*
 * The uwsgi packet as nginx's uwsgi_pass writes it: a 4-byte header (modifier1, little-endian u16
 * datasize, modifier2), then a vars block of datasize bytes made of u16-length keys and values.
 * No Python here: this is the part that reads bytes from the network, fuzzed on its own
 * (fuzz_uwsgi_packet.c) and unit-tested against the byte fixtures (test_uwsgi_packet.c).
 */
#ifndef BRIDGE_UWSGI_PACKET_H
#define BRIDGE_UWSGI_PACKET_H

#include <stddef.h>
#include <stdint.h>

/* Most vars one request may carry (gunicorn's MAX_UWSGI_VARS; the Java decoder's MAX_VARS). */
#define UWSGI_MAX_VARS 1000
/* Room for the reason of a refusal, in bytes. */
#define UWSGI_ERROR_SIZE 160

/* modifier1 values understood. */
enum { UWSGI_WSGI = 0, UWSGI_WSGI_STRIP_SCRIPT_NAME = 30, UWSGI_PING = 100 };

/* A var: slices of the input. 32-bit lengths, so the HTTP path's headers (up to --max-header-size) fit too. */
struct uwsgi_var {
    const char *key;
    const char *value;
    uint32_t key_len;
    uint32_t value_len;
};

struct uwsgi_packet {
    int modifier1;
    int nvars;
    /* CONTENT_LENGTH, 0 when absent or empty. */
    long long content_length;
    struct uwsgi_var vars[UWSGI_MAX_VARS];
};

/*
 * Parses the header and vars block at buf[0..len). Returns the bytes they take (the body follows) once
 * they are complete, 0 when more bytes are needed, -1 when the input cannot be a request we serve (the
 * reason is then in error, NUL-terminated). A ping (modifier1 100) takes its 4 header bytes. Keys are
 * printable ASCII and not empty; values hold no NUL; vars point into buf. max_block is the largest vars
 * block accepted (--buffer-size).
 */
long uwsgi_parse(const unsigned char *buf, size_t len, size_t max_block, struct uwsgi_packet *out,
                 char error[UWSGI_ERROR_SIZE]);

/* A length in decimal digits, as CONTENT_LENGTH carries it: up to 18 of them (the Java decoders' bound), no
 * sign, no blanks; "" is 0. -1 when malformed. The app's Content-Length header is read with it too. */
long long uwsgi_parse_length(const char *s, size_t n);

#endif
