/* The device side of a split virtqueue (net/virtq.c), driven by a small
 * driver written here, over guest memory faked with heap blocks. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "net/virtq.h"
#include "kernel/lib/errno.h"

/* Guest RAM: two chunks, the boundary at 0x4000. A second partition's RAM for
 * copies between guests: chunks of 0x1000 and 0x3000. */
static u8 a[0x4000] __aligned(64), b[0x4000] __aligned(64);
static u8 c2[0x1000] __aligned(64), d2[0x3000] __aligned(64);
static struct gmem M, M2;

#define RAM   0x8000
#define DESC  0x0000
#define AVAIL 0x1000
#define USED  0x2000

static void make_mem(void)
{
    memset(a, 0, sizeof(a));
    memset(b, 0, sizeof(b));
    memset(c2, 0, sizeof(c2));
    memset(d2, 0, sizeof(d2));
    memset(&M, 0, sizeof(M));
    memset(&M2, 0, sizeof(M2));
    assert_int_equal(gmem_add(&M, 0x100000, a, sizeof(a), 0), 0);
    assert_int_equal(gmem_add(&M, 0x900000, b, sizeof(b), 1), 0);
    assert_int_equal(gmem_add(&M2, 0x200000, c2, sizeof(c2), 0), 0);
    assert_int_equal(gmem_add(&M2, 0x300000, d2, sizeof(d2), 0), 0);
}

/* ---- the driver's side ---- */

struct drv {
    const struct gmem *m;
    u16 size;
    u64 desc, avail, used;
    u16 avail_idx;
};

static void put(const struct gmem *m, u64 g, const void *v, u64 n) { assert_int_equal(gmem_write(m, g, v, n), 0); }

static void put16(const struct gmem *m, u64 g, u16 v) { put(m, g, &v, 2); }

static u16 get16(const struct gmem *m, u64 g)
{
    u16 v;
    assert_int_equal(gmem_read(m, g, &v, 2), 0);
    return v;
}

static u32 get32(const struct gmem *m, u64 g)
{
    u32 v;
    assert_int_equal(gmem_read(m, g, &v, 4), 0);
    return v;
}

static void drv_desc(struct drv *d, u16 i, u64 addr, u32 len, u16 flags, u16 next)
{
    struct virtq_desc x = { addr, len, flags, next };
    put(d->m, d->desc + 16 * (u64)i, &x, sizeof(x));
}

/* Makes chain `head` available and bumps avail->idx. */
static void drv_avail(struct drv *d, u16 head)
{
    put16(d->m, d->avail + VIRTQ_AVAIL_RING(d->avail_idx & (d->size - 1)), head);
    d->avail_idx++;
    put16(d->m, d->avail + VIRTQ_AVAIL_IDX, d->avail_idx);
}

/* Lays nout readable then nin writable segments in descriptors first.. and
 * makes the chain available. */
static u16 drv_chain(struct drv *d, u16 first, const struct virtq_seg *s, u16 nout, u16 nin)
{
    u16 n = nout + nin;
    for (u16 i = 0; i < n; i++)
        drv_desc(d, (u16)(first + i), s[i].gpa, s[i].len,
                 (i >= nout ? VIRTQ_DESC_F_WRITE : 0) | (i + 1 < n ? VIRTQ_DESC_F_NEXT : 0), (u16)(first + i + 1));
    drv_avail(d, first);
    return first;
}

static u16 used_idx(const struct drv *d) { return get16(d->m, d->used + VIRTQ_USED_IDX); }
static u32 used_id(const struct drv *d, u16 i) { return get32(d->m, d->used + VIRTQ_USED_RING(i & (d->size - 1))); }
static u32 used_len(const struct drv *d, u16 i)
{
    return get32(d->m, d->used + VIRTQ_USED_RING(i & (d->size - 1)) + 4);
}
static void set_used_event(const struct drv *d, u16 v) { put16(d->m, d->avail + VIRTQ_AVAIL_RING(d->size), v); }
static u16 avail_event(const struct drv *d) { return get16(d->m, d->used + VIRTQ_USED_RING(d->size)); }

static struct virtq Q;
static struct drv D;

static void start(u16 size, bool event_idx, u32 max_bytes)
{
    make_mem();
    memset(&Q, 0, sizeof(Q));
    D = (struct drv){ &M, size, DESC, AVAIL, USED, 0 };
    assert_int_equal(virtq_enable(&Q, &M, size, DESC, AVAIL, USED, event_idx, max_bytes), 0);
    assert_true(virtq_ready(&Q));
}

/* One one-segment chain from descriptor `head`, popped, pushed and published. */
static void complete_one(u16 head)
{
    struct virtq_chain c;
    const struct virtq_seg s = { 0x3000, 8 };
    drv_chain(&D, head, &s, 1, 0);
    assert_int_equal(virtq_pop(&Q, &c), 1);
    virtq_push(&Q, c.head, 0);
    virtq_publish(&Q);
}

/* ---- tests ---- */

static void test_enable_refusals(void **state)
{
    (void)state;
    struct virtq q;
    struct virtq_chain c;
    make_mem();
    memset(&q, 0, sizeof(q));
    static const u16 bad_sizes[] = { 0, 3, 48, 65535 };
    for (size_t i = 0; i < ARRAY_SIZE(bad_sizes); i++)
        assert_int_equal(virtq_enable(&q, &M, bad_sizes[i], DESC, AVAIL, USED, false, 4096), -EINVAL);
    /* A valid size whose descriptor table (512 KiB) is larger than RAM. */
    assert_int_equal(virtq_enable(&q, &M, 32768, DESC, AVAIL, USED, false, 4096), -EINVAL);
    assert_int_equal(virtq_enable(&q, NULL, 16, DESC, AVAIL, USED, false, 4096), -EINVAL);
    /* Misaligned areas. */
    assert_int_equal(virtq_enable(&q, &M, 16, DESC + 8, AVAIL, USED, false, 4096), -EINVAL);
    assert_int_equal(virtq_enable(&q, &M, 16, DESC, AVAIL + 1, USED, false, 4096), -EINVAL);
    assert_int_equal(virtq_enable(&q, &M, 16, DESC, AVAIL, USED + 2, false, 4096), -EINVAL);
    /* Out of range by the last descriptor, by used_event, by avail_event. */
    assert_int_equal(virtq_enable(&q, &M, 16, RAM - 15 * 16, AVAIL, USED, false, 4096), -EINVAL);
    assert_int_equal(virtq_enable(&q, &M, 16, DESC, RAM - VIRTQ_AVAIL_SIZE(16) + 2, USED, false, 4096), -EINVAL);
    assert_int_equal(virtq_enable(&q, &M, 16, DESC, AVAIL, RAM - VIRTQ_USED_SIZE(16) + 4, false, 4096), -EINVAL);
    /* Wrapping around the address space. */
    assert_int_equal(virtq_enable(&q, &M, 16, ~0ULL & ~15ULL, AVAIL, USED, false, 4096), -EINVAL);
    assert_int_equal(virtq_enable(&q, &M, 16, DESC, AVAIL, ~0ULL & ~3ULL, false, 4096), -EINVAL);
    assert_int_equal(virtq_enable(&q, &M, 16, DESC, ~0ULL - 1, USED, false, 4096), -EINVAL);
    assert_false(virtq_ready(&q));
    assert_int_equal(virtq_pop(&q, &c), -EIO);
    assert_false(virtq_pending(&q));
    /* Areas that end at the end of RAM are fine (used ends 2 bytes short:
     * its size is 2 mod 4). */
    assert_int_equal(virtq_enable(&q, &M, 16, RAM - 16 * 16, AVAIL, USED, true, 4096), 0);
    assert_true(virtq_ready(&q));
    assert_non_null(q.desc_p);
    assert_non_null(q.avail_p);
    assert_non_null(q.used_p);
    assert_int_equal(virtq_enable(&q, &M, 16, DESC, RAM - VIRTQ_AVAIL_SIZE(16), USED, false, 4096), 0);
    assert_int_equal(virtq_enable(&q, &M, 16, DESC, AVAIL, RAM - VIRTQ_USED_SIZE(16) - 2, false, 4096), 0);
    q.stats.popped = 7;
    virtq_reset(&q);
    assert_false(virtq_ready(&q));
    assert_int_equal(q.stats.popped, 7); /* statistics survive a reset */
    assert_int_equal(virtq_pop(&q, &c), -EIO);
}

/* A popped chain's head, segment counts and byte totals. */
static void expect_chain(const struct virtq_chain *c, u16 head, u16 nout, u16 nin, u32 out_bytes, u32 in_bytes)
{
    assert_int_equal(c->head, head);
    assert_int_equal(c->nout, nout);
    assert_int_equal(c->nin, nin);
    assert_int_equal(c->out_bytes, out_bytes);
    assert_int_equal(c->in_bytes, in_bytes);
}

static void test_round_trip(void **state)
{
    (void)state;
    struct virtq_chain c;
    start(16, false, 4096);
    assert_int_equal(virtq_pop(&Q, &c), 0);
    assert_false(virtq_pending(&Q));
    const struct virtq_seg s = { 0x3000, 100 };
    drv_chain(&D, 3, &s, 1, 0);
    assert_true(virtq_pending(&Q));
    assert_int_equal(virtq_pop(&Q, &c), 1);
    expect_chain(&c, 3, 1, 0, 100, 0);
    assert_int_equal(c.seg[0].gpa, 0x3000);
    assert_int_equal(c.seg[0].len, 100);
    assert_false(virtq_pending(&Q));
    assert_int_equal(virtq_pop(&Q, &c), 0);
    virtq_push(&Q, 3, 42);
    assert_int_equal(used_idx(&D), 0); /* not visible before publish */
    virtq_publish(&Q);
    assert_int_equal(used_idx(&D), 1);
    assert_int_equal(used_id(&D, 0), 3);
    assert_int_equal(used_len(&D, 0), 42);
    assert_int_equal(Q.stats.popped, 1);
    assert_int_equal(Q.stats.pushed, 1);

    /* Around the ring many times and past the 16-bit index wrap. */
    for (u32 i = 1; i < 70000; i++) {
        u16 head = (u16)(i % 16);
        drv_chain(&D, head, &s, 1, 0);
        assert_int_equal(virtq_pop(&Q, &c), 1);
        assert_int_equal(c.head, head);
        virtq_push(&Q, c.head, i);
        virtq_publish(&Q);
        assert_int_equal(used_idx(&D), (u16)(i + 1));
        assert_int_equal(used_id(&D, (u16)i), head);
        assert_int_equal(used_len(&D, (u16)i), i);
    }
    /* Several pushes, one publish. */
    for (u16 h = 0; h < 4; h++)
        drv_chain(&D, (u16)(4 * h), &s, 1, 0);
    for (u16 h = 0; h < 4; h++) {
        assert_int_equal(virtq_pop(&Q, &c), 1);
        virtq_push(&Q, c.head, 0);
    }
    assert_int_equal(used_idx(&D), (u16)70000);
    virtq_publish(&Q);
    assert_int_equal(used_idx(&D), (u16)70004);
    assert_int_equal(Q.stats.err[VQE_RING], 0);
}

static void test_multi_segment(void **state)
{
    (void)state;
    struct virtq_chain c;
    u8 pat[64], got[64];
    start(16, false, 65536);
    const struct virtq_seg s[] = {
        { 0x3000, 10 },
        { 0x3ff8, 16 }, /* out; the second crosses into chunk b */
        { 0x5000, 8 },
        { 0x3ffc, 12 }, /* in; the second crosses too */
    };
    drv_chain(&D, 5, s, 2, 2);
    assert_int_equal(virtq_pop(&Q, &c), 1);
    expect_chain(&c, 5, 2, 2, 26, 20);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c.seg[i].gpa, s[i].gpa);
        assert_int_equal(c.seg[i].len, s[i].len);
    }
    for (size_t i = 0; i < sizeof(pat); i++)
        pat[i] = (u8)(i * 13 + 5);
    put(&M, 0x3000, pat, 10);
    put(&M, 0x3ff8, pat + 10, 16);
    assert_int_equal(virtq_chain_read(&M, &c, 0, got, 26), 0);
    assert_memory_equal(got, pat, 26);
    assert_int_equal(virtq_chain_read(&M, &c, 5, got, 10), 0); /* across segments */
    assert_memory_equal(got, pat + 5, 10);
    assert_int_equal(virtq_chain_read(&M, &c, 10, got, 16), 0); /* all of the second */
    assert_memory_equal(got, pat + 10, 16);
    assert_int_equal(virtq_chain_read(&M, &c, 26, got, 0), 0);
    assert_int_equal(virtq_chain_read(&M, &c, 20, got, 7), -ERANGE);
    assert_int_equal(virtq_chain_read(&M, &c, 0xffffffffu, got, 2), -ERANGE);

    /* Writes go to the in segments only: 4 bytes into 0x5004, then 10 from 0x3ffc. */
    assert_int_equal(virtq_chain_write(&M, &c, 4, pat, 14), 0);
    assert_memory_equal(b + 0x1004, pat, 4);
    assert_memory_equal(a + 0x3ffc, pat + 4, 4);
    assert_memory_equal(b, pat + 8, 6);
    assert_int_equal(b[6], pat[24]);          /* the out segment overlaps here */
    assert_memory_equal(a + 0x3000, pat, 10); /* out bytes untouched */
    memset(got, 0xee, sizeof(got));
    u8 before[8];
    memcpy(before, b + 0x1000, 8);
    assert_int_equal(virtq_chain_write(&M, &c, 10, got, 11), -ERANGE);
    assert_memory_equal(b + 0x1000, before, 8); /* nothing written */
    /* Nothing, at the very end, is fine. */
    assert_int_equal(virtq_chain_write(&M, &c, 20, got, 0), 0);
}

static void test_copy_between_gmems(void **state)
{
    (void)state;
    struct virtq_chain src, dst;
    struct virtq q2;
    u8 pat[64], got[64];
    start(16, false, 65536);
    /* The sender's chain in M: 32 bytes across M's chunk boundary, then 5. */
    const struct virtq_seg s[] = { { 0x3ff0, 32 }, { 0x6000, 5 } };
    drv_chain(&D, 0, s, 2, 0);
    assert_int_equal(virtq_pop(&Q, &src), 1);
    for (size_t i = 0; i < sizeof(pat); i++)
        pat[i] = (u8)(0xa0 + i);
    put(&M, 0x3ff0, pat, 32);
    put(&M, 0x6000, pat + 32, 5);

    /* The receiver's chain in M2: a readable header, then 16 bytes across M2's
     * chunk boundary and 40 more. */
    memset(&q2, 0, sizeof(q2));
    struct drv rx = { &M2, 16, 0, 0x400, 0x800, 0 };
    assert_int_equal(virtq_enable(&q2, &M2, 16, 0, 0x400, 0x800, false, 65536), 0);
    const struct virtq_seg r[] = { { 0x1800, 4 }, { 0xff8, 16 }, { 0x2000, 40 } };
    drv_chain(&rx, 2, r, 1, 2);
    assert_int_equal(virtq_pop(&q2, &dst), 1);
    assert_int_equal(dst.in_bytes, 56);

    assert_int_equal(virtq_chain_copy(&M2, &dst, 3, &M, &src, 1, 36), 0);
    u8 want[56] = { 0 };
    memcpy(want + 3, pat + 1, 36);
    assert_memory_equal(c2 + 0xff8, want, 8);
    assert_memory_equal(d2, want + 8, 8);
    assert_memory_equal(d2 + 0x1000, want + 16, 40);

    /* Too long on either side: refused before anything is written. */
    memset(d2 + 0x1000, 0, 40);
    assert_int_equal(virtq_chain_copy(&M2, &dst, 20, &M, &src, 0, 37), -ERANGE);
    assert_int_equal(virtq_chain_copy(&M2, &dst, 0, &M, &src, 1, 37), -ERANGE);
    for (int i = 0; i < 40; i++)
        assert_int_equal(d2[0x1000 + i], 0);
    /* src has no in bytes to receive into. */
    assert_int_equal(virtq_chain_copy(&M, &src, 0, &M2, &dst, 0, 1), -ERANGE);
    /* The wrong guest for a chain: its addresses are not in M2. */
    assert_int_equal(virtq_chain_read(&M2, &src, 0, got, 37), -ERANGE);

    /* In one guest with overlapping buffers (the driver's choice): a move. */
    const struct virtq_seg o[] = { { 0x3000, 64 }, { 0x3010, 64 } };
    drv_chain(&D, 4, o, 1, 1);
    struct virtq_chain ov;
    assert_int_equal(virtq_pop(&Q, &ov), 1);
    put(&M, 0x3000, pat, 64);
    assert_int_equal(virtq_chain_copy(&M, &ov, 0, &M, &ov, 0, 64), 0);
    assert_memory_equal(a + 0x3010, pat, 64);
}

/* ---- bad chains ---- */

struct bad_case {
    const char *name;
    u16 size;
    enum virtq_err kind;
    void (*build)(struct drv *d);
};

static void b_addr_outside(struct drv *d) { drv_desc(d, 0, RAM - 4, 8, 0, 0); }
static void b_addr_at_end(struct drv *d) { drv_desc(d, 0, RAM, 1, 0, 0); }
static void b_addr_wrap(struct drv *d) { drv_desc(d, 0, ~0ULL - 3, 8, 0, 0); }
static void b_addr_second(struct drv *d)
{
    drv_desc(d, 0, 0x3000, 8, VIRTQ_DESC_F_NEXT, 1);
    drv_desc(d, 1, 0xfffffffffffff800ULL, 0x900, VIRTQ_DESC_F_WRITE, 0);
}
static void b_len_one(struct drv *d) { drv_desc(d, 0, 0x3000, 4097, 0, 0); }
static void b_len_total(struct drv *d)
{
    drv_desc(d, 0, 0x3000, 3000, VIRTQ_DESC_F_NEXT, 1);
    drv_desc(d, 1, 0x5000, 3000, VIRTQ_DESC_F_WRITE, 0);
}
static void b_len_huge(struct drv *d) { drv_desc(d, 0, 0x3000, 0xffffffffu, 0, 0); }
static void b_len_zero(struct drv *d) { drv_desc(d, 0, 0x3000, 0, 0, 0); }
static void b_len_zero_second(struct drv *d)
{
    drv_desc(d, 0, 0x3000, 8, VIRTQ_DESC_F_NEXT, 1);
    drv_desc(d, 1, 0x5000, 0, VIRTQ_DESC_F_WRITE, 0);
}
static void b_loop(struct drv *d)
{
    drv_desc(d, 0, 0x3000, 8, VIRTQ_DESC_F_NEXT, 1);
    drv_desc(d, 1, 0x3000, 8, VIRTQ_DESC_F_NEXT, 0);
}
static void b_self_loop(struct drv *d) { drv_desc(d, 0, 0x3000, 8, VIRTQ_DESC_F_NEXT, 0); }
static void b_next(struct drv *d) { drv_desc(d, 0, 0x3000, 8, VIRTQ_DESC_F_NEXT, 16); }
static void b_segs(struct drv *d)
{
    for (u16 i = 0; i < VIRTQ_MAX_SEGS + 1; i++)
        drv_desc(d, i, 0x3000 + 8 * i, 8, VIRTQ_DESC_F_NEXT, (u16)(i + 1));
    drv_desc(d, VIRTQ_MAX_SEGS, 0x3000, 8, 0, 0);
}
static void b_indirect(struct drv *d) { drv_desc(d, 0, 0x3000, 32, VIRTQ_DESC_F_INDIRECT, 0); }
static void b_order(struct drv *d)
{
    drv_desc(d, 0, 0x3000, 8, VIRTQ_DESC_F_WRITE | VIRTQ_DESC_F_NEXT, 1);
    drv_desc(d, 1, 0x3100, 8, 0, 0);
}

static const struct bad_case bad_cases[] = {
    { "addr outside", 16, VQE_ADDR, b_addr_outside },
    { "addr at end", 16, VQE_ADDR, b_addr_at_end },
    { "addr wraps", 16, VQE_ADDR, b_addr_wrap },
    { "second addr wraps", 16, VQE_ADDR, b_addr_second },
    { "len over limit", 16, VQE_LEN, b_len_one },
    { "chain over limit", 16, VQE_LEN, b_len_total },
    { "len 4 GiB", 16, VQE_LEN, b_len_huge },
    { "zero len", 16, VQE_LEN, b_len_zero },
    { "second zero len", 16, VQE_LEN, b_len_zero_second },
    { "loop", 16, VQE_LOOP, b_loop },
    { "self loop", 16, VQE_LOOP, b_self_loop },
    { "next out of range", 16, VQE_NEXT, b_next },
    { "too many segments", 128, VQE_SEGS, b_segs },
    { "indirect", 16, VQE_INDIRECT, b_indirect },
    { "read after write", 16, VQE_ORDER, b_order },
};

static void test_bad_chains(void **state)
{
    (void)state;
    struct virtq_chain c;
    for (size_t k = 0; k < ARRAY_SIZE(bad_cases); k++) {
        const struct bad_case *bc = &bad_cases[k];
        print_message("bad chain: %s\n", bc->name);
        start(bc->size, false, 4096);
        bc->build(&D);
        drv_avail(&D, 0);
        assert_int_equal(virtq_pop(&Q, &c), -EBADMSG);
        for (int e = 0; e < VQE_COUNT; e++)
            assert_int_equal(Q.stats.err[e], e == (int)bc->kind);
        /* Given back at once, unused, and visible. */
        assert_int_equal(used_idx(&D), 1);
        assert_int_equal(used_id(&D, 0), 0);
        assert_int_equal(used_len(&D, 0), 0);
        assert_int_equal(Q.stats.popped, 0);
        /* The queue goes on. */
        assert_true(virtq_ready(&Q));
        const struct virtq_seg s[] = { { 0x3000, 8 }, { 0x3100, 8 } };
        drv_chain(&D, 100 % bc->size, s, 1, 1);
        assert_int_equal(virtq_pop(&Q, &c), 1);
        assert_int_equal(c.head, 100 % bc->size);
        assert_int_equal(virtq_pop(&Q, &c), 0);
    }
}

static void test_longest_chains(void **state)
{
    (void)state;
    struct virtq_chain c;
    struct virtq_seg s[VIRTQ_MAX_SEGS];
    for (int i = 0; i < VIRTQ_MAX_SEGS; i++)
        s[i] = (struct virtq_seg){ 0x3000 + 16 * (u64)i, 16 };
    /* VIRTQ_MAX_SEGS segments in a bigger queue; a whole queue's worth. */
    start(128, false, 4096);
    drv_chain(&D, 10, s, 32, 32);
    assert_int_equal(virtq_pop(&Q, &c), 1);
    assert_int_equal(c.nout, 32);
    assert_int_equal(c.nin, 32);
    assert_int_equal(c.out_bytes + c.in_bytes, 1024);
    start(64, false, 1024); /* the limit itself is allowed */
    drv_chain(&D, 0, s, 64, 0);
    assert_int_equal(virtq_pop(&Q, &c), 1);
    assert_int_equal(c.nout, 64);
    start(1, false, 4096); /* a queue of one */
    drv_chain(&D, 0, s, 1, 0);
    assert_int_equal(virtq_pop(&Q, &c), 1);
    virtq_push(&Q, 0, 0);
    virtq_publish(&Q);
    drv_chain(&D, 0, s, 1, 0);
    assert_int_equal(virtq_pop(&Q, &c), 1);
}

static void test_broken_index_jump(void **state)
{
    (void)state;
    struct virtq_chain c;
    const struct virtq_seg s = { 0x3000, 8 };
    start(16, false, 4096);
    /* Exactly a full ring is fine. */
    for (u16 i = 0; i < 16; i++)
        drv_chain(&D, i, &s, 1, 0);
    for (u16 i = 0; i < 16; i++) {
        assert_int_equal(virtq_pop(&Q, &c), 1);
        assert_int_equal(c.head, i);
    }
    assert_int_equal(virtq_pop(&Q, &c), 0);
    /* One more than the ring can hold. */
    put16(&M, AVAIL + VIRTQ_AVAIL_IDX, 16 + 17);
    assert_true(virtq_pending(&Q));
    assert_int_equal(virtq_pop(&Q, &c), -EIO);
    assert_int_equal(Q.stats.err[VQE_RING], 1);
    assert_false(virtq_ready(&Q));
    /* Broken until reset, even once the index looks right again. */
    put16(&M, AVAIL + VIRTQ_AVAIL_IDX, 17);
    for (int i = 0; i < 3; i++)
        assert_int_equal(virtq_pop(&Q, &c), -EIO);
    assert_int_equal(Q.stats.err[VQE_RING], 1); /* counted once */
    assert_false(virtq_pending(&Q));
    virtq_push(&Q, 0, 0);
    virtq_publish(&Q);
    assert_int_equal(used_idx(&D), 0);
    assert_false(virtq_need_interrupt(&Q));

    /* A reset and a fresh start from index 0. */
    virtq_reset(&Q);
    assert_int_equal(Q.stats.err[VQE_RING], 1);
    assert_int_equal(virtq_enable(&Q, &M, 16, DESC, AVAIL, USED, false, 4096), 0);
    D.avail_idx = 0;
    drv_chain(&D, 7, &s, 1, 0);
    assert_int_equal(virtq_pop(&Q, &c), 1);
    assert_int_equal(c.head, 7);
}

static void test_broken_head(void **state)
{
    (void)state;
    struct virtq_chain c;
    start(16, false, 4096);
    drv_desc(&D, 0, 0x3000, 8, 0, 0);
    drv_avail(&D, 16);
    assert_int_equal(virtq_pop(&Q, &c), -EIO);
    assert_int_equal(Q.stats.err[VQE_RING], 1);
    drv_avail(&D, 0);
    assert_int_equal(virtq_pop(&Q, &c), -EIO);
    assert_int_equal(used_idx(&D), 0); /* nothing given back on a broken ring */
}

static void test_unpop(void **state)
{
    (void)state;
    struct virtq_chain c, again;
    start(16, false, 4096);
    const struct virtq_seg s[] = { { 0x3000, 8 }, { 0x3100, 20 } };
    drv_chain(&D, 6, s, 1, 1);
    assert_int_equal(virtq_pop(&Q, &c), 1);
    virtq_unpop(&Q);
    assert_true(virtq_pending(&Q));
    assert_int_equal(Q.stats.popped, 0);
    assert_int_equal(virtq_pop(&Q, &again), 1);
    assert_int_equal(again.head, 6);
    assert_int_equal(again.nout, 1);
    assert_int_equal(again.nin, 1);
    assert_int_equal(again.in_bytes, 20);
    assert_int_equal(Q.stats.popped, 1);
    assert_int_equal(virtq_pop(&Q, &c), 0);

    /* A receive buffer too small for a frame (net/vnet_data.c): given back
     * to the ring, not to the driver, and the next pop finds it first. */
    const struct virtq_seg rx[] = { { 0x3200, 64 } };
    drv_chain(&D, 9, rx, 0, 1);
    const struct virtq_seg rx2[] = { { 0x3400, 2048 } };
    drv_chain(&D, 10, rx2, 0, 1);
    assert_int_equal(virtq_pop(&Q, &c), 1);
    assert_int_equal(c.head, 9);
    virtq_unpop(&Q);
    virtq_publish(&Q);
    assert_int_equal(used_idx(&D), 0); /* nothing went back to the driver */
    assert_int_equal(virtq_avail_count(&Q), 2);
    assert_int_equal(virtq_pop(&Q, &again), 1);
    expect_chain(&again, 9, 0, 1, 0, 64);
}

static void test_event_idx(void **state)
{
    (void)state;
    start(16, true, 4096);
    assert_false(virtq_need_interrupt(&Q)); /* nothing published */
    assert_int_equal(Q.stats.interrupts + Q.stats.notifies_suppressed, 0);

    set_used_event(&D, 0);
    complete_one(0); /* idx 0 -> 1 passes 0 */
    assert_true(virtq_need_interrupt(&Q));
    assert_false(virtq_need_interrupt(&Q)); /* nothing new */
    assert_int_equal(Q.stats.interrupts, 1);

    set_used_event(&D, 3); /* "tell me when entry 3 is used" */
    complete_one(1);       /* idx 2 */
    assert_false(virtq_need_interrupt(&Q));
    complete_one(2); /* idx 3 */
    assert_false(virtq_need_interrupt(&Q));
    complete_one(3); /* idx 4: entry 3 is there */
    assert_true(virtq_need_interrupt(&Q));
    assert_int_equal(Q.stats.notifies_suppressed, 2);
    assert_int_equal(Q.stats.interrupts, 2);

    /* Two entries, one publish, the event between them. */
    set_used_event(&D, 5);
    const struct virtq_seg s = { 0x3000, 8 };
    struct virtq_chain c;
    drv_chain(&D, 4, &s, 1, 0);
    drv_chain(&D, 5, &s, 1, 0);
    assert_int_equal(virtq_pop(&Q, &c), 1);
    virtq_push(&Q, c.head, 0);
    assert_int_equal(virtq_pop(&Q, &c), 1);
    virtq_push(&Q, c.head, 0);
    virtq_publish(&Q); /* idx 4 -> 6 */
    assert_true(virtq_need_interrupt(&Q));

    /* The NO_INTERRUPT flag means nothing with EVENT_IDX (2.7.7.2). */
    put16(&M, AVAIL + VIRTQ_AVAIL_FLAGS, VIRTQ_AVAIL_F_NO_INTERRUPT);
    set_used_event(&D, 6);
    complete_one(6); /* idx 7 */
    assert_true(virtq_need_interrupt(&Q));
    /* An event already passed (entry 0) asks for nothing more. */
    set_used_event(&D, 0);
    complete_one(7);
    assert_false(virtq_need_interrupt(&Q));
    /* Wrap of the 16-bit index: event 0xffff is passed going to 0. */
    Q.used_idx = Q.published = Q.signalled = 0xfffe;
    set_used_event(&D, 0xffff);
    complete_one(8); /* 0xffff */
    assert_false(virtq_need_interrupt(&Q));
    complete_one(9); /* 0x0000 */
    assert_true(virtq_need_interrupt(&Q));

    /* avail_event: notify me at the next chain after the ones taken. */
    put16(&M, USED + VIRTQ_USED_FLAGS, 0);
    virtq_want_notify(&Q, true);
    assert_int_equal(avail_event(&D), Q.last_avail);
    assert_int_equal(avail_event(&D), 10);
    complete_one(10);
    virtq_want_notify(&Q, false); /* left alone: the driver has passed it */
    assert_int_equal(avail_event(&D), 10);
    assert_int_equal(get16(&M, USED + VIRTQ_USED_FLAGS), 0);
    /* What the driver then computes: no notification for the next chain. */
    assert_false(virtq_need_event(avail_event(&D), 12, 11));
    virtq_want_notify(&Q, true);
    assert_int_equal(avail_event(&D), 11);
    assert_true(virtq_need_event(avail_event(&D), 12, 11));
}

static void test_flags_mode(void **state)
{
    (void)state;
    start(16, false, 4096);
    put16(&M, USED + VIRTQ_USED_RING(16), 0xabcd); /* avail_event: must stay */
    put16(&M, AVAIL + VIRTQ_AVAIL_FLAGS, VIRTQ_AVAIL_F_NO_INTERRUPT);
    complete_one(0);
    assert_false(virtq_need_interrupt(&Q));
    assert_int_equal(Q.stats.notifies_suppressed, 1);
    put16(&M, AVAIL + VIRTQ_AVAIL_FLAGS, 0);
    set_used_event(&D, 100); /* ignored without EVENT_IDX */
    complete_one(1);
    assert_true(virtq_need_interrupt(&Q));
    assert_false(virtq_need_interrupt(&Q));
    assert_int_equal(Q.stats.interrupts, 1);
    virtq_want_notify(&Q, false);
    assert_int_equal(get16(&M, USED + VIRTQ_USED_FLAGS), VIRTQ_USED_F_NO_NOTIFY);
    virtq_want_notify(&Q, true);
    assert_int_equal(get16(&M, USED + VIRTQ_USED_FLAGS), 0);
    assert_int_equal(avail_event(&D), 0xabcd);
}

static void test_pending(void **state)
{
    (void)state;
    struct virtq q;
    struct virtq_chain c;
    memset(&q, 0, sizeof(q));
    assert_false(virtq_pending(&q));
    start(16, true, 4096);
    assert_false(virtq_pending(&Q));
    const struct virtq_seg s = { 0x3000, 8 };
    drv_chain(&D, 1, &s, 1, 0);
    drv_chain(&D, 2, &s, 1, 0);
    assert_true(virtq_pending(&Q));
    assert_int_equal(virtq_pop(&Q, &c), 1);
    assert_true(virtq_pending(&Q));
    assert_int_equal(virtq_pop(&Q, &c), 1);
    assert_false(virtq_pending(&Q));
    /* The usual device loop: ask, then look again. */
    virtq_want_notify(&Q, true);
    drv_chain(&D, 3, &s, 1, 0);
    assert_true(virtq_pending(&Q));
    virtq_reset(&Q);
    assert_false(virtq_pending(&Q));
}

/* Rings that straddle chunks, or whose host addresses are misaligned, go
 * through gmem_read/gmem_write; the behaviour is the same. */
static void check_slow_path(struct gmem *m, u64 desc, u64 avail, u64 used, u64 buf)
{
    struct virtq_chain c;
    memset(&Q, 0, sizeof(Q));
    D = (struct drv){ m, 16, desc, avail, used, 0 };
    assert_int_equal(virtq_enable(&Q, m, 16, desc, avail, used, true, 4096), 0);
    assert_null(Q.desc_p);
    assert_null(Q.avail_p);
    assert_null(Q.used_p);
    const struct virtq_seg s[] = { { buf, 8 }, { buf + 0x100, 8 } };
    for (u16 i = 0; i < 40; i++) {
        drv_chain(&D, (u16)(i % 15), s, 1, 1);
        assert_true(virtq_pending(&Q));
        assert_int_equal(virtq_pop(&Q, &c), 1);
        assert_int_equal(c.head, i % 15);
        assert_int_equal(c.in_bytes, 8);
        virtq_push(&Q, c.head, 8);
        virtq_publish(&Q);
        assert_int_equal(used_idx(&D), (u16)(i + 1));
        assert_int_equal(used_id(&D, i), i % 15);
        put16(m, avail + VIRTQ_AVAIL_RING(16), i);
        assert_true(virtq_need_interrupt(&Q));
        virtq_want_notify(&Q, true);
        assert_int_equal(avail_event(&D), i + 1);
    }
    drv_desc(&D, 15, buf, 0, 0, 0);
    drv_avail(&D, 15);
    assert_int_equal(virtq_pop(&Q, &c), -EBADMSG);
    drv_avail(&D, 16);
    assert_int_equal(virtq_pop(&Q, &c), -EIO);
}

static void test_slow_path(void **state)
{
    (void)state;
    struct gmem m;
    make_mem();
    /* Four chunks over a and b: boundaries at 0x2000, 0x4000, 0x6000. */
    memset(&m, 0, sizeof(m));
    assert_int_equal(gmem_add(&m, 0, a, 0x2000, 0), 0);
    assert_int_equal(gmem_add(&m, 0, a + 0x2000, 0x2000, 0), 0);
    assert_int_equal(gmem_add(&m, 0, b, 0x2000, 0), 0);
    assert_int_equal(gmem_add(&m, 0, b + 0x2000, 0x2000, 0), 0);
    check_slow_path(&m, 0x1f80, 0x3ff0, 0x5fe0, 0x7000);
    /* One chunk at an odd host address: no aligned host pointer for any area. */
    memset(&m, 0, sizeof(m));
    assert_int_equal(gmem_add(&m, 0, a + 1, 0x3fff, 0), 0);
    check_slow_path(&m, 0, 0x1000, 0x2000, 0x3000);
}

static void test_err_names(void **state)
{
    (void)state;
    for (int e = 0; e < VQE_COUNT; e++) {
        assert_non_null(virtq_err_name(e));
        assert_string_not_equal(virtq_err_name(e), "?");
    }
    assert_string_equal(virtq_err_name(VQE_LOOP), "loop");
    assert_string_equal(virtq_err_name(VQE_COUNT), "?");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_enable_refusals),
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_multi_segment),
        cmocka_unit_test(test_copy_between_gmems),
        cmocka_unit_test(test_bad_chains),
        cmocka_unit_test(test_longest_chains),
        cmocka_unit_test(test_broken_index_jump),
        cmocka_unit_test(test_broken_head),
        cmocka_unit_test(test_unpop),
        cmocka_unit_test(test_event_idx),
        cmocka_unit_test(test_flags_mode),
        cmocka_unit_test(test_pending),
        cmocka_unit_test(test_slow_path),
        cmocka_unit_test(test_err_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
