/* The x86 MSI message: the address and data a PCI function writes to raise an
 * interrupt at a local APIC (SDM Vol. 3A 11.11, figures 11-24 and 11-25). The
 * PCI side of MSI and MSI-X (capability registers) is in vmm/dev/vpci.h.
 * Definitions only; host unit tests include it. */
#ifndef ISTHMUS_ARCH_X86_HW_MSI_H
#define ISTHMUS_ARCH_X86_HW_MSI_H

#include "kernel/lib/types.h"

/* Message address (11.11.1): bits 31:20 are 0xFEE, 19:12 the destination
 * APIC ID (xAPIC: 8 bits), bit 3 redirection hint, bit 2 destination mode. */
#define MSI_ADDR_BASE       0xfee00000u
#define MSI_ADDR_BASE_SHIFT 20 /* address bits above this must be MSI_ADDR_BASE's */
#define MSI_ADDR_DEST_SHIFT 12
#define MSI_ADDR_DEST_MASK  0xffu  /* after the shift */
#define MSI_ADDR_RH         BIT(3) /* redirection hint */
#define MSI_ADDR_DM_LOGICAL BIT(2) /* destination is a logical APIC ID */

/* Message data (11.11.2): vector in bits 7:0, delivery mode in 10:8, bit 14
 * level (assert), bit 15 trigger mode. */
#define MSI_DATA_VECTOR_MASK    0xffu
#define MSI_DATA_DELIVERY_SHIFT 8
#define MSI_DATA_DELIVERY_MASK  7u /* after the shift */
#define MSI_DATA_LEVEL_ASSERT   BIT(14)
#define MSI_DATA_TRIGGER_LEVEL  BIT(15)

/* Delivery modes (in MSI_DATA_DELIVERY_MASK). */
#define MSI_DELIVERY_FIXED  0u
#define MSI_DELIVERY_LOWEST 1u /* lowest priority */
#define MSI_DELIVERY_SMI    2u
#define MSI_DELIVERY_NMI    4u
#define MSI_DELIVERY_INIT   5u
#define MSI_DELIVERY_EXTINT 7u

STATIC_ASSERT((MSI_ADDR_BASE & (BIT(MSI_ADDR_BASE_SHIFT) - 1)) == 0, "the base fills bits 31:20 only");
STATIC_ASSERT(MSI_ADDR_DEST_MASK << MSI_ADDR_DEST_SHIFT < BIT(MSI_ADDR_BASE_SHIFT),
              "the destination lies below the base");

#endif
