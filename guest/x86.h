/* x86 instructions the test guest needs, as inline functions. */
#ifndef TG_X86_H
#define TG_X86_H

#include <stdint.h>

static inline void outb(uint16_t port, uint8_t v) { __asm__ volatile("outb %0, %1" :: "a"(v), "Nd"(port)); }
static inline void outl(uint16_t port, uint32_t v) { __asm__ volatile("outl %0, %1" :: "a"(v), "Nd"(port)); }

static inline uint8_t inb(uint16_t port)
{
    uint8_t v;
    __asm__ volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline uint32_t inl(uint16_t port)
{
    uint32_t v;
    __asm__ volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}

static inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
    __asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(sub));
}

static inline uint64_t rdtsc(void)
{
    uint32_t lo, hi;
    __asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t)hi << 32 | lo;
}

static inline void cli(void) { __asm__ volatile("cli" ::: "memory"); }
static inline void sti(void) { __asm__ volatile("sti" ::: "memory"); }
static inline void pause(void) { __asm__ volatile("pause" ::: "memory"); }
/* STI's one-instruction interrupt shadow makes "sti; hlt" atomic: an interrupt
 * that became pending while IF was 0 wakes the HLT instead of being taken just
 * before it (SDM Vol. 2B, STI). */
static inline void sti_hlt(void) { __asm__ volatile("sti; hlt" ::: "memory"); }
static inline void barrier(void) { __asm__ volatile("" ::: "memory"); }

static inline uint64_t read_cr2(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr2, %0" : "=r"(v));
    return v;
}

static inline uint64_t read_cr3(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr3, %0" : "=r"(v));
    return v;
}

static inline void write_cr3(uint64_t v) { __asm__ volatile("mov %0, %%cr3" :: "r"(v) : "memory"); }

/* MMIO to trapped registers (the local APIC page, the NIC's BAR). The
 * hypervisor decodes these accesses, so they are always a plain MOV through
 * RDX with no displacement, exactly as wide as the register: 8b/89 02 (32
 * bits), 8a/88 02 (8), 66 8b/89 02 (16), 48 8b/89 02 (64, the edu device's
 * DMA registers). Virtio asks for accesses exactly as wide as the field
 * (4.1.3.1). */
#define MMIO_ACCESSORS(bits, type, suffix, reg)                                           \
    static inline type mmio_read##bits(uintptr_t addr)                                    \
    {                                                                                     \
        type v;                                                                           \
        __asm__ volatile("mov" suffix " (%%rdx), %%" reg : "=a"(v) : "d"(addr) : "memory"); \
        return v;                                                                         \
    }                                                                                     \
    static inline void mmio_write##bits(uintptr_t addr, type v)                           \
    {                                                                                     \
        __asm__ volatile("mov" suffix " %%" reg ", (%%rdx)" :: "a"(v), "d"(addr) : "memory"); \
    }
MMIO_ACCESSORS(8, uint8_t, "b", "al")
MMIO_ACCESSORS(16, uint16_t, "w", "ax")
MMIO_ACCESSORS(32, uint32_t, "l", "eax")
MMIO_ACCESSORS(64, uint64_t, "q", "rax")
#undef MMIO_ACCESSORS

/* A full fence (GCC emits MFENCE or a locked OR to the stack): orders an
 * earlier store before a later load, which x86 otherwise does not (SDM Vol.
 * 3A 8.2.3.4). Stores after stores and loads after loads need only barrier(). */
static inline void full_fence(void) { __atomic_thread_fence(__ATOMIC_SEQ_CST); }

#endif
