/* libFuzzer target for the device side of a split virtqueue (net/virtq.c).
 *
 * Input: CTRL control bytes, then a guest memory image of RAM bytes (zero
 * padded), laid out as two chunks split at SPLIT, each its own heap block so
 * ASan sees any access past a chunk. The control bytes pick the queue size,
 * ring addresses, EVENT_IDX and max_bytes; the queue is enabled and drained
 * (pop, read, copy, write, push, publish, interrupt and notify decisions)
 * until it is empty or broken. Invariants that break trap; ASan/UBSan catch
 * the rest. One more: the device writes nothing but the used ring and the
 * writable buffers of chains it popped.
 *
 * VIRTQ_WRITE_SEEDS=dir ./fuzz_virtq writes a few seed inputs into dir and
 * exits (tests/fuzz/virtq.mk does that before fuzzing). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/virtq.h"
#include "kernel/lib/errno.h"

#define CHECK(c)                                                                                                       \
    do {                                                                                                               \
        if (!(c))                                                                                                      \
            __builtin_trap();                                                                                          \
    } while (0)

#define CTRL   16
#define RAM    0x10000
#define SPLIT  0x6000                         /* M's chunk boundary */
#define MSPLIT 0xa000                         /* the mirror's: another place */
#define STREAM (VIRTQ_MAX_SEGS * (size_t)RAM) /* the most a chain can hold */

/* control bytes */
#define C_SIZE    0 /* log2 of the size (low 4 bits); bit 7: raw size from C_RAWSIZE */
#define C_FLAGS   1
#define F_EVENT   0x01 /* EVENT_IDX */
#define F_RAW     0x02 /* keep the addresses misaligned */
#define F_UNPOP   0x04 /* unpop every other chain and pop it again */
#define F_HIGH    0x08 /* put the avail ring near the top of the address space */
#define F_KEEP    0x10 /* pop with virtq_pop_keep (bad chains pushed here), wait with virtq_want_more */
#define C_DESC    2    /* le16 each */
#define C_AVAIL   4
#define C_USED    6
#define C_MAX     8  /* le32 max_bytes */
#define C_OFF     12 /* le16: offset of the sliced read */
#define C_RAWSIZE 14 /* le16 */

static u8 out1[STREAM], out2[STREAM], pat[STREAM];
/* Guest memory in two chunks (lo, hi), its mirror (mlo, mhi) and the original:
 * heap blocks allocated once, so that ASan's red zones surround each. */
static u8 *lo, *hi, *mlo, *mhi, *orig;
static u8 allowed[RAM]; /* bytes the device may write */

static u16 rd16(const u8 *p) { return (u16)(p[0] | p[1] << 8); }
static u32 rd32(const u8 *p) { return (u32)rd16(p) | (u32)rd16(p + 2) << 16; }

static bool inside(u64 g, u64 len) { return g <= RAM && len <= RAM - g; }

static void allow(u64 g, u64 len)
{
    if (inside(g, len))
        memset(allowed + g, 1, len);
}

/* The chain's in segments seen as out segments, to read them back. */
static void in_as_out(const struct virtq_chain *c, struct virtq_chain *t)
{
    memset(t, 0, sizeof(*t));
    t->nout = c->nin;
    t->out_bytes = c->in_bytes;
    memcpy(t->seg, c->seg + c->nout, c->nin * sizeof(c->seg[0]));
}

/* Whether the chain's in segments overlap one another (the driver may do that;
 * then a later byte of the stream overwrites an earlier one). */
static bool in_overlap(const struct virtq_chain *c)
{
    for (u32 i = c->nout; i < (u32)c->nout + c->nin; i++)
        for (u32 j = i + 1; j < (u32)c->nout + c->nin; j++)
            if (c->seg[i].gpa < c->seg[j].gpa + c->seg[j].len && c->seg[j].gpa < c->seg[i].gpa + c->seg[i].len)
                return true;
    return false;
}

static void check_chain(const struct virtq *q, const struct virtq_chain *c)
{
    u64 out = 0, in = 0;
    CHECK(c->head < q->size);
    CHECK(c->nout + c->nin >= 1 && c->nout + c->nin <= VIRTQ_MAX_SEGS);
    for (u32 i = 0; i < (u32)c->nout + c->nin; i++) {
        CHECK(c->seg[i].len > 0);
        CHECK(inside(c->seg[i].gpa, c->seg[i].len));
        *(i < c->nout ? &out : &in) += c->seg[i].len;
    }
    CHECK(out == c->out_bytes && in == c->in_bytes);
    CHECK(out + in <= q->max_bytes);
}

static void exercise(const struct gmem *m, const struct gmem *mirror, const struct virtq_chain *c,
                     const struct virtq_chain *prev, u32 slice_off)
{
    struct virtq_chain t;
    u32 n;

    /* The out stream is the segments' bytes end to end. */
    CHECK(virtq_chain_read(m, c, 0, out1, c->out_bytes) == 0);
    for (u32 i = 0, at = 0; i < c->nout; at += c->seg[i].len, i++) {
        CHECK(gmem_read(m, c->seg[i].gpa, out2, c->seg[i].len) == 0);
        CHECK(!memcmp(out1 + at, out2, c->seg[i].len));
    }
    CHECK(virtq_chain_read(m, c, 0, out2, c->out_bytes + 1) == -ERANGE);
    if (c->out_bytes) {
        u32 off = slice_off % c->out_bytes, len = MIN(c->out_bytes - off, 4096u);
        CHECK(virtq_chain_read(m, c, off, out2, len) == 0);
        CHECK(!memcmp(out2, out1 + off, len));
    }

    /* Into another guest (the mirror, chunked elsewhere) and back. */
    n = MIN(c->out_bytes, c->in_bytes);
    CHECK(virtq_chain_copy(mirror, c, 0, m, c, 0, n) == 0);
    in_as_out(c, &t);
    CHECK(virtq_chain_read(mirror, &t, 0, out2, n) == 0);
    CHECK(in_overlap(c) || !memcmp(out1, out2, n));
    CHECK(virtq_chain_copy(mirror, c, 1, m, c, 0, c->in_bytes) == -ERANGE);

    /* The in stream takes exactly in_bytes. */
    CHECK(virtq_chain_write(m, c, 0, pat, c->in_bytes) == 0);
    CHECK(virtq_chain_write(m, c, 0, pat, c->in_bytes + 1) == -ERANGE);

    /* Within one guest, from this chain into the previous one's buffers,
     * which may overlap (memmove). */
    if (prev) {
        n = MIN(c->out_bytes, prev->in_bytes);
        CHECK(virtq_chain_copy(m, prev, 0, m, c, 0, n) == 0);
    }
}

/* Whether virtq_enable must accept these. */
static bool valid(u16 size, u64 desc, u64 avail, u64 used)
{
    return size && size <= VIRTQ_MAX_SIZE && !(size & (size - 1)) && !(desc % 16) && !(avail % 2) && !(used % 4) &&
           inside(desc, 16 * (u64)size) && inside(avail, VIRTQ_AVAIL_SIZE(size)) && inside(used, VIRTQ_USED_SIZE(size));
}

/* libFuzzer's entry points, which it declares itself. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerInitialize(int *argc, char ***argv);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CTRL)
        return 0;
    const u8 *ctl = data;
    u8 fl = ctl[C_FLAGS];
    u16 qsize = (ctl[C_SIZE] & 0x80) ? rd16(ctl + C_RAWSIZE) : (u16)(1u << (ctl[C_SIZE] & 15));
    u64 desc = rd16(ctl + C_DESC), avail = rd16(ctl + C_AVAIL), used = rd16(ctl + C_USED);
    if (!(fl & F_RAW)) {
        desc &= ~15ULL;
        avail &= ~1ULL;
        used &= ~3ULL;
    }
    if (fl & F_HIGH)
        avail = ~0ULL - avail;
    u32 max_bytes = rd32(ctl + C_MAX);

    memset(orig, 0, RAM);
    memcpy(orig, data + CTRL, MIN(size - CTRL, (size_t)RAM));
    memcpy(lo, orig, SPLIT);
    memcpy(hi, orig + SPLIT, RAM - SPLIT);
    memset(mlo, 0, MSPLIT);
    memset(mhi, 0, RAM - MSPLIT);
    struct gmem m = { 0 }, mirror = { 0 };
    CHECK(gmem_add(&m, 0x100000, lo, SPLIT, 0) == 0 && gmem_add(&m, 0x200000, hi, RAM - SPLIT, 1) == 0);
    CHECK(gmem_add(&mirror, 0x300000, mlo, MSPLIT, 0) == 0 && gmem_add(&mirror, 0x400000, mhi, RAM - MSPLIT, 0) == 0);

    static struct virtq q;
    static struct virtq_chain c, prev;
    memset(&q, 0, sizeof(q));
    int rc = virtq_enable(&q, &m, qsize, desc, avail, used, fl & F_EVENT, max_bytes);
    CHECK((rc == 0) == valid(qsize, desc, avail, used));
    CHECK(rc == 0 || rc == -EINVAL);
    if (rc) {
        CHECK(!virtq_ready(&q) && virtq_pop(&q, &c) == -EIO && !virtq_pending(&q));
        goto out;
    }

    memset(allowed, 0, sizeof(allowed));
    allow(used, VIRTQ_USED_SIZE(qsize));
    u64 pops = 0, bad = 0, pushes = 0;
    bool have_prev = false;
    /* Bounded: writes into the rings (the guest's choice of buffers) can keep
     * moving avail->idx. */
    for (u32 iter = 0; iter < 4u * qsize + 64; iter++) {
        bool was_ready = virtq_ready(&q), pend = virtq_pending(&q);
        rc = (fl & F_KEEP) ? virtq_pop_keep(&q, &c) : virtq_pop(&q, &c);
        CHECK(rc == 1 || rc == 0 || rc == -EBADMSG || rc == -EIO);
        if (was_ready)
            CHECK(pend == (rc != 0));
        if (rc == -EIO) {
            CHECK(!virtq_ready(&q) && q.broken && q.stats.err[VQE_RING] == 1);
            CHECK(virtq_pop(&q, &c) == -EIO && !virtq_pending(&q));
            break;
        }
        if (rc == -EBADMSG) {
            bad++;
            if (fl & F_KEEP) {
                CHECK(c.head < qsize);
                virtq_push(&q, c.head, 0);
                virtq_publish(&q);
            }
            (void)virtq_need_interrupt(&q);
            continue;
        }
        if (rc == 0) {
            if (fl & F_KEEP)
                (void)virtq_want_more(&q);
            else
                virtq_want_notify(&q, true);
            if (!virtq_pending(&q))
                break;
            continue;
        }
        check_chain(&q, &c);
        if ((fl & F_UNPOP) && (iter & 1)) {
            struct virtq_chain again;
            virtq_unpop(&q);
            CHECK(virtq_pop(&q, &again) == 1);
            CHECK(again.head == c.head && again.nout == c.nout && again.nin == c.nin);
            for (u32 i = 0; i < (u32)c.nout + c.nin; i++)
                CHECK(again.seg[i].gpa == c.seg[i].gpa && again.seg[i].len == c.seg[i].len);
        }
        pops++;
        for (u32 i = c.nout; i < (u32)c.nout + c.nin; i++)
            allow(c.seg[i].gpa, c.seg[i].len);
        exercise(&m, &mirror, &c, have_prev ? &prev : NULL, rd16(ctl + C_OFF) + iter);
        prev = c;
        have_prev = true;
        virtq_want_notify(&q, iter & 2);
        virtq_push(&q, c.head, c.in_bytes);
        pushes++;
        if (iter & 1) {
            virtq_publish(&q);
            (void)virtq_need_interrupt(&q);
        }
    }
    virtq_publish(&q);
    (void)virtq_need_interrupt(&q);

    u64 errs = 0;
    for (int e = 0; e < VQE_RING; e++)
        errs += q.stats.err[e];
    CHECK(q.stats.popped == pops && errs == bad);
    if (!q.broken) {
        CHECK(q.stats.pushed == pushes + bad);
        CHECK(q.published == q.used_idx);
    }
    /* Nothing written outside the used ring and the chains' writable buffers:
     * each run of bytes not allowed is compared whole. */
    for (u32 g = 0; g < RAM;) {
        const u8 *a = memchr(allowed + g, 1, RAM - g);
        u32 end = a ? (u32)(a - allowed) : RAM;
        for (u32 at = g; at < end;) {
            u32 n = at < SPLIT ? MIN(end, SPLIT) - at : end - at;
            CHECK(!memcmp(at < SPLIT ? lo + at : hi + (at - SPLIT), orig + at, n));
            at += n;
        }
        const u8 *z = a ? memchr(a, 0, RAM - end) : NULL;
        g = z ? (u32)(z - allowed) : RAM;
    }
out:
    return 0;
}

/* ---- seeds ---- */

static u8 seed[CTRL + RAM];
static size_t seed_len;

static void s_begin(u8 size_log2, u8 flags, u16 desc, u16 avail, u16 used, u32 max_bytes)
{
    memset(seed, 0, sizeof(seed));
    seed[C_SIZE] = size_log2;
    seed[C_FLAGS] = flags;
    memcpy(seed + C_DESC, &desc, 2);
    memcpy(seed + C_AVAIL, &avail, 2);
    memcpy(seed + C_USED, &used, 2);
    memcpy(seed + C_MAX, &max_bytes, 4);
    seed_len = CTRL;
}

static void s_put(u64 g, const void *v, size_t n)
{
    memcpy(seed + CTRL + g, v, n);
    seed_len = MAX(seed_len, CTRL + g + n);
}

static void s_desc(u16 desc, u16 i, u64 addr, u32 len, u16 flags, u16 next)
{
    struct virtq_desc d = { addr, len, flags, next };
    s_put(desc + 16 * (u64)i, &d, sizeof(d));
}

static void s_avail(u16 avail, u16 size, const u16 *heads, u16 n)
{
    for (u16 i = 0; i < n; i++)
        s_put(avail + VIRTQ_AVAIL_RING(i % size), &heads[i], 2);
    s_put(avail + VIRTQ_AVAIL_IDX, &n, 2);
}

static void s_write(const char *dir, const char *name)
{
    char path[512];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    CHECK(f && fwrite(seed, 1, seed_len, f) == seed_len && fclose(f) == 0);
}

static void write_seeds(const char *dir)
{
    /* Good chains of several segments, some crossing the chunk boundary. */
    s_begin(4, 0, 0x0000, 0x1000, 0x2000, 0x10000);
    s_desc(0, 0, 0x3000, 64, VIRTQ_DESC_F_NEXT, 1);
    s_desc(0, 1, 0x5ff0, 64, VIRTQ_DESC_F_NEXT, 2);
    s_desc(0, 2, 0x4000, 100, VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_WRITE, 3);
    s_desc(0, 3, 0x5fe0, 0x40, VIRTQ_DESC_F_WRITE, 0);
    s_desc(0, 4, 0x4000, 100, 0, 0);
    s_desc(0, 5, 0x7000, 200, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 6);
    s_desc(0, 6, 0x8000, 0x1000, VIRTQ_DESC_F_WRITE, 0);
    s_avail(0x1000, 16, (const u16[]){ 0, 4, 5, 0 }, 4);
    s_write(dir, "good");
    /* The same popped as mergeable receive buffers are (net/vnet_data.c),
     * with a chain outside RAM among them. */
    s_begin(4, F_EVENT | F_KEEP, 0x0000, 0x1000, 0x2000, 0x10000);
    s_desc(0, 0, 0x3000, 64, VIRTQ_DESC_F_WRITE, 0);
    s_desc(0, 1, 0xfff0, 64, VIRTQ_DESC_F_WRITE, 0);
    s_desc(0, 2, 0x5ff0, 0x100, VIRTQ_DESC_F_WRITE, 0);
    s_avail(0x1000, 16, (const u16[]){ 0, 1, 2 }, 3);
    s_write(dir, "keep");

    /* EVENT_IDX, unpop, and each ring in turn across the chunk boundary, so
     * that it is reached through gmem_read/gmem_write. */
    static const struct {
        const char *name;
        u16 desc, avail, used;
    } slow[] = {
        { "slow-desc", 0x5fc0, 0x6100, 0x7000 },
        { "slow-avail", 0x1000, 0x5ff8, 0x7000 },
        { "slow-used", 0x1000, 0x6100, 0x5fd0 },
    };
    for (size_t k = 0; k < sizeof(slow) / sizeof(slow[0]); k++) {
        u16 d = slow[k].desc;
        s_begin(3, F_EVENT | F_UNPOP, d, slow[k].avail, slow[k].used, 0x8000);
        for (u16 i = 0; i < 5; i++)
            s_desc(d, i, 0x3000 + 0x100 * (u64)i, 0x80, VIRTQ_DESC_F_NEXT | (i >= 3 ? VIRTQ_DESC_F_WRITE : 0),
                   (u16)(i + 1));
        s_desc(d, 5, 0x3800, 0x10, VIRTQ_DESC_F_WRITE, 0);
        s_desc(d, 6, 0x3900, 0x10, 0, 0);
        s_avail(slow[k].avail, 8, (const u16[]){ 0, 6, 6, 0 }, 4);
        s_write(dir, slow[k].name);
    }

    /* Bad chains of every kind, then a good one. */
    s_begin(4, 0, 0x0000, 0x1000, 0x2000, 0x1000);
    s_desc(0, 0, 0xfffc, 8, 0, 0);                 /* outside */
    s_desc(0, 1, 0x3000, 0x1001, 0, 0);            /* too long */
    s_desc(0, 2, 0x3000, 8, VIRTQ_DESC_F_NEXT, 3); /* loop */
    s_desc(0, 3, 0x3000, 8, VIRTQ_DESC_F_NEXT, 2);
    s_desc(0, 4, 0x3000, 8, VIRTQ_DESC_F_NEXT, 16);                     /* next out of range */
    s_desc(0, 5, 0x3000, 16, VIRTQ_DESC_F_INDIRECT, 0);                 /* indirect */
    s_desc(0, 6, 0x3000, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 7); /* order */
    s_desc(0, 7, 0x3000, 8, 0, 0);
    s_desc(0, 8, 0x3000, 0, 0, 0); /* empty */
    s_desc(0, 9, 0x3000, 8, 0, 0); /* good */
    s_avail(0x1000, 16, (const u16[]){ 0, 1, 2, 4, 5, 6, 8, 9 }, 8);
    s_write(dir, "bad-chains");

    /* In a queue of 128: the longest chain taken, then one segment too many. */
    s_begin(7, 0, 0x0000, 0x1000, 0x2000, 0x10000);
    for (u16 i = 0; i < 128; i++) /* 0..63 ends; 64..127 goes on into 0 */
        s_desc(0, i, 0x3000 + 0x40 * (u64)(i % 64), 0x40,
               (i == 63 ? 0 : VIRTQ_DESC_F_NEXT) | (i % 64 >= 32 ? VIRTQ_DESC_F_WRITE : 0), (u16)((i + 1) % 128));
    s_avail(0x1000, 128, (const u16[]){ 0, 64 }, 2);
    s_write(dir, "segs");

    /* A corrupt index. */
    s_begin(2, 0, 0x0000, 0x1000, 0x2000, 0x1000);
    s_desc(0, 0, 0x3000, 8, 0, 0);
    s_avail(0x1000, 4, (const u16[]){ 0, 0, 0, 0, 0 }, 5);
    s_write(dir, "index-jump");
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (size_t i = 0; i < sizeof(pat); i++)
        pat[i] = (u8)(i * 7 + 3);
    lo = malloc(SPLIT);
    hi = malloc(RAM - SPLIT);
    mlo = malloc(MSPLIT);
    mhi = malloc(RAM - MSPLIT);
    orig = malloc(RAM);
    CHECK(lo && hi && mlo && mhi && orig);
    const char *dir = getenv("VIRTQ_WRITE_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}
