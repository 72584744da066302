/* The I/O APIC (Intel 82093AA data sheet, 290566-001, section 3 "Register
 * Description"): two memory-mapped registers, an index (IOREGSEL) and a
 * window (IOWIN), through which the ID, version, arbitration and redirection
 * registers are reached. Definitions only; host unit tests include it. */
#ifndef ISTHMUS_ARCH_X86_HW_IOAPIC_H
#define ISTHMUS_ARCH_X86_HW_IOAPIC_H

#include "kernel/lib/types.h"

/* Where PC firmware puts the first I/O APIC, and what it decodes there. */
#define IOAPIC_DEFAULT_BASE 0xfec00000u
#define IOAPIC_MMIO_SIZE    0x1000u

/* Memory-mapped registers (3.1): both 32 bits wide and accessed as dwords. */
#define IOAPIC_IOREGSEL 0x00u /* bits 7:0 select the register IOWIN reaches */
#define IOAPIC_IOWIN    0x10u

/* Indirect registers (3.2, table 2). */
#define IOAPIC_REG_ID     0x00u
#define IOAPIC_REG_VER    0x01u
#define IOAPIC_REG_ARB    0x02u
#define IOAPIC_REG_REDTBL 0x10u /* entry n: low dword at 0x10 + 2n, high at 0x11 + 2n */

#define IOAPIC_ID_SHIFT           24 /* ID and arbitration ID: bits 27:24 */
#define IOAPIC_ID_MASK            0xfu
#define IOAPIC_VER_MAXREDIR_SHIFT 16 /* version register: entries - 1 in bits 23:16 */
#define IOAPIC_VERSION_82093AA    0x11u

/* Redirection table entry (3.2.4), 64 bits. */
#define IOAPIC_RTE_VECTOR_MASK   0xffull
#define IOAPIC_RTE_DELMOD_SHIFT  8
#define IOAPIC_RTE_DELMOD_MASK   7ull /* after the shift */
#define IOAPIC_RTE_DEST_LOGICAL  BIT(11)
#define IOAPIC_RTE_DELIVS        BIT(12) /* delivery status: read-only */
#define IOAPIC_RTE_POLARITY_LOW  BIT(13)
#define IOAPIC_RTE_REMOTE_IRR    BIT(14) /* read-only: level interrupt accepted, EOI not yet seen */
#define IOAPIC_RTE_TRIGGER_LEVEL BIT(15)
#define IOAPIC_RTE_MASKED        BIT(16)
#define IOAPIC_RTE_DEST_SHIFT    56 /* bits 63:56: APIC ID, or a logical destination */

/* Delivery modes (in IOAPIC_RTE_DELMOD_MASK). */
#define IOAPIC_DELMOD_FIXED  0u
#define IOAPIC_DELMOD_LOWEST 1u
#define IOAPIC_DELMOD_SMI    2u
#define IOAPIC_DELMOD_NMI    4u
#define IOAPIC_DELMOD_INIT   5u
#define IOAPIC_DELMOD_EXTINT 7u

STATIC_ASSERT(IOAPIC_RTE_MASKED == 1u << 16, "mask is bit 16 of the low dword");
STATIC_ASSERT((IOAPIC_RTE_DELMOD_MASK << IOAPIC_RTE_DELMOD_SHIFT) == 0x700ull, "delivery mode is bits 10:8");

#endif
