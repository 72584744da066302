/* The KVM paravirtual clock, as a device: the KVM signature and features
 * leaves (KVM_CPUID_BASE) and the two clock MSRs Linux's kvmclock uses
 * (arch/x86/kernel/kvmclock.c). A guest with CONFIG_KVM_GUEST takes the TSC
 * frequency from it instead of calibrating against a PIT, HPET or PM timer
 * that partitions do not have, and its wall-clock time from the hypervisor's
 * (kernel/core/time.c). Why this and not a timer to calibrate against:
 * docs/guests.md.
 *
 * Every partition's clock starts at its start (system time 0 at the TSC of
 * attach()); the guest's TSC is the host's, so each vCPU's time page is the
 * same line through that point and never needs rewriting. The structures
 * and checks are pure (pvclock.c). */
#include "vmm/dev/pvclock.h"
#include "vmm/exits.h"
#include "vmm/vdev.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/core/time.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

struct kvmclock {
    u64 start_tsc; /* system time 0 */
    u64 boot_ns;   /* UTC at start_tsc */
    u32 mul;
    s8 shift;
    u64 wall_msr;                       /* last value written, as read back */
    u64 time_msr[CONFIG_MAX_PART_CPUS]; /* per vCPU */
    u32 version[CONFIG_MAX_PART_CPUS];  /* of each vCPU's page: even when stable */
    u32 wall_version;
    u64 refused; /* writes naming memory the guest may not have written */
};

static struct kvmclock clocks[CONFIG_MAX_PARTITIONS];

/* Writes the structure in two steps, version odd then even, so that a guest
 * reading meanwhile retries (the pvclock protocol). */
static int publish(struct partition *p, u64 g, const void *obj, u32 len, u32 *version)
{
    u32 v = *version + 1; /* odd: being written */
    int rc = gmem_write(&p->gmem, g, &v, sizeof(v));
    if (!rc)
        rc = gmem_write(&p->gmem, g + sizeof(v), (const u8 *)obj + sizeof(v), len - (u32)sizeof(v));
    v++;
    if (!rc)
        rc = gmem_write(&p->gmem, g, &v, sizeof(v));
    *version = v;
    return rc;
}

static enum vdev_result kvmclock_msr(struct vm_vcpu *vc, void *dev, u32 index, bool write, u64 *val)
{
    struct kvmclock *k = dev;
    struct partition *p = vc->part;
    u32 i = vc->v.index;
    bool wall = index == MSR_KVM_WALL_CLOCK_NEW;
    if (!write) {
        *val = wall ? k->wall_msr : k->time_msr[i];
        return VDEV_DONE;
    }
    if (!wall && !(*val & MSR_KVM_SYSTEM_TIME_ENABLE)) {
        k->time_msr[i] = *val; /* the guest stops reading this page */
        return VDEV_DONE;
    }
    u64 g = wall ? *val : *val & ~MSR_KVM_SYSTEM_TIME_ENABLE;
    u32 len = wall ? sizeof(struct pvclock_wall_clock) : sizeof(struct pvclock_vcpu_time_info);
    if (pvclock_gpa_check(p->ram_ranges, p->nram_ranges, g, len) < 0) {
        k->refused++;
        return VDEV_GP;
    }
    int rc;
    if (wall) {
        struct pvclock_wall_clock w;
        pvclock_fill_wall(&w, 0, k->boot_ns);
        rc = publish(p, g, &w, len, &k->wall_version);
        k->wall_msr = *val;
    } else {
        struct pvclock_vcpu_time_info t;
        pvclock_fill(&t, 0, k->start_tsc, k->mul, k->shift);
        rc = publish(p, g, &t, len, &k->version[i]);
        k->time_msr[i] = *val;
    }
    if (rc < 0)
        part_fail(vc, "kvmclock: cannot write guest-physical %#llx (%d)", (unsigned long long)g, rc);
    return VDEV_DONE;
}

static void kvmclock_cpuid(struct vm_vcpu *vc, void *dev, u32 leaf, u32 sub, u32 out[4])
{
    (void)vc;
    (void)dev;
    (void)sub;
    kvm_cpuid_leaf(leaf, out);
}

static int kvmclock_attach(struct partition *p, char *err, size_t errlen)
{
    struct kvmclock *k = &clocks[p->id];
    memset(k, 0, sizeof(*k));
    int rc = pvclock_scale(tsc_khz, &k->mul, &k->shift);
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "kvmclock: TSC frequency %llu kHz out of range", (unsigned long long)tsc_khz);
    k->start_tsc = rdtsc();
    k->boot_ns = wallclock_ns(k->start_tsc);
    rc = vdev_claim_cpuid(p, KVM_CPUID_BASE, KVM_CPUID_LAST, kvmclock_cpuid, k, "kvmclock");
    if (!rc)
        rc = vdev_claim_msr(p, MSR_KVM_WALL_CLOCK_NEW, MSR_KVM_SYSTEM_TIME_NEW, kvmclock_msr, k, "kvmclock");
    return rc < 0 ? kerr_fmt(err, errlen, rc, "kvmclock: cannot claim its leaves and MSRs") : 0;
}

static size_t kvmclock_show(const struct partition *p, char *buf, size_t len)
{
    const struct kvmclock *k = &clocks[p->id];
    u32 on = 0;
    for (u32 i = 0; i < p->nvcpus && i < CONFIG_MAX_PART_CPUS; i++)
        on += (k->time_msr[i] & MSR_KVM_SYSTEM_TIME_ENABLE) != 0;
    int n = ksnprintf(buf, len, "  kvmclock: %u of %u vCPUs reading it, %llu writes refused\n", on, p->nvcpus,
                      (unsigned long long)k->refused);
    return n < 0 ? 0 : MIN((size_t)n, len);
}

VDEV_REGISTER(kvmclock, .name = "kvmclock", .order = 0, .attach = kvmclock_attach, .show = kvmclock_show);
