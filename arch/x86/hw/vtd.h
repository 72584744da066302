/* Intel VT-d DMA remapping: the registers, root and context entries and fault
 * records a legacy-mode (not scalable-mode) driver uses. Intel Virtualization
 * Technology for Directed I/O, Architecture Specification rev 4.1, chapters 9
 * (translation structures) and 11 (registers). Definitions only; host unit
 * tests include it. */
#ifndef ISTHMUS_ARCH_X86_HW_VTD_H
#define ISTHMUS_ARCH_X86_HW_VTD_H

#include "kernel/lib/types.h"

/* ---- Registers (11.4), offsets from the unit's base. */
#define VTD_REG_VER    0x00 /* 32: version */
#define VTD_REG_CAP    0x08 /* 64: capabilities */
#define VTD_REG_ECAP   0x10 /* 64: extended capabilities */
#define VTD_REG_GCMD   0x18 /* 32: global command */
#define VTD_REG_GSTS   0x1c /* 32: global status */
#define VTD_REG_RTADDR 0x20 /* 64: root table address */
#define VTD_REG_CCMD   0x28 /* 64: context command */
#define VTD_REG_FSTS   0x34 /* 32: fault status */
#define VTD_REG_FECTL  0x38 /* 32: fault event control */
#define VTD_REG_PMEN   0x64 /* 32: protected memory enable */
#define VTD_REG_IQH    0x80 /* 64: invalidation queue head (bits 18:4) */
#define VTD_REG_IQT    0x88 /* 64: invalidation queue tail (bits 18:4) */
#define VTD_REG_IQA    0x90 /* 64: invalidation queue address, size */
#define VTD_REG_ICS    0x9c /* 32: invalidation completion status */
#define VTD_REG_IRTA   0xb8 /* 64: interrupt remapping table address */
#define VTD_REG_SIZE                                                                                                   \
    0x1000 /* one page of registers (the fault records and IOTLB registers lie inside it on every unit seen) */

/* CAP (11.4.2). */
#define VTD_CAP_ND_MASK     0x7ULL                            /* number of domain ids: 2^(4 + 2*ND) */
#define VTD_CAP_RWBF        BIT(4)                            /* write-buffer flush required */
#define VTD_CAP_SAGAW_SHIFT 8                                 /* bits 12:8: supported guest address widths */
#define VTD_CAP_SAGAW_39    BIT(1 + 8)                        /* 3-level tables */
#define VTD_CAP_SAGAW_48    BIT(2 + 8)                        /* 4-level tables */
#define VTD_CAP_MGAW(c)     ((u32)(((c) >> 16) & 0x3f) + 1)   /* max guest address width */
#define VTD_CAP_FRO(c)      ((u32)(((c) >> 24) & 0x3ff) * 16) /* fault records' offset */
#define VTD_CAP_SLLPS_2M    BIT(34)                           /* second-level 2 MiB pages */
#define VTD_CAP_SLLPS_1G    BIT(35)                           /* second-level 1 GiB pages */
#define VTD_CAP_NFR(c)      ((u32)(((c) >> 40) & 0xff) + 1)   /* fault records */

/* ECAP (11.4.3). */
#define VTD_ECAP_C      BIT(0)                           /* page walks are coherent (snoop the CPU caches) */
#define VTD_ECAP_QI     BIT(1)                           /* queued invalidation */
#define VTD_ECAP_IR     BIT(3)                           /* interrupt remapping */
#define VTD_ECAP_IRO(e) ((u32)(((e) >> 8) & 0x3ff) * 16) /* IOTLB registers' offset */

/* GCMD / GSTS (11.4.4, 11.4.5): the same bit in both. One-shot commands
 * (SRTP, WBF) must not be written back as set. */
#define VTD_GCMD_TE      BIT(31) /* translation enable */
#define VTD_GCMD_SRTP    BIT(30) /* set root table pointer */
#define VTD_GCMD_WBF     BIT(27) /* write buffer flush */
#define VTD_GCMD_QIE     BIT(26) /* queued invalidation enable */
#define VTD_GCMD_IRE     BIT(25) /* interrupt remapping enable */
#define VTD_GCMD_SIRTP   BIT(24) /* set interrupt remap table pointer */
#define VTD_GCMD_CFI     BIT(23) /* compatibility-format interrupts pass (left 0: blocked) */
#define VTD_GCMD_ONESHOT (VTD_GCMD_SRTP | VTD_GCMD_WBF | BIT(29) | BIT(24) | BIT(23))
#define VTD_GSTS_TES     VTD_GCMD_TE
#define VTD_GSTS_RTPS    VTD_GCMD_SRTP
#define VTD_GSTS_WBFS    VTD_GCMD_WBF
#define VTD_GSTS_QIES    VTD_GCMD_QIE
#define VTD_GSTS_IRES    VTD_GCMD_IRE
#define VTD_GSTS_IRTPS   VTD_GCMD_SIRTP
#define VTD_GSTS_CFIS    VTD_GCMD_CFI

/* CCMD (11.4.6): global context-cache invalidation. */
#define VTD_CCMD_ICC    BIT(63)
#define VTD_CCMD_GLOBAL (1ULL << 61)

/* IOTLB invalidate register at ECAP.IRO + 8 (11.4.8.1): global, draining
 * reads and writes. */
#define VTD_IOTLB_REG    8
#define VTD_IOTLB_IVT    BIT(63)
#define VTD_IOTLB_GLOBAL (1ULL << 60)
#define VTD_IOTLB_DR     BIT(49)
#define VTD_IOTLB_DW     BIT(48)

/* ---- Queued invalidation (6.5.2): 128-bit descriptors in a ring of 4 KiB
 * pages; IQA bits 2:0 give 2^QS pages. */
#define VTD_IQ_DESC_SIZE         16
#define VTD_IQ_TAIL_SHIFT        4
#define VTD_DESC_CC              0x1ULL /* context-cache invalidate */
#define VTD_DESC_IOTLB           0x2ULL
#define VTD_DESC_IEC             0x4ULL /* interrupt entry cache invalidate */
#define VTD_DESC_WAIT            0x5ULL
#define VTD_DESC_GLOBAL          (1ULL << 4) /* cc / IOTLB granularity 01: global */
#define VTD_DESC_IOTLB_DR        BIT(7)
#define VTD_DESC_IOTLB_DW        BIT(6)
#define VTD_DESC_WAIT_SW         BIT(5) /* write the status data to the status address */
#define VTD_DESC_WAIT_FN         BIT(6) /* fence: later descriptors wait for this one */
#define VTD_DESC_WAIT_DATA_SHIFT 32
#define VTD_FSTS_IQE             BIT(4) /* invalidation queue error */
#define VTD_FSTS_ITE             BIT(6) /* invalidation time-out error */

/* ---- Interrupt remapping (5.1, 9.10): a table of 128-bit entries, 2^(S+1)
 * of them (IRTA bits 3:0); a remappable MSI names an entry by its handle. */
#define VTD_IRTA_EIME             BIT(11) /* x2APIC destinations (not used: the host runs xAPIC) */
#define VTD_IRTE_P                BIT(0)
#define VTD_IRTE_FPD              BIT(1)
#define VTD_IRTE_VECTOR_SHIFT     16
#define VTD_IRTE_DEST_XAPIC_SHIFT 40           /* xAPIC: the 8-bit APIC ID in bits 47:40 */
#define VTD_IRTE_HI_SVT_SID       (1ULL << 18) /* verify the requester against SID, all 16 bits (SQ 00) */
/* A remappable MSI address (5.1.5.2): handle bits 14:0 at 19:5, bit 15 at 2,
 * the interrupt-format bit 4 set; SHV (bit 3) clear: the data is unused. */
#define VTD_MSI_ADDR_IF           BIT(4)
#define VTD_MSI_ADDR_HANDLE(h)    ((((u64)(h)&0x7fff) << 5) | ((((u64)(h) >> 15) & 1) << 2))

/* FSTS (11.4.9.1). */
#define VTD_FSTS_PFO BIT(0)  /* primary fault overflow (write 1 to clear) */
#define VTD_FSTS_PPF BIT(1)  /* primary pending fault (a record has F set) */
#define VTD_FSTS_W1C 0x7fULL /* every write-1-to-clear bit */
#define VTD_FECTL_IM BIT(31) /* fault event interrupt masked */

/* A fault recording register (11.4.14): 128 bits at CAP.FRO + 16 * i. */
#define VTD_FRCD_HI_F      BIT(63)           /* the record holds a fault; write 1 to clear */
#define VTD_FRCD_HI_T      BIT(62)           /* 1: a read request; 0: a write (rev 4.1 T1) */
#define VTD_FRCD_HI_FR(h)  ((u8)((h) >> 32)) /* fault reason */
#define VTD_FRCD_HI_SID(h) ((u16)(h))        /* source id (requester) */
#define VTD_FRCD_LO_FI(l)  ((l) & ~0xfffULL) /* the faulting page */

/* ---- Root and context entries, legacy mode (9.1, 9.3): 16 bytes each, 256
 * to a 4 KiB table. The root table has one entry per bus, each bus's
 * context table one per devfn. */
struct vtd_entry {
    u64 lo, hi;
} __packed;
STATIC_ASSERT(sizeof(struct vtd_entry) == 16, "root and context entries are 128 bits");
#define VTD_ENTRIES 256

#define VTD_ROOT_P        BIT(0)                /* lo: context table present */
#define VTD_ADDR_MASK     0x000ffffffffff000ULL /* lo: table / root pointer */
#define VTD_CTX_P         BIT(0)                /* lo: present */
#define VTD_CTX_FPD       BIT(1)                /* lo: fault processing disable */
#define VTD_CTX_TT_SLPT   (0ULL << 2)           /* lo: untranslated requests walk the tables */
#define VTD_CTX_AW_39     1ULL                  /* hi bits 2:0: 3-level */
#define VTD_CTX_AW_48     2ULL                  /* 4-level */
#define VTD_CTX_DID_SHIFT 8                     /* hi bits 23:8: domain id */

/* The second-level paging entries (9.8) are in arch/x86/hw/pte.h. */

/* Fault reasons (appendix A) this driver names. */
#define VTD_FR_ROOT_NP          0x1                /* root entry not present */
#define VTD_FR_CTX_NP           0x2                /* context entry not present */
#define VTD_FR_CTX_BAD          0x3                /* invalid context entry */
#define VTD_FR_ADDR_GAW         0x4                /* address beyond the guest address width */
#define VTD_FR_WRITE            0x5                /* write through a read-only entry */
#define VTD_FR_READ             0x6                /* read through a no-read entry */
#define VTD_FR_PTE_NP           0x7                /* a paging entry could not be read */
#define VTD_FR_IR_FIRST         0x20               /* 0x20 and up: interrupt remapping faults */
#define VTD_FR_IR_INDEX         0x21               /* interrupt index past the table */
#define VTD_FR_IR_NP            0x22               /* interrupt entry not present */
#define VTD_FR_IR_COMPAT        0x25               /* compatibility-format interrupt blocked */
#define VTD_FR_IR_SID           0x26               /* interrupt from a requester the entry does not name */
#define VTD_FRCD_LO_IR_INDEX(l) ((u32)((l) >> 48)) /* the interrupt index, for those */

/* ---- Encoders the driver uses, here so that unit tests check them against
 * the specification's layouts. */
static inline u64 vtd_ctx_lo(hpa_t slpt) { return (slpt & VTD_ADDR_MASK) | VTD_CTX_TT_SLPT | VTD_CTX_P; }
static inline u64 vtd_ctx_hi(bool four_level, u16 domain)
{
    return (four_level ? VTD_CTX_AW_48 : VTD_CTX_AW_39) | (u64)domain << VTD_CTX_DID_SHIFT;
}
/* An interrupt entry: physical destination mode, fixed delivery, edge. */
static inline u64 vtd_irte_lo(u8 vector, u8 apic_id)
{
    return VTD_IRTE_P | (u64)vector << VTD_IRTE_VECTOR_SHIFT | (u64)apic_id << VTD_IRTE_DEST_XAPIC_SHIFT;
}
static inline u64 vtd_irte_hi(u16 rid) { return VTD_IRTE_HI_SVT_SID | rid; }
static inline u64 vtd_wait_desc_lo(u32 seq)
{
    return VTD_DESC_WAIT | VTD_DESC_WAIT_SW | VTD_DESC_WAIT_FN | (u64)seq << VTD_DESC_WAIT_DATA_SHIFT;
}

#endif
