/* The 64-bit Linux entry state; see boot64.h. */
#include "vmm/boot64.h"
#include "arch/x86/hw/desc.h"
#include "arch/x86/hw/pte.h"
#include "arch/x86/hw/regs.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

/* Accessed (and, on leaves, dirty) already set: the CPU need not write them
 * back, which under shadow paging would be one more trapped write each. */
#define TABLE_FLAGS (PTE_P | PTE_RW | PTE_A)
#define LEAF_FLAGS  (PTE_P | PTE_RW | PTE_A | PTE_D | PTE_PS)

STATIC_ASSERT(BOOT64_PD_COUNT <= 512, "one PDPT");
STATIC_ASSERT(BOOT64_GDT_ENTRIES * 8 <= BOOT64_TSS_OFF, "the GDT ends before the TSS");
STATIC_ASSERT(BOOT64_TSS_OFF + sizeof(struct tss64) + 0x400 <= BOOT64_STACK_TOP_OFF, "1 KiB of stack at least");
STATIC_ASSERT(BOOT64_CMDLINE_OFF + BOOT64_CMDLINE_MAX <= PAGE_SIZE, "the command line ends in the page");

/* A segment descriptor (SDM Vol. 3A 3.4.5) from the packed attributes, which
 * are its bits 47:40 and 55:52. */
static u64 descriptor(u32 base, u32 limit, u16 attrib)
{
    return (limit & 0xffffULL) | (u64)(base & 0xffffff) << 16 | (u64)(attrib & 0xff) << 40 |
           (u64)((limit >> 16) & 0xf) << 48 | (u64)((attrib >> 8) & 0xf) << 52 | (u64)(base >> 24) << 56;
}

int boot64_build(void *buf, u64 size, gpa_t base)
{
    if (!buf || size < BOOT64_SIZE || !IS_ALIGNED(base.v, PAGE_SIZE) || base.v > BOOT64_MAPPED - BOOT64_SIZE)
        return -EINVAL;
    u8 *b = buf;
    memset(b, 0, BOOT64_SIZE);
    u64 *pml4 = (u64 *)b, *pdpt = (u64 *)(b + PAGE_SIZE);
    pml4[0] = (base.v + PAGE_SIZE) | TABLE_FLAGS;
    for (u64 g = 0; g < BOOT64_PD_COUNT; g++) {
        u64 *pd = (u64 *)(b + (2 + g) * PAGE_SIZE);
        pdpt[g] = (base.v + (2 + g) * PAGE_SIZE) | TABLE_FLAGS;
        for (u64 i = 0; i < 512; i++)
            pd[i] = (g * GiB(1) + i * PAGE_SIZE_2M) | LEAF_FLAGS;
    }
    u8 *misc = b + BOOT64_TABLES_SZ;
    u64 *gdt = (u64 *)(misc + BOOT64_GDT_OFF);
    const u64 misc_gpa = base.v + BOOT64_TABLES_SZ;
    gdt[BOOT64_SEL_CS / 8] = descriptor(0, 0xfffff, SEG_ATTRS_CODE64);
    gdt[BOOT64_SEL_DS / 8] = descriptor(0, 0xfffff, SEG_ATTRS_DATA32);
    /* A 16-byte system descriptor: the second half holds base bits 63:32 (0). */
    gdt[BOOT64_SEL_TR / 8] = descriptor((u32)(misc_gpa + BOOT64_TSS_OFF), TSS64_LIMIT, SEG_ATTRS_TSS);
    return 0;
}

void boot64_state(struct vcpu_boot_state *s, gpa_t base, u64 entry, gpa_t zero_page)
{
    const u64 misc = base.v + BOOT64_TABLES_SZ;
    memset(s, 0, sizeof(*s));
    s->regs.rip = entry;
    s->regs.rflags = RFLAGS_FIXED; /* IF = 0 */
    s->regs.gpr[GPR_RSI] = zero_page.v;
    s->regs.gpr[GPR_RSP] = misc + BOOT64_STACK_TOP_OFF;
    s->cr0 = CR0_PE | CR0_ET | CR0_PG;
    s->cr3 = base.v;
    s->cr4 = CR4_PAE;
    s->efer = EFER_LME | EFER_LMA;
    s->cs = (struct vcpu_segment){ BOOT64_SEL_CS, SEG_ATTRS_CODE64, 0xffffffff, 0 };
    s->ds = s->es = s->ss = (struct vcpu_segment){ BOOT64_SEL_DS, SEG_ATTRS_DATA32, 0xffffffff, 0 };
    s->fs = s->gs = s->ds;
    s->tr = (struct vcpu_segment){ BOOT64_SEL_TR, SEG_ATTRS_TSS, TSS64_LIMIT, misc + BOOT64_TSS_OFF };
    s->ldtr = (struct vcpu_segment){ 0, SEG_ATTRS_LDT, 0xffff, 0 };
    s->gdtr = (struct vcpu_segment){ 0, 0, BOOT64_GDT_ENTRIES * 8 - 1, misc + BOOT64_GDT_OFF };
    s->idtr = (struct vcpu_segment){ 0, 0, 0, 0 };
}
