/* Unit tests of peer_allow.c, run by native/check under ASan and UBSan. */
#include "peer_allow.h"
#include "test_check.h"

/* A check whose message is its condition. */
#define EXPECT(cond) CHECK(cond, "%s", #cond)

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

static struct sockaddr_storage v4(const char *text) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    inet_pton(AF_INET, text, &in->sin_addr);
    return ss;
}

static struct sockaddr_storage v6(const char *text) {
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    inet_pton(AF_INET6, text, &in6->sin6_addr);
    return ss;
}

/* One packed block. */
static void pack(unsigned char *p, int family, int prefix, const char *text) {
    memset(p, 0, PEER_BLOCK_BYTES);
    p[0] = (unsigned char)family;
    p[1] = (unsigned char)prefix;
    inet_pton(family == 4 ? AF_INET : AF_INET6, text, p + 2);
}

static int allowed(const struct peer_block *b, int n, struct sockaddr_storage ss) {
    return peer_allowed(b, n, (struct sockaddr *)&ss);
}

int main(void) {
    unsigned char packed[3 * PEER_BLOCK_BYTES];
    pack(packed, 4, 8, "127.0.0.0");
    pack(packed + PEER_BLOCK_BYTES, 6, 128, "::1");
    pack(packed + 2 * PEER_BLOCK_BYTES, 4, 22, "10.1.4.0");
    struct peer_block blocks[PEER_MAX_BLOCKS];
    int n = peer_blocks_parse(packed, sizeof packed, blocks);
    EXPECT(n == 3);
    EXPECT(allowed(blocks, n, v4("127.0.0.1")));
    EXPECT(allowed(blocks, n, v4("127.255.1.2")));
    EXPECT(!allowed(blocks, n, v4("128.0.0.1")));
    EXPECT(allowed(blocks, n, v6("::1")));
    EXPECT(!allowed(blocks, n, v6("::2")));
    EXPECT(allowed(blocks, n, v6("::ffff:127.0.0.9")));          /* an IPv4 peer of a dual-stack listener */
    EXPECT(allowed(blocks, n, v4("10.1.7.255")));                /* /22: 10.1.4.0 - 10.1.7.255 */
    EXPECT(!allowed(blocks, n, v4("10.1.8.0")));
    EXPECT(!allowed(blocks, n, v4("10.1.3.255")));
    EXPECT(!allowed(blocks, 0, v4("127.0.0.1")));                /* no block: nobody */
    unsigned char all[PEER_BLOCK_BYTES];
    pack(all, 4, 0, "0.0.0.0");
    EXPECT(peer_blocks_parse(all, sizeof all, blocks) == 1);
    EXPECT(allowed(blocks, 1, v4("203.0.113.9")) && !allowed(blocks, 1, v6("2001:db8::1")));
    pack(all, 6, 32, "2001:db8::");
    EXPECT(peer_blocks_parse(all, sizeof all, blocks) == 1);
    EXPECT(allowed(blocks, 1, v6("2001:db8:ffff::1")) && !allowed(blocks, 1, v6("2001:db9::1")));
    /* Malformed: a partial block, a bad family, a prefix too long, too many blocks. */
    EXPECT(peer_blocks_parse(packed, PEER_BLOCK_BYTES + 1, blocks) == -1);
    pack(all, 5, 8, "0.0.0.0");
    all[0] = 5;
    EXPECT(peer_blocks_parse(all, sizeof all, blocks) == -1);
    pack(all, 4, 33, "0.0.0.0");
    EXPECT(peer_blocks_parse(all, sizeof all, blocks) == -1);
    static unsigned char many[(PEER_MAX_BLOCKS + 1) * PEER_BLOCK_BYTES];
    for (int i = 0; i <= PEER_MAX_BLOCKS; i++) {
        pack(many + (size_t)i * PEER_BLOCK_BYTES, 4, 32, "192.0.2.1");
    }
    EXPECT(peer_blocks_parse(many, sizeof many, blocks) == -1);
    EXPECT(peer_blocks_parse(many, PEER_MAX_BLOCKS * PEER_BLOCK_BYTES, blocks) == PEER_MAX_BLOCKS);
    return failures != 0;
}
