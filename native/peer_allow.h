/* Who may speak uwsgi to a TCP listener (--uwsgi-allow-from): address blocks, matched against the peer of each
 * accepted connection, since the protocol lets a peer say REMOTE_ADDR, HTTPS and every header. Plain C, no
 * Python: bridge_native.c uses it, test_peer_allow.c tests it. */
#ifndef BRIDGE_PEER_ALLOW_H
#define BRIDGE_PEER_ALLOW_H

#include <stddef.h>
#include <sys/socket.h>

/* Bytes per block in the packed form the Python glue hands over: family (4 or 6), prefix bits, 16 address bytes
 * (an IPv4 address in the first 4). */
#define PEER_BLOCK_BYTES 18
/* Most blocks a listener's allow-list holds. */
#define PEER_MAX_BLOCKS 64

struct peer_block {
    unsigned char family; /* 4 or 6 */
    unsigned char prefix; /* 0..32 or 0..128 */
    unsigned char addr[16];
};

/* Reads len bytes of packed blocks into out (room for PEER_MAX_BLOCKS); their count, or -1 if malformed. */
int peer_blocks_parse(const unsigned char *packed, size_t len, struct peer_block *out);

/* 1 if the address at sa (AF_INET or AF_INET6; an IPv4-mapped IPv6 one as IPv4) is in one of the n blocks. */
int peer_allowed(const struct peer_block *blocks, int n, const struct sockaddr *sa);

#endif
