#include "peer_allow.h"

#include <netinet/in.h>
#include <string.h>

int peer_blocks_parse(const unsigned char *packed, size_t len, struct peer_block *out) {
    if (len % PEER_BLOCK_BYTES != 0 || len / PEER_BLOCK_BYTES > PEER_MAX_BLOCKS) {
        return -1;
    }
    int n = (int)(len / PEER_BLOCK_BYTES);
    for (int i = 0; i < n; i++) {
        const unsigned char *p = packed + (size_t)i * PEER_BLOCK_BYTES;
        if (!((p[0] == 4 && p[1] <= 32) || (p[0] == 6 && p[1] <= 128))) {
            return -1;
        }
        out[i].family = p[0];
        out[i].prefix = p[1];
        memcpy(out[i].addr, p + 2, 16);
    }
    return n;
}

/* Whether the first prefix bits of a and b agree. */
static int same_prefix(const unsigned char *a, const unsigned char *b, int prefix) {
    int full = prefix / 8;
    int rest = prefix % 8;
    if (memcmp(a, b, (size_t)full) != 0) {
        return 0;
    }
    unsigned char mask = (unsigned char)(0xFF << (8 - rest));
    return rest == 0 || ((a[full] ^ b[full]) & mask) == 0;
}

int peer_allowed(const struct peer_block *blocks, int n, const struct sockaddr *sa) {
    unsigned char addr[16];
    int family;
    if (sa->sa_family == AF_INET) {
        memcpy(addr, &((const struct sockaddr_in *)sa)->sin_addr, 4);
        family = 4;
    } else if (sa->sa_family == AF_INET6) {
        const struct in6_addr *a6 = &((const struct sockaddr_in6 *)sa)->sin6_addr;
        if (IN6_IS_ADDR_V4MAPPED(a6)) {
            memcpy(addr, &a6->s6_addr[12], 4);
            family = 4;
        } else {
            memcpy(addr, a6->s6_addr, 16);
            family = 6;
        }
    } else {
        return 0;
    }
    for (int i = 0; i < n; i++) {
        if (blocks[i].family == family && same_prefix(addr, blocks[i].addr, blocks[i].prefix)) {
            return 1;
        }
    }
    return 0;
}
