/* The device side of a virtio 1.x split virtqueue (virtio v1.2 2.7), over a
 * partition's guest memory (vmm/gmem.h). Everything in the rings is the
 * guest's and untrusted: each descriptor is copied out once and checked
 * before use, and nothing is ever read or written outside the partition.
 *
 * Two kinds of error:
 *  - a bad chain (an address outside guest RAM, a length over the limit, a
 *    loop, a `next` out of range, too many segments, an indirect descriptor,
 *    a readable segment after a writable one): the chain is completed at once
 *    with length 0 (the guest gets its buffers back), the error is counted by
 *    kind, and virtq_pop() returns -EBADMSG; the queue keeps working;
 *  - a corrupt ring (the avail index jumps by more than the queue size, a head
 *    index out of range, ring memory that stopped being RAM): the queue is
 *    marked broken, virtq_pop() returns -EIO from then on, and the transport
 *    sets DEVICE_NEEDS_RESET. Only a reset (virtq_reset) clears it.
 *
 * Not thread-safe: the caller serialises the calls on one queue (the port's
 * lock). The guest runs concurrently; indices are read once, with the
 * ordering the spec asks for (2.7.13, 2.7.14). Arch-neutral. */
#ifndef ISTHMUS_NET_VIRTQ_H
#define ISTHMUS_NET_VIRTQ_H

#include "kernel/lib/types.h"
#include "net/virtio.h"
#include "vmm/gmem.h"
#include "kernel/lib/string.h"

#define VIRTQ_MAX_SEGS 64 /* descriptors in one chain */

struct virtq_seg {
    u64 gpa;
    u32 len;
};

/* One popped chain: its readable ("out") segments, then its writable ("in")
 * ones, each in chain order. */
struct virtq_chain {
    u16 head;
    u16 nout, nin;
    u32 out_bytes, in_bytes;
    struct virtq_seg seg[VIRTQ_MAX_SEGS]; /* [0, nout) out, [nout, nout + nin) in */
};

enum virtq_err {
    VQE_ADDR,     /* a segment outside guest RAM (or wrapping) */
    VQE_LEN,      /* a segment, or the chain, longer than the limit; or empty */
    VQE_LOOP,     /* a chain longer than the queue: a loop */
    VQE_NEXT,     /* `next` out of range */
    VQE_SEGS,     /* more than VIRTQ_MAX_SEGS segments */
    VQE_ORDER,    /* a readable segment after a writable one */
    VQE_INDIRECT, /* VIRTQ_DESC_F_INDIRECT, which is not offered */
    VQE_RING,     /* the ring itself is corrupt (the queue is broken) */
    VQE_COUNT
};

struct virtq_stats {
    u64 popped, pushed;
    u64 notifies_suppressed; /* interrupts not needed thanks to event suppression */
    u64 interrupts;          /* times virtq_need_interrupt() said yes */
    u64 err[VQE_COUNT];
};

struct virtq {
    const struct gmem *mem;
    u16 size;              /* power of two, 1..VIRTQ_MAX_SIZE; 0 = not enabled */
    u64 desc, avail, used; /* guest-physical */
    bool event_idx;        /* VIRTIO_RING_F_EVENT_IDX negotiated */
    u32 max_bytes;         /* longest chain accepted, in bytes */
    u16 last_avail;        /* next avail entry to take */
    u16 avail_seen;        /* avail->idx as last read and checked: entries up to it are known available */
    u16 used_idx;          /* next used entry to fill */
    u16 published;         /* used->idx as last written */
    u16 signalled;         /* used->idx at the last virtq_need_interrupt() */
    bool broken;
    /* Host pointers to the three areas when each lies in one host block (the
     * usual case); NULL means every access goes through gmem_read/gmem_write. */
    u8 *desc_p, *avail_p, *used_p;
    struct virtq_stats stats;
};

/* Forgets everything but the statistics (device reset, queue disable). */
void virtq_reset(struct virtq *q);
/* Starts using the rings the driver set up. -EINVAL when size is not a power
 * of two in 1..VIRTQ_MAX_SIZE, an area is misaligned (VIRTQ_*_ALIGN), or any
 * part of an area lies outside [0, mem->size) (which also covers wrapping). */
int virtq_enable(struct virtq *q, const struct gmem *mem, u16 size, u64 desc, u64 avail, u64 used, bool event_idx,
                 u32 max_bytes) __must_check;
static inline bool virtq_ready(const struct virtq *q) { return q->size && !q->broken; }
/* [g, g + len) inside guest RAM, without computing g + len (it may wrap). */
static inline bool virtq_inside(const struct gmem *m, u64 g, u64 len) { return g <= m->size && len <= m->size - g; }

/* Descriptor i from a cached table, copied out exactly once: two 8-byte loads
 * the compiler may not repeat (a plain memcpy could legally be re-fetched
 * later, a double fetch the guest could race), taken apart in registers
 * (2.7.5: addr le64, len le32, flags le16, next le16). */
static inline void virtq_desc_load(const struct virtq *q, u16 i, struct virtq_desc *d)
{
    const u64 *at = (const u64 *)(const void *)(q->desc_p + 16 * (u64)i);
    u64 w0 = __atomic_load_n(&at[0], __ATOMIC_RELAXED), w1 = __atomic_load_n(&at[1], __ATOMIC_RELAXED);
    d->addr = w0;
    d->len = (u32)w1;
    d->flags = (u16)(w1 >> 32);
    d->next = (u16)(w1 >> 48);
}

/* A descriptor without NEXT or INDIRECT as a whole chain (the usual one:
 * one buffer per frame, 5.1.6.6): VQE_COUNT when good, else what is wrong.
 * Zero-length buffers carry nothing and are refused like overlong ones. */
static inline enum virtq_err virtq_single_check(const struct virtq *q, const struct virtq_desc *d)
{
    if (unlikely(!d->len || d->len > q->max_bytes))
        return VQE_LEN;
    if (unlikely(!virtq_inside(q->mem, d->addr, d->len)))
        return VQE_ADDR;
    return VQE_COUNT;
}

static inline void virtq_single_fill(struct virtq_chain *c, u16 head, const struct virtq_desc *d)
{
    bool in = d->flags & VIRTQ_DESC_F_WRITE;
    c->head = head;
    c->seg[0] = (struct virtq_seg){ d->addr, d->len };
    c->nout = !in;
    c->nin = in;
    c->out_bytes = in ? 0 : d->len;
    c->in_bytes = in ? d->len : 0;
}

/* virtq_pop for everything but its in-line case. */
int virtq_pop_slow(struct virtq *q, struct virtq_chain *c) __must_check;
/* 1 with the next chain in *c; 0 when the driver has made none available;
 * -EBADMSG when the next chain was bad (already completed with length 0 and
 * counted, so the caller just goes on); -EIO when the ring is corrupt or the
 * queue broken or not enabled.
 *
 * In line: an entry already known available (up to the avail index last
 * read and fenced), cached rings, and a good chain of one descriptor. The
 * ring entry and the descriptor are each loaded once and decided on; when
 * anything is not so, virtq_pop_slow starts over from its own loads. */
/* The in-line case of virtq_pop without taking the entry: true with the
 * next chain's head and its one descriptor, copied out once and checked,
 * when that chain is already known available in cached rings and is a good
 * chain of one descriptor; false when anything is not so (virtq_pop then
 * decides, from its own loads). virtq_take takes what it showed. */
static __inline_always bool virtq_peek_single(const struct virtq *q, u16 *head, struct virtq_desc *d)
{
    if (likely(q->avail_seen != q->last_avail && !q->broken && q->avail_p && q->desc_p)) {
        u16 h = __atomic_load_n(
            (const u16 *)(const void *)(q->avail_p + VIRTQ_AVAIL_RING(q->last_avail & (q->size - 1))),
            __ATOMIC_RELAXED);
        if (likely(h < q->size)) {
            virtq_desc_load(q, h, d);
            *head = h;
            return likely(!(d->flags & (VIRTQ_DESC_F_NEXT | VIRTQ_DESC_F_INDIRECT)) &&
                          virtq_single_check(q, d) == VQE_COUNT);
        }
    }
    return false;
}
/* Takes the chain virtq_peek_single showed last. */
static __inline_always void virtq_take(struct virtq *q)
{
    q->last_avail++;
    q->stats.popped++;
}
static __inline_always int __must_check virtq_pop(struct virtq *q, struct virtq_chain *c)
{
    u16 head;
    struct virtq_desc d;
    if (likely(virtq_peek_single(q, &head, &d))) {
        virtq_single_fill(c, head, &d);
        virtq_take(q);
        return 1;
    }
    return virtq_pop_slow(q, c);
}
/* Gives back the chain popped last, as if it had not been taken (a frame held
 * back by the shim or by a full receiver). Only right after a successful pop. */
void virtq_unpop(struct virtq *q);
/* The same for the n chains popped last, none given back since. */
void virtq_unpop_n(struct virtq *q, u16 n);
/* virtq_pop, except that a bad chain is taken and counted but not given
 * back: -EBADMSG with its head in c->head, for the caller to push (with
 * what it pushes before it: a frame over several buffers). */
int virtq_pop_keep(struct virtq *q, struct virtq_chain *c) __must_check;
/* virtq_push for an uncached used ring or a queue not ready. */
void virtq_push_slow(struct virtq *q, u16 head, u32 written);
/* Puts chain `head` in the used ring with `written` bytes written into it.
 * Not visible to the driver until virtq_publish(). */
static __inline_always void virtq_push(struct virtq *q, u16 head, u32 written)
{
    if (likely(q->used_p && q->size && !q->broken)) {
        /* 2.7.8: le32 id, le32 len; one 8-byte store (the area is 4-aligned,
         * an element 8 bytes from a 4-byte header: a u64 store at any
         * alignment is fine on x86-64, and the driver reads the element
         * only after idx says so). */
        *(kcopy_u64 *)(void *)(q->used_p + VIRTQ_USED_RING(q->used_idx & (q->size - 1))) = (u64)head | (u64)written
                                                                                                           << 32;
        q->used_idx++;
        q->stats.pushed++;
        return;
    }
    virtq_push_slow(q, head, written);
}
/* Makes the pushed entries visible (used->idx, after the entries). */
void virtq_publish(struct virtq *q);
/* After a publish: whether the driver asked for an interrupt for the entries
 * published since the last call (used_event with EVENT_IDX, else the
 * NO_INTERRUPT flag). Counts either way. */
bool virtq_need_interrupt(struct virtq *q);
/* Asks the driver to notify (on) at the next buffer it adds, or not to (off):
 * avail_event = last_avail with EVENT_IDX, else the NO_NOTIFY flag. After
 * asking, check virtq_pending() again: the driver may have added one just
 * before it saw the request. */
void virtq_want_notify(struct virtq *q, bool on);
/* Whether the driver has made chains available that were not popped yet. */
bool virtq_pending(struct virtq *q);
/* Asks the driver to notify when it makes more chains available than it has
 * now, the ones not taken yet included (virtq_want_notify asks only past the
 * next one to take). True when it did so meanwhile: look again. */
bool virtq_want_more(struct virtq *q);

/* How many chains the driver has made available and not popped yet (at most
 * the queue size; a corrupt index counts as 0). */
u16 virtq_avail_count(struct virtq *q);

/* The host address of [off, off + len) of the chain's out (in: in) bytes,
 * when that range lies in the first such segment and in one chunk of m: the
 * usual place of a virtio-net header and of a whole frame (one descriptor per
 * buffer, 5.1.6.6). Else NULL, and the caller goes through the copies below.
 * The chain was checked against m when popped. */
static inline u8 *virtq_chain_span(const struct gmem *m, const struct virtq_chain *c, bool in, u32 off, u32 len)
{
    u32 k = in ? c->nout : 0;
    if (!(in ? c->nin : c->nout) || k >= VIRTQ_MAX_SEGS)
        return NULL;
    const struct virtq_seg *sg = &c->seg[k];
    if ((u64)off + len > sg->len)
        return NULL;
    return gmem_ptr_fast(m, sg->gpa + off, len);
}

/* Copies between a chain and the hypervisor: the chain's out segments seen as
 * one byte stream, from offset off. -ERANGE when the chain is too short. */
int virtq_chain_read(const struct gmem *m, const struct virtq_chain *c, u32 off, void *dst, u32 len) __must_check;
/* The same over the in segments. */
int virtq_chain_write(const struct gmem *m, const struct virtq_chain *c, u32 off, const void *src,
                      u32 len) __must_check;
/* One copy from the out bytes of src (from soff) into the in bytes of dst
 * (from doff), guest memory to guest memory, possibly of two partitions.
 * -ERANGE (nothing guaranteed written) when either side is too short. */
int virtq_chain_copy(const struct gmem *dm, const struct virtq_chain *dst, u32 doff, const struct gmem *sm,
                     const struct virtq_chain *src, u32 soff, u32 len) __must_check;

const char *virtq_err_name(enum virtq_err e);

#endif
