/* Guest page-table walker: see guest_walk.h. Permissions are not checked: the
 * guest already executed (or tried) the access, and the hypervisor only reads. */
#include "vmm/guest_walk.h"
#include "kernel/lib/errno.h"

#define PTE_P     BIT(0)
#define PTE_PS    BIT(7)
#define ADDR_MASK 0x000ffffffffff000ULL    /* bits 51:12 */
#define CR0_PG_BIT BIT(31)
#define CR4_PAE_BIT BIT(5)
#define EFER_LMA_BIT BIT(10)

enum gwalk_mode gwalk_mode_of(u64 cr0, u64 cr4, u64 efer)
{
    if (!(cr0 & CR0_PG_BIT))
        return GWALK_NONE;
    if (efer & EFER_LMA_BIT)
        return GWALK_LONG4;
    return (cr4 & CR4_PAE_BIT) ? GWALK_PAE : GWALK_32;
}

static int read_entry(const struct gwalk_env *e, u64 pa, u64 *entry, u32 size)
{
    *entry = 0;
    return e->read(e->ctx, gpa(pa), entry, size) < 0 ? -EFAULT : 0;
}

int gwalk_translate(const struct gwalk_env *e, u64 va, gpa_t *out)
{
    u64 ent;
    switch (e->mode) {
    case GWALK_NONE:
        *out = gpa(va & 0xffffffffULL);
        return 0;
    case GWALK_32: {
        u32 a = (u32)va;
        if (read_entry(e, (e->cr3 & 0xfffff000ULL) + ((a >> 22) << 2), &ent, 4) < 0)
            return -EFAULT;
        if (!(ent & PTE_P))
            return -ENOENT;
        if ((ent & PTE_PS) && e->pse) {
            /* PSE-36: bits 20:13 hold physical address bits 39:32. */
            u64 base = (ent & 0xffc00000ULL) | ((ent >> 13) & 0xffULL) << 32;
            *out = gpa(base | (a & 0x3fffffu));
            return 0;
        }
        if (read_entry(e, (ent & 0xfffff000ULL) + (((a >> 12) & 0x3ff) << 2), &ent, 4) < 0)
            return -EFAULT;
        if (!(ent & PTE_P))
            return -ENOENT;
        *out = gpa((ent & 0xfffff000ULL) | (a & 0xfff));
        return 0;
    }
    case GWALK_PAE:
    case GWALK_LONG4: {
        int levels;
        u64 table;
        if (e->mode == GWALK_LONG4) {
            /* Bits 63:47 must all equal bit 47. */
            u64 top = va >> 47;
            if (top != 0 && top != 0x1ffff)
                return -EINVAL;
            levels = 4;
            table = e->cr3 & ADDR_MASK;
        } else {
            va &= 0xffffffffULL;
            if (read_entry(e, (e->cr3 & 0xffffffe0ULL) + ((va >> 30) << 3), &ent, 8) < 0)
                return -EFAULT;
            if (!(ent & PTE_P))
                return -ENOENT;
            levels = 2;
            table = ent & ADDR_MASK;
        }
        for (int lvl = levels; lvl >= 1; lvl--) {
            u32 shift = 12 + 9 * (lvl - 1);
            if (read_entry(e, table + (((va >> shift) & 0x1ff) << 3), &ent, 8) < 0)
                return -EFAULT;
            if (!(ent & PTE_P))
                return -ENOENT;
            /* Large pages: 1 GiB at level 3 (long mode only), 2 MiB at level 2. */
            if (lvl > 1 && (ent & PTE_PS)) {
                if (lvl == 4 || (lvl == 3 && e->mode != GWALK_LONG4))
                    return -EINVAL;
                u64 size = 1ULL << shift;
                *out = gpa((ent & ADDR_MASK & ~(size - 1)) | (va & (size - 1)));
                return 0;
            }
            table = ent & ADDR_MASK;
        }
        *out = gpa(table | (va & 0xfff));
        return 0;
    }
    }
    return -EINVAL;
}

int gwalk_read(const struct gwalk_env *e, u64 va, void *out, u32 len)
{
    u8 *o = out;
    while (len) {
        u32 chunk = (u32)MIN((u64)len, 0x1000 - (va & 0xfff));
        gpa_t pa;
        int err = gwalk_translate(e, va, &pa);
        if (err < 0)
            return err;
        if (e->read(e->ctx, pa, o, chunk) < 0)
            return -EFAULT;
        o += chunk;
        va += chunk;
        len -= chunk;
    }
    return 0;
}
