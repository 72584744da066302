/* Thin wrappers over x86-64 instructions. The architectural constants are in
 * the other headers of arch/x86/hw/ (regs.h and msr.h are included here, for
 * the users of rdmsr() and the control registers); those build on the host
 * too, this one only for the hypervisor. */
#ifndef ISTHMUS_ARCH_X86_CPU_H
#define ISTHMUS_ARCH_X86_CPU_H

#include "kernel/lib/types.h"
#include "arch/x86/hw/msr.h"
#include "arch/x86/hw/regs.h"

struct cpuid_regs {
    u32 eax, ebx, ecx, edx;
};

static inline struct cpuid_regs cpuid(u32 leaf, u32 subleaf)
{
    struct cpuid_regs r;
    __asm__ volatile("cpuid" : "=a"(r.eax), "=b"(r.ebx), "=c"(r.ecx), "=d"(r.edx) : "a"(leaf), "c"(subleaf));
    return r;
}

static inline u64 rdmsr(u32 msr)
{
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}

static inline void wrmsr(u32 msr, u64 v)
{
    __asm__ volatile("wrmsr" : : "c"(msr), "a"((u32)v), "d"((u32)(v >> 32)) : "memory");
}

static inline u64 rdtsc(void)
{
    u32 lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return ((u64)hi << 32) | lo;
}

#define DEFINE_CR(n)                                                                                                   \
    static inline u64 read_cr##n(void)                                                                                 \
    {                                                                                                                  \
        u64 v;                                                                                                         \
        __asm__ volatile("mov %%cr" #n ", %0" : "=r"(v));                                                              \
        return v;                                                                                                      \
    }                                                                                                                  \
    static inline void write_cr##n(u64 v) { __asm__ volatile("mov %0, %%cr" #n : : "r"(v) : "memory"); }
DEFINE_CR(0)
DEFINE_CR(2)
DEFINE_CR(3)
DEFINE_CR(4)
#undef DEFINE_CR

static inline u64 read_rflags(void)
{
    u64 f;
    __asm__ volatile("pushfq; pop %0" : "=r"(f));
    return f;
}

static inline void outb(u16 port, u8 v) { __asm__ volatile("outb %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outw(u16 port, u16 v) { __asm__ volatile("outw %0, %1" : : "a"(v), "Nd"(port)); }
static inline void outl(u16 port, u32 v) { __asm__ volatile("outl %0, %1" : : "a"(v), "Nd"(port)); }
static inline u8 inb(u16 port)
{
    u8 v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u16 inw(u16 port)
{
    u16 v;
    __asm__ volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
static inline u32 inl(u16 port)
{
    u32 v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline u32 mmio_read32(hpa_t a) { return *(volatile u32 *)hpa_to_ptr(a); }
static inline void mmio_write32(hpa_t a, u32 v) { *(volatile u32 *)hpa_to_ptr(a) = v; }
static inline u64 mmio_read64(hpa_t a) { return *(volatile u64 *)hpa_to_ptr(a); }
static inline void mmio_write64(hpa_t a, u64 v) { *(volatile u64 *)hpa_to_ptr(a) = v; }

static inline void cpu_relax(void) { __asm__ volatile("pause" ::: "memory"); }
static inline void irq_disable(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void irq_enable(void) { __asm__ volatile("sti" ::: "memory"); }
/* sti;hlt as one pair: an interrupt arriving between them still wakes the hlt
 * because sti's one-instruction interrupt shadow covers the hlt. */
static inline void irq_enable_and_halt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void halt(void) { __asm__ volatile("hlt" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }
static inline void invlpg(const void *va) { __asm__ volatile("invlpg (%0)" : : "r"(va) : "memory"); }
static inline void io_delay(void) { outb(0x80, 0); }
/* Writes back and invalidates the cache lines of [p, p + len), then fences:
 * for tables a device walks without snooping the CPU caches (a VT-d unit
 * whose ECAP.C is clear). */
#define CACHE_LINE 64
static inline void clflush_range(const void *p, u64 len)
{
    const char *c = (const char *)((uintptr_t)p & ~(uintptr_t)(CACHE_LINE - 1));
    for (; c < (const char *)p + len; c += CACHE_LINE)
        __asm__ volatile("clflush %0" : "+m"(*(volatile char *)c));
    __asm__ volatile("mfence" ::: "memory");
}

static inline u64 irq_save(void)
{
    u64 f = read_rflags();
    irq_disable();
    return f;
}
static inline void irq_restore(u64 flags)
{
    if (flags & RFLAGS_IF)
        irq_enable();
}

__noreturn void cpu_halt_forever(void);

#endif
