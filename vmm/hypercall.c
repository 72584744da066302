/* Hypercall dispatch and argument checks; see hypercall.h. Every argument is a
 * guest register: any 64-bit value may arrive. */
#include "vmm/hypercall.h"
#include "kernel/lib/string.h"

bool hc_range_ok(const struct hc_env *e, u64 gpa, u64 len)
{
    if (!len || gpa + len < gpa)
        return false;
    for (u32 i = 0; i < e->nram; i++)
        if (gpa >= e->ram[i].start && gpa + len <= e->ram[i].end)
            return true;
    return false;
}

static s64 console_write(const struct hc_env *e, u64 buf, u64 len)
{
    if (len > HC_CONSOLE_MAX)
        return -HC_E2BIG;
    if (!len)
        return 0;
    if (!hc_range_ok(e, buf, len))
        return -HC_EFAULT;
    /* In pieces where the buffer crosses from one host block to the next. */
    for (u64 done = 0; e->console && done < len;) {
        const struct gmem_chunk *c = gmem_chunk_of(e->mem, buf + done);
        if (!c)
            return -HC_EFAULT;
        u64 n = MIN(len - done, c->size - (buf + done - c->gpa));
        e->console(e->ctx, c->hva + (buf + done - c->gpa), (u32)n);
        done += n;
    }
    return (s64)len;
}

static s64 partition_info(const struct hc_env *e, u64 out)
{
    if (out & 7)
        return -HC_EINVAL;
    if (!hc_range_ok(e, out, sizeof(struct isthmus_partition_info)))
        return -HC_EFAULT;
    return gmem_write(e->mem, out, &e->info, sizeof(e->info)) < 0 ? -HC_EFAULT : 0;
}

static s64 hb_info(const struct hc_env *e, u64 out)
{
    if (!e->hb_info)
        return -HC_ENOENT;
    if (out & 7)
        return -HC_EINVAL;
    if (!hc_range_ok(e, out, sizeof(*e->hb_info)))
        return -HC_EFAULT;
    return gmem_write(e->mem, out, e->hb_info, sizeof(*e->hb_info)) < 0 ? -HC_EFAULT : 0;
}

static s64 hb_beat(const struct hc_env *e, u64 claimed)
{
    if (claimed > HB_ROLE_STANDBY)
        return -HC_EINVAL;
    return e->hb_beat ? e->hb_beat(e->ctx, (u32)claimed) : HB_ROLE_NONE;
}

s64 hypercall_dispatch(const struct hc_env *e, u64 nr, const u64 args[4], enum hc_action *act)
{
    *act = HC_ACT_NONE;
    if (e->cpl != 0)
        return -HC_EPERM;
    switch (nr) {
    case HC_ABI_VERSION: return (HC_ABI_MAJOR << 16) | HC_ABI_MINOR;
    case HC_CONSOLE_WRITE: return console_write(e, args[0], args[1]);
    case HC_PARTITION_INFO: return partition_info(e, args[0]);
    case HC_HALT: *act = HC_ACT_HALT; return 0;
    case HC_YIELD: return 0;
    case HC_HB_INFO: return hb_info(e, args[0]);
    case HC_HB_BEAT: return hb_beat(e, args[0]);
    default: return -HC_ENOSYS;
    }
}
