/* Page-table entries: x86 paging (the hypervisor's own tables, guest tables
 * walked and shadowed), Intel EPT and AMD nested paging, with the geometry of
 * a 4-level walk checked below. Definitions only; host unit tests include it. */
#ifndef ISTHMUS_ARCH_X86_HW_PTE_H
#define ISTHMUS_ARCH_X86_HW_PTE_H

#include "kernel/lib/types.h"

/* ---- x86 paging: 4-level and PAE entries (SDM Vol. 3A 4.5, tables 4-15 to
 * 4-20; PAE tables 4-8 to 4-11 use the same layout). */
#define PTE_P         BIT(0)                /* present */
#define PTE_RW        BIT(1)                /* writable */
#define PTE_US        BIT(2)                /* user-mode accessible */
#define PTE_PWT       BIT(3)                /* page-level write-through: PAT index bit 0 */
#define PTE_PCD       BIT(4)                /* page-level cache disable: PAT index bit 1 */
#define PTE_A         BIT(5)                /* accessed */
#define PTE_D         BIT(6)                /* dirty (leaves only) */
#define PTE_PS        BIT(7)                /* PDPTE/PDE: maps a 1 GiB/2 MiB page; reserved in a PML4E */
#define PTE_PAT       BIT(7)                /* 4 KiB PTE: PAT index bit 2 */
#define PTE_G         BIT(8)                /* global (with CR4.PGE) */
#define PTE_PAT_LARGE BIT(12)               /* 1 GiB/2 MiB leaf: PAT index bit 2 */
#define PTE_NX        BIT(63)               /* execute-disable; reserved unless EFER.NXE */
#define PTE_ADDR      0x000ffffffffff000ULL /* bits 51:12: the next table or the 4 KiB page */

/* A PAE PDPTE has only P, PWT, PCD and the address: bits 2:1, 8:5 and 63 are
 * reserved (SDM 4.4.1, table 4-8). */
#define PDPTE_P    BIT(0)
#define PAE_PDPTES 4 /* entries of a PAE page-directory-pointer table (CR3 points at them) */

/* ---- 32-bit paging (SDM 4.3, tables 4-4 to 4-6): 4-byte entries, 1024 per
 * table, PTE_P/RW/US/PWT/PCD/A/D/PS/G at the same positions. */
#define PTE32_ADDR        0xfffff000ULL /* bits 31:12 */
#define PDE32_4M_ADDR     0xffc00000ULL /* 4 MiB page: address bits 31:22 */
#define PDE32_4M_HI_SHIFT 13            /* PSE-36: bits 20:13 hold address bits 39:32 */
#define PDE32_4M_HI_MASK  0xffULL
#define PDE32_SHIFT       22 /* a PDE maps 4 MiB */
#define PT32_ENTRIES      1024

/* ---- Geometry of 4-level paging (EPT and NPT walk the same tree). */
#define PT_ENTRIES          512 /* 8-byte entries in a 4 KiB table */
#define PT_INDEX_BITS       9
#define PAGE_SHIFT_2M       (PAGE_SHIFT + PT_INDEX_BITS)
#define PAGE_SHIFT_1G       (PAGE_SHIFT_2M + PT_INDEX_BITS)
#define PAGE_SIZE_2M        (1ULL << PAGE_SHIFT_2M)
#define PAGE_SIZE_1G        (1ULL << PAGE_SHIFT_1G)
#define PT_ADDR_BITS_4LEVEL 48 /* a 4-level walk translates 48 address bits */
/* Levels numbered by the table: 1 = PT (an entry maps 4 KiB), 2 = PD (2 MiB),
 * 3 = PDPT (1 GiB), 4 = PML4 (512 GiB). */
#define PT_LEVEL_SHIFT(l)   (PAGE_SHIFT + PT_INDEX_BITS * ((l)-1))
#define PT_INDEX(a, l)      (((a) >> PT_LEVEL_SHIFT(l)) & (PT_ENTRIES - 1))
#define PA_BITS_MAX         52 /* architectural MAXPHYADDR limit */

STATIC_ASSERT(PT_ENTRIES * sizeof(u64) == PAGE_SIZE, "a table is one page");
STATIC_ASSERT(PT_ENTRIES == 1 << PT_INDEX_BITS, "9 index bits per level");
STATIC_ASSERT(PT32_ENTRIES * sizeof(u32) == PAGE_SIZE, "a 32-bit table is one page");
STATIC_ASSERT(PAGE_SIZE_2M == MiB(2) && PAGE_SIZE_1G == GiB(1), "large page sizes");
STATIC_ASSERT(PT_LEVEL_SHIFT(5) == PT_ADDR_BITS_4LEVEL, "4 levels translate 48 bits");
STATIC_ASSERT(PT_LEVEL_SHIFT(2) == PAGE_SHIFT_2M && PT_LEVEL_SHIFT(3) == PAGE_SHIFT_1G,
              "a PD entry maps 2 MiB, a PDPT entry 1 GiB");
STATIC_ASSERT(PTE_ADDR == (BIT(PA_BITS_MAX) - 1) - (PAGE_SIZE - 1), "address bits 51:12");
STATIC_ASSERT(PTE32_ADDR == (BIT(32) - 1) - (PAGE_SIZE - 1), "32-bit address bits 31:12");
STATIC_ASSERT(PDE32_4M_ADDR == (BIT(32) - 1) - (BIT(PDE32_SHIFT) - 1), "4 MiB page address bits 31:22");
STATIC_ASSERT(PAGE_SHIFT + 10 + 10 == 32 && PT32_ENTRIES == 1 << 10, "two levels of 10 bits");

/* ---- EPT paging-structure entries (SDM Vol. 3C 29.3.2, tables 29-1 to 29-6). */
#define EPT_R        BIT(0)
#define EPT_W        BIT(1)
#define EPT_X        BIT(2) /* supervisor-mode execute without MBEC */
#define EPT_MT_SHIFT 3      /* leaf memory type, bits 5:3 */
#define EPT_MT_MASK  (7ULL << EPT_MT_SHIFT)
#define EPT_MT_UC    0ULL
#define EPT_MT_WB    6ULL
#define EPT_IPAT     BIT(6) /* leaf: ignore guest PAT */
#define EPT_LARGE    BIT(7) /* PDPTE/PDE: maps a 1 GiB/2 MiB page */
#define EPT_ACCESSED BIT(8) /* with EPTP_AD */
#define EPT_DIRTY    BIT(9) /* leaves only, with EPTP_AD */

/* EPT pointer (SDM 25.6.11). */
#define EPTP_MT_WB      6ULL   /* bits 2:0: memory type of the paging structures */
#define EPTP_WALK_SHIFT 3      /* bits 5:3: page-walk length - 1 */
#define EPTP_AD         BIT(6) /* accessed/dirty flags (IA32_VMX_EPT_VPID_CAP bit 21) */

STATIC_ASSERT(EPT_LARGE == PTE_PS, "bit 7 marks large leaves in EPT and x86 paging alike");

/* ---- Nested page tables: ordinary long-mode entries (APM Vol. 2 5.3.3,
 * 15.25.5), named here for what nested paging makes of them. */
#define NPT_P        PTE_P
#define NPT_RW       PTE_RW
#define NPT_US       PTE_US /* nested walks are user accesses: set at every level */
#define NPT_PWT      PTE_PWT
#define NPT_PCD      PTE_PCD
#define NPT_ACCESSED PTE_A
#define NPT_DIRTY    PTE_D
#define NPT_PS       PTE_PS /* PDPE/PDE: 1 GiB/2 MiB page */
#define NPT_G        PTE_G
#define NPT_NX       PTE_NX /* needs EFER.NXE in the host when VMRUN executes */

/* ---- DMA remapping page tables: the same 4-level radix tree over 4 KiB
 * tables of 512 entries, in each vendor's entry layout (vmm/slpt.c builds
 * them; drivers/vtd.c and drivers/amdvi.c point the units at them).
 *
 * VT-d second-level entries (VT-d spec 4.1, 9.8): EPT's R, W and large-page
 * bits; bits 6:2 and 11 stay 0 (no execute, memory type or snoop control
 * asked for). Present means R or W. */
#define VTD_SL_R  BIT(0)
#define VTD_SL_W  BIT(1)
#define VTD_SL_PS BIT(7) /* PDE/PDPTE: a 2 MiB/1 GiB page (CAP.SLLPS) */

/* AMD-Vi I/O page-table entries (AMD IOMMU spec 48882 rev 3.08, 2.2.3):
 * present, the level of the table an entry points to (0: the entry is a
 * page of its level's size: 4 KiB, 2 MiB, 1 GiB), read and write rights that
 * are ANDed over the walk. Bits 8:1 and 63 are ignored; 58:52 reserved. */
#define AMDVI_PTE_PR       BIT(0)
#define AMDVI_PTE_NL_SHIFT 9
#define AMDVI_PTE_NL_MASK  (7ULL << AMDVI_PTE_NL_SHIFT) /* bits 11:9: next level */
#define AMDVI_PTE_IR       BIT(61)
#define AMDVI_PTE_IW       BIT(62)

#endif
