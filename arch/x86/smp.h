/* Starting the application processors and handing work to them. */
#ifndef ISTHMUS_ARCH_X86_SMP_H
#define ISTHMUS_ARCH_X86_SMP_H

#include "kernel/lib/types.h"
#include "kernel/core/bootinfo.h"
#include "kernel/core/percpu.h"

/* Copies the start-up code below 1 MiB; before paging_init() maps it read-only. */
int smp_install_trampoline(const struct boot_info *bi) __must_check;
/* Starts the CPU described by cpu (apic_id, node, index filled in) with INIT-SIPI-SIPI;
 * returns 0 once it runs in the hypervisor, -ETIMEDOUT when it does not answer. */
int smp_start_cpu(struct percpu *cpu, void *stack_top) __must_check;
/* Runs fn(arg) on an idle CPU and returns without waiting; -EBUSY when it is not idle. */
int cpu_run_on(struct percpu *cpu, cpu_work_fn fn, void *arg) __must_check;

#endif
