/* The NIC's data path: transmit passes, delivery into receivers, and the
 * congestion feedback between them. See net/vnet.h.
 *
 * A pass runs on whichever CPU asked for it (the sender's vCPU after a
 * notify, its home vCPU when a retry is due, a receiver's vCPU after it made
 * room) and holds the sender's tx_lock. A receiver's `lock` is taken per
 * frame for a flood, and once per run of unicast frames to it (at most a
 * batch; struct rx_hold). It stops at the first frame that cannot go now and
 * leaves it in the ring: one held by the shim is retried when tokens return
 * (env.retry_at); a unicast one for a full receiver when that receiver posts
 * buffers (its `waiters`), with a retry as a safety net.
 *
 * What another partition sends never costs a receiver a buffer it cannot
 * use: a frame over the receiver's MTU, or too big for its next buffer, is
 * dropped and counted there with the buffer left in its ring. */
#include "net/vnet.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/log_limit.h"
#include "kernel/lib/string.h"

#define RETRY_FULL_NS 1000000ULL /* re-check a full receiver after 1 ms even without a wake-up */

STATIC_ASSERT(VIRTIO_NET_MTU_MAX + ETH_HLEN + VLAN_HLEN <= VNET_MAX_FRAME,
              "every frame an MTU allows fits a chain the queues accept");

static const char *const drop_names[VNET_DROP_COUNT] = {
    [VNET_DROP_BAD_CHAIN] = "bad-chain",   [VNET_DROP_SHORT] = "short",         [VNET_DROP_OVERSIZE] = "oversize",
    [VNET_DROP_SWITCH] = "switch",         [VNET_DROP_LINK_DOWN] = "link-down", [VNET_DROP_RX_FULL] = "rx-full",
    [VNET_DROP_RX_STALLED] = "rx-stalled", [VNET_DROP_RX_SMALL] = "rx-small",
};

const char *vnet_drop_name(enum vnet_drop d) { return (unsigned)d < VNET_DROP_COUNT ? drop_names[d] : "?"; }

static bool frame_tagged(const u8 *head) { return ((u32)head[12] << 8 | head[13]) == ETH_P_8021Q; }

/* What a receiver can take now. NONE and LOW (fewer than a quarter of its
 * ring free) are congestion and fed back to senders; DOWN (no driver running
 * it) and STALLED (no buffers for VNET_STALL_NS) are not: a receiver that
 * does not run is not congested, and frames to it are dropped at no cost. */
enum room { ROOM_OK, ROOM_LOW, ROOM_NONE, ROOM_STALLED, ROOM_DOWN };

/* Its driver added buffers: the stall clock stops, a stalled port rejoins. */
static void rx_refilled(struct vnet *d)
{
    if (__atomic_load_n(&d->empty_since, __ATOMIC_RELAXED))
        __atomic_store_n(&d->empty_since, 0, __ATOMIC_RELEASE);
    if (__atomic_load_n(&d->stalled, __ATOMIC_RELAXED))
        __atomic_store_n(&d->stalled, 0, __ATOMIC_RELEASE);
}

/* A sender found d without buffers: the stall clock starts, runs, or has
 * run out. It runs on the CPU time d's guest was given (env.ran), not on the
 * wall clock: a guest whose host did not run it for a second had no chance
 * to add buffers and is not dead. Several senders on several CPUs share the
 * one clock, so a dead receiver costs all of them one wait together. */
static enum room rx_empty(struct vnet *d, u64 now)
{
    if (__atomic_load_n(&d->stalled, __ATOMIC_ACQUIRE))
        return ROOM_STALLED;
    u64 ran = (d->env.ran ? d->env.ran(d->env.ctx) : now) + 1;
    u64 since = 0;
    if (__atomic_compare_exchange_n(&d->empty_since, &since, ran, false, __ATOMIC_SEQ_CST, __ATOMIC_ACQUIRE))
        return ROOM_NONE;
    /* Signed: the clock may have been started from a later reading (another
     * CPU, or a partition restart zeroing the guest's time). */
    if ((s64)(ran - since) < (s64)VNET_STALL_NS)
        return ROOM_NONE;
    if (!__atomic_exchange_n(&d->stalled, 1, __ATOMIC_SEQ_CST))
        log_limited(d->part, LOGR_NIC_STALL, LOG_WARN, "net",
                    "%s: no receive buffers for %llu ms of its CPU time: frames to it are dropped, without "
                    "congestion feedback, until its driver adds some",
                    d->name, (unsigned long long)(VNET_STALL_NS / 1000000));
    return ROOM_STALLED;
}

/* The fewest free receive buffers that are not "low". */
static inline u32 room_low_mark(u16 size) { return MAX(size / 4, 1U); }

/* What d can take now. With `credit`, a verdict of ROOM_OK returns with
 * d->lock still held and *credit the frames after this one that d can take
 * before its room must be judged again: while the lock is held nobody else
 * takes its buffers and its driver only adds, so those frames would find it
 * OK too (see struct rx_hold). */
static enum room rx_room(struct vnet *d, u64 now, u32 *credit)
{
    spin_lock(&d->lock);
    struct virtq *q = &d->queue[VNET_RXQ].q;
    if (!d->running || !virtq_ready(q)) {
        spin_unlock(&d->lock);
        return ROOM_DOWN;
    }
    u16 n = virtq_avail_count(q);
    if (!n && virtq_pending(q)) {
        /* None counted but the index moved: it jumped, and the pop says the
         * ring is corrupt; or the driver added a buffer between the two looks. */
        int r = virtq_pop(q, &d->rx_chain);
        if (r == -EIO) {
            spin_unlock(&d->lock);
            vnet_needs_reset(d, "its receive ring is corrupt");
            return ROOM_DOWN;
        }
        if (r == -EBADMSG)
            d->stats.rx.drops[VNET_DROP_BAD_CHAIN]++; /* given back by the pop */
        if (r == 1)
            virtq_unpop(q);
        n = virtq_avail_count(q);
    }
    /* Out of buffers: have the driver tell us when it adds some (a sender
     * waits for that, a stalled receiver rejoins). Merely low costs no
     * notifies: only feedback. While a frame waits for mergeable buffers,
     * rx_spans has asked for more than it has, which stays. */
    if (!d->short_since)
        virtq_want_notify(q, n == 0);
    /* Running and out of buffers: the stall clock may be about to run on
     * the guest's time, which must then be accounted finely. Under the lock,
     * so never after the partition lost its memory (net_disconnect). */
    if (!n && d->env.watch && !__atomic_load_n(&d->stalled, __ATOMIC_RELAXED))
        d->env.watch(d->env.ctx);
    u16 size = q->size;
    if (credit && n >= room_low_mark(size)) {
        *credit = n - room_low_mark(size);
        rx_refilled(d);
        return ROOM_OK;
    }
    spin_unlock(&d->lock);
    if (!n)
        return rx_empty(d, now);
    rx_refilled(d);
    return n < room_low_mark(size) ? ROOM_LOW : ROOM_OK;
}

/* The receiver whose lock a transmit pass keeps between the frames of a run
 * to it, and how many more frames it can take before its room is judged
 * again (receive-buffer credits: one lock, one look at its ring, per run,
 * not per frame). Kept only across what takes no lock or only a leaf lock
 * that never waits for a port's (the switch's, the link's): released before
 * another receiver's lock, any port's reset, an interrupt, a retry request,
 * and at the end of every batch, so a receiver's driver waits at most one
 * batch for its registers. */
struct rx_hold {
    struct vnet *r;
    u32 credit;
};

static void rx_release(struct rx_hold *h)
{
    if (h->r) {
        spin_unlock(&h->r->lock);
        h->r = NULL;
    }
}

/* Where a frame comes from: a sender's transmit chain (after its virtio-net
 * header), or a buffer of the hypervisor's own (an announcement). `buf` is
 * the whole frame in host memory when it lies in one piece: the hypervisor's
 * buffer, or the chain's first segment translated once (`guest` then says
 * it is in the sender's memory, which the receiver's may share). */
struct frame_src {
    const struct gmem *mem;
    const struct virtq_chain *chain;
    const u8 *buf;
    bool guest;
    const u8 *head; /* the copy of its first MIN(len, 18) bytes the switch decided on */
};

/* A frame that leaves as it came carries, in its first 16 bytes, the ones
 * the switch decided on (the MACs, a tag's TPID and VID, or that there was
 * none), not what the sender's guest may have written there since: else it
 * could change a tag after the decision and reach another VLAN. */
static inline u32 decided_len(u32 len) { return MIN(len, 2U * ETH_ALEN + VLAN_HLEN); }

/* Whether [a, a + n) and [b, b + n) share a byte. */
static inline bool overlap(const u8 *a, const u8 *b, u32 n) { return a < b + n && b < a + n; }

/* Host memory to host memory; memmove where the two could overlap (buffers
 * of one partition) or the run is long. */
static inline void copy_bytes(u8 *dst, const u8 *src, u32 n)
{
    if (n <= KCOPY_SMALL_MAX && !overlap(dst, src, n))
        kcopy_small(dst, src, n);
    else
        memmove(dst, src, n);
}

/* Copies n bytes from frame offset off of the source into rx at doff. */
static int src_copy(struct vnet *d, const struct virtq_chain *rx, u32 doff, const struct frame_src *s, u32 off, u32 n)
{
    if (s->buf && !s->guest)
        return virtq_chain_write(d->mem, rx, doff, s->buf + off, n);
    return virtq_chain_copy(d->mem, rx, doff, s->mem, s->chain, (u32)VNET_HDR_LEN + off, n);
}

/* The receive buffer's header and frame through one translation, when both
 * the buffer (header and frame in its first segment, one chunk) and the
 * source are in one piece: the usual case. False when not, and nothing was
 * written. */
static inline bool fill_direct(struct vnet *d, const struct virtq_chain *rx, const struct frame_src *s, u32 len,
                               u32 out_len, u8 action, u16 vid)
{
    const u32 macs = 2 * ETH_ALEN, H = (u32)VNET_HDR_LEN;
    u8 *to = s->buf ? virtq_chain_span(d->mem, rx, true, 0, H + out_len) : NULL;
    if (!to)
        return false;
    const struct virtio_net_hdr h = { .num_buffers = 1 };
    kcopy_small(to, &h, H);
    if (action == VSW_TAG_NONE) {
        copy_bytes(to + H, s->buf, len);
        kcopy_small(to + H, s->head, decided_len(len));
    } else if (action == VSW_TAG_PUSH) {
        const u8 tag[VLAN_HLEN] = { ETH_P_8021Q >> 8, ETH_P_8021Q & 0xff, (u8)(vid >> 8), (u8)vid };
        copy_bytes(to + H, s->buf, macs);
        kcopy_small(to + H + macs, tag, VLAN_HLEN);
        copy_bytes(to + H + macs + VLAN_HLEN, s->buf + macs, len - macs);
    } else {
        copy_bytes(to + H, s->buf, macs);
        copy_bytes(to + H + macs, s->buf + macs + VLAN_HLEN, len - macs - VLAN_HLEN);
    }
    return true;
}

/* The same through the chains' segments and guest memory's chunks, for any
 * layout. */
static int fill_chain(struct vnet *d, const struct virtq_chain *rx, const struct frame_src *s, u32 len, u8 action,
                      u16 vid)
{
    struct virtio_net_hdr h = { .num_buffers = 1 };
    const u32 macs = 2 * ETH_ALEN, H = (u32)VNET_HDR_LEN;
    int rc = virtq_chain_write(d->mem, rx, 0, &h, H);
    if (action == VSW_TAG_NONE) {
        if (!rc)
            rc = src_copy(d, rx, H, s, 0, len);
        if (!rc)
            rc = virtq_chain_write(d->mem, rx, H, s->head, decided_len(len));
    } else if (action == VSW_TAG_PUSH) {
        u8 tag[VLAN_HLEN] = { ETH_P_8021Q >> 8, ETH_P_8021Q & 0xff, (u8)(vid >> 8), (u8)vid };
        if (!rc)
            rc = src_copy(d, rx, H, s, 0, macs);
        if (!rc)
            rc = virtq_chain_write(d->mem, rx, H + macs, tag, VLAN_HLEN);
        if (!rc)
            rc = src_copy(d, rx, H + macs + VLAN_HLEN, s, macs, len - macs);
    } else {
        if (!rc)
            rc = src_copy(d, rx, H, s, 0, macs);
        if (!rc)
            rc = src_copy(d, rx, H + macs, s, macs + VLAN_HLEN, len - macs - VLAN_HLEN);
    }
    return rc;
}

/* ---- a frame over several receive buffers (VIRTIO_NET_F_MRG_RXBUF) ---- */

/* What a receiver's buffers get, as one stream: the virtio-net header, then
 * the frame as it leaves, in pieces that are either host bytes (mem) or the
 * source frame from src_off. The first bytes are the ones the switch decided
 * on (s->head), as in fill_direct. */
struct out_piece {
    const u8 *mem;
    u32 src_off, len;
};

static u32 out_pieces(const struct frame_src *s, u32 len, u8 action, const u8 *hdr, const u8 *tag,
                      struct out_piece p[4])
{
    const u32 macs = 2 * ETH_ALEN, H = (u32)VNET_HDR_LEN;
    p[0] = (struct out_piece){ hdr, 0, H };
    if (action == VSW_TAG_NONE) {
        u32 dl = decided_len(len);
        p[1] = (struct out_piece){ s->head, 0, dl };
        p[2] = (struct out_piece){ NULL, dl, len - dl };
        return 3;
    }
    p[1] = (struct out_piece){ s->head, 0, macs };
    if (action == VSW_TAG_PUSH) {
        p[2] = (struct out_piece){ tag, 0, VLAN_HLEN };
        p[3] = (struct out_piece){ NULL, macs, len - macs };
        return 4;
    }
    p[2] = (struct out_piece){ NULL, macs + VLAN_HLEN, len - macs - VLAN_HLEN };
    return 3;
}

/* Writes stream bytes [base, base + n) at the start of receive chain rx. */
static int out_window(struct vnet *d, const struct virtq_chain *rx, const struct frame_src *s,
                      const struct out_piece *p, u32 np, u32 base, u32 n)
{
    u32 at = 0; /* the stream offset where piece i starts */
    for (u32 i = 0; i < np; at += p[i].len, i++) {
        u32 from = MAX(at, base), to = MIN(at + p[i].len, base + n);
        if (from >= to)
            continue;
        int rc = p[i].mem ? virtq_chain_write(d->mem, rx, from - base, p[i].mem + (from - at), to - from)
                          : src_copy(d, rx, from - base, s, p[i].src_off + (from - at), to - from);
        if (rc)
            return rc;
    }
    return 0;
}

/* The receiver's CPU time now, as its stall clock counts (rx_empty). */
static u64 rx_clock(const struct vnet *d) { return (d->env.ran ? d->env.ran(d->env.ctx) : d->env.now()) + 1; }

/* The frame over as many receive buffers as it takes, the first (d->rx_chain,
 * popped) holding at least the header, whose num_buffers says how many
 * (5.1.6.4.2). Every buffer's share is written before any is given back, so
 * that a shortage takes nothing: the popped buffers are put back. Returns as
 * deliver_locked, *why set for a drop. */
static int deliver_merged(const struct frame_src *s, u32 len, u32 out_len, struct vnet *d, u8 action, u16 vid, int *why)
{
    struct virtq *q = &d->queue[VNET_RXQ].q;
    const u32 H = (u32)VNET_HDR_LEN, total = H + out_len;
    const struct virtio_net_hdr h = { .num_buffers = 0 }; /* set once the count is known */
    const u8 tag[VLAN_HLEN] = { ETH_P_8021Q >> 8, ETH_P_8021Q & 0xff, (u8)(vid >> 8), (u8)vid };
    struct out_piece p[4];
    u32 np = out_pieces(s, len, action, (const u8 *)&h, tag, p);
    if (d->rx_chain.in_bytes < H) {
        /* 5.1.6.3.1: each buffer holds the header at least. */
        virtq_unpop(q);
        *why = VNET_DROP_RX_SMALL;
        return 0;
    }
    const struct virtq_chain *c = &d->rx_chain;
    u32 k = 0, pos = 0;
    int rc = 0;
    for (;;) {
        u32 n = MIN(c->in_bytes, total - pos);
        if (!rc)
            rc = out_window(d, c, s, p, np, pos, n);
        d->mrg_head[k] = c->head;
        d->mrg_len[k] = n;
        k++;
        pos += n;
        if (pos == total)
            break;
        int r = k == VNET_MRG_MAX ? 0 : virtq_pop_keep(q, &d->rx_more);
        if (r == 1) {
            c = &d->rx_more;
            continue;
        }
        if (r == -EBADMSG) {
            /* The frame is lost for this receiver; its buffers go back
             * empty, the bad one with them (as a pop gives it back). */
            for (u32 i = 0; i < k; i++)
                virtq_push(q, d->mrg_head[i], 0);
            virtq_push(q, d->rx_more.head, 0);
            *why = VNET_DROP_BAD_CHAIN;
            return 0;
        }
        if (r < 0)
            return -EIO;
        /* Too few buffers: all put back. A unicast sender judged them
         * enough (rx_spans) or waited long enough; a flood's copy does not
         * wait for one receiver. */
        virtq_unpop_n(q, (u16)k);
        *why = k == VNET_MRG_MAX || k == q->size ? VNET_DROP_RX_SMALL : VNET_DROP_RX_FULL;
        return 0;
    }
    const u16 nb = (u16)k; /* le16 on x86 */
    if (!rc)
        rc = virtq_chain_write(d->mem, &d->rx_chain, (u32) __builtin_offsetof(struct virtio_net_hdr, num_buffers), &nb,
                               sizeof(nb));
    if (rc) {
        /* Checked against both memories when popped: not reached. */
        for (u32 i = 0; i < k; i++)
            virtq_push(q, d->mrg_head[i], 0);
        *why = VNET_DROP_BAD_CHAIN;
        return 0;
    }
    for (u32 i = 0; i < k; i++)
        virtq_push(q, d->mrg_head[i], d->mrg_len[i]);
    d->short_since = 0;
    d->last_bufs = k;
    d->stats.rx.frames++;
    d->stats.rx.bytes += out_len;
    d->stats.rx_merged++;
    return 1;
}

/* A frame's length as it leaves, after the tag action. */
static inline u32 out_len_of(u32 len, u8 action)
{
    return action == VSW_TAG_PUSH ? len + VLAN_HLEN : action == VSW_TAG_POP ? len - VLAN_HLEN : len;
}

/* A unicast frame of out_len bytes (as it leaves) to r: false when r's driver
 * negotiated mergeable buffers and those it has made available now are too
 * few to span the frame (header included), which the sender then waits out
 * in its ring like a full receiver, r's driver asked to say when it adds
 * buffers. For at most VNET_STALL_NS of r's CPU time: then true, and the
 * frame goes to deliver, which drops it. Looks by popping and putting back
 * under r's lock (held by the pass when `locked`, else taken here); the
 * usual case, a next buffer that holds the whole frame, is one look at it.
 * -EIO when the look found r's ring corrupt: the caller, without r's lock,
 * has it reset (rx_corrupt), and deliver then drops the frame. */
static int rx_spans(struct vnet *r, bool locked, u32 out_len)
{
    struct virtq *q = &r->queue[VNET_RXQ].q;
    const u32 total = (u32)VNET_HDR_LEN + out_len;
    u16 head;
    struct virtq_desc desc;
    if (!(r->driver_features & BIT(VIRTIO_NET_F_MRG_RXBUF)))
        return 1;
    if (!locked)
        spin_lock(&r->lock);
    bool ok = true, corrupt = false;
    for (u32 look = 0; look < 2; look++) {
        if (!r->running || !virtq_ready(q) ||
            (virtq_peek_single(q, &head, &desc) && (desc.flags & VIRTQ_DESC_F_WRITE) && desc.len >= total)) {
            ok = true;
            break;
        }
        u32 k = 0, cap = 0;
        int rc = 1;
        while (cap < total && k < VNET_MRG_MAX && (rc = virtq_pop_keep(q, &r->rx_more)) != 0) {
            if (rc == -EIO) {
                corrupt = true;
                break;
            }
            k++;
            if (rc < 0)
                break; /* a bad chain (taken, put back below): deliver gives it back */
            cap += r->rx_more.in_bytes;
        }
        virtq_unpop_n(q, (u16)k);
        /* Buffers that can never be enough (deliver drops the frame), or an
         * error deliver deals with, are not waited for. */
        ok = cap >= total || rc < 0 || k == VNET_MRG_MAX || k == q->size;
        if (ok)
            break;
        /* Past the buffers it has now, which do not suffice. */
        if (virtq_want_more(q))
            continue; /* it added some meanwhile: look again */
        if (!virtq_ready(q)) {
            corrupt = true; /* its used ring could not be written */
            break;
        }
        u64 now = rx_clock(r);
        if (!r->short_since) {
            r->short_since = now;
            if (r->env.watch)
                r->env.watch(r->env.ctx);
        } else if ((s64)(now - r->short_since) >= (s64)VNET_STALL_NS) {
            ok = true;
        }
        break;
    }
    if (!locked)
        spin_unlock(&r->lock);
    return corrupt ? -EIO : ok;
}

/* Copies the frame (len bytes) into the receive buffers of d, tagging or
 * untagging on the way (`tagged`: it came with a tag), under d->lock: one
 * buffer, or with mergeable buffers as many as it takes. 1 when delivered;
 * 0 when not, the reason counted at the receiver, and no buffer of its used
 * up or handed back empty for a frame it could not take; -EIO when its ring
 * is corrupt (the caller resets it, without the lock). d->last_bufs: the
 * buffers a delivered frame took. */
static int deliver_locked(const struct frame_src *s, u32 len, struct vnet *d, u8 action, u16 vid, bool tagged)
{
    u32 out_len = out_len_of(len, action);
    bool out_tagged = action == VSW_TAG_PUSH || (action == VSW_TAG_NONE && tagged);
    struct virtq *q = &d->queue[VNET_RXQ].q;
    int why = -1;
    if (!d->running || !virtq_ready(q)) {
        why = VNET_DROP_LINK_DOWN;
        goto out;
    }
    /* Never more than the MTU its driver was offered (5.1.4.1). */
    if (out_len > vnet_max_frame(&d->cfg, out_tagged)) {
        why = VNET_DROP_OVERSIZE;
        goto out;
    }
    int r;
    while ((r = virtq_pop(q, &d->rx_chain)) == -EBADMSG)
        d->stats.rx.drops[VNET_DROP_BAD_CHAIN]++;
    if (r < 0) {
        d->stats.rx.drops[VNET_DROP_BAD_CHAIN]++;
        return -EIO;
    }
    if (r == 0) {
        why = __atomic_load_n(&d->stalled, __ATOMIC_ACQUIRE) ? VNET_DROP_RX_STALLED : VNET_DROP_RX_FULL;
        goto out;
    }
    const struct virtq_chain *rx = &d->rx_chain;
    if (rx->in_bytes < VNET_HDR_LEN + out_len) {
        if (d->driver_features & BIT(VIRTIO_NET_F_MRG_RXBUF)) {
            int got = deliver_merged(s, len, out_len, d, action, vid, &why);
            if (got)
                return got;
            goto out;
        }
        /* The buffer stays, unused, for a frame that fits (no mergeable
         * buffers: a frame takes exactly one). */
        virtq_unpop(q);
        why = VNET_DROP_RX_SMALL;
        goto out;
    }
    const u32 H = (u32)VNET_HDR_LEN;
    int rc = fill_direct(d, rx, s, len, out_len, action, vid) ? 0 : fill_chain(d, rx, s, len, action, vid);
    /* The chains were checked against both memories when popped; a failure
     * here would be a bug. The buffer then goes back to the ring unreported:
     * what it holds is not a frame. */
    if (rc) {
        virtq_unpop(q);
        why = VNET_DROP_BAD_CHAIN;
        goto out;
    }
    /* Published with the batch, in signal_receivers: one release fence and
     * one index store per receiver per batch. */
    virtq_push(q, rx->head, H + out_len);
    d->short_since = 0;
    d->last_bufs = 1;
    d->stats.rx.frames++;
    d->stats.rx.bytes += out_len;
out:
    if (why >= 0)
        d->stats.rx.drops[why]++;
    return why < 0;
}

static void rx_corrupt(struct vnet *d) { vnet_needs_reset(d, "its receive ring is corrupt"); }

static bool deliver(const struct frame_src *s, u32 len, struct vnet *d, u8 action, u16 vid, bool tagged)
{
    spin_lock(&d->lock);
    int r = deliver_locked(s, len, d, action, vid, tagged);
    spin_unlock(&d->lock);
    if (r < 0)
        rx_corrupt(d);
    return r > 0;
}

/* Makes a batch's frames visible to each receiver and interrupts those
 * whose drivers asked for it. Every caller of deliver() ends here. */
static void signal_receivers(u32 mask)
{
    while (mask) {
        u32 p = (u32)__builtin_ctz(mask);
        mask &= mask - 1;
        struct vnet *d = net.port[p];
        struct virtq *q = &d->queue[VNET_RXQ].q;
        bool irq = false;
        spin_lock(&d->lock);
        if (virtq_ready(q)) {
            virtq_publish(q); /* what deliver() pushed */
            irq = virtq_need_interrupt(q);
        }
        spin_unlock(&d->lock);
        if (irq)
            vnet_interrupt_queue(d, VNET_RXQ);
    }
}

static void complete_tx(struct vnet *n, struct virtq *q)
{
    virtq_publish(q);
    if (virtq_need_interrupt(q))
        vnet_interrupt_queue(n, VNET_TXQ);
}

/* Judges a frame's receivers one by one. A live receiver short of buffers
 * (none, or under a quarter of its ring) is congested: it cuts this sender's
 * rates and keeps yellow frames from borrowing. A receiver that is down or
 * stalled costs nothing: deliver() drops its copy and nobody's rate is cut.
 *
 * A unicast frame for a live receiver with no free buffer waits in the
 * sender's ring (back-pressure: a receiver is never overrun) until that
 * receiver posts buffers, or until it has had none for VNET_STALL_NS and is
 * stalled, so a dead guest costs its senders one wait, not one per frame. A
 * flood never waits for one receiver: a full one misses its copy (rx-full),
 * and the others get theirs at once. */
static bool check_receivers(struct vnet *n, const struct vsw_decision *d, u64 now, bool *idle, struct rx_hold *h)
{
    *idle = true;
    bool unicast = d->nout == 1 && !d->flooded;
    for (u32 i = 0; i < d->nout; i++) {
        struct vnet *r = net.port[d->out[i]];
        if (unicast && h->r == r && h->credit) {
            h->credit--; /* room judged OK for this frame when the run began */
            continue;
        }
        rx_release(h);
        enum room room = rx_room(r, now, unicast ? &h->credit : NULL);
        if (room == ROOM_OK && unicast)
            h->r = r; /* rx_room kept its lock */
        if (room != ROOM_LOW && room != ROOM_NONE)
            continue;
        *idle = false;
        __atomic_fetch_add(&r->stats.congestion, 1, __ATOMIC_RELAXED);
        shim_congestion(&n->shim, now);
        if (room == ROOM_LOW || d->flooded)
            continue;
        __atomic_fetch_or(&r->waiters, BIT(n->port), __ATOMIC_SEQ_CST);
        /* It may have made room between the look and the wish. */
        if (rx_room(r, now, NULL) != ROOM_NONE)
            continue;
        n->stats.held_full++;
        return false;
    }
    return true;
}

/* The first bytes of a transmit frame (len bytes after the virtio-net
 * header) into head, where they are decided on: this copy alone. *frame is
 * the whole frame in host memory when it lies in the chain's first segment
 * and one chunk, so that the copies need no second translation; else NULL.
 * False when the chain could not be read. */
static inline bool read_head(struct vnet *n, const struct virtq_chain *c, u32 len, u8 head[ETH_HLEN + VLAN_HLEN],
                             const u8 **frame)
{
    u32 want = MIN(len, (u32)(ETH_HLEN + VLAN_HLEN));
    *frame = virtq_chain_span(n->mem, c, false, (u32)VNET_HDR_LEN, len);
    if (*frame) {
        kcopy_small(head, *frame, want);
        return true;
    }
    return virtq_chain_read(n->mem, c, (u32)VNET_HDR_LEN, head, want) == 0;
}

/* The rest of a run of frames to the receiver whose lock the pass holds
 * (h->r, with credit): up to max frames that the sender's cached switch
 * decision sends there, each one descriptor on both sides. What is judged
 * per frame in tx_pass is judged here once for the run: the receiver is
 * running (it cannot stop while its lock is held), the MTUs on both sides
 * for the run's tag action (the cache key fixes whether frames are tagged),
 * the decision's expiry (`now` is the pass's). Per frame: the transmit
 * descriptor copied out and checked (virtq_peek_single), the frame's first
 * 16 bytes read once into registers and keyed, the switch's generation,
 * the shim's green grant, the receive descriptor copied out and checked,
 * then both taken, one copy, two pushes. No chain is filled.
 *
 * Returns the frames sent. Stops at the first frame that is not of that
 * kind, having taken nothing for it: tx_pass pops it and decides. The bytes
 * 0..15 of the frame the switch decided on are the ones delivered (when
 * the tag action keeps them), not a second read of the sender's. */
static u32 tx_run(struct vnet *n, struct rx_hold *h, u32 max, u64 now)
{
    struct virtq *q = &n->queue[VNET_TXQ].q;
    struct vnet *r = h->r;
    struct virtq *rq = &r->queue[VNET_RXQ].q;
    struct vsw_cache *c = &n->sw_cache;
    const u32 H = (u32)VNET_HDR_LEN, head_min = ETH_HLEN + VLAN_HLEN;
    if (!vsw_cache_live(c, now) || c->out != r->port || !r->running || !virtq_ready(rq))
        return 0;
    u8 action = c->action;
    u16 vid = c->vid;
    /* What the tag action adds to a frame's length; the largest frame that
     * passes both MTU checks (the sender's at ingress, the receiver's). */
    u32 grow = action == VSW_TAG_PUSH ? VLAN_HLEN : 0, shrink = action == VSW_TAG_POP ? VLAN_HLEN : 0;
    bool out_tagged = action == VSW_TAG_PUSH || (action == VSW_TAG_NONE && c->tagged);
    u32 max_len = MIN(vnet_max_frame(&n->cfg, c->tagged), vnet_max_frame(&r->cfg, out_tagged) + shrink - grow);
    u64 bytes = 0, grant = shim_grant(&n->shim);
    u32 k = 0, lim = MIN(max, h->credit);
    for (; k < lim; k++) {
        u16 th, rh;
        struct virtq_desc td, rd;
        if (!virtq_peek_single(q, &th, &td) || (td.flags & VIRTQ_DESC_F_WRITE) || td.len < H + head_min)
            break;
        u32 len = td.len - H;
        if (len > max_len || len > grant)
            break;
        const u8 *f = gmem_ptr_fast(n->mem, td.addr + H, len);
        if (!f)
            break;
        /* The sender's guest may write these bytes at any time: read once
         * (volatile), decided on and delivered from these registers. */
        u64 w0 = *(const volatile kcopy_u64 *)(const volatile void *)f;
        u64 w1 = *(const volatile kcopy_u64 *)(const volatile void *)(f + 8);
        u64 key[2];
        vsw_cache_key(w0, w1, key);
        if (!vsw_cache_match(&net.sw, c, key))
            break;
        u32 out_len = len + grow - shrink;
        if (!virtq_peek_single(rq, &rh, &rd) || !(rd.flags & VIRTQ_DESC_F_WRITE) || rd.len < H + out_len)
            break;
        u8 *to = gmem_ptr_fast(r->mem, rd.addr, H + out_len);
        if (!to)
            break;
        virtq_take(q);
        virtq_take(rq);
        u8 *o = to + H;
        if (action == VSW_TAG_NONE) {
            copy_bytes(o + 16, f + 16, len - 16);
            *(kcopy_u64 *)(void *)o = w0;
            *(kcopy_u64 *)(void *)(o + 8) = w1;
        } else if (action == VSW_TAG_PUSH) {
            copy_bytes(o + 16, f + 12, len - 12);
            *(kcopy_u64 *)(void *)o = w0;
            *(kcopy_u32 *)(void *)(o + 8) = (u32)w1;
            const u8 tag[VLAN_HLEN] = { ETH_P_8021Q >> 8, ETH_P_8021Q & 0xff, (u8)(vid >> 8), (u8)vid };
            kcopy_small(o + 12, tag, VLAN_HLEN);
        } else {
            copy_bytes(o + 12, f + 16, len - 16);
            *(kcopy_u64 *)(void *)o = w0;
            *(kcopy_u32 *)(void *)(o + 8) = (u32)w1;
        }
        /* The virtio-net header: all zero but num_buffers (offset 10) = 1. */
        *(kcopy_u64 *)(void *)to = 0;
        *(kcopy_u32 *)(void *)(to + 8) = 1U << 16;
        virtq_push(rq, rh, H + out_len);
        virtq_push(q, th, 0);
        grant -= len;
        bytes += len;
    }
    if (k) {
        h->credit -= k;
        vsw_cache_count(c, k, now);
        shim_took(&n->shim, k, bytes);
        n->stats.tx.frames += k;
        n->stats.tx.bytes += bytes;
        r->stats.rx.frames += k;
        r->stats.rx.bytes += bytes + (u64)k * grow - (u64)k * shrink;
    }
    return k;
}

STATIC_ASSERT(VNET_TX_BUDGET % VNET_BATCH == 0, "a pass's budget ends with a batch");

/* Every VNET_BATCH frames: the sender's completions and the receivers' new
 * entries published, the receiver's lock given back. */
static void tx_batch_end(struct vnet *n, struct virtq *q, struct rx_hold *h, u32 *pending_signal)
{
    rx_release(h);
    complete_tx(n, q);
    signal_receivers(*pending_signal);
    *pending_signal = 0;
}

static void tx_pass(struct vnet *n)
{
    struct virtq *q = &n->queue[VNET_TXQ].q;
    if (!n->running || !virtq_ready(q))
        return;
    u64 now = n->env.now();
    u32 sent = 0, pending_signal = 0;
    bool completed = false;
    struct rx_hold hold = { NULL, 0 };
    virtq_want_notify(q, false);
    for (;;) {
        if (sent >= VNET_TX_BUDGET) {
            rx_release(&hold);
            n->env.retry_at(n->env.ctx, now); /* yield; the home CPU continues */
            break;
        }
        if (hold.r && hold.credit) {
            u32 k = tx_run(n, &hold, VNET_BATCH - sent % VNET_BATCH, now);
            if (k) {
                pending_signal |= (u32)BIT(hold.r->port);
                completed = true;
                sent += k;
                if (sent % VNET_BATCH == 0) {
                    tx_batch_end(n, q, &hold, &pending_signal);
                    completed = false;
                    continue;
                }
            }
        }
        int r = virtq_pop(q, &n->tx_chain);
        if (r == -EBADMSG) {
            /* Given back by the pop; its driver may want to hear about it. */
            n->stats.tx.drops[VNET_DROP_BAD_CHAIN]++;
            completed = true;
            continue;
        }
        if (r < 0) {
            rx_release(&hold);
            vnet_needs_reset(n, "its transmit ring is corrupt");
            break;
        }
        if (r == 0) {
            rx_release(&hold);
            shim_idle(&n->shim, now);
            virtq_want_notify(q, true);
            if (virtq_pending(q)) {
                virtq_want_notify(q, false);
                continue;
            }
            break;
        }
        const struct virtq_chain *c = &n->tx_chain;
        u32 len = c->out_bytes - (u32)VNET_HDR_LEN;
        int drop = -1;
        u8 head[ETH_HLEN + VLAN_HLEN];
        const u8 *frame = NULL; /* the frame in one piece (read_head) */
        struct vsw_decision d;
        if (c->nin || c->out_bytes < VNET_HDR_LEN + ETH_HLEN || !read_head(n, c, len, head, &frame))
            drop = VNET_DROP_SHORT;
        else if (len > vnet_max_frame(&n->cfg, frame_tagged(head)))
            drop = VNET_DROP_OVERSIZE; /* at ingress, before the switch learns from it */
        if (drop < 0) {
            vsw_forward_cached(&net.sw, &n->sw_cache, n->port, head, len, now, &d);
            if (!d.nout)
                drop = VNET_DROP_SWITCH;
        }
        if (drop < 0) {
            bool idle;
            if (!check_receivers(n, &d, now, &idle, &hold)) {
                rx_release(&hold);
                virtq_unpop(q);
                n->env.retry_at(n->env.ctx, now + RETRY_FULL_NS);
                break;
            }
            struct vnet *r0 = net.port[d.out[0]];
            int spans = d.nout == 1 && !d.flooded ? rx_spans(r0, hold.r == r0, out_len_of(len, d.action[0])) : 1;
            if (spans < 0) {
                if (hold.r == r0)
                    rx_release(&hold);
                rx_corrupt(r0);
            } else if (!spans) {
                /* Before the shim: a frame held is not charged twice. */
                __atomic_fetch_or(&r0->waiters, BIT(n->port), __ATOMIC_SEQ_CST);
                rx_release(&hold);
                virtq_unpop(q);
                n->stats.held_full++;
                n->env.retry_at(n->env.ctx, now + RETRY_FULL_NS);
                break;
            }
            enum shim_colour colour;
            u64 retry;
            /* The tokens a green frame left are taken for the ones after it. */
            if (!shim_take(&n->shim, len) && shim_admit(&n->shim, now, len, idle, &colour, &retry) == SHIM_HOLD) {
                rx_release(&hold);
                virtq_unpop(q);
                n->env.retry_at(n->env.ctx, retry);
                break;
            }
        }
        if (drop < 0) {
            const struct frame_src src = { n->mem, c, frame, true, head };
            for (u32 i = 0; i < d.nout; i++) {
                struct vnet *rx = net.port[d.out[i]];
                /* Even a bad receive chain the pop gave back is an entry
                 * its driver may have asked to hear about. */
                pending_signal |= (u32)BIT(rx->port);
                if (hold.r != rx) {
                    (void)deliver(&src, len, rx, d.action[i], d.vid, d.tagged);
                    continue;
                }
                int got = deliver_locked(&src, len, rx, d.action[i], d.vid, d.tagged);
                if (got < 0) {
                    rx_release(&hold);
                    rx_corrupt(rx);
                } else if (!got) {
                    hold.credit = 0; /* a buffer went otherwise than counted: judge again */
                } else if (rx->last_bufs > 1) {
                    /* A frame over several buffers used more than its credit. */
                    hold.credit -= MIN(hold.credit, rx->last_bufs - 1);
                }
            }
            n->stats.tx.frames++;
            n->stats.tx.bytes += len;
        } else {
            n->stats.tx.drops[drop]++;
        }
        virtq_push(q, c->head, 0);
        completed = true;
        sent++;
        if (sent % VNET_BATCH == 0) {
            tx_batch_end(n, q, &hold, &pending_signal);
            completed = false;
        }
    }
    rx_release(&hold);
    if (completed || q->published != q->used_idx)
        complete_tx(n, q);
    signal_receivers(pending_signal);
    vsw_cache_flush(&net.sw, &n->sw_cache, n->port);
    shim_settle(&n->shim); /* unused tokens back, the frames counted: as if admitted one by one */
}

u32 vnet_inject(struct vnet *from, const u8 *frame, u32 len)
{
    struct vsw_decision d;
    vsw_forward(&net.sw, from->port, frame, len, from->env.now(), &d);
    const struct frame_src src = { NULL, NULL, frame, false, frame };
    u32 delivered = 0, mask = 0;
    for (u32 i = 0; i < d.nout; i++) {
        struct vnet *r = net.port[d.out[i]];
        delivered += deliver(&src, len, r, d.action[i], d.vid, d.tagged);
        mask |= (u32)BIT(r->port);
    }
    signal_receivers(mask);
    return delivered;
}

void vnet_tx(struct vnet *n)
{
    /* Whoever holds the lock sees the flag and makes another pass. */
    __atomic_store_n(&n->tx_again, 1, __ATOMIC_SEQ_CST);
    while (spin_trylock(&n->tx_lock)) {
        __atomic_store_n(&n->tx_again, 0, __ATOMIC_SEQ_CST);
        if (n->mem)
            tx_pass(n);
        spin_unlock(&n->tx_lock);
        /* The unlock (a plain store on x86) must be visible before tx_again
         * is read: else a CPU that set tx_again meanwhile can still see the
         * lock held and leave, while this one reads the flag from before its
         * store and leaves too (the store-buffer case): nobody makes the pass
         * it asked for, and a sender that waits for its completions stalls.
         * net_bench --buffers 64 found it (one 1-second window in ~15). */
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        if (!__atomic_load_n(&n->tx_again, __ATOMIC_SEQ_CST))
            break;
    }
}

void vnet_notify(struct vnet *n, u32 q)
{
    __atomic_fetch_add(&n->stats.notifies, 1, __ATOMIC_RELAXED);
    if (q == VNET_TXQ) {
        vnet_tx(n);
        return;
    }
    /* Receive buffers were added: no more notifies until a sender runs short
     * again (it asks in rx_room), a stalled port rejoins, and the senders
     * waiting go on, here. */
    spin_lock(&n->lock);
    if (virtq_ready(&n->queue[VNET_RXQ].q))
        virtq_want_notify(&n->queue[VNET_RXQ].q, false);
    spin_unlock(&n->lock);
    rx_refilled(n);
    u32 w = __atomic_exchange_n(&n->waiters, 0, __ATOMIC_SEQ_CST);
    while (w) {
        u32 p = (u32)__builtin_ctz(w);
        w &= w - 1;
        if (p < net.nports && net.port[p])
            vnet_tx(net.port[p]);
    }
}
