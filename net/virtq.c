/* See virtq.h. Section numbers are those of OASIS virtio v1.2. */
#include "net/virtq.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

/* The rings are little-endian (2.4: le16/le32/le64 fields); so is x86-64, so
 * fields are used as they lie in memory. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "virtq.c assumes a little-endian host");

/* ---- ring memory ----
 * Each area is reached through its cached host pointer when it lies in one
 * chunk, else through gmem_read/gmem_write. virtq_enable checked that every
 * area lies in [0, mem->size), so a failing access means guest memory changed
 * under the queue: the caller treats it as a corrupt ring. */

static bool area_write(const struct virtq *q, u8 *p, u64 base, u64 off, const void *src, u32 len)
{
    if (p) {
        memcpy(p + off, src, len);
        return true;
    }
    return gmem_write(q->mem, base + off, src, len) == 0;
}

/* The host address of an aligned 16-bit field of an uncached area, or NULL
 * when it must go through gmem (it straddles chunks, which only odd-sized
 * chunks allow). */
static u16 *field16(const struct virtq *q, u64 base, u64 off)
{
    u16 *f = gmem_ptr(q->mem, base + off, 2);
    return f && !((uintptr_t)f & 1) ? f : NULL;
}

static bool load16_slow(const struct virtq *q, u64 base, u64 off, u16 *v)
{
    u16 *f = field16(q, base, off);
    if (f) {
        *v = __atomic_load_n(f, __ATOMIC_RELAXED);
        return true;
    }
    return gmem_read(q->mem, base + off, v, 2) == 0;
}

/* Indices and flags the driver writes concurrently are read with one 16-bit
 * load, so the value used is the value checked (2.7.13.3). A cached area is
 * aligned (area_ptr), so its fields are: the usual case is one load in line. */
static inline bool load16(const struct virtq *q, u8 *p, u64 base, u64 off, u16 *v)
{
    if (likely(p)) {
        *v = __atomic_load_n((const u16 *)(const void *)(p + off), __ATOMIC_RELAXED);
        return true;
    }
    return load16_slow(q, base, off, v);
}

static bool store16(const struct virtq *q, u8 *p, u64 base, u64 off, u16 v)
{
    u16 *f = p ? (u16 *)(void *)(p + off) : field16(q, base, off);
    if (f) {
        __atomic_store_n(f, v, __ATOMIC_RELAXED);
        return true;
    }
    return gmem_write(q->mem, base + off, &v, 2) == 0;
}

/* Descriptor i, copied out of guest memory exactly once (virtq_desc_load
 * when the table is cached). */
static inline bool read_desc(const struct virtq *q, u16 i, struct virtq_desc *d)
{
    if (likely(q->desc_p)) {
        virtq_desc_load(q, i, d);
        return true;
    }
    return gmem_read(q->mem, q->desc + 16 * (u64)i, d, sizeof(*d)) == 0;
}

static bool inside(const struct gmem *m, u64 g, u64 len) { return virtq_inside(m, g, len); }

/* ---- set-up ---- */

void virtq_reset(struct virtq *q)
{
    struct virtq_stats s = q->stats;
    memset(q, 0, sizeof(*q));
    q->stats = s;
}

/* An area is cached only when it is in one chunk and its host address keeps
 * the guest alignment, so the 16- and 64-bit atomic accesses are aligned. */
static u8 *area_ptr(const struct gmem *m, u64 g, u64 len, u64 align)
{
    u8 *p = gmem_ptr(m, g, len);
    return p && IS_ALIGNED((uintptr_t)p, align) ? p : NULL;
}

int virtq_enable(struct virtq *q, const struct gmem *mem, u16 size, u64 desc, u64 avail, u64 used, bool event_idx,
                 u32 max_bytes)
{
    virtq_reset(q);
    /* 2.7: Queue Size is a power of 2, at most 32768; the areas are aligned as
     * the "Virtqueue Part Alignment" table says. The sizes include used_event
     * and avail_event whether or not EVENT_IDX was negotiated (2.7.6, 2.7.8). */
    if (!mem || !size || size > VIRTQ_MAX_SIZE || (size & (size - 1)))
        return -EINVAL;
    if (!IS_ALIGNED(desc, VIRTQ_DESC_ALIGN) || !IS_ALIGNED(avail, VIRTQ_AVAIL_ALIGN) ||
        !IS_ALIGNED(used, VIRTQ_USED_ALIGN))
        return -EINVAL;
    if (!inside(mem, desc, 16 * (u64)size) || !inside(mem, avail, VIRTQ_AVAIL_SIZE(size)) ||
        !inside(mem, used, VIRTQ_USED_SIZE(size)))
        return -EINVAL;
    q->mem = mem;
    q->size = size;
    q->desc = desc;
    q->avail = avail;
    q->used = used;
    q->event_idx = event_idx;
    q->max_bytes = max_bytes;
    q->desc_p = area_ptr(mem, desc, 16 * (u64)size, VIRTQ_DESC_ALIGN);
    q->avail_p = area_ptr(mem, avail, VIRTQ_AVAIL_SIZE(size), VIRTQ_AVAIL_ALIGN);
    q->used_p = area_ptr(mem, used, VIRTQ_USED_SIZE(size), VIRTQ_USED_ALIGN);
    return 0;
}

/* ---- taking chains ---- */

static int ring_broken(struct virtq *q)
{
    if (!q->broken)
        q->stats.err[VQE_RING]++;
    q->broken = true;
    return -EIO;
}

/* Walks the chain from head into *c. VQE_COUNT when it is good, else what is
 * wrong with it; VQE_RING when the descriptor table could not be read. */
static enum virtq_err walk_chain_long(struct virtq *q, u16 head, struct virtq_chain *c)
{
    const struct gmem *m = q->mem;
    u64 total = 0;
    u16 i = head;
    u16 seen[VIRTQ_MAX_SEGS]; /* descriptors of this chain so far: a revisit is a loop */

    c->head = head;
    c->nout = c->nin = 0;
    c->out_bytes = c->in_bytes = 0;
    /* 2.7.5: the queue size is the longest possible chain (and 2.7.5.2 forbids
     * loops), so a chain longer than that is a loop. VIRTQ_MAX_SEGS stops all
     * but small queues' chains first, which keeps the work per chain bounded. */
    for (u32 n = 0;; n++) {
        struct virtq_desc d;
        if (n == q->size)
            return VQE_LOOP;
        if (!read_desc(q, i, &d))
            return VQE_RING;
        /* 2.7.5.3: indirect descriptors need VIRTIO_RING_F_INDIRECT_DESC,
         * which the device does not offer. */
        if (d.flags & VIRTQ_DESC_F_INDIRECT)
            return VQE_INDIRECT;
        /* Zero-length buffers carry nothing and are refused like overlong
         * ones; the total cannot pass 2^32 either (2.7.5.2). */
        if (!d.len || d.len > q->max_bytes)
            return VQE_LEN;
        total += d.len;
        if (total > q->max_bytes)
            return VQE_LEN;
        if (!inside(m, d.addr, d.len))
            return VQE_ADDR;
        if (c->nout + c->nin == VIRTQ_MAX_SEGS)
            return VQE_SEGS;
        seen[c->nout + c->nin] = i;
        if (d.flags & VIRTQ_DESC_F_WRITE) {
            c->seg[c->nout + c->nin++] = (struct virtq_seg){ d.addr, d.len };
            c->in_bytes += d.len;
        } else {
            /* 2.7.4.2: device-readable descriptors come before writable ones. */
            if (c->nin)
                return VQE_ORDER;
            c->seg[c->nout++] = (struct virtq_seg){ d.addr, d.len };
            c->out_bytes += d.len;
        }
        if (!(d.flags & VIRTQ_DESC_F_NEXT))
            return VQE_COUNT;
        if (d.next >= q->size)
            return VQE_NEXT;
        /* A loop shorter than VIRTQ_MAX_SEGS is named as one; a longer one is
         * stopped by the segment limit above. */
        for (u32 k = 0; k < (u32)(c->nout + c->nin); k++)
            if (seen[k] == d.next)
                return VQE_LOOP;
        i = d.next;
    }
}

/* walk_chain for the usual chain of one descriptor (one buffer per frame,
 * 5.1.6.6): the same checks on the same single copy of the descriptor, without
 * the loop's bookkeeping; anything with NEXT or INDIRECT takes the full walk,
 * which reads the descriptor again and decides on that copy alone. */
static inline enum virtq_err walk_chain(struct virtq *q, u16 head, struct virtq_chain *c)
{
    struct virtq_desc d;
    if (unlikely(!read_desc(q, head, &d)))
        return VQE_RING;
    if (unlikely(d.flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)))
        return walk_chain_long(q, head, c);
    c->head = head;
    enum virtq_err e = virtq_single_check(q, &d);
    if (e == VQE_COUNT)
        virtq_single_fill(c, head, &d);
    return e;
}

/* Reads avail->idx again, once every entry up to the last value read has
 * been taken: the driver only ever moves it forward, and what it made
 * available stays so until taken, so a batch costs one read and one fence.
 * 0 when nothing new, 1 when there is, -EIO when the ring is corrupt. */
static int avail_refresh(struct virtq *q)
{
    u16 idx;
    if (!load16(q, q->avail_p, q->avail, VIRTQ_AVAIL_IDX, &idx))
        return ring_broken(q);
    u16 n = (u16)(idx - q->last_avail);
    if (!n)
        return 0;
    /* The driver can never have more than size chains outstanding (2.7.6):
     * a larger jump means the index, and so the ring, is garbage. */
    if (n > q->size)
        return ring_broken(q);
    /* Pairs with the driver's barrier before it bumps idx (2.7.13.3): the
     * ring entries and descriptors are read only after idx was. */
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    q->avail_seen = idx;
    return 1;
}

static int pop(struct virtq *q, struct virtq_chain *c, bool give_back)
{
    u16 head;

    if (!virtq_ready(q))
        return -EIO;
    if (q->avail_seen == q->last_avail) {
        int r = avail_refresh(q);
        if (r <= 0)
            return r;
    }
    if (!load16(q, q->avail_p, q->avail, VIRTQ_AVAIL_RING(q->last_avail & (q->size - 1)), &head))
        return ring_broken(q);
    if (head >= q->size)
        return ring_broken(q);
    q->last_avail++;

    enum virtq_err e = walk_chain(q, head, c);
    if (e == VQE_RING)
        return ring_broken(q);
    if (e != VQE_COUNT) {
        /* Give the buffers back at once, unused, so a driver bug costs the
         * driver its buffers but never stalls the queue. */
        q->stats.err[e]++;
        c->head = head;
        if (give_back) {
            virtq_push(q, head, 0);
            virtq_publish(q);
        }
        return -EBADMSG;
    }
    q->stats.popped++;
    return 1;
}

int virtq_pop_slow(struct virtq *q, struct virtq_chain *c) { return pop(q, c, true); }

int virtq_pop_keep(struct virtq *q, struct virtq_chain *c) { return pop(q, c, false); }

void virtq_unpop(struct virtq *q) { virtq_unpop_n(q, 1); }

void virtq_unpop_n(struct virtq *q, u16 n)
{
    if (!virtq_ready(q))
        return;
    q->last_avail = (u16)(q->last_avail - n);
    q->stats.popped -= n;
}

u16 virtq_avail_count(struct virtq *q)
{
    u16 idx;
    if (!virtq_ready(q) || !load16(q, q->avail_p, q->avail, VIRTQ_AVAIL_IDX, &idx))
        return 0;
    u16 n = (u16)(idx - q->last_avail);
    return n > q->size ? 0 : n;
}

bool virtq_pending(struct virtq *q)
{
    u16 idx;
    if (!virtq_ready(q))
        return false;
    /* Entries up to the last index read stay available whatever the driver
     * writes there since (virtq_pop takes them): the answer agrees with it. */
    if (q->avail_seen != q->last_avail)
        return true;
    if (!load16(q, q->avail_p, q->avail, VIRTQ_AVAIL_IDX, &idx))
        return false;
    return idx != q->last_avail; /* a corrupt idx counts: virtq_pop reports it */
}

/* ---- giving chains back ---- */

void virtq_push_slow(struct virtq *q, u16 head, u32 written)
{
    if (!virtq_ready(q))
        return;
    u64 off = VIRTQ_USED_RING(q->used_idx & (q->size - 1));
    struct virtq_used_elem e = { head, written };
    if (!area_write(q, q->used_p, q->used, off, &e, sizeof(e))) {
        ring_broken(q);
        return;
    }
    q->used_idx++;
    q->stats.pushed++;
}

void virtq_publish(struct virtq *q)
{
    if (!virtq_ready(q) || q->used_idx == q->published)
        return;
    /* 2.7.8.2: the used elements must be visible before idx says they are. */
    __atomic_thread_fence(__ATOMIC_RELEASE);
    if (!store16(q, q->used_p, q->used, VIRTQ_USED_IDX, q->used_idx)) {
        ring_broken(q);
        return;
    }
    q->published = q->used_idx;
}

bool virtq_need_interrupt(struct virtq *q)
{
    u16 v;
    bool need;

    if (!virtq_ready(q) || q->published == q->signalled)
        return false;
    /* The used idx store must be globally visible before the driver's
     * used_event or flags are read: the driver writes those and then rereads
     * idx, so with a weaker order both sides could miss the other's update
     * and the interrupt would be lost (2.7.7). */
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    if (q->event_idx) {
        /* 2.7.7.2: interrupt only when the index passed used_event since the
         * last decision. The entries seen then and not signalled were, by the
         * driver's own used_event at the time, not wanted; it rechecks idx
         * after moving used_event (2.7.14). */
        if (!load16(q, q->avail_p, q->avail, VIRTQ_AVAIL_RING(q->size), &v))
            return ring_broken(q), false;
        need = virtq_need_event(v, q->published, q->signalled);
    } else {
        if (!load16(q, q->avail_p, q->avail, VIRTQ_AVAIL_FLAGS, &v))
            return ring_broken(q), false;
        need = !(v & VIRTQ_AVAIL_F_NO_INTERRUPT);
    }
    q->signalled = q->published;
    if (need)
        q->stats.interrupts++;
    else
        q->stats.notifies_suppressed++;
    return need;
}

void virtq_want_notify(struct virtq *q, bool on)
{
    if (!virtq_ready(q))
        return;
    bool ok = true;
    if (q->event_idx) {
        /* 2.7.10: the driver notifies when its idx passes avail_event. To
         * stay quiet nothing needs writing: the value last written is one the
         * driver has already passed. */
        if (on)
            ok = store16(q, q->used_p, q->used, VIRTQ_USED_RING(q->size), q->last_avail);
    } else {
        ok = store16(q, q->used_p, q->used, VIRTQ_USED_FLAGS, on ? 0 : VIRTQ_USED_F_NO_NOTIFY);
    }
    if (!ok) {
        ring_broken(q);
        return;
    }
    /* The request must be visible before the caller rereads avail idx
     * (virtq_pending), the mirror of the barrier in virtq_need_interrupt. */
    if (on)
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

bool virtq_want_more(struct virtq *q)
{
    u16 idx, again;
    if (!virtq_ready(q) || !load16(q, q->avail_p, q->avail, VIRTQ_AVAIL_IDX, &idx))
        return false;
    bool ok = q->event_idx ? store16(q, q->used_p, q->used, VIRTQ_USED_RING(q->size), idx)
                           : store16(q, q->used_p, q->used, VIRTQ_USED_FLAGS, 0);
    if (!ok) {
        ring_broken(q);
        return false;
    }
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    return load16(q, q->avail_p, q->avail, VIRTQ_AVAIL_IDX, &again) && again != idx;
}

/* ---- moving bytes ----
 * A position in a chain's out or in segments seen as one byte stream. The
 * chain was checked when popped; the walk still stops at its last segment. */
struct stream {
    const struct virtq_seg *seg, *end;
    u32 at; /* offset into *seg */
};

static int stream_open(struct stream *s, const struct virtq_chain *c, bool in, u32 off, u32 len)
{
    if ((u32)c->nout + c->nin > VIRTQ_MAX_SEGS)
        return -EINVAL;
    if ((u64)off + len > (in ? c->in_bytes : c->out_bytes))
        return -ERANGE;
    s->seg = c->seg + (in ? c->nout : 0);
    s->end = s->seg + (in ? c->nin : c->nout);
    s->at = off;
    return 0;
}

/* The guest address of the current position and the bytes left in its
 * segment; 0 past the end. */
static u32 stream_peek(struct stream *s, u64 *g)
{
    while (s->seg < s->end && s->at >= s->seg->len) {
        s->at -= s->seg->len;
        s->seg++;
    }
    if (s->seg == s->end)
        return 0;
    *g = s->seg->gpa + s->at;
    return s->seg->len - s->at;
}

/* Moves len bytes between the hypervisor buffer and the chain's out (read)
 * or in (write) segments, from offset off of that stream. */
static int chain_xfer(const struct gmem *m, const struct virtq_chain *c, bool write, u32 off, u8 *buf, u32 len)
{
    if (len <= KCOPY_SMALL_MAX) {
        u8 *p = virtq_chain_span(m, c, write, off, len);
        if (p) {
            if (write)
                kcopy_small(p, buf, len);
            else
                kcopy_small(buf, p, len);
            return 0;
        }
    }
    struct stream s;
    int rc = stream_open(&s, c, write, off, len);
    while (!rc && len) {
        u64 g;
        u32 n = MIN(stream_peek(&s, &g), len);
        if (!n)
            return -ERANGE;
        rc = write ? gmem_write(m, g, buf, n) : gmem_read(m, g, buf, n);
        s.at += n;
        buf += n;
        len -= n;
    }
    return rc;
}

int virtq_chain_read(const struct gmem *m, const struct virtq_chain *c, u32 off, void *dst, u32 len)
{
    return chain_xfer(m, c, false, off, dst, len);
}

int virtq_chain_write(const struct gmem *m, const struct virtq_chain *c, u32 off, const void *src, u32 len)
{
    /* chain_xfer only reads from buf when writing to the guest. */
    return chain_xfer(m, c, true, off, (u8 *)(uintptr_t)src, len);
}

/* The host bytes from g to the end of its chunk. */
static u8 *chunk_run(const struct gmem *m, u64 g, u64 *n)
{
    const struct gmem_chunk *ch = gmem_chunk_of(m, g);
    if (!ch)
        return NULL;
    *n = ch->size - (g - ch->gpa);
    return ch->hva + (g - ch->gpa);
}

/* Whether [a, a + n) and [b, b + n) share a byte. */
static inline bool overlap(const u8 *a, const u8 *b, u32 n) { return a < b + n && b < a + n; }

int virtq_chain_copy(const struct gmem *dm, const struct virtq_chain *dst, u32 doff, const struct gmem *sm,
                     const struct virtq_chain *src, u32 soff, u32 len)
{
    /* The usual frame: in one segment and one chunk on both sides. */
    u8 *to = virtq_chain_span(dm, dst, true, doff, len),
       *from = to ? virtq_chain_span(sm, src, false, soff, len) : NULL;
    if (from) {
        if (len <= KCOPY_SMALL_MAX && !overlap(to, from, len))
            kcopy_small(to, from, len);
        else
            memmove(to, from, len);
        return 0;
    }
    struct stream d, s;
    int rc = stream_open(&d, dst, true, doff, len);
    if (!rc)
        rc = stream_open(&s, src, false, soff, len);
    /* Piece by piece, each piece within one segment and one chunk on both
     * sides, straight from one guest to the other. memmove, not memcpy: in one
     * partition the driver may well hand overlapping buffers. */
    while (!rc && len) {
        u64 dg = 0, sg = 0, dn = 0, sn = 0;
        u32 n = MIN(MIN(stream_peek(&d, &dg), stream_peek(&s, &sg)), len);
        u8 *dp = chunk_run(dm, dg, &dn), *sp = chunk_run(sm, sg, &sn);
        if (!n || !dp || !sp)
            return -ERANGE;
        n = (u32)MIN((u64)n, MIN(dn, sn));
        memmove(dp, sp, n);
        d.at += n;
        s.at += n;
        len -= n;
    }
    return rc;
}

const char *virtq_err_name(enum virtq_err e)
{
    static const char *const names[VQE_COUNT] = {
        [VQE_ADDR] = "addr", [VQE_LEN] = "len",     [VQE_LOOP] = "loop",         [VQE_NEXT] = "next",
        [VQE_SEGS] = "segs", [VQE_ORDER] = "order", [VQE_INDIRECT] = "indirect", [VQE_RING] = "ring",
    };
    return (unsigned)e < VQE_COUNT ? names[e] : "?";
}
