/* PVH start info builder; see pvh_start.h. */
#include "vmm/pvh_start.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define X(v) ((unsigned long long)(v))

/* Length of s without its NUL, or -E2BIG when it does not fit in cap bytes. */
static int bounded_len(const char *s, u32 cap, u64 *len)
{
    size_t n = strnlen(s, cap);
    if (n >= cap)
        return -E2BIG;
    *len = n;
    return 0;
}

static bool in_ram(const struct hvm_memmap_table_entry *mm, u32 n, u64 addr, u64 size)
{
    for (u32 i = 0; i < n; i++)
        if (mm[i].type == HVM_MEMMAP_RAM && addr >= mm[i].addr && addr - mm[i].addr <= mm[i].size &&
            size <= mm[i].size - (addr - mm[i].addr))
            return true;
    return false;
}

int pvh_memmap_normalize(const struct pvh_mem_range *in, u32 n, struct pvh_mem_range *out, u32 *nout, char *err,
                         size_t errlen)
{
    for (u32 i = 0; i < n; i++) {
        const struct pvh_mem_range r = in[i];
        if (r.size == 0 || r.size > ~0ULL - r.addr)
            return kerr_fmt(err, errlen, -EINVAL, "memory range %u at 0x%llx has size 0x%llx", i, X(r.addr), X(r.size));
        u32 k = i; /* insertion sort: a handful of ranges */
        while (k > 0 && out[k - 1].addr > r.addr) {
            out[k] = out[k - 1];
            k--;
        }
        out[k] = r;
    }
    u32 m = 0;
    for (u32 i = 0; i < n; i++) {
        if (m > 0) {
            struct pvh_mem_range *last = &out[m - 1];
            u64 last_end = last->addr + last->size;
            if (last_end > out[i].addr)
                return kerr_fmt(err, errlen, -EINVAL, "memory ranges [0x%llx, 0x%llx) and [0x%llx, 0x%llx) overlap",
                                X(last->addr), X(last_end), X(out[i].addr), X(out[i].addr + out[i].size));
            if (last_end == out[i].addr && last->type == out[i].type) {
                last->size += out[i].size;
                continue;
            }
        }
        out[m++] = out[i];
    }
    *nout = m;
    return 0;
}

int pvh_start_build(const struct pvh_start_config *cfg, struct pvh_start_layout *layout, char *err, size_t errlen)
{
    if (err && errlen)
        err[0] = '\0';
    if (!cfg || !layout || !cfg->buf)
        return kerr_fmt(err, errlen, -EINVAL, "bad arguments");
    memset(layout, 0, sizeof(*layout));
    const u64 base = cfg->base.v, cap = cfg->buf_size;
    if (!IS_ALIGNED(base, 8) || cap > ~0ULL - base)
        return kerr_fmt(err, errlen, -EINVAL,
                        "start info buffer at 0x%llx (+0x%llx) is misaligned "
                        "or wraps",
                        X(base), X(cap));
    if (cfg->nranges == 0 || !cfg->ranges)
        return kerr_fmt(err, errlen, -EINVAL, "empty memory map");
    if (cfg->nranges > PVH_MAX_MEMMAP)
        return kerr_fmt(err, errlen, -E2BIG, "%u memory ranges (at most %u)", cfg->nranges, PVH_MAX_MEMMAP);
    if (cfg->nmodules && !cfg->modules)
        return kerr_fmt(err, errlen, -EINVAL, "bad arguments");
    if (cfg->nmodules > PVH_MAX_MODULES)
        return kerr_fmt(err, errlen, -E2BIG, "%u modules (at most %u)", cfg->nmodules, PVH_MAX_MODULES);
    struct pvh_mem_range sorted[PVH_MAX_MEMMAP];
    u32 n;
    int rc = pvh_memmap_normalize(cfg->ranges, cfg->nranges, sorted, &n, err, errlen);
    if (rc < 0) {
        memset(cfg->buf, 0, cap); /* nothing half-built is left */
        return rc;
    }
    const u32 cmax = cfg->cmdline_max ? cfg->cmdline_max : PVH_CMDLINE_MAX;
    u64 cmd_len = 0;
    if (cfg->cmdline && bounded_len(cfg->cmdline, cmax, &cmd_len))
        return kerr_fmt(err, errlen, -E2BIG, "the command line is longer than %u bytes", cmax - 1);
    u64 mod_cmd_total = 0;
    for (u32 i = 0; i < cfg->nmodules; i++) {
        const struct pvh_module *m = &cfg->modules[i];
        u64 l;
        if (m->size == 0 || m->size > ~0ULL - m->paddr)
            return kerr_fmt(err, errlen, -EINVAL, "module %u at 0x%llx has size 0x%llx", i, X(m->paddr), X(m->size));
        if (m->cmdline) {
            if (bounded_len(m->cmdline, cmax, &l))
                return kerr_fmt(err, errlen, -E2BIG, "module %u's command line is longer than %u bytes", i, cmax - 1);
            mod_cmd_total += ALIGN_UP(l + 1, 8);
        }
    }

    /* The memory map first: copied, sorted and merged in place. Bounded sizes
     * (counts capped, strings < 2^32) keep every sum below far from wrapping. */
    u8 *buf = cfg->buf;
    const u64 off_mm = ALIGN_UP((u64)sizeof(struct hvm_start_info), 8);
    if (off_mm + (u64)cfg->nranges * sizeof(struct hvm_memmap_table_entry) > cap)
        return kerr_fmt(err, errlen, -ENOSPC, "the memory map does not fit in %llu bytes", X(cap));
    memset(buf, 0, cap);
    struct hvm_memmap_table_entry *mm = (struct hvm_memmap_table_entry *)(buf + off_mm);
    for (u32 i = 0; i < n; i++)
        mm[i] = (struct hvm_memmap_table_entry){ sorted[i].addr, sorted[i].size, sorted[i].type, 0 };
    memset(&mm[n], 0, (cfg->nranges - n) * sizeof(*mm));

    const u64 off_mod = off_mm + (u64)n * sizeof(*mm);
    const u64 off_cmd = off_mod + (u64)cfg->nmodules * sizeof(struct hvm_modlist_entry);
    u64 off_modcmd = off_cmd + (cfg->cmdline ? ALIGN_UP(cmd_len + 1, 8) : 0);
    const u64 used = off_modcmd + mod_cmd_total;
    if (used > cap) {
        memset(buf, 0, cap);
        return kerr_fmt(err, errlen, -ENOSPC, "the start info needs %llu bytes, the buffer has %llu", X(used), X(cap));
    }

    struct hvm_modlist_entry *ml = (struct hvm_modlist_entry *)(buf + off_mod);
    for (u32 i = 0; i < cfg->nmodules; i++) {
        const struct pvh_module *m = &cfg->modules[i];
        if (!in_ram(mm, n, m->paddr, m->size) || (m->paddr < base + used && base < m->paddr + m->size)) {
            memset(buf, 0, cap);
            return kerr_fmt(err, errlen, -EINVAL,
                            "module %u [0x%llx, 0x%llx) is not inside guest RAM or overlaps the "
                            "start info",
                            i, X(m->paddr), X(m->paddr + m->size));
        }
        ml[i].paddr = m->paddr;
        ml[i].size = m->size;
        if (m->cmdline) {
            u64 l = strlen(m->cmdline); /* bounded above */
            memcpy(buf + off_modcmd, m->cmdline, l + 1);
            ml[i].cmdline_paddr = base + off_modcmd;
            off_modcmd += ALIGN_UP(l + 1, 8);
        }
    }
    if (cfg->cmdline)
        memcpy(buf + off_cmd, cfg->cmdline, cmd_len + 1);

    struct hvm_start_info *si = (struct hvm_start_info *)buf;
    si->magic = HVM_START_MAGIC;
    si->version = 1;
    si->flags = 0;
    si->nr_modules = cfg->nmodules;
    si->modlist_paddr = cfg->nmodules ? base + off_mod : 0;
    si->cmdline_paddr = cfg->cmdline ? base + off_cmd : 0;
    si->rsdp_paddr = cfg->rsdp_gpa;
    si->memmap_paddr = base + off_mm;
    si->memmap_entries = n;
    si->reserved = 0;

    layout->size = used;
    layout->memmap_gpa = si->memmap_paddr;
    layout->modlist_gpa = si->modlist_paddr;
    layout->cmdline_gpa = si->cmdline_paddr;
    layout->memmap_entries = n;
    return 0;
}
