/* ACPI table discovery and parsing: RSDP -> XSDT/RSDT -> FADT, MADT, SRAT, SLIT,
 * MCFG, HPET, and a scan of the DSDT/SSDT AML for PCI host bridges and \_S5.
 * Arch-neutral: physical memory is reached only through a caller-supplied
 * struct acpi_mem, so the same code runs in the hypervisor and in host unit tests.
 * All table data is untrusted; see docs/acpi.md for what is checked and the caps. */
#ifndef ISTHMUS_DRIVERS_ACPI_ACPI_H
#define ISTHMUS_DRIVERS_ACPI_ACPI_H

#include "kernel/lib/types.h"

/* Reads physical memory. map() returns a pointer through which [pa, pa + len) can
 * be read, or NULL when that range is not readable. */
struct acpi_mem {
    const void *(*map)(void *opaque, u64 pa, u64 len);
    void *opaque;
};

/* Caps of the fixed-size arrays in struct acpi_info. What does not fit is counted
 * in the matching *_dropped field and reported with log_warn. */
#define ACPI_MAX_TABLES        64          /* entries of XSDT/RSDT (+ root, DSDT, FACS) */
#define ACPI_MAX_TABLE_LEN     (64u << 20) /* a longer table is rejected */
#define ACPI_MAX_MADT_CPUS     512         /* LAPIC + x2APIC entries, enabled or not */
#define ACPI_MAX_IOAPICS       32
#define ACPI_MAX_ISOS          48 /* interrupt source overrides */
#define ACPI_MAX_LAPIC_NMIS    32 /* LAPIC NMI + x2APIC NMI entries */
#define ACPI_MAX_NMI_SOURCES   16
#define ACPI_MAX_SRAT_CPUS     512 /* enabled LAPIC/x2APIC affinity entries */
#define ACPI_MAX_SRAT_MEM      64  /* enabled memory affinity entries */
#define ACPI_MAX_LOCALITIES    32  /* SLIT matrices up to 32 x 32 */
#define ACPI_MAX_MCFG          16
#define ACPI_MAX_PCI_ROOTS     32
#define ACPI_PATH_MAX          128 /* "\_SB_.PC80" style path, NUL included */
#define ACPI_MAX_IOMMUS        16  /* remapping units: DRHDs, and one IVHD per AMD unit */
#define ACPI_MAX_IOMMU_SCOPES  128 /* DRHD/RMRR device scopes and IVHD device entries */
#define ACPI_MAX_IOMMU_HOPS    8   /* (device, function) steps of a DMAR device-scope path */
#define ACPI_MAX_IOMMU_REGIONS 16  /* RMRRs and IVMDs */
#define ACPI_IOMMU_ERR_MAX     80  /* why a unit or table is not used, NUL included */

enum acpi_table_status {
    ACPI_TABLE_OK = 0,
    ACPI_TABLE_UNMAPPED,   /* header or body not readable through acpi_mem */
    ACPI_TABLE_BAD_LENGTH, /* length < header, > ACPI_MAX_TABLE_LEN, or malformed */
    ACPI_TABLE_BAD_CHECKSUM,
    ACPI_TABLE_BAD_SIGNATURE, /* not what the pointer to it promised */
};

/* One table as listed for the shell's `acpi` command, good or bad. */
struct acpi_table_desc {
    char signature[5]; /* NUL-terminated; non-printable bytes shown as '?' */
    char oem_id[7];
    char oem_table_id[9];
    u8 revision; /* FACS: its version field */
    u8 status;   /* enum acpi_table_status */
    u64 pa;
    u32 length;
};

/* Address space IDs of a Generic Address Structure (table 5.1). */
enum acpi_space {
    ACPI_SPACE_MEMORY = 0,
    ACPI_SPACE_IO = 1,
    ACPI_SPACE_PCI_CONFIG = 2,
    ACPI_SPACE_FFH = 0x7f,
};

/* A decoded register: address 0 means "not present". Legacy FADT port fields
 * are turned into ACPI_SPACE_IO registers of the legacy length's width. */
struct acpi_reg {
    u8 space; /* enum acpi_space */
    u8 bit_width;
    u8 bit_offset;
    u8 access_size;
    u64 address;
};

struct acpi_fadt_info {
    u8 revision;
    u8 minor_version; /* 0 unless the table is >= 132 bytes */
    u32 length;
    u64 dsdt; /* X_DSDT when present and non-zero, else DSDT */
    u64 facs;
    u16 sci_irq;
    u32 smi_cmd;
    u8 acpi_enable, acpi_disable;
    u32 flags;            /* ACPI_FADT_* in tables.h */
    bool hw_reduced;      /* flags & HW_REDUCED_ACPI */
    bool reset_supported; /* flags & RESET_REG_SUP and the table has the register */
    struct acpi_reg pm1a_evt, pm1b_evt, pm1a_cnt, pm1b_cnt, pm2_cnt, pm_tmr, gpe0, gpe1;
    u8 pm1_evt_len, pm1_cnt_len, pm_tmr_len, gpe0_len, gpe1_len;
    u8 pm_tmr_bits;            /* 24 or 32 (TMR_VAL_EXT); 0 without a PM timer */
    struct acpi_reg reset_reg; /* valid only when reset_supported */
    u8 reset_value;
    u8 century;         /* RTC CMOS index of the century, 0 if none */
    u16 iapc_boot_arch; /* read only for revision >= 2 tables */
};

struct acpi_madt_cpu {
    u32 apic_id;
    u32 uid;     /* ACPI processor UID */
    bool x2apic; /* from a type 9 entry */
    bool enabled;
    bool online_capable;
};

struct acpi_ioapic {
    u8 id;
    u32 address;
    u32 gsi_base;
};

struct acpi_iso {
    u8 bus, source;
    u32 gsi;
    u16 flags; /* MPS INTI: polarity bits 1:0, trigger mode bits 3:2 */
};

struct acpi_lapic_nmi {
    u32 uid; /* 0xFFFFFFFF (x2APIC) or 0xFF (LAPIC): all processors */
    u16 flags;
    u8 lint;
    bool x2apic;
};

struct acpi_nmi_source {
    u32 gsi;
    u16 flags;
};

struct acpi_madt_info {
    u64 lapic_base; /* with the type 5 override applied */
    bool lapic_overridden;
    u32 flags; /* ACPI_MADT_PCAT_COMPAT */
    u32 ncpus; /* every LAPIC/x2APIC entry, MADT order */
    struct acpi_madt_cpu cpus[ACPI_MAX_MADT_CPUS];
    u32 nioapics;
    struct acpi_ioapic ioapics[ACPI_MAX_IOAPICS];
    u32 nisos;
    struct acpi_iso isos[ACPI_MAX_ISOS];
    u32 nlapic_nmis;
    struct acpi_lapic_nmi lapic_nmis[ACPI_MAX_LAPIC_NMIS];
    u32 nnmi_sources;
    struct acpi_nmi_source nmi_sources[ACPI_MAX_NMI_SOURCES];
    u32 dropped;     /* entries beyond a cap */
    u32 bad_entries; /* too short for their type, or the walk stopped early */
};

struct acpi_srat_cpu {
    u32 apic_id;
    u32 domain;
    bool x2apic;
};

struct acpi_srat_mem {
    u64 base, length; /* length > 0, base + length does not wrap */
    u32 domain;
    bool hotplug;
    bool nonvolatile;
};

/* Only enabled entries are kept; disabled ones are counted. */
struct acpi_srat_info {
    u8 revision;
    u32 ncpus;
    struct acpi_srat_cpu cpus[ACPI_MAX_SRAT_CPUS];
    u32 nmem;
    struct acpi_srat_mem mem[ACPI_MAX_SRAT_MEM];
    u32 disabled;
    u32 dropped;
    u32 bad_entries;
};

struct acpi_slit_info {
    u32 n; /* locality count; matrix[i * n + j] */
    u8 matrix[ACPI_MAX_LOCALITIES * ACPI_MAX_LOCALITIES];
};

struct acpi_mcfg_alloc {
    u64 base;
    u16 segment;
    u8 start_bus, end_bus;
};

struct acpi_hpet_info {
    u64 base; /* system memory address of the register block */
    u32 block_id;
    u16 vendor_id;
    u8 comparators; /* number of comparators (NUM_TIM_CAP + 1) */
    bool counter_64bit;
    bool legacy_replacement;
    u8 number;
    u16 min_tick;
};

/* What the AML scan found. A host bridge is a Device whose _HID or _CID is
 * PNP0A03 (PCI) or PNP0A08 (PCI Express). */
#define ACPI_ROOT_METHOD_SEG BIT(0) /* _SEG / _BBN / _PXM / _UID given by a Method: not */
#define ACPI_ROOT_METHOD_BBN BIT(1) /* evaluated, the default is used and it is counted */
#define ACPI_ROOT_METHOD_PXM BIT(2)
#define ACPI_ROOT_METHOD_UID BIT(3)
#define ACPI_ROOT_BAD_VALUE  BIT(4) /* one of them had a value of an unexpected type */

struct acpi_pci_root {
    char path[ACPI_PATH_MAX]; /* e.g. "\_SB_.PC80" */
    char hid[9];              /* "PNP0A08", or the _HID string */
    bool pcie;                /* PNP0A08 in _HID or _CID */
    bool has_seg, has_bbn, has_pxm, has_uid;
    u16 segment;      /* _SEG, default 0 */
    u8 base_bus;      /* _BBN, default 0 */
    u32 pxm;          /* _PXM when has_pxm */
    u64 uid;          /* _UID when has_uid and it is an integer */
    char uid_str[16]; /* _UID when it is a string */
    u8 unknown;       /* ACPI_ROOT_* bits */
    u32 path_hash;    /* of the resolved path, for matching Scope() additions */
};

struct acpi_aml_stats {
    u32 tables;         /* DSDT and SSDTs scanned */
    u32 devices;        /* Device() objects seen */
    u32 not_understood; /* method_ids + conditional + loads + odd_values + bad */
    u32 method_ids;     /* _HID/_CID/_UID/_BBN/_SEG/_PXM/_S5_ defined as Method */
    u32 conditional;    /* If/Else/While at declaration level (bodies skipped) */
    u32 loads;          /* Load/LoadTable (tables loaded at run time) */
    u32 odd_values;     /* those names with a value of an unexpected type */
    u32 bad;            /* malformed or unknown encodings: rest of that scope skipped */
};

struct acpi_s5 {
    bool valid;
    u8 slp_typa, slp_typb; /* 3-bit SLP_TYP values for PM1a/PM1b control */
};

/* DMA remapping units from the DMAR (VT-d) and IVRS (AMD-Vi), described the same
 * way for both vendors. Which PCI function a DMAR scope names depends on the
 * bridges' bus numbers: drivers/iommu.h resolves that against the enumeration. */
enum acpi_iommu_vendor {
    ACPI_IOMMU_VTD = 1,
    ACPI_IOMMU_AMDVI = 2,
};

enum acpi_iommu_scope_kind {
    ACPI_IOMMU_SCOPE_ENDPOINT = 1, /* DMAR: the function at the end of the path */
    ACPI_IOMMU_SCOPE_BRIDGE,       /* DMAR: the bridge at the end of the path, and all below it */
    ACPI_IOMMU_SCOPE_RANGE,        /* IVRS: requester IDs first..last (a select is one) */
    ACPI_IOMMU_SCOPE_IOAPIC,       /* an I/O APIC: enum_id is its ID */
    ACPI_IOMMU_SCOPE_HPET,         /* an HPET block: enum_id is its number */
    ACPI_IOMMU_SCOPE_ACPI,         /* an ACPI namespace device */
};

/* One DMAR device scope or IVHD device entry. A DMAR scope is a path: start_bus,
 * then hops (device << 3 | function), each but the last a bridge. An IVRS entry
 * is a range of requester IDs (bus << 8 | devfn); for I/O APICs, HPETs and ACPI
 * devices first == last is the ID their interrupts carry. */
struct acpi_iommu_scope {
    u8 kind;        /* enum acpi_iommu_scope_kind */
    bool in_region; /* an RMRR's scope: owner is a region index, else a unit index */
    u8 owner;
    u8 enum_id;
    u8 start_bus; /* DMAR */
    u8 hops;
    u8 path[ACPI_MAX_IOMMU_HOPS];
    u16 first, last; /* IVRS */
    bool has_alias;
    u16 alias; /* IVRS alias entries: requests of first..last carry this ID */
    u8 dte;    /* IVRS: the DTE settings byte */
};

struct acpi_iommu_unit {
    u8 vendor; /* enum acpi_iommu_vendor */
    u8 type;   /* IVHD block type (10h, 11h, 40h); 0 for a DRHD */
    u8 flags;  /* DRHD or IVHD flags as given */
    /* Translates for every device of the segment that no other unit names:
     * DRHD INCLUDE_PCI_ALL, or an IVHD "all" entry. */
    bool include_all;
    /* False: malformed or in conflict with another unit (error says why), and
     * not used: a device it names is covered by no unit. */
    bool usable;
    /* False when its scopes could not all be read: a unit claiming "all others"
     * on the same segment is then not trusted either. */
    bool scopes_complete;
    u16 segment;
    hpa_t base;     /* register base */
    u16 device_id;  /* IVHD: the unit's own PCI function */
    u16 cap_offset; /* IVHD: its capability in that function's config space */
    u32 table_off;  /* offset of its structure in the table, for messages */
    u32 first_scope, nscopes;
    u32 ignored; /* scopes or entries of reserved types, skipped */
    char error[ACPI_IOMMU_ERR_MAX];
};

enum acpi_iommu_region_kind {
    ACPI_IOMMU_RMRR = 1,   /* DMAR: for the devices of its scopes */
    ACPI_IOMMU_IVMD_ALL,   /* IVRS 20h: every device */
    ACPI_IOMMU_IVMD_ONE,   /* IVRS 21h: requester ID first */
    ACPI_IOMMU_IVMD_RANGE, /* IVRS 22h: requester IDs first..last */
};

/* Memory that firmware says devices keep reaching by DMA (a USB controller's
 * legacy emulation, a GPU's stolen memory): a future remapping must map it. */
struct acpi_iommu_region {
    u8 kind; /* enum acpi_iommu_region_kind */
    u8 flags;
    u16 segment; /* RMRR */
    hpa_t base;
    u64 length;
    u16 first, last;          /* IVMD */
    u32 first_scope, nscopes; /* RMRR */
};

struct acpi_iommu_info {
    u8 dmar_haw;          /* DMA address width in bits */
    u8 dmar_flags;        /* ACPI_DMAR_* (tables.h) */
    bool dmar_intr_remap; /* the platform supports interrupt remapping */
    u32 dmar_atsr;        /* ATSR structures seen (not used) */
    u32 dmar_other;       /* RHSA, ANDD, SATC and reserved structures (not used) */
    u32 ivinfo;
    u32 ivhd_superseded;                 /* IVHDs of a unit also given in a higher type */
    u32 ivrs_other;                      /* IVRS blocks of reserved types */
    char dmar_error[ACPI_IOMMU_ERR_MAX]; /* why the DMAR is not used; "" when it is */
    char ivrs_error[ACPI_IOMMU_ERR_MAX];
    u32 nunits;
    struct acpi_iommu_unit units[ACPI_MAX_IOMMUS];
    u32 nscopes;
    struct acpi_iommu_scope scopes[ACPI_MAX_IOMMU_SCOPES];
    u32 nregions;
    struct acpi_iommu_region regions[ACPI_MAX_IOMMU_REGIONS];
    u32 regions_dropped;
    u32 bad_regions; /* malformed RMRR/IVMD, skipped */
};

struct acpi_info {
    /* Discovery */
    u64 rsdp_pa;
    u8 rsdp_revision;
    char rsdp_oem_id[7];
    bool using_xsdt; /* false: RSDT (rev 0 RSDP, or XSDT absent/bad) */
    u32 ntables;
    struct acpi_table_desc tables[ACPI_MAX_TABLES];
    u32 tables_dropped;

    /* Which tables were found and parsed without fatal errors. */
    bool have_fadt, have_madt, have_srat, have_slit, have_mcfg, have_hpet, have_dsdt;
    bool have_dmar, have_ivrs; /* well formed as a whole (a unit may still be unusable) */

    struct acpi_fadt_info fadt;
    struct acpi_madt_info madt;
    struct acpi_srat_info srat;
    struct acpi_slit_info slit;
    u32 nmcfg;
    struct acpi_mcfg_alloc mcfg[ACPI_MAX_MCFG];
    u32 mcfg_dropped;
    struct acpi_hpet_info hpet;
    struct acpi_iommu_info iommu;

    /* AML scan */
    struct acpi_s5 s5;
    u32 npci_roots;
    struct acpi_pci_root pci_roots[ACPI_MAX_PCI_ROOTS];
    u32 pci_roots_dropped;
    struct acpi_aml_stats aml;
};

/* Discovers and parses everything from the RSDP at rsdp_pa. Returns 0 when a root
 * table (XSDT or RSDT) was usable, even if some tables were bad (those are logged,
 * listed with their status and skipped); -ENOENT when rsdp_pa is 0, -EFAULT when
 * the RSDP cannot be mapped, -EINVAL when it is not a valid RSDP, -EIO when neither
 * XSDT nor RSDT is usable. out is always fully initialised. */
int acpi_parse(const struct acpi_mem *mem, u64 rsdp_pa, struct acpi_info *out) __must_check;

/* The instance-th (0-based) table with this 4-character signature whose status is
 * ACPI_TABLE_OK, or NULL. */
const struct acpi_table_desc *acpi_find_table(const struct acpi_info *info, const char *sig, u32 instance);
/* Maps a table listed with ACPI_TABLE_OK; NULL otherwise. */
const void *acpi_map_table(const struct acpi_mem *mem, const struct acpi_table_desc *t);

const char *acpi_table_status_name(u8 status);

/* Single-table parsers, used by acpi_parse() and by tests. `tbl` is a whole table of
 * `len` bytes whose header and checksum have been checked. They fill the matching
 * part of `out` and set its have_* flag; a table that is malformed as a whole is
 * logged and returns -EINVAL with the flag cleared. */
int acpi_parse_fadt(const void *tbl, u32 len, struct acpi_info *out) __must_check;
int acpi_parse_madt(const void *tbl, u32 len, struct acpi_info *out) __must_check;
int acpi_parse_srat(const void *tbl, u32 len, struct acpi_info *out) __must_check;
int acpi_parse_slit(const void *tbl, u32 len, struct acpi_info *out) __must_check;
int acpi_parse_mcfg(const void *tbl, u32 len, struct acpi_info *out) __must_check;
int acpi_parse_hpet(const void *tbl, u32 len, struct acpi_info *out) __must_check;
/* DMAR and IVRS add their units to out->iommu; a table malformed as a whole
 * adds none and says why in iommu.dmar_error / ivrs_error. */
int acpi_parse_dmar(const void *tbl, u32 len, struct acpi_info *out) __must_check;
int acpi_parse_ivrs(const void *tbl, u32 len, struct acpi_info *out) __must_check;

/* "VT-d" or "AMD-Vi". */
const char *acpi_iommu_vendor_name(u8 vendor);

/* 8-bit sum of len bytes: 0 for a valid table. */
u8 acpi_checksum(const void *p, u64 len);

/* EISA ID helpers: "PNP0A03" <-> 0x030AD041 (as stored in a little-endian DWord). */
u32 acpi_eisaid_encode(const char *id);
void acpi_eisaid_decode(u32 v, char out[8]);

#endif
