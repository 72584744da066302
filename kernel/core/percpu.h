/* Per-CPU state. Each CPU's GS base points at its struct percpu, so this_cpu()
 * is one load. Index 0 is the boot CPU. */
#ifndef ISTHMUS_KERNEL_PERCPU_H
#define ISTHMUS_KERNEL_PERCPU_H

#include "kernel/lib/types.h"
#include "arch/x86/hw/desc.h"

#define MAX_CPUS 64

enum cpu_state {
    CPU_ABSENT = 0, /* not started (or not present) */
    CPU_STARTING,   /* INIT-SIPI-SIPI sent, not yet reported */
    CPU_ONLINE,     /* in the hypervisor, idle */
    CPU_BUSY,       /* running work (later: a vCPU) */
    CPU_HALTED,     /* stopped after an exception: see halt_reason */
    CPU_FAILED,     /* did not answer INIT-SIPI-SIPI */
};

typedef void (*cpu_work_fn)(void *arg);

struct percpu {
    struct percpu *self; /* must stay first: this_cpu() reads %gs:0 */
    u32 index;
    u32 apic_id;
    int node;
    volatile u32 state; /* enum cpu_state */
    char halt_reason[64];
    u64 stack_top;
    u64 ticks; /* local timer interrupts taken */
    u64 irqs;
    /* Work handed to an idle CPU by cpu_run_on(): fn is set last, cleared when done. */
    void *volatile work_arg;
    volatile cpu_work_fn work_fn;
    /* Hardware virtualization on this CPU (arch/x86/svm or vmx). */
    bool virt_enabled;
    hpa_t virt_host_area;     /* SVM host save area / VMXON region */
    hpa_t virt_host_state;    /* SVM: host VMCB for VMSAVE/VMLOAD */
    struct cpu_tables tables; /* GDT, TSS and IST stacks */
};

/* cpu_list[i] for i < ncpus: one per enabled CPU in the topology, index 0 the boot CPU. */
extern struct percpu *cpu_list[MAX_CPUS];
extern u32 ncpus;
extern u32 cpus_online_count;

static inline struct percpu *this_cpu(void)
{
    struct percpu *p;
    __asm__ volatile("mov %%gs:0, %0" : "=r"(p));
    return p;
}

const char *cpu_state_name(u32 state);

#endif
