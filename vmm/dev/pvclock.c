/* See pvclock.h. */
#include "vmm/dev/pvclock.h"
#include "arch/x86/hw/cpuid.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

#define NS_PER_MS       1000000ULL
#define PVCLOCK_KHZ_MAX (1ULL << 30)

void kvm_cpuid_leaf(u32 leaf, u32 out[4])
{
    out[0] = out[1] = out[2] = out[3] = 0;
    if (leaf == KVM_CPUID_BASE) {
        out[0] = KVM_CPUID_LAST; /* highest KVM leaf */
        out[1] = CPUID_KVM_SIG_EBX;
        out[2] = CPUID_KVM_SIG_ECX;
        out[3] = CPUID_KVM_SIG_EDX;
    } else if (leaf == KVM_CPUID_BASE + CPUID_KVM_FEATURES) {
        out[0] = (u32)KVM_FEATURES_OFFERED; /* EDX: no hints (not KVM_HINTS_REALTIME) */
    }
}

int pvclock_scale(u64 tsc_khz, u32 *mul, s8 *shift)
{
    if (!tsc_khz || tsc_khz > PVCLOCK_KHZ_MAX)
        return -EINVAL;
    /* ns per tick = 10^6 / tsc_khz = num / den; bring num / den into
     * [1/2, 1) by powers of two, which the shift puts back. */
    u64 num = NS_PER_MS, den = tsc_khz;
    int sh = 0;
    while (num >= den) {
        den <<= 1;
        sh++;
    }
    while (num * 2 < den) {
        num <<= 1;
        sh--;
    }
    /* num < den <= 2^31 here, so num << 32 fits. */
    *mul = (u32)((num << 32) / den);
    *shift = (s8)sh;
    return 0;
}

u64 pvclock_ticks_to_ns(u64 ticks, u32 mul, s8 shift)
{
    if (shift < 0)
        ticks >>= -shift;
    else
        ticks <<= shift;
    return (u64)(((unsigned __int128)ticks * mul) >> 32);
}

int pvclock_gpa_check(const struct hc_mem_range *ram, u32 nram, u64 gpa, u32 len)
{
    if (!len || !IS_ALIGNED(gpa, 4) || (gpa & (PAGE_SIZE - 1)) + len > PAGE_SIZE)
        return -EINVAL;
    for (u32 i = 0; i < nram; i++)
        if (gpa >= ram[i].start && gpa < ram[i].end && len <= ram[i].end - gpa)
            return 0;
    return -EFAULT;
}

void pvclock_fill(struct pvclock_vcpu_time_info *t, u32 version, u64 start_tsc, u32 mul, s8 shift)
{
    memset(t, 0, sizeof(*t));
    t->version = version;
    t->tsc_timestamp = start_tsc;
    t->system_time = 0;
    t->tsc_to_system_mul = mul;
    t->tsc_shift = shift;
    t->flags = PVCLOCK_TSC_STABLE_BIT;
}

void pvclock_fill_wall(struct pvclock_wall_clock *w, u32 version, u64 boot_ns)
{
    w->version = version;
    w->sec = (u32)(boot_ns / 1000000000ULL);
    w->nsec = (u32)(boot_ns % 1000000000ULL);
}
