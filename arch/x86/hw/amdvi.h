/* AMD-Vi, the AMD I/O Virtualization Technology (IOMMU) Specification, 48882
 * rev 3.x: the MMIO registers (3.4), device table entries (2.2.2), I/O page
 * table entries (2.2.3), commands (2.4) and event log entries (2.5), and the
 * pure encoders and decoders drivers/amdvi.c builds them with (host unit
 * tests check them: tests/unit/test_amdvi.c). Definitions and side-effect-free
 * inline helpers only; host unit tests include it. */
#ifndef ISTHMUS_ARCH_X86_HW_AMDVI_H
#define ISTHMUS_ARCH_X86_HW_AMDVI_H

#include "kernel/lib/types.h"
#include "arch/x86/hw/pte.h" /* AMDVI_PTE_*: the I/O page-table entries */

/* ---- MMIO registers (3.4), offsets from the base the IVHD gives. The block
 * the driver uses is the first 16 KiB, naturally aligned; the performance
 * counters (EFR PCSup) lie beyond and are not mapped. */
#define AMDVI_MMIO_SIZE       0x4000u
#define AMDVI_MMIO_DEV_TABLE  0x0000u /* Device Table Base Address */
#define AMDVI_MMIO_CMD_BASE   0x0008u /* Command Buffer Base Address */
#define AMDVI_MMIO_EVT_BASE   0x0010u /* Event Log Base Address */
#define AMDVI_MMIO_CONTROL    0x0018u
#define AMDVI_MMIO_EXCL_BASE  0x0020u /* Exclusion Base */
#define AMDVI_MMIO_EXCL_LIMIT 0x0028u /* Exclusion Range Limit */
#define AMDVI_MMIO_EFR        0x0030u /* Extended Feature Register */
#define AMDVI_MMIO_CMD_HEAD   0x2000u /* Command Buffer Head Pointer: the unit's next read */
#define AMDVI_MMIO_CMD_TAIL   0x2008u /* Command Buffer Tail Pointer: software's next write */
#define AMDVI_MMIO_EVT_HEAD   0x2010u /* Event Log Head Pointer: software's next read */
#define AMDVI_MMIO_EVT_TAIL   0x2018u /* Event Log Tail Pointer: the unit's next write */
#define AMDVI_MMIO_STATUS     0x2020u

/* Bits 51:12 of every base register, DTE root pointer and page-table entry. */
#define AMDVI_ADDR_MASK 0x000ffffffffff000ULL

/* Device Table Base Address: Size in bits 8:0 is the table's length in 4 KiB
 * pages minus one; 1FFh (2 MiB) covers all 65536 device IDs. */
#define AMDVI_DEV_TABLE_SIZE_MASK 0x1ffULL
#define AMDVI_DEV_TABLE_ENTRIES   65536u

/* Command Buffer and Event Log Base Address: ComLen/EventLen in bits 59:56,
 * the ring holds 2^len 16-byte entries; 8 (256 entries, 4 KiB) is the least. */
#define AMDVI_RING_LEN_SHIFT 56
#define AMDVI_RING_LEN_MIN   8u
/* Head and tail pointers: byte offsets into the ring, bits 18:4. */
#define AMDVI_RING_PTR_MASK  0x7fff0ULL

/* IOMMU Control register. */
#define AMDVI_CTL_IOMMU_EN    BIT(0)  /* translate and check DMA through the device table */
#define AMDVI_CTL_HT_TUN_EN   BIT(1)  /* HyperTransport tunnel translation */
#define AMDVI_CTL_EVT_LOG_EN  BIT(2)  /* write events to the event log */
#define AMDVI_CTL_EVT_INT_EN  BIT(3)  /* interrupt on a new event */
#define AMDVI_CTL_COMWAIT_INT BIT(4)  /* interrupt on COMPLETION_WAIT with I */
#define AMDVI_CTL_PASS_PW     BIT(8)  /* HyperTransport PassPW for the unit's own requests */
#define AMDVI_CTL_RES_PASS_PW BIT(9)  /* HyperTransport ResPassPW */
#define AMDVI_CTL_COHERENT    BIT(10) /* the unit's device table reads are coherent (snooped) */
#define AMDVI_CTL_ISOC        BIT(11) /* HyperTransport isochronous requests */
#define AMDVI_CTL_CMD_BUF_EN  BIT(12) /* fetch and execute commands */
#define AMDVI_CTL_PPR_LOG_EN  BIT(13)
#define AMDVI_CTL_PPR_INT_EN  BIT(14)
#define AMDVI_CTL_PPR_EN      BIT(15)
#define AMDVI_CTL_GT_EN       BIT(16) /* guest (two-level) translation */
#define AMDVI_CTL_GA_EN       BIT(17) /* guest virtual APIC */

/* IOMMU Status register. The overflow and interrupt bits are write-1-to-clear,
 * the Run bits read-only: they say whether the unit is using the rings. */
#define AMDVI_STS_EVT_OVERFLOW BIT(0)
#define AMDVI_STS_EVT_LOG_INT  BIT(1)
#define AMDVI_STS_COMWAIT_INT  BIT(2)
#define AMDVI_STS_EVT_LOG_RUN  BIT(3)
#define AMDVI_STS_CMD_BUF_RUN  BIT(4)
#define AMDVI_STS_PPR_OVERFLOW BIT(5)
#define AMDVI_STS_PPR_INT      BIT(6)
#define AMDVI_STS_W1C                                                                                                  \
    (AMDVI_STS_EVT_OVERFLOW | AMDVI_STS_EVT_LOG_INT | AMDVI_STS_COMWAIT_INT | AMDVI_STS_PPR_OVERFLOW |                 \
     AMDVI_STS_PPR_INT)

/* Exclusion Base: ExEn (bit 0) lets DMA into [base, limit] through untranslated,
 * Allow (bit 1) for every device instead of those whose DTE has EX. */
#define AMDVI_EXCL_EN    BIT(0)
#define AMDVI_EXCL_ALLOW BIT(1)

/* Extended Feature Register (reads 0 on units without one: no features). */
#define AMDVI_EFR_PREF_SUP  BIT(0) /* PREFETCH_IOMMU_PAGES */
#define AMDVI_EFR_PPR_SUP   BIT(1)
#define AMDVI_EFR_XT_SUP    BIT(2) /* x2APIC interrupt remapping */
#define AMDVI_EFR_NX_SUP    BIT(3)
#define AMDVI_EFR_GT_SUP    BIT(4)
#define AMDVI_EFR_IA_SUP    BIT(6) /* INVALIDATE_IOMMU_ALL */
#define AMDVI_EFR_GA_SUP    BIT(7)
#define AMDVI_EFR_HE_SUP    BIT(8)
#define AMDVI_EFR_PC_SUP    BIT(9)
#define AMDVI_EFR_HATS(efr) ((u32)((efr) >> 10) & 3u) /* host table levels: 0 = 4, 1 = 5, 2 = 6, 3 reserved */
#define AMDVI_EFR_SNP_SUP   BIT(63)

/* IVHD flags (the IVRS, chapter 5): the values firmware tells software to
 * write into the Control register bits of the same name. */
#define AMDVI_IVHD_HT_TUN_EN   BIT(0)
#define AMDVI_IVHD_PASS_PW     BIT(1)
#define AMDVI_IVHD_RES_PASS_PW BIT(2)
#define AMDVI_IVHD_ISOC        BIT(3)
#define AMDVI_IVHD_COHERENT    BIT(5)

/* ---- Device table entry (2.2.2): 256 bits, four quadwords. */
struct amdvi_dte {
    u64 q[4];
} __packed __aligned(32); /* as in the table: 32-byte entries from a page boundary */
STATIC_ASSERT(sizeof(struct amdvi_dte) == 32, "a DTE is 256 bits");

/* Quadword 0. */
#define AMDVI_DTE_V               BIT(0) /* entry valid; 0: the device's DMA passes untranslated */
#define AMDVI_DTE_TV              BIT(1) /* translation fields valid */
#define AMDVI_DTE_MODE_SHIFT      9      /* bits 11:9: levels of the host table at the root pointer */
#define AMDVI_DTE_MODE_MASK       (7ULL << AMDVI_DTE_MODE_SHIFT)
#define AMDVI_DTE_IR              BIT(61) /* the device may read (ANDed with the table's rights) */
#define AMDVI_DTE_IW              BIT(62) /* the device may write */
/* Mode 0 disables translation: addresses pass unchanged, allowed or aborted
 * by IR and IW alone. Mode 4 walks a 4-level table: 48-bit addresses. */
#define AMDVI_MODE_NONE           0u
#define AMDVI_MODE_4LEVEL         4u
#define AMDVI_MODE4_BITS          48
/* Quadword 1: DomainID in bits 15:0 (bits 79:64 of the entry) tags the
 * unit's cached translations; bits 16 and up (guest CR3, IOTLB enable, fault
 * suppression, port I/O and system management control, exclusion) stay 0. */
#define AMDVI_DTE_DOMAIN_MASK     0xffffULL
/* Quadword 2: interrupt remapping (2.2.2, 2.2.5), one 64-bit store. With IV
 * set, the device's fixed and arbitrated MSIs are looked up in its interrupt
 * table by the index in MSI data bits 10:0; NMI, INIT, ExtInt, LINT0 and
 * LINT1 messages pass only where their Pass bit is set, and are aborted
 * otherwise. IV = 0 passes every message through unremapped. Quadword 3
 * (guest interrupt state, attached-device data) stays 0. */
#define AMDVI_DTE_IV              BIT(0) /* bit 128: the interrupt fields are valid */
#define AMDVI_DTE_INTTABLEN_SHIFT 1      /* bits 132:129: the table holds 2^IntTabLen entries */
#define AMDVI_DTE_INTTABLEN_MASK  (0xfULL << AMDVI_DTE_INTTABLEN_SHIFT)
#define AMDVI_DTE_IG              BIT(5)                /* bit 133: no event for an unmapped interrupt */
#define AMDVI_DTE_INTTAB_MASK     0x000fffffffffffc0ULL /* bits 179:134: the table's address bits 51:6 */
#define AMDVI_DTE_INIT_PASS       BIT(56)               /* bit 184 */
#define AMDVI_DTE_EINT_PASS       BIT(57)               /* bit 185: ExtInt */
#define AMDVI_DTE_NMI_PASS        BIT(58)               /* bit 186 */
#define AMDVI_DTE_INTCTL_SHIFT    60                    /* bits 189:188: what fixed and arbitrated MSIs meet */
#define AMDVI_DTE_INTCTL_MASK     (3ULL << AMDVI_DTE_INTCTL_SHIFT)
#define AMDVI_DTE_LINT0_PASS      BIT(62) /* bit 190 */
#define AMDVI_DTE_LINT1_PASS      BIT(63) /* bit 191 */
#define AMDVI_INTCTL_ABORT        0u      /* target-aborted */
#define AMDVI_INTCTL_FORWARD      1u      /* passed unremapped */
#define AMDVI_INTCTL_REMAP        2u      /* remapped through the table */
#define AMDVI_INTTABLEN_MAX       11u     /* 1011b: 2048 entries, every index MSI data bits 10:0 can name */

/* ---- Interrupt remapping table entries (2.2.5.1), the 32-bit format used
 * while Control GAEn is 0 (no guest virtual APIC). The table is indexed by
 * MSI data bits 10:0 and must be 64-byte aligned (128 in Linux's practice). */
#define AMDVI_IRTE_REMAP_EN       BIT(0) /* RemapEn: else the interrupt is target-aborted */
#define AMDVI_IRTE_SUP_IOPF       BIT(1) /* SupIOPF: no IO_PAGE_FAULT event when it is aborted */
#define AMDVI_IRTE_INT_TYPE_SHIFT 2      /* bits 4:2: 000b fixed, 001b arbitrated */
#define AMDVI_IRTE_RQ_EOI         BIT(5) /* an EOI back to the device: not for MSIs */
#define AMDVI_IRTE_DM_LOGICAL     BIT(6) /* destination mode; 0: physical */
#define AMDVI_IRTE_GUEST_MODE     BIT(7) /* reserved in this format: QEMU refuses it */
#define AMDVI_IRTE_DEST_SHIFT     8      /* bits 15:8: an xAPIC ID */
#define AMDVI_IRTE_VECTOR_SHIFT   16     /* bits 23:16 */
#define AMDVI_IRTE_SIZE           4u

/* ---- I/O page-table entries (2.2.3) are in arch/x86/hw/pte.h, with the
 * other page tables; the DTE shares their rights bits. */
STATIC_ASSERT(AMDVI_PTE_IR == AMDVI_DTE_IR && AMDVI_PTE_IW == AMDVI_DTE_IW, "DTE and PTE rights share their bits");
STATIC_ASSERT(AMDVI_PTE_NL_SHIFT == AMDVI_DTE_MODE_SHIFT, "a DTE's Mode is the first Next Level");

/* ---- Commands (2.4): 128 bits; the opcode is in bits 63:60 (dword 1, bits
 * 31:28). The driver writes them into the ring as two quadwords. */
struct amdvi_cmd {
    u64 lo, hi;
} __packed;
STATIC_ASSERT(sizeof(struct amdvi_cmd) == 16, "a command is 128 bits");
STATIC_ASSERT(__builtin_offsetof(struct amdvi_cmd, hi) == 8, "operand 2 is bits 127:64");

#define AMDVI_CMD_OP_SHIFT        60
#define AMDVI_CMD_COMPLETION_WAIT 0x1u /* 2.4.1 */
#define AMDVI_CMD_INV_DEVTAB      0x2u /* 2.4.2 INVALIDATE_DEVTAB_ENTRY */
#define AMDVI_CMD_INV_PAGES       0x3u /* 2.4.3 INVALIDATE_IOMMU_PAGES */
#define AMDVI_CMD_INV_IOTLB       0x4u /* 2.4.4 INVALIDATE_IOTLB_PAGES (remote ATS caches: not used) */
#define AMDVI_CMD_INV_INTR_TABLE  0x5u /* 2.4.5 INVALIDATE_INTERRUPT_TABLE */
#define AMDVI_CMD_INV_ALL         0x8u /* 2.4.8 INVALIDATE_IOMMU_ALL (EFR IASup) */

/* COMPLETION_WAIT: S (bit 0) stores the 64-bit data of bits 127:64 at the
 * 8-byte-aligned address in bits 51:3 once every earlier command has
 * completed; I (bit 1) raises an interrupt; F (bit 2) also waits for
 * outstanding DMA. */
#define AMDVI_CW_S             BIT(0)
#define AMDVI_CW_I             BIT(1)
#define AMDVI_CW_F             BIT(2)
#define AMDVI_CW_ADDR_MASK     0x000ffffffffffff8ULL
/* INVALIDATE_IOMMU_PAGES: DomainID in bits 47:32; operand 2 holds S (bit 0,
 * the address encodes a size), PDE (bit 1, also the directory entries) and
 * the address in bits 63:12. S with 7FFF_FFFF_FFFF_Fxxxh is the whole domain. */
#define AMDVI_INV_DOMAIN_SHIFT 32
#define AMDVI_INV_S            BIT(0)
#define AMDVI_INV_PDE          BIT(1)
#define AMDVI_INV_ALL_PAGES    0x7ffffffffffff000ULL

/* ---- Event log entries (2.5): 128 bits, the code in bits 63:60. */
struct amdvi_event {
    u64 lo, hi;
} __packed;
STATIC_ASSERT(sizeof(struct amdvi_event) == 16, "an event log entry is 128 bits");

#define AMDVI_EVT_CODE_SHIFT   60
#define AMDVI_EVT_DEVID_MASK   0xffffULL /* bits 15:0, in the events that name a device */
#define AMDVI_EVT_DOMAIN_SHIFT 32        /* bits 47:32: DomainID (or PASID) */
#define AMDVI_EVT_FLAGS_SHIFT  48        /* bits 59:48 */
#define AMDVI_EVT_FLAGS_MASK   0xfffu
/* IO_PAGE_FAULT flags (bit n of the field is bit 48 + n of the entry). */
#define AMDVI_EVF_GN           BIT(0) /* guest (GVA) request */
#define AMDVI_EVF_NX           BIT(1) /* an instruction fetch */
#define AMDVI_EVF_US           BIT(2) /* a user-mode request */
#define AMDVI_EVF_I            BIT(3) /* an interrupt request, not a memory access */
#define AMDVI_EVF_PR           BIT(4) /* the page was present (a rights fault) */
#define AMDVI_EVF_RW           BIT(5) /* a write; else a read */
#define AMDVI_EVF_PE           BIT(6) /* permission violation */
#define AMDVI_EVF_RZ           BIT(7) /* a reserved bit was set in an entry */
#define AMDVI_EVF_TR           BIT(8) /* a translation (ATS) request */

/* Event codes. */
#define AMDVI_EVT_ILLEGAL_DTE   0x1u
#define AMDVI_EVT_IO_PAGE_FAULT 0x2u
#define AMDVI_EVT_DEV_TAB_HW    0x3u
#define AMDVI_EVT_PAGE_TAB_HW   0x4u
#define AMDVI_EVT_ILLEGAL_CMD   0x5u
#define AMDVI_EVT_CMD_HW        0x6u
#define AMDVI_EVT_IOTLB_INV_TO  0x7u
#define AMDVI_EVT_INVALID_DEV   0x8u
#define AMDVI_EVT_INVALID_PPR   0x9u
#define AMDVI_EVT_RMP_FAULT     0xdu
#define AMDVI_EVT_RMP_HW        0xeu

/* ---- Encoders and decoders. */

/* Every device's DMA blocked: valid, translation valid, mode 0, neither
 * right, DomainID 0 (which no attached domain uses). */
static inline struct amdvi_dte amdvi_dte_blocked(void)
{
    struct amdvi_dte d = { { AMDVI_DTE_V | AMDVI_DTE_TV, 0, 0, 0 } };
    return d;
}

/* DMA translated through the mode-`mode` table at root under `domain`, IR
 * and IW set: the table's own entries decide. */
static inline struct amdvi_dte amdvi_dte_translated(u64 root, u16 domain, u32 mode)
{
    struct amdvi_dte d = { { AMDVI_DTE_V | AMDVI_DTE_TV | (root & AMDVI_ADDR_MASK) |
                                 ((u64)mode << AMDVI_DTE_MODE_SHIFT & AMDVI_DTE_MODE_MASK) | AMDVI_DTE_IR |
                                 AMDVI_DTE_IW,
                             domain, 0, 0 } };
    return d;
}

/* Quadword 2 of a device whose fixed MSIs are remapped through the table at
 * `table` of 2^len_log2 entries (len_log2 above the field's 11 is cut to
 * it). Every Pass bit is clear: the device cannot send NMI, INIT, ExtInt or
 * LINT messages, whatever its data says. */
static inline u64 amdvi_dte_irq(u64 table, u32 len_log2)
{
    if (len_log2 > AMDVI_INTTABLEN_MAX)
        len_log2 = AMDVI_INTTABLEN_MAX;
    return AMDVI_DTE_IV | ((u64)len_log2 << AMDVI_DTE_INTTABLEN_SHIFT) | (table & AMDVI_DTE_INTTAB_MASK) |
           ((u64)AMDVI_INTCTL_REMAP << AMDVI_DTE_INTCTL_SHIFT);
}
static inline u64 amdvi_dte_irq_table(const struct amdvi_dte *d) { return d->q[2] & AMDVI_DTE_INTTAB_MASK; }
static inline u32 amdvi_dte_irq_len(const struct amdvi_dte *d)
{
    return (u32)((d->q[2] & AMDVI_DTE_INTTABLEN_MASK) >> AMDVI_DTE_INTTABLEN_SHIFT);
}

/* An interrupt table entry delivering `vector`, fixed and edge, to the CPU
 * whose xAPIC ID is dest, physical destination mode; aborted interrupts of
 * it are reported (SupIOPF clear). */
static inline u32 amdvi_irte(u8 vector, u8 dest)
{
    return AMDVI_IRTE_REMAP_EN | (u32)dest << AMDVI_IRTE_DEST_SHIFT | (u32)vector << AMDVI_IRTE_VECTOR_SHIFT;
}

static inline u32 amdvi_dte_mode(const struct amdvi_dte *d)
{
    return (u32)((d->q[0] & AMDVI_DTE_MODE_MASK) >> AMDVI_DTE_MODE_SHIFT);
}
static inline u16 amdvi_dte_domain(const struct amdvi_dte *d) { return (u16)(d->q[1] & AMDVI_DTE_DOMAIN_MASK); }
/* The entry walks a table (a device attached to a domain). */
static inline bool amdvi_dte_translates(const struct amdvi_dte *d)
{
    return (d->q[0] & (AMDVI_DTE_V | AMDVI_DTE_TV)) == (AMDVI_DTE_V | AMDVI_DTE_TV) &&
           amdvi_dte_mode(d) != AMDVI_MODE_NONE;
}

static inline struct amdvi_cmd amdvi_cmd_op(u32 op, u64 lo, u64 hi)
{
    struct amdvi_cmd c = { ((u64)op << AMDVI_CMD_OP_SHIFT) | lo, hi };
    return c;
}
static inline struct amdvi_cmd amdvi_cmd_completion_wait(u64 store, u64 data)
{
    return amdvi_cmd_op(AMDVI_CMD_COMPLETION_WAIT, (store & AMDVI_CW_ADDR_MASK) | AMDVI_CW_S, data);
}
static inline struct amdvi_cmd amdvi_cmd_inv_devtab(u16 devid) { return amdvi_cmd_op(AMDVI_CMD_INV_DEVTAB, devid, 0); }
/* Every cached translation and directory entry of a domain. */
static inline struct amdvi_cmd amdvi_cmd_inv_domain(u16 domain)
{
    return amdvi_cmd_op(AMDVI_CMD_INV_PAGES, (u64)domain << AMDVI_INV_DOMAIN_SHIFT,
                        AMDVI_INV_ALL_PAGES | AMDVI_INV_PDE | AMDVI_INV_S);
}
static inline struct amdvi_cmd amdvi_cmd_inv_intr_table(u16 devid)
{
    return amdvi_cmd_op(AMDVI_CMD_INV_INTR_TABLE, devid, 0);
}
static inline struct amdvi_cmd amdvi_cmd_inv_all(void) { return amdvi_cmd_op(AMDVI_CMD_INV_ALL, 0, 0); }

/* An event log entry, taken apart. */
struct amdvi_event_info {
    u8 code;
    bool has_dev; /* devid names the requester */
    u16 devid;
    u16 domain; /* IO_PAGE_FAULT, PAGE_TAB_HARDWARE_ERROR: DomainID (or PASID) */
    u16 flags;  /* bits 59:48 */
    u64 addr;   /* bits 127:64: the device's address, or the table, command or entry the event concerns */
    bool write; /* IO_PAGE_FAULT and the hardware errors: RW */
    bool irq;   /* IO_PAGE_FAULT with I: an interrupt request the unit aborted, not a memory access */
};

static inline const char *amdvi_event_name(u32 code)
{
    switch (code) {
    case AMDVI_EVT_ILLEGAL_DTE: return "ILLEGAL_DEV_TABLE_ENTRY";
    case AMDVI_EVT_IO_PAGE_FAULT: return "IO_PAGE_FAULT";
    case AMDVI_EVT_DEV_TAB_HW: return "DEV_TAB_HARDWARE_ERROR";
    case AMDVI_EVT_PAGE_TAB_HW: return "PAGE_TAB_HARDWARE_ERROR";
    case AMDVI_EVT_ILLEGAL_CMD: return "ILLEGAL_COMMAND_ERROR";
    case AMDVI_EVT_CMD_HW: return "COMMAND_HARDWARE_ERROR";
    case AMDVI_EVT_IOTLB_INV_TO: return "IOTLB_INV_TIMEOUT";
    case AMDVI_EVT_INVALID_DEV: return "INVALID_DEVICE_REQUEST";
    case AMDVI_EVT_INVALID_PPR: return "INVALID_PPR_REQUEST";
    case AMDVI_EVT_RMP_FAULT: return "RMP_PAGE_FAULT";
    case AMDVI_EVT_RMP_HW: return "RMP_HARDWARE_ERROR";
    default: return "unknown event";
    }
}

static inline struct amdvi_event_info amdvi_event_decode(const struct amdvi_event *e)
{
    struct amdvi_event_info i;
    i.code = (u8)(e->lo >> AMDVI_EVT_CODE_SHIFT);
    /* ILLEGAL_COMMAND_ERROR and COMMAND_HARDWARE_ERROR concern a command, not a device. */
    i.has_dev = i.code != AMDVI_EVT_ILLEGAL_CMD && i.code != AMDVI_EVT_CMD_HW && i.code != 0;
    i.devid = i.has_dev ? (u16)(e->lo & AMDVI_EVT_DEVID_MASK) : 0;
    i.domain = (u16)(e->lo >> AMDVI_EVT_DOMAIN_SHIFT);
    i.flags = (u16)((e->lo >> AMDVI_EVT_FLAGS_SHIFT) & AMDVI_EVT_FLAGS_MASK);
    i.addr = e->hi;
    i.write = (i.flags & AMDVI_EVF_RW) != 0;
    i.irq = i.code == AMDVI_EVT_IO_PAGE_FAULT && (i.flags & AMDVI_EVF_I);
    return i;
}

#endif
