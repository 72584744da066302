/* The hypervisor's own GDT, TSS and IDT (SDM Vol. 3A ch. 3, 6, 8). Every CPU has
 * its own GDT and TSS (the TSS holds per-CPU IST stacks); the IDT is shared. */
#ifndef ISTHMUS_ARCH_X86_SEGMENTS_H
#define ISTHMUS_ARCH_X86_SEGMENTS_H

#include "kernel/lib/types.h"

#define SEL_NULL  0x00
#define SEL_CODE  0x08
#define SEL_DATA  0x10
#define SEL_TSS   0x18
#define GDT_ENTRIES 5             /* TSS descriptor takes two slots in long mode */

#define IST_DOUBLE_FAULT 1
#define IST_NMI          2
#define IST_MACHINE_CHECK 3
#define IST_STACK_SIZE   4096

struct tss64 {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 iomap_base;
} __packed;
STATIC_ASSERT(sizeof(struct tss64) == 104, "TSS is 104 bytes (SDM 8.7)");
STATIC_ASSERT(__builtin_offsetof(struct tss64, ist) == 0x24, "IST1 at 0x24");

struct cpu_tables {
    u64 gdt[GDT_ENTRIES] __aligned(16);
    struct tss64 tss __aligned(16);
    u8 ist_stacks[3][IST_STACK_SIZE] __aligned(16);
};

struct percpu;
void segments_init_cpu(struct percpu *cpu);   /* loads GDT, TSS, IDT, GS base */
void idt_init(void);                          /* once, on the boot CPU */

#endif
