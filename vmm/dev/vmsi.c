/* See vmsi.h. */
#include "vmm/dev/vmsi.h"
#include "vmm/exits.h"
#include "vmm/dev/vpci.h"
#include "arch/x86/interrupts.h"
#include "arch/x86/hw/msi.h"
#include "arch/x86/hw/vectors.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/percpu.h"

#define NVEC (VMSI_LAST_VECTOR - VMSI_FIRST_VECTOR + 1)

/* Per CPU and host vector: the vCPU and the guest's vector. Written only by
 * the vCPUs of the partition that owns the CPU (under its pci_lock). */
static struct route {
    struct vm_vcpu *volatile vc;
    u8 gvec;
} routes[MAX_CPUS][NVEC];

static u64 stray;

static void msi_irq(struct int_frame *f)
{
    u32 v = (u32)f->vector;
    struct percpu *c = this_cpu();
    struct route *r = &routes[c->index][v - VMSI_FIRST_VECTOR];
    struct vm_vcpu *vc = __atomic_load_n(&r->vc, __ATOMIC_ACQUIRE);
    if (!vc || vc->cpu != c) {
        stray++;
        return;
    }
    vc->stats.msis++;
    vcpu_post_irq(vc, r->gvec);
}

void vmsi_init(void)
{
    for (u32 v = VMSI_FIRST_VECTOR; v <= VMSI_LAST_VECTOR; v++)
        irq_register((u8)v, msi_irq);
}

void vmsi_release(void *ctx, u32 route)
{
    struct vmsi_routes *rt = ctx;
    if (route >= ARRAY_SIZE(rt->route) || !rt->route[route].used)
        return;
    struct route *r = &routes[rt->route[route].cpu][rt->route[route].hvec - VMSI_FIRST_VECTOR];
    __atomic_store_n(&r->vc, NULL, __ATOMIC_RELEASE);
    rt->route[route].used = false;
}

int vmsi_route(void *ctx, u32 route, u64 gaddr, u32 gdata, u64 *haddr, u32 *hdata)
{
    struct vmsi_routes *rt = ctx;
    struct partition *p = rt->p;
    u32 mode = (gdata >> MSI_DATA_DELIVERY_SHIFT) & MSI_DATA_DELIVERY_MASK;
    u8 gvec = (u8)(gdata & MSI_DATA_VECTOR_MASK);
    /* Fixed or lowest-priority only (SMI, NMI, INIT and ExtINT are refused),
     * and a vector an interrupt can have. */
    if (route >= ARRAY_SIZE(rt->route) || (gaddr >> MSI_ADDR_BASE_SHIFT) != (MSI_ADDR_BASE >> MSI_ADDR_BASE_SHIFT) ||
        (mode != MSI_DELIVERY_FIXED && mode != MSI_DELIVERY_LOWEST) || gvec < APIC_MIN_VECTOR)
        return -EINVAL;
    u32 dest = (u32)(gaddr >> MSI_ADDR_DEST_SHIFT) & MSI_ADDR_DEST_MASK;
    bool logical = gaddr & MSI_ADDR_DM_LOGICAL;
    struct vm_vcpu *to = NULL;
    for (u32 i = 0; i < p->nvcpus && !to; i++)
        if (p->vcpu[i] && vcpu_accepts(p->vcpu[i], dest, logical))
            to = p->vcpu[i];
    if (!to || to->cpu->apic_id > MSI_ADDR_DEST_MASK)
        return -ENOENT; /* an x2APIC-only host CPU cannot be an xAPIC MSI target */
    vmsi_release(rt, route);
    u32 cpu = to->cpu->index;
    for (u32 v = 0; v < NVEC; v++) {
        struct route *r = &routes[cpu][v];
        if (r->vc)
            continue;
        r->gvec = gvec;
        __atomic_store_n(&r->vc, to, __ATOMIC_RELEASE);
        rt->route[route].cpu = (u16)cpu;
        rt->route[route].hvec = (u8)(VMSI_FIRST_VECTOR + v);
        rt->route[route].used = true;
        *haddr = MSI_ADDR_BASE | (u64)to->cpu->apic_id << MSI_ADDR_DEST_SHIFT;
        *hdata = (MSI_DELIVERY_FIXED << MSI_DATA_DELIVERY_SHIFT) | (VMSI_FIRST_VECTOR + v); /* edge */
        return 0;
    }
    return -ENOSPC;
}
