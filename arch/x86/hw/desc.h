/* Descriptor tables of the hypervisor itself (SDM Vol. 3A ch. 3, 6, 8): the
 * segment selectors of its GDT, the 64-bit TSS, IDT gates, and the per-CPU
 * block that holds one CPU's GDT, TSS and IST stacks. Definitions only, so
 * that kernel/core/percpu.h can embed the tables; arch/x86/segments.c loads
 * them. */
#ifndef ISTHMUS_ARCH_X86_HW_DESC_H
#define ISTHMUS_ARCH_X86_HW_DESC_H

#include "kernel/lib/types.h"

/* Selectors of the hypervisor's GDT. */
#define SEL_NULL    0x00
#define SEL_CODE    0x08
#define SEL_DATA    0x10
#define SEL_TSS     0x18
#define GDT_ENTRIES 5 /* TSS descriptor takes two slots in long mode */

/* Flat code and data descriptors (SDM 3.4.5): P=1, S=1, DPL 0. In long mode
 * (L=1 for code) base and limit are ignored; the 32-bit ones (for the AP
 * start-up code) span 4 GiB with G=1, D/B=1. */
#define GDT_CODE64 0x00209a0000000000ULL
#define GDT_DATA   0x0000920000000000ULL
#define GDT_CODE32 0x00cf9a000000ffffULL
#define GDT_DATA32 0x00cf92000000ffffULL

/* Segment attributes in the packed 12-bit form of the VMCB and of struct
 * vcpu_segment (APM Vol. 2 15.5.1): descriptor bits 47:40 in bits 7:0 and
 * 55:52 in 11:8 (SDM Vol. 3A 3.4.5). */
#define SEG_ATTR_TYPE_MASK 0xfu
#define SEG_ATTR_S         BIT(4) /* code or data (not a system segment) */
#define SEG_ATTR_DPL_SHIFT 5
#define SEG_ATTR_P         BIT(7) /* present */
#define SEG_ATTR_AVL       BIT(8)
#define SEG_ATTR_L         BIT(9)  /* 64-bit code */
#define SEG_ATTR_DB        BIT(10) /* default operand size 32 */
#define SEG_ATTR_G         BIT(11) /* limit in 4 KiB units */
/* Types (SDM tables 3-1 and 3-2): code and data with S set, system without. */
#define SEG_TYPE_ACCESSED  0x1u
#define SEG_TYPE_DATA_RW   0x2u /* read/write data */
#define SEG_TYPE_CODE_RX   0xau /* execute/read code */
#define SEG_TYPE_CODE      0x8u /* the type bit of code segments */
#define SEG_TYPE_LDT       0x2u
#define SEG_TYPE_TSS_AVAIL 0x9u /* 32/64-bit TSS, available */
#define SEG_TYPE_TSS_BUSY  0xbu /* 32/64-bit TSS, busy */
#define SEG_TYPE_INTR_GATE 0xeu /* 64-bit interrupt gate (IF cleared on entry) */

/* Attributes of the segments a vCPU starts with (struct vcpu_segment packing),
 * all present and accessed: flat 32-bit code and data (4 KiB granularity,
 * 32-bit default size), real-mode code and data, a busy TSS and an LDT. */
#define SEG_ATTRS_CODE32 (SEG_ATTR_G | SEG_ATTR_DB | SEG_ATTR_P | SEG_ATTR_S | SEG_TYPE_CODE_RX | SEG_TYPE_ACCESSED)
#define SEG_ATTRS_DATA32 (SEG_ATTR_G | SEG_ATTR_DB | SEG_ATTR_P | SEG_ATTR_S | SEG_TYPE_DATA_RW | SEG_TYPE_ACCESSED)
/* 64-bit code (L = 1, D/B = 0 as long mode requires), for a 64-bit boot entry. */
#define SEG_ATTRS_CODE64 (SEG_ATTR_G | SEG_ATTR_L | SEG_ATTR_P | SEG_ATTR_S | SEG_TYPE_CODE_RX | SEG_TYPE_ACCESSED)
#define SEG_ATTRS_CODE16 (SEG_ATTR_P | SEG_ATTR_S | SEG_TYPE_CODE_RX | SEG_TYPE_ACCESSED)
#define SEG_ATTRS_DATA16 (SEG_ATTR_P | SEG_ATTR_S | SEG_TYPE_DATA_RW | SEG_TYPE_ACCESSED)
#define SEG_ATTRS_TSS    (SEG_ATTR_P | SEG_TYPE_TSS_BUSY)
#define SEG_ATTRS_LDT    (SEG_ATTR_P | SEG_TYPE_LDT)
STATIC_ASSERT(SEG_ATTRS_CODE32 == 0xc9b && SEG_ATTRS_DATA32 == 0xc93 && SEG_ATTRS_CODE64 == 0xa9b &&
                  SEG_ATTRS_CODE16 == 0x9b && SEG_ATTRS_DATA16 == 0x93 && SEG_ATTRS_TSS == 0x8b &&
                  SEG_ATTRS_LDT == 0x82,
              "start-state attributes as the SDM's tables give them");

/* Interrupt stack table slots (SDM 6.14.5) and the size of each stack. */
#define IST_DOUBLE_FAULT  1
#define IST_NMI           2
#define IST_MACHINE_CHECK 3
#define IST_STACK_SIZE    4096

/* 64-bit task-state segment (SDM 8.7). */
struct tss64 {
    u32 reserved0;
    u64 rsp[3];
    u64 reserved1;
    u64 ist[7];
    u64 reserved2;
    u16 reserved3;
    u16 iomap_base;
} __packed;
/* The limit of a 104-byte TSS (the 32-bit one, SDM Vol. 3A 8.2.1, has the 64-bit one's size). */
#define TSS64_LIMIT ((u32)sizeof(struct tss64) - 1)
STATIC_ASSERT(sizeof(struct tss64) == 104, "TSS is 104 bytes (SDM 8.7)");
STATIC_ASSERT(__builtin_offsetof(struct tss64, ist) == 0x24, "IST1 at 0x24");

/* 64-bit IDT gate (SDM 6.14.1). */
struct idt_gate {
    u16 off_lo;
    u16 sel;
    u8 ist;
    u8 type; /* P, DPL 1:0 at 6:5, type: the attribute byte */
    u16 off_mid;
    u32 off_hi;
    u32 reserved;
} __packed;
STATIC_ASSERT(sizeof(struct idt_gate) == 16, "IDT gate is 16 bytes in long mode");

/* Operand of LGDT/LIDT (SDM 3.5.1). */
struct desc_ptr {
    u16 limit;
    u64 base;
} __packed;
STATIC_ASSERT(sizeof(struct desc_ptr) == 10, "pseudo-descriptor is 10 bytes in long mode");

/* One CPU's GDT, TSS and IST stacks (embedded in struct percpu). */
struct cpu_tables {
    u64 gdt[GDT_ENTRIES] __aligned(16);
    struct tss64 tss __aligned(16);
    u8 ist_stacks[3][IST_STACK_SIZE] __aligned(16);
};

#endif
