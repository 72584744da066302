/* The hypervisor's own GDT, TSS and IDT (SDM Vol. 3A ch. 3, 6, 8). Every CPU has
 * its own GDT and TSS (the TSS holds per-CPU IST stacks); the IDT is shared. The
 * structures are in arch/x86/hw/desc.h. */
#ifndef ISTHMUS_ARCH_X86_SEGMENTS_H
#define ISTHMUS_ARCH_X86_SEGMENTS_H

#include "kernel/lib/types.h"
#include "arch/x86/hw/desc.h"

struct percpu;
void segments_init_cpu(struct percpu *cpu); /* loads GDT, TSS, IDT, GS base */
void idt_init(void);                        /* once, on the boot CPU */

#endif
