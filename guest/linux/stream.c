/* isthmus-stream: the TCP streams of the Linux network tests and bench
 * (guest/linux/net-init's client and server roles, tests/boot/test_linux_net.py,
 * bench/linux.py), in one static program so that a stream goes as fast as
 * the guest's network stack and not as fast as a pipeline of busybox tools
 * (cat | head | tee | nc, md5sum on a fifo: four processes and three more
 * copies per byte, which set the pace under emulation).
 *
 *   isthmus-stream send HOST PORT BYTES
 *       connects to HOST:PORT (IPv4), sends the first BYTES bytes of the
 *       stream "1\n2\n...100000\n" repeated, and prints
 *       "bytes=N md5=HEX"; exit 2 when the connection is refused or times
 *       out (the caller retries), 1 on any other failure
 *   isthmus-stream recv PORT
 *       accepts one connection on PORT, reads it to its end, and prints
 *       "bytes=N md5=HEX" of what arrived
 *
 * The MD5 (RFC 1321) is computed here over exactly the bytes that went
 * through the socket; the test computes the stream's own and compares. */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

/* ---------------------------------------------------------------- MD5, RFC 1321 */

struct md5 {
    uint32_t h[4];
    uint64_t len; /* bytes hashed */
    uint8_t buf[64];
};

static uint32_t rol(uint32_t x, unsigned c) { return (x << c) | (x >> (32 - c)); }

/* K[i] = floor(abs(sin(i + 1)) * 2^32), and the per-round shifts (3.4). */
static const uint32_t K[64] = {
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
};
static const uint8_t S[4][4] = { { 7, 12, 17, 22 }, { 5, 9, 14, 20 }, { 4, 11, 16, 23 }, { 6, 10, 15, 21 } };

static void md5_block(uint32_t h[4], const uint8_t *p)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)p[4 * i] | (uint32_t)p[4 * i + 1] << 8 | (uint32_t)p[4 * i + 2] << 16 |
               (uint32_t)p[4 * i + 3] << 24;
    uint32_t a = h[0], b = h[1], c = h[2], d = h[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        switch (i / 16) {
        case 0: f = (b & c) | (~b & d); g = i; break;
        case 1: f = (d & b) | (~d & c); g = (5 * i + 1) % 16; break;
        case 2: f = b ^ c ^ d; g = (3 * i + 5) % 16; break;
        default: f = c ^ (b | ~d); g = (7 * i) % 16; break;
        }
        uint32_t t = d;
        d = c;
        c = b;
        b = b + rol(a + f + K[i] + m[g], S[i / 16][i % 4]);
        a = t;
    }
    h[0] += a;
    h[1] += b;
    h[2] += c;
    h[3] += d;
}

static void md5_init(struct md5 *s)
{
    *s = (struct md5){ { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476 }, 0, { 0 } };
}

static void md5_update(struct md5 *s, const uint8_t *p, size_t n)
{
    size_t have = s->len % 64;
    s->len += n;
    if (have) {
        size_t take = 64 - have < n ? 64 - have : n;
        memcpy(s->buf + have, p, take);
        p += take;
        n -= take;
        if (have + take < 64)
            return;
        md5_block(s->h, s->buf);
    }
    for (; n >= 64; p += 64, n -= 64)
        md5_block(s->h, p);
    memcpy(s->buf, p, n);
}

static void md5_hex(struct md5 *s, char out[33])
{
    uint64_t bits = s->len * 8;
    uint8_t pad[72] = { 0x80 };
    size_t padlen = (s->len % 64 < 56 ? 56 : 120) - s->len % 64;
    for (int i = 0; i < 8; i++)
        pad[padlen + i] = (uint8_t)(bits >> (8 * i));
    md5_update(s, pad, padlen + 8);
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", (s->h[i / 4] >> (8 * (i % 4))) & 0xff);
}

/* ---------------------------------------------------------------- the streams */

#define CHUNK 65536

static int usage(void)
{
    fprintf(stderr, "usage: isthmus-stream send HOST PORT BYTES | recv PORT\n");
    return 1;
}

static int port_of(const char *s)
{
    char *end;
    long p = strtol(s, &end, 10);
    return *s && !*end && p > 0 && p < 65536 ? (int)p : -1;
}

static int do_send(const char *host, int port, unsigned long long bytes)
{
    /* The repeated block, "1\n" to "100000\n": 588,895 bytes. */
    static char block[600000];
    size_t blen = 0;
    for (int i = 1; i <= 100000; i++)
        blen += (size_t)sprintf(block + blen, "%d\n", i);

    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "isthmus-stream: %s is not an IPv4 address\n", host);
        return 1;
    }
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
        int e = errno;
        fprintf(stderr, "isthmus-stream: connect %s:%d: %s\n", host, port, strerror(e));
        return e == ECONNREFUSED || e == ETIMEDOUT || e == EHOSTUNREACH || e == ENETUNREACH ? 2 : 1;
    }
    struct md5 h;
    md5_init(&h);
    unsigned long long sent = 0;
    size_t at = 0;
    while (sent < bytes) {
        size_t n = blen - at;
        if (n > CHUNK)
            n = CHUNK;
        if (n > bytes - sent)
            n = (size_t)(bytes - sent);
        ssize_t w = write(fd, block + at, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            fprintf(stderr, "isthmus-stream: write after %llu bytes: %s\n", sent, strerror(errno));
            return 1;
        }
        md5_update(&h, (const uint8_t *)block + at, (size_t)w);
        sent += (unsigned long long)w;
        at = (at + (size_t)w) % blen;
    }
    if (close(fd)) {
        fprintf(stderr, "isthmus-stream: close: %s\n", strerror(errno));
        return 1;
    }
    char hex[33];
    md5_hex(&h, hex);
    printf("bytes=%llu md5=%s\n", sent, hex);
    return 0;
}

static int do_recv(int port)
{
    int one = 1, s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
    if (s < 0 || setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        bind(s, (struct sockaddr *)&a, sizeof(a)) || listen(s, 1)) {
        fprintf(stderr, "isthmus-stream: listen on port %d: %s\n", port, strerror(errno));
        return 1;
    }
    int fd;
    while ((fd = accept(s, NULL, NULL)) < 0)
        if (errno != EINTR) {
            fprintf(stderr, "isthmus-stream: accept: %s\n", strerror(errno));
            return 1;
        }
    close(s);
    static uint8_t buf[CHUNK];
    struct md5 h;
    md5_init(&h);
    unsigned long long got = 0;
    for (;;) {
        ssize_t r = read(fd, buf, sizeof(buf));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            fprintf(stderr, "isthmus-stream: read after %llu bytes: %s\n", got, strerror(errno));
            return 1;
        }
        if (!r)
            break;
        md5_update(&h, buf, (size_t)r);
        got += (unsigned long long)r;
    }
    close(fd);
    char hex[33];
    md5_hex(&h, hex);
    printf("bytes=%llu md5=%s\n", got, hex);
    return 0;
}

int main(int argc, char **argv)
{
    if (argc == 5 && !strcmp(argv[1], "send")) {
        char *end;
        unsigned long long n = strtoull(argv[4], &end, 10);
        int port = port_of(argv[3]);
        if (!*argv[4] || *end || port < 0)
            return usage();
        return do_send(argv[2], port, n);
    }
    if (argc == 3 && !strcmp(argv[1], "recv")) {
        int port = port_of(argv[2]);
        return port < 0 ? usage() : do_recv(port);
    }
    return usage();
}
