/* See vdev.h. */
#include "vmm/vdev.h"
#include "vmm/partition.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/core/log.h"

#define VDEV_MAX_TYPES 16

static const struct vdev_type *types[VDEV_MAX_TYPES];
static u32 ntypes;
static bool types_ready;

/* Sorted by order once; equal orders keep the section's order. */
static void sort_types(const struct vdev_type *t, u32 n)
{
    ntypes = 0;
    for (u32 i = 0; i < n && ntypes < VDEV_MAX_TYPES; i++) {
        u32 k = ntypes++;
        while (k && types[k - 1]->order > t[i].order) {
            types[k] = types[k - 1];
            k--;
        }
        types[k] = &t[i];
    }
    if (n > VDEV_MAX_TYPES)
        log_err("vdev", "%u device types registered, only the first %u are used", n, VDEV_MAX_TYPES);
    types_ready = true;
}

void vdev_use_types(const struct vdev_type *t, u32 n) { sort_types(t, n); }

static void ensure_types(void)
{
    /* The linker's bounds of one array; to a C checker, two objects. */
    // cppcheck-suppress comparePointers
    u32 n = (u32)(__stop_vdev_types - __start_vdev_types);
    if (!types_ready)
        sort_types(__start_vdev_types, n);
}

/* ---- claims ---- */

static int claim(struct partition *p, struct vdev_claim *tab, u32 *n, u32 max, const char *what, u64 first, u64 last,
                 void *fn, void *dev, const char *owner)
{
    if (last < first || !fn)
        return -EINVAL;
    for (u32 i = 0; i < *n; i++)
        if (first <= tab[i].last && tab[i].first <= last) {
            log_err("vdev", "%s: %s %#llx-%#llx of %s overlaps %#llx-%#llx of %s", p->cfg->name, what,
                    (unsigned long long)first, (unsigned long long)last, owner, (unsigned long long)tab[i].first,
                    (unsigned long long)tab[i].last, tab[i].owner);
            return -EEXIST;
        }
    if (*n >= max) {
        log_err("vdev", "%s: no room for %s %#llx of %s (%u claims at most)", p->cfg->name, what,
                (unsigned long long)first, owner, max);
        return -ENOSPC;
    }
    tab[(*n)++] = (struct vdev_claim){ first, last, fn, dev, owner };
    return 0;
}

int vdev_claim_pio(struct partition *p, u16 first, u16 count, vdev_pio_fn fn, void *dev, const char *owner)
{
    if (!count || (u32)first + count > 0x10000)
        return -EINVAL;
    return claim(p, p->vdev.pio, &p->vdev.npio, VDEV_MAX_PIO, "ports", first, (u64)first + count - 1, (void *)fn, dev,
                 owner);
}

int vdev_claim_mmio(struct partition *p, gpa_t first, u64 len, vdev_mmio_fn fn, void *dev, const char *owner)
{
    if (!len || first.v + len - 1 < first.v)
        return -EINVAL;
    return claim(p, p->vdev.mmio, &p->vdev.nmmio, VDEV_MAX_MMIO, "guest-physical", first.v, first.v + len - 1,
                 (void *)fn, dev, owner);
}

int vdev_claim_msr(struct partition *p, u32 first, u32 last, vdev_msr_fn fn, void *dev, const char *owner)
{
    return claim(p, p->vdev.msr, &p->vdev.nmsr, VDEV_MAX_MSR, "MSRs", first, last, (void *)fn, dev, owner);
}

int vdev_claim_cpuid(struct partition *p, u32 first, u32 last, vdev_cpuid_fn fn, void *dev, const char *owner)
{
    return claim(p, p->vdev.cpuid, &p->vdev.ncpuid, VDEV_MAX_CPUID, "CPUID leaves", first, last, (void *)fn, dev,
                 owner);
}

const struct vdev_claim *vdev_find(const struct vdev_claim *tab, u32 n, u64 addr)
{
    for (u32 i = 0; i < n; i++)
        if (addr >= tab[i].first && addr <= tab[i].last)
            return &tab[i];
    return NULL;
}

/* ---- lifecycle ---- */

int vdev_attach_all(struct partition *p, char *err, size_t errlen)
{
    ensure_types();
    memset(&p->vdev, 0, sizeof(p->vdev));
    for (u32 i = 0; i < ntypes; i++) {
        if (!types[i]->attach)
            continue;
        int rc = types[i]->attach(p, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

#define FOR_EACH_HOOK(hook, ...)                                                                                       \
    do {                                                                                                               \
        ensure_types();                                                                                                \
        for (u32 i_ = 0; i_ < ntypes; i_++)                                                                            \
            if (types[i_]->hook)                                                                                       \
                types[i_]->hook(__VA_ARGS__);                                                                          \
    } while (0)

void vdev_boot_all(void)
{
    ensure_types();
    for (u32 i = 0; i < ntypes; i++)
        if (types[i]->boot)
            types[i]->boot();
}

void vdev_setup_all(struct partition *p) { FOR_EACH_HOOK(setup, p); }
void vdev_start_all(struct partition *p) { FOR_EACH_HOOK(start, p); }
void vdev_quiesce_all(struct partition *p) { FOR_EACH_HOOK(quiesce, p); }

/* In reverse attach order: what sits on a bus goes before the bus. */
void vdev_detach_all(struct partition *p)
{
    ensure_types();
    for (u32 i = ntypes; i-- > 0;)
        if (types[i]->detach)
            types[i]->detach(p);
    memset(&p->vdev, 0, sizeof(p->vdev));
}

u64 vdev_deadline(struct vm_vcpu *vc)
{
    u64 d = 0;
    for (u32 i = 0; i < ntypes; i++) {
        u64 t = types[i]->deadline ? types[i]->deadline(vc) : 0;
        if (t && (!d || t < d))
            d = t;
    }
    return d;
}

void vdev_poll(struct vm_vcpu *vc)
{
    for (u32 i = 0; i < ntypes; i++)
        if (types[i]->poll)
            types[i]->poll(vc);
}

size_t vdev_show_all(const struct partition *p, char *buf, size_t len)
{
    ensure_types();
    size_t n = 0;
    if (len)
        buf[0] = '\0';
    for (u32 i = 0; i < ntypes && n + 1 < len; i++)
        if (types[i]->show)
            n += types[i]->show(p, buf + n, len - n);
    return n;
}

int vdev_console_input(struct partition *p, const u8 *buf, u32 n)
{
    ensure_types();
    for (u32 i = 0; i < ntypes; i++)
        if (types[i]->input)
            return (int)types[i]->input(p, buf, n);
    return -ENODEV;
}
