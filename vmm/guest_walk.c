/* Guest page-table walker: see guest_walk.h. Permissions are not checked: the
 * guest already executed (or tried) the access, and the hypervisor only reads. */
#include "vmm/guest_walk.h"
#include "kernel/lib/errno.h"
#include "arch/x86/hw/pte.h"
#include "arch/x86/hw/regs.h"

enum gwalk_mode gwalk_mode_of(u64 cr0, u64 cr4, u64 efer)
{
    if (!(cr0 & CR0_PG))
        return GWALK_NONE;
    if (efer & EFER_LMA)
        return GWALK_LONG4;
    return (cr4 & CR4_PAE) ? GWALK_PAE : GWALK_32;
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
    case GWALK_NONE: *out = gpa((u32)va); return 0;
    case GWALK_32: {
        u32 a = (u32)va;
        if (read_entry(e, (e->cr3 & CR3_ADDR32) + ((a >> PDE32_SHIFT) << 2), &ent, 4) < 0)
            return -EFAULT;
        if (!(ent & PTE_P))
            return -ENOENT;
        if ((ent & PTE_PS) && e->pse) {
            /* PSE-36: bits 20:13 hold physical address bits 39:32. */
            u64 base = (ent & PDE32_4M_ADDR) | ((ent >> PDE32_4M_HI_SHIFT) & PDE32_4M_HI_MASK) << 32;
            *out = gpa(base | (a & (BIT(PDE32_SHIFT) - 1)));
            return 0;
        }
        u64 pte = (ent & PTE32_ADDR) + (((a >> PAGE_SHIFT) & (PT32_ENTRIES - 1)) << 2);
        if (read_entry(e, pte, &ent, 4) < 0)
            return -EFAULT;
        if (!(ent & PTE_P))
            return -ENOENT;
        *out = gpa((ent & PTE32_ADDR) | (a & (PAGE_SIZE - 1)));
        return 0;
    }
    case GWALK_PAE:
    case GWALK_LONG4: {
        int levels;
        u64 table;
        if (e->mode == GWALK_LONG4) {
            /* Bits 63:47 must all equal bit 47. */
            u64 top = va >> (PT_ADDR_BITS_4LEVEL - 1);
            if (top != 0 && top != ~0ULL >> (PT_ADDR_BITS_4LEVEL - 1))
                return -EINVAL;
            levels = 4;
            table = e->cr3 & CR3_ADDR;
        } else {
            va = (u32)va;
            if (read_entry(e, (e->cr3 & CR3_ADDR_PAE) + (PT_INDEX(va, 3) << 3), &ent, 8) < 0)
                return -EFAULT;
            if (!(ent & PTE_P))
                return -ENOENT;
            levels = 2;
            table = ent & PTE_ADDR;
        }
        for (int lvl = levels; lvl >= 1; lvl--) {
            u32 shift = PT_LEVEL_SHIFT(lvl);
            if (read_entry(e, table + (PT_INDEX(va, lvl) << 3), &ent, 8) < 0)
                return -EFAULT;
            if (!(ent & PTE_P))
                return -ENOENT;
            /* Large pages: 1 GiB at level 3 (long mode only), 2 MiB at level 2. */
            if (lvl > 1 && (ent & PTE_PS)) {
                if (lvl == 4 || (lvl == 3 && e->mode != GWALK_LONG4))
                    return -EINVAL;
                u64 size = 1ULL << shift;
                *out = gpa((ent & PTE_ADDR & ~(size - 1)) | (va & (size - 1)));
                return 0;
            }
            table = ent & PTE_ADDR;
        }
        *out = gpa(table | (va & (PAGE_SIZE - 1)));
        return 0;
    }
    }
    return -EINVAL;
}

int gwalk_read(const struct gwalk_env *e, u64 va, void *out, u32 len)
{
    u8 *o = out;
    while (len) {
        u32 chunk = (u32)MIN((u64)len, PAGE_SIZE - (va & (PAGE_SIZE - 1)));
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
