/* Per-CPU GDT/TSS set-up and the shared IDT. */
#include "arch/x86/segments.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/vectors.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/string.h"

static struct idt_gate idt[256] __aligned(16);
extern const u64 isr_table[256]; /* arch/x86/entry.asm */

void idt_init(void)
{
    for (int v = 0; v < 256; v++) {
        u64 off = isr_table[v];
        idt[v].off_lo = (u16)off;
        idt[v].sel = SEL_CODE;
        idt[v].ist = 0;
        idt[v].type = SEG_ATTR_P | SEG_TYPE_INTR_GATE;
        idt[v].off_mid = (u16)(off >> 16);
        idt[v].off_hi = (u32)(off >> 32);
        idt[v].reserved = 0;
    }
    /* Faults that can arrive on a bad stack get known-good ones. */
    idt[X86_EXC_DF].ist = IST_DOUBLE_FAULT;
    idt[X86_EXC_NMI].ist = IST_NMI;
    idt[X86_EXC_MC].ist = IST_MACHINE_CHECK;
}

void segments_init_cpu(struct percpu *cpu)
{
    struct cpu_tables *t = &cpu->tables;
    memset(&t->tss, 0, sizeof(t->tss));
    for (int i = 0; i < 3; i++)
        t->tss.ist[i] = (u64)(uintptr_t)(t->ist_stacks[i] + IST_STACK_SIZE);
    t->tss.iomap_base = sizeof(struct tss64); /* no I/O bitmap */

    u64 base = (u64)(uintptr_t)&t->tss, limit = sizeof(t->tss) - 1;
    t->gdt[0] = 0;
    t->gdt[1] = GDT_CODE64;
    t->gdt[2] = GDT_DATA;
    /* 16-byte available 64-bit TSS descriptor (SDM 8.2.3). */
    t->gdt[3] = (limit & 0xffff) | ((base & 0xffffff) << 16) | ((u64)(SEG_ATTR_P | SEG_TYPE_TSS_AVAIL) << 40) |
                (((limit >> 16) & 0xf) << 48) | (((base >> 24) & 0xff) << 56);
    t->gdt[4] = base >> 32;

    struct desc_ptr gdtr = { sizeof(t->gdt) - 1, (u64)(uintptr_t)t->gdt };
    struct desc_ptr idtr = { sizeof(idt) - 1, (u64)(uintptr_t)idt };
    __asm__ volatile("lgdt %0\n\t"
                     "mov %w2, %%ds\n\t"
                     "mov %w2, %%es\n\t"
                     "mov %w2, %%ss\n\t"
                     "xor %%eax, %%eax\n\t"
                     "mov %%eax, %%fs\n\t"
                     "mov %%eax, %%gs\n\t"
                     /* Reload CS with a far return. */
                     "lea 1f(%%rip), %%rax\n\t"
                     "pushq %3\n\t"
                     "pushq %%rax\n\t"
                     "lretq\n"
                     "1:\n\t"
                     "lidt %1\n\t"
                     "ltr %w4\n\t"
                     :
                     : "m"(gdtr), "m"(idtr), "r"((u64)SEL_DATA), "i"((u64)SEL_CODE), "r"((u64)SEL_TSS)
                     : "rax", "memory");
    cpu->self = cpu;
    wrmsr(MSR_GS_BASE, (u64)(uintptr_t)cpu);
}
