/* ACPI hardware table layouts (ACPI 6.5 chapter 5.2), exactly as firmware lays them
 * out in memory. Every table is untrusted: these structs only describe where fields
 * are, callers check the table's length before touching a field (see fadt.c). */
#ifndef ISTHMUS_DRIVERS_ACPI_TABLES_H
#define ISTHMUS_DRIVERS_ACPI_TABLES_H

#include "kernel/lib/types.h"

#define ACPI_CHECK_OFF(type, field, off)                                                                               \
    STATIC_ASSERT(offsetof(struct type, field) == (off), #type "." #field " at " #off)
#define ACPI_CHECK_SIZE(type, size) STATIC_ASSERT(sizeof(struct type) == (size), "sizeof " #type " == " #size)

/* 5.2.5.3 Root System Description Pointer. Revision 0 (ACPI 1.0) is 20 bytes; from
 * revision 2 on the structure is `length` bytes (36) with an extended checksum. */
struct acpi_rsdp {
    char signature[8]; /* "RSD PTR " */
    u8 checksum;       /* over the first 20 bytes */
    char oem_id[6];
    u8 revision;
    u32 rsdt_address;
    u32 length; /* revision >= 2 from here on */
    u64 xsdt_address;
    u8 ext_checksum; /* over `length` bytes */
    u8 reserved[3];
} __packed;
ACPI_CHECK_OFF(acpi_rsdp, checksum, 8);
ACPI_CHECK_OFF(acpi_rsdp, oem_id, 9);
ACPI_CHECK_OFF(acpi_rsdp, revision, 15);
ACPI_CHECK_OFF(acpi_rsdp, rsdt_address, 16);
ACPI_CHECK_OFF(acpi_rsdp, length, 20);
ACPI_CHECK_OFF(acpi_rsdp, xsdt_address, 24);
ACPI_CHECK_OFF(acpi_rsdp, ext_checksum, 32);
ACPI_CHECK_SIZE(acpi_rsdp, 36);
#define ACPI_RSDP_V1_SIZE 20u

/* 5.2.6 System Description Table Header, shared by every table but the FACS. */
struct acpi_header {
    char signature[4];
    u32 length; /* of the whole table, header included */
    u8 revision;
    u8 checksum; /* all `length` bytes sum to 0 mod 256 */
    char oem_id[6];
    char oem_table_id[8];
    u32 oem_revision;
    char creator_id[4];
    u32 creator_revision;
} __packed;
ACPI_CHECK_OFF(acpi_header, length, 4);
ACPI_CHECK_OFF(acpi_header, revision, 8);
ACPI_CHECK_OFF(acpi_header, checksum, 9);
ACPI_CHECK_OFF(acpi_header, oem_id, 10);
ACPI_CHECK_OFF(acpi_header, oem_table_id, 16);
ACPI_CHECK_OFF(acpi_header, oem_revision, 24);
ACPI_CHECK_OFF(acpi_header, creator_id, 28);
ACPI_CHECK_OFF(acpi_header, creator_revision, 32);
ACPI_CHECK_SIZE(acpi_header, 36);

/* 5.2.3.2 Generic Address Structure. */
struct acpi_gas_raw {
    u8 space_id; /* enum acpi_space */
    u8 bit_width;
    u8 bit_offset;
    u8 access_size; /* 0 undefined, 1 byte .. 4 qword */
    u64 address;
} __packed;
ACPI_CHECK_OFF(acpi_gas_raw, bit_width, 1);
ACPI_CHECK_OFF(acpi_gas_raw, bit_offset, 2);
ACPI_CHECK_OFF(acpi_gas_raw, access_size, 3);
ACPI_CHECK_OFF(acpi_gas_raw, address, 4);
ACPI_CHECK_SIZE(acpi_gas_raw, 12);

/* 5.2.9 Fixed ACPI Description Table ("FACP"). ACPI 1.0 tables end after `flags`
 * (116 bytes), ACPI 2.0+ after x_gpe1_blk (244), ACPI 5.0+ after sleep_status (268),
 * ACPI 6.0+ after hypervisor_vendor_id (276). Read a field only when `length`
 * covers it. */
struct acpi_fadt {
    struct acpi_header hdr;
    u32 firmware_ctrl; /* FACS */
    u32 dsdt;
    u8 reserved0; /* INT_MODEL in ACPI 1.0 */
    u8 preferred_pm_profile;
    u16 sci_int;
    u32 smi_cmd;
    u8 acpi_enable;
    u8 acpi_disable;
    u8 s4bios_req;
    u8 pstate_cnt;
    u32 pm1a_evt_blk;
    u32 pm1b_evt_blk;
    u32 pm1a_cnt_blk;
    u32 pm1b_cnt_blk;
    u32 pm2_cnt_blk;
    u32 pm_tmr_blk;
    u32 gpe0_blk;
    u32 gpe1_blk;
    u8 pm1_evt_len;
    u8 pm1_cnt_len;
    u8 pm2_cnt_len;
    u8 pm_tmr_len;
    u8 gpe0_blk_len;
    u8 gpe1_blk_len;
    u8 gpe1_base;
    u8 cst_cnt;
    u16 p_lvl2_lat;
    u16 p_lvl3_lat;
    u16 flush_size;
    u16 flush_stride;
    u8 duty_offset;
    u8 duty_width;
    u8 day_alrm;
    u8 mon_alrm;
    u8 century;
    u16 iapc_boot_arch; /* reserved (0) in ACPI 1.0 */
    u8 reserved1;
    u32 flags; /* end of the ACPI 1.0 table: 116 bytes */
    struct acpi_gas_raw reset_reg;
    u8 reset_value;
    u16 arm_boot_arch;
    u8 minor_version;
    u64 x_firmware_ctrl;
    u64 x_dsdt;
    struct acpi_gas_raw x_pm1a_evt_blk;
    struct acpi_gas_raw x_pm1b_evt_blk;
    struct acpi_gas_raw x_pm1a_cnt_blk;
    struct acpi_gas_raw x_pm1b_cnt_blk;
    struct acpi_gas_raw x_pm2_cnt_blk;
    struct acpi_gas_raw x_pm_tmr_blk;
    struct acpi_gas_raw x_gpe0_blk;
    struct acpi_gas_raw x_gpe1_blk; /* end of ACPI 2.0-4.0: 244 bytes */
    struct acpi_gas_raw sleep_control_reg;
    struct acpi_gas_raw sleep_status_reg;
    u64 hypervisor_vendor_id; /* ACPI 6.0: 276 bytes */
} __packed;
ACPI_CHECK_OFF(acpi_fadt, firmware_ctrl, 36);
ACPI_CHECK_OFF(acpi_fadt, dsdt, 40);
ACPI_CHECK_OFF(acpi_fadt, sci_int, 46);
ACPI_CHECK_OFF(acpi_fadt, smi_cmd, 48);
ACPI_CHECK_OFF(acpi_fadt, acpi_enable, 52);
ACPI_CHECK_OFF(acpi_fadt, acpi_disable, 53);
ACPI_CHECK_OFF(acpi_fadt, pm1a_evt_blk, 56);
ACPI_CHECK_OFF(acpi_fadt, pm1b_evt_blk, 60);
ACPI_CHECK_OFF(acpi_fadt, pm1a_cnt_blk, 64);
ACPI_CHECK_OFF(acpi_fadt, pm1b_cnt_blk, 68);
ACPI_CHECK_OFF(acpi_fadt, pm2_cnt_blk, 72);
ACPI_CHECK_OFF(acpi_fadt, pm_tmr_blk, 76);
ACPI_CHECK_OFF(acpi_fadt, gpe0_blk, 80);
ACPI_CHECK_OFF(acpi_fadt, gpe1_blk, 84);
ACPI_CHECK_OFF(acpi_fadt, pm1_evt_len, 88);
ACPI_CHECK_OFF(acpi_fadt, pm1_cnt_len, 89);
ACPI_CHECK_OFF(acpi_fadt, pm_tmr_len, 91);
ACPI_CHECK_OFF(acpi_fadt, gpe0_blk_len, 92);
ACPI_CHECK_OFF(acpi_fadt, gpe1_blk_len, 93);
ACPI_CHECK_OFF(acpi_fadt, gpe1_base, 94);
ACPI_CHECK_OFF(acpi_fadt, p_lvl2_lat, 96);
ACPI_CHECK_OFF(acpi_fadt, flush_size, 100);
ACPI_CHECK_OFF(acpi_fadt, duty_offset, 104);
ACPI_CHECK_OFF(acpi_fadt, century, 108);
ACPI_CHECK_OFF(acpi_fadt, iapc_boot_arch, 109);
ACPI_CHECK_OFF(acpi_fadt, flags, 112);
ACPI_CHECK_OFF(acpi_fadt, reset_reg, 116);
ACPI_CHECK_OFF(acpi_fadt, reset_value, 128);
ACPI_CHECK_OFF(acpi_fadt, arm_boot_arch, 129);
ACPI_CHECK_OFF(acpi_fadt, minor_version, 131);
ACPI_CHECK_OFF(acpi_fadt, x_firmware_ctrl, 132);
ACPI_CHECK_OFF(acpi_fadt, x_dsdt, 140);
ACPI_CHECK_OFF(acpi_fadt, x_pm1a_evt_blk, 148);
ACPI_CHECK_OFF(acpi_fadt, x_pm1b_evt_blk, 160);
ACPI_CHECK_OFF(acpi_fadt, x_pm1a_cnt_blk, 172);
ACPI_CHECK_OFF(acpi_fadt, x_pm1b_cnt_blk, 184);
ACPI_CHECK_OFF(acpi_fadt, x_pm2_cnt_blk, 196);
ACPI_CHECK_OFF(acpi_fadt, x_pm_tmr_blk, 208);
ACPI_CHECK_OFF(acpi_fadt, x_gpe0_blk, 220);
ACPI_CHECK_OFF(acpi_fadt, x_gpe1_blk, 232);
ACPI_CHECK_OFF(acpi_fadt, sleep_control_reg, 244);
ACPI_CHECK_OFF(acpi_fadt, sleep_status_reg, 256);
ACPI_CHECK_OFF(acpi_fadt, hypervisor_vendor_id, 268);
ACPI_CHECK_SIZE(acpi_fadt, 276);
#define ACPI_FADT_V1_SIZE 116u
#define ACPI_FADT_V2_SIZE 244u

/* FADT flags (table 5.10). */
#define ACPI_FADT_WBINVD          BIT(0)
#define ACPI_FADT_TMR_VAL_EXT     BIT(8)  /* PM timer is 32 bits wide, else 24 */
#define ACPI_FADT_RESET_REG_SUP   BIT(10) /* RESET_REG/RESET_VALUE are valid */
#define ACPI_FADT_HW_REDUCED_ACPI BIT(20) /* no fixed hardware: PM1/PM timer/GPE absent */

/* 5.2.10 Firmware ACPI Control Structure: no standard header and no checksum. */
struct acpi_facs {
    char signature[4]; /* "FACS" */
    u32 length;        /* >= 64 */
    u32 hardware_signature;
    u32 firmware_waking_vector;
    u32 global_lock;
    u32 flags;
    u64 x_firmware_waking_vector;
    u8 version;
    u8 reserved[3];
    u32 ospm_flags;
    u8 reserved2[24];
} __packed;
ACPI_CHECK_OFF(acpi_facs, length, 4);
ACPI_CHECK_OFF(acpi_facs, x_firmware_waking_vector, 24);
ACPI_CHECK_OFF(acpi_facs, version, 32);
ACPI_CHECK_SIZE(acpi_facs, 64);

/* Interrupt-controller and affinity structures start with type and length. */
struct acpi_subtable {
    u8 type;
    u8 length;
} __packed;
ACPI_CHECK_SIZE(acpi_subtable, 2);

/* 5.2.12 Multiple APIC Description Table ("APIC"). */
struct acpi_madt {
    struct acpi_header hdr;
    u32 lapic_address;
    u32 flags; /* bit 0: PC-AT dual 8259 present */
} __packed;
ACPI_CHECK_OFF(acpi_madt, lapic_address, 36);
ACPI_CHECK_OFF(acpi_madt, flags, 40);
ACPI_CHECK_SIZE(acpi_madt, 44);
#define ACPI_MADT_PCAT_COMPAT BIT(0)

enum acpi_madt_type {
    ACPI_MADT_LAPIC = 0,
    ACPI_MADT_IOAPIC = 1,
    ACPI_MADT_ISO = 2,
    ACPI_MADT_NMI_SOURCE = 3,
    ACPI_MADT_LAPIC_NMI = 4,
    ACPI_MADT_LAPIC_OVERRIDE = 5,
    ACPI_MADT_X2APIC = 9,
    ACPI_MADT_X2APIC_NMI = 10,
};

/* Local APIC flags (table 5.23). */
#define ACPI_MADT_ENABLED        BIT(0)
#define ACPI_MADT_ONLINE_CAPABLE BIT(1) /* ACPI 6.3: may be enabled later */

struct acpi_madt_lapic {
    struct acpi_subtable h;
    u8 processor_uid;
    u8 apic_id;
    u32 flags;
} __packed;
ACPI_CHECK_OFF(acpi_madt_lapic, processor_uid, 2);
ACPI_CHECK_OFF(acpi_madt_lapic, apic_id, 3);
ACPI_CHECK_OFF(acpi_madt_lapic, flags, 4);
ACPI_CHECK_SIZE(acpi_madt_lapic, 8);

struct acpi_madt_ioapic {
    struct acpi_subtable h;
    u8 ioapic_id;
    u8 reserved;
    u32 address;
    u32 gsi_base;
} __packed;
ACPI_CHECK_OFF(acpi_madt_ioapic, ioapic_id, 2);
ACPI_CHECK_OFF(acpi_madt_ioapic, address, 4);
ACPI_CHECK_OFF(acpi_madt_ioapic, gsi_base, 8);
ACPI_CHECK_SIZE(acpi_madt_ioapic, 12);

struct acpi_madt_iso {
    struct acpi_subtable h;
    u8 bus;    /* 0 = ISA */
    u8 source; /* ISA IRQ */
    u32 gsi;
    u16 flags; /* MPS INTI flags: polarity bits 1:0, trigger 3:2 */
} __packed;
ACPI_CHECK_OFF(acpi_madt_iso, bus, 2);
ACPI_CHECK_OFF(acpi_madt_iso, source, 3);
ACPI_CHECK_OFF(acpi_madt_iso, gsi, 4);
ACPI_CHECK_OFF(acpi_madt_iso, flags, 8);
ACPI_CHECK_SIZE(acpi_madt_iso, 10);

/* MPS INTI flags of interrupt source overrides and NMI sources (table 5.26):
 * 00 in either field means "conforms to the bus" (ISA: edge, active high). */
#define ACPI_MPS_POLARITY_MASK 0x3u
#define ACPI_MPS_POLARITY_HIGH 0x1u
#define ACPI_MPS_POLARITY_LOW  0x3u
#define ACPI_MPS_TRIGGER_MASK  0xcu
#define ACPI_MPS_TRIGGER_EDGE  0x4u
#define ACPI_MPS_TRIGGER_LEVEL 0xcu

struct acpi_madt_nmi_source {
    struct acpi_subtable h;
    u16 flags;
    u32 gsi;
} __packed;
ACPI_CHECK_OFF(acpi_madt_nmi_source, flags, 2);
ACPI_CHECK_OFF(acpi_madt_nmi_source, gsi, 4);
ACPI_CHECK_SIZE(acpi_madt_nmi_source, 8);

struct acpi_madt_lapic_nmi {
    struct acpi_subtable h;
    u8 processor_uid; /* 0xFF: all processors */
    u16 flags;
    u8 lint; /* LINT0 or LINT1 */
} __packed;
ACPI_CHECK_OFF(acpi_madt_lapic_nmi, processor_uid, 2);
ACPI_CHECK_OFF(acpi_madt_lapic_nmi, flags, 3);
ACPI_CHECK_OFF(acpi_madt_lapic_nmi, lint, 5);
ACPI_CHECK_SIZE(acpi_madt_lapic_nmi, 6);

struct acpi_madt_lapic_override {
    struct acpi_subtable h;
    u16 reserved;
    u64 address;
} __packed;
ACPI_CHECK_OFF(acpi_madt_lapic_override, address, 4);
ACPI_CHECK_SIZE(acpi_madt_lapic_override, 12);

struct acpi_madt_x2apic {
    struct acpi_subtable h;
    u16 reserved;
    u32 x2apic_id;
    u32 flags;
    u32 processor_uid;
} __packed;
ACPI_CHECK_OFF(acpi_madt_x2apic, x2apic_id, 4);
ACPI_CHECK_OFF(acpi_madt_x2apic, flags, 8);
ACPI_CHECK_OFF(acpi_madt_x2apic, processor_uid, 12);
ACPI_CHECK_SIZE(acpi_madt_x2apic, 16);

struct acpi_madt_x2apic_nmi {
    struct acpi_subtable h;
    u16 flags;
    u32 processor_uid; /* 0xFFFFFFFF: all processors */
    u8 lint;
    u8 reserved[3];
} __packed;
ACPI_CHECK_OFF(acpi_madt_x2apic_nmi, flags, 2);
ACPI_CHECK_OFF(acpi_madt_x2apic_nmi, processor_uid, 4);
ACPI_CHECK_OFF(acpi_madt_x2apic_nmi, lint, 8);
ACPI_CHECK_SIZE(acpi_madt_x2apic_nmi, 12);

/* 5.2.16 System Resource Affinity Table. Revision 1 tables (ACPI 2.0 era, and what
 * QEMU still emits) define only the low 8 bits of a processor's proximity domain. */
struct acpi_srat {
    struct acpi_header hdr;
    u32 reserved1; /* must be 1 */
    u64 reserved2;
} __packed;
ACPI_CHECK_OFF(acpi_srat, reserved1, 36);
ACPI_CHECK_OFF(acpi_srat, reserved2, 40);
ACPI_CHECK_SIZE(acpi_srat, 48);

enum acpi_srat_type {
    ACPI_SRAT_LAPIC = 0,
    ACPI_SRAT_MEMORY = 1,
    ACPI_SRAT_X2APIC = 2,
};
#define ACPI_SRAT_ENABLED     BIT(0)
#define ACPI_SRAT_HOTPLUG     BIT(1) /* memory affinity only */
#define ACPI_SRAT_NONVOLATILE BIT(2) /* memory affinity only */

struct acpi_srat_lapic {
    struct acpi_subtable h;
    u8 domain_lo;
    u8 apic_id;
    u32 flags;
    u8 sapic_eid;
    u8 domain_hi[3]; /* bits 31:8 of the domain, revision >= 2 */
    u32 clock_domain;
} __packed;
ACPI_CHECK_OFF(acpi_srat_lapic, domain_lo, 2);
ACPI_CHECK_OFF(acpi_srat_lapic, apic_id, 3);
ACPI_CHECK_OFF(acpi_srat_lapic, flags, 4);
ACPI_CHECK_OFF(acpi_srat_lapic, sapic_eid, 8);
ACPI_CHECK_OFF(acpi_srat_lapic, domain_hi, 9);
ACPI_CHECK_OFF(acpi_srat_lapic, clock_domain, 12);
ACPI_CHECK_SIZE(acpi_srat_lapic, 16);

struct acpi_srat_memory {
    struct acpi_subtable h;
    u32 domain;
    u16 reserved1;
    u32 base_lo;
    u32 base_hi;
    u32 length_lo;
    u32 length_hi;
    u32 reserved2;
    u32 flags;
    u64 reserved3;
} __packed;
ACPI_CHECK_OFF(acpi_srat_memory, domain, 2);
ACPI_CHECK_OFF(acpi_srat_memory, base_lo, 8);
ACPI_CHECK_OFF(acpi_srat_memory, base_hi, 12);
ACPI_CHECK_OFF(acpi_srat_memory, length_lo, 16);
ACPI_CHECK_OFF(acpi_srat_memory, length_hi, 20);
ACPI_CHECK_OFF(acpi_srat_memory, flags, 28);
ACPI_CHECK_SIZE(acpi_srat_memory, 40);

struct acpi_srat_x2apic {
    struct acpi_subtable h;
    u16 reserved1;
    u32 domain;
    u32 x2apic_id;
    u32 flags;
    u32 clock_domain;
    u32 reserved2;
} __packed;
ACPI_CHECK_OFF(acpi_srat_x2apic, domain, 4);
ACPI_CHECK_OFF(acpi_srat_x2apic, x2apic_id, 8);
ACPI_CHECK_OFF(acpi_srat_x2apic, flags, 12);
ACPI_CHECK_OFF(acpi_srat_x2apic, clock_domain, 16);
ACPI_CHECK_SIZE(acpi_srat_x2apic, 24);

/* 5.2.17 System Locality Information Table: an n x n byte matrix follows. */
struct acpi_slit {
    struct acpi_header hdr;
    u64 locality_count;
} __packed;
ACPI_CHECK_OFF(acpi_slit, locality_count, 36);
ACPI_CHECK_SIZE(acpi_slit, 44);

/* PCI Firmware Specification 3.2, 4.1.2: MCFG, ECAM allocations follow. */
struct acpi_mcfg {
    struct acpi_header hdr;
    u64 reserved;
} __packed;
ACPI_CHECK_OFF(acpi_mcfg, reserved, 36);
ACPI_CHECK_SIZE(acpi_mcfg, 44);

struct acpi_mcfg_entry {
    u64 base; /* ECAM base for bus 0 of the segment, even if start_bus > 0 */
    u16 segment;
    u8 start_bus;
    u8 end_bus;
    u32 reserved;
} __packed;
ACPI_CHECK_OFF(acpi_mcfg_entry, segment, 8);
ACPI_CHECK_OFF(acpi_mcfg_entry, start_bus, 10);
ACPI_CHECK_OFF(acpi_mcfg_entry, end_bus, 11);
ACPI_CHECK_SIZE(acpi_mcfg_entry, 16);

/* IA-PC HPET Specification 1.0a, 3.2.4: the HPET description table. */
struct acpi_hpet {
    struct acpi_header hdr;
    u32 event_timer_block_id; /* a copy of the capabilities register's low half */
    struct acpi_gas_raw base;
    u8 hpet_number;
    u16 min_tick;
    u8 page_protection;
} __packed;
ACPI_CHECK_OFF(acpi_hpet, event_timer_block_id, 36);
ACPI_CHECK_OFF(acpi_hpet, base, 40);
ACPI_CHECK_OFF(acpi_hpet, hpet_number, 52);
ACPI_CHECK_OFF(acpi_hpet, min_tick, 53);
ACPI_CHECK_OFF(acpi_hpet, page_protection, 55);
ACPI_CHECK_SIZE(acpi_hpet, 56);

/* ---- DMA remapping. The tables only say which remapping units exist and which
 * devices each one translates for; nothing here programs a unit. */

/* Intel VT-d specification 4.1, 8.1: DMA Remapping Reporting table ("DMAR").
 * Remapping structures (8.2-8.8) follow the fixed part, each starting with a
 * 16-bit type and a 16-bit length. */
struct acpi_dmar {
    struct acpi_header hdr;
    u8 host_addr_width; /* the DMA physical address width, minus one */
    u8 flags;           /* ACPI_DMAR_* */
    u8 reserved[10];
} __packed;
ACPI_CHECK_OFF(acpi_dmar, host_addr_width, 36);
ACPI_CHECK_OFF(acpi_dmar, flags, 37);
ACPI_CHECK_SIZE(acpi_dmar, 48);
#define ACPI_DMAR_INTR_REMAP  BIT(0) /* interrupt remapping supported */
#define ACPI_DMAR_X2APIC_OPT  BIT(1) /* firmware asks the OS not to enable x2APIC mode */
#define ACPI_DMAR_DMA_CTRL_IN BIT(2) /* DMA control platform opt-in */

struct acpi_dmar_struct {
    u16 type; /* ACPI_DMAR_TYPE_* */
    u16 length;
} __packed;
ACPI_CHECK_SIZE(acpi_dmar_struct, 4);
#define ACPI_DMAR_TYPE_DRHD 0 /* a remapping unit (8.3) */
#define ACPI_DMAR_TYPE_RMRR 1 /* memory a device keeps using for DMA (8.4) */
#define ACPI_DMAR_TYPE_ATSR 2 /* root ports that support ATS (8.5) */
#define ACPI_DMAR_TYPE_RHSA 3 /* a unit's NUMA proximity (8.6) */
#define ACPI_DMAR_TYPE_ANDD 4 /* an ACPI namespace device (8.7) */
#define ACPI_DMAR_TYPE_SATC 5 /* SoC-integrated ATC (8.8) */

/* 8.3 DMA Remapping Hardware Unit Definition; device scopes follow. */
struct acpi_dmar_drhd {
    struct acpi_dmar_struct h;
    u8 flags; /* ACPI_DRHD_INCLUDE_PCI_ALL */
    u8 size;  /* bits 3:0: register set is 2^size pages (0 in older tables) */
    u16 segment;
    u64 base; /* register base, 4 KiB aligned */
} __packed;
ACPI_CHECK_OFF(acpi_dmar_drhd, flags, 4);
ACPI_CHECK_OFF(acpi_dmar_drhd, size, 5);
ACPI_CHECK_OFF(acpi_dmar_drhd, segment, 6);
ACPI_CHECK_OFF(acpi_dmar_drhd, base, 8);
ACPI_CHECK_SIZE(acpi_dmar_drhd, 16);
/* The unit covers every device of the segment that no other unit's scope names
 * (its own scopes then list only I/O APICs, HPETs and ACPI devices). */
#define ACPI_DRHD_INCLUDE_PCI_ALL BIT(0)

/* 8.4 Reserved Memory Region Reporting; device scopes follow. */
struct acpi_dmar_rmrr {
    struct acpi_dmar_struct h;
    u16 reserved;
    u16 segment;
    u64 base;  /* 4 KiB aligned */
    u64 limit; /* last byte; limit + 1 is 4 KiB aligned */
} __packed;
ACPI_CHECK_OFF(acpi_dmar_rmrr, segment, 6);
ACPI_CHECK_OFF(acpi_dmar_rmrr, base, 8);
ACPI_CHECK_OFF(acpi_dmar_rmrr, limit, 16);
ACPI_CHECK_SIZE(acpi_dmar_rmrr, 24);

/* 8.5 Root Port ATS Capability Reporting; device scopes follow. */
struct acpi_dmar_atsr {
    struct acpi_dmar_struct h;
    u8 flags; /* bit 0: ALL_PORTS */
    u8 reserved;
    u16 segment;
} __packed;
ACPI_CHECK_OFF(acpi_dmar_atsr, segment, 6);
ACPI_CHECK_SIZE(acpi_dmar_atsr, 8);

/* 8.3.1 Device Scope: a path of (device, function) hops from start_bus, each
 * hop but the last through a PCI-PCI bridge to its secondary bus. */
struct acpi_dmar_scope {
    u8 type;   /* ACPI_DMAR_SCOPE_* */
    u8 length; /* 6 + 2 * hops */
    u8 flags;
    u8 reserved;
    u8 enum_id; /* I/O APIC ID, HPET number or ACPI device number */
    u8 start_bus;
} __packed;
ACPI_CHECK_OFF(acpi_dmar_scope, length, 1);
ACPI_CHECK_OFF(acpi_dmar_scope, enum_id, 4);
ACPI_CHECK_OFF(acpi_dmar_scope, start_bus, 5);
ACPI_CHECK_SIZE(acpi_dmar_scope, 6);
#define ACPI_DMAR_SCOPE_ENDPOINT 1 /* one PCI function */
#define ACPI_DMAR_SCOPE_BRIDGE   2 /* a bridge and everything below it */
#define ACPI_DMAR_SCOPE_IOAPIC   3
#define ACPI_DMAR_SCOPE_HPET     4
#define ACPI_DMAR_SCOPE_ACPI     5 /* an ACPI namespace device (ANDD) */

/* AMD I/O Virtualization Technology (IOMMU) Specification 48882 rev 3.08, 5.2:
 * I/O Virtualization Reporting Structure ("IVRS"). IVHD and IVMD blocks follow,
 * each starting with an 8-bit type, 8-bit flags and a 16-bit length. */
struct acpi_ivrs {
    struct acpi_header hdr;
    u32 ivinfo; /* bits 14:8 physical address size, 21:15 virtual */
    u64 reserved;
} __packed;
ACPI_CHECK_OFF(acpi_ivrs, ivinfo, 36);
ACPI_CHECK_SIZE(acpi_ivrs, 48);

struct acpi_ivrs_block {
    u8 type; /* ACPI_IVRS_* */
    u8 flags;
    u16 length;
} __packed;
ACPI_CHECK_SIZE(acpi_ivrs_block, 4);
/* The three IVHD types describe the same unit in growing detail; firmware may
 * give one unit in several of them (5.2.2.1), a reader uses one. */
#define ACPI_IVRS_IVHD_10   0x10
#define ACPI_IVRS_IVHD_11   0x11
#define ACPI_IVRS_IVHD_40   0x40 /* also allows ACPI_HID device entries */
#define ACPI_IVRS_IVMD_ALL  0x20 /* memory every device may use */
#define ACPI_IVRS_IVMD_ONE  0x21 /* memory one device may use */
#define ACPI_IVRS_IVMD_SPAN 0x22 /* memory a range of devices may use */

/* 5.2.2.2 IVHD, type 10h: device entries follow at offset 24. */
struct acpi_ivhd {
    struct acpi_ivrs_block h;
    u16 device_id; /* the unit's own PCI function (bus << 8 | devfn) */
    u16 cap_offset;
    u64 base; /* register base, 16 KiB aligned */
    u16 segment;
    u16 iommu_info;
    u32 feature; /* 10h: feature reporting; 11h/40h: attributes */
} __packed;
ACPI_CHECK_OFF(acpi_ivhd, device_id, 4);
ACPI_CHECK_OFF(acpi_ivhd, cap_offset, 6);
ACPI_CHECK_OFF(acpi_ivhd, base, 8);
ACPI_CHECK_OFF(acpi_ivhd, segment, 16);
ACPI_CHECK_OFF(acpi_ivhd, iommu_info, 18);
ACPI_CHECK_OFF(acpi_ivhd, feature, 20);
ACPI_CHECK_SIZE(acpi_ivhd, 24);

/* 5.2.2.3 IVHD, types 11h and 40h: the extended feature registers' images
 * follow, then the device entries at offset 40. */
struct acpi_ivhd_ext {
    struct acpi_ivhd ivhd;
    u64 efr;
    u64 efr2;
} __packed;
ACPI_CHECK_OFF(acpi_ivhd_ext, efr, 24);
ACPI_CHECK_OFF(acpi_ivhd_ext, efr2, 32);
ACPI_CHECK_SIZE(acpi_ivhd_ext, 40);

/* 5.2.2.4 IVHD device entries. Types 0-63 are 4 bytes, 64-127 are 8 bytes,
 * from 128 on the entry gives its own length (only ACPI_HID is defined). */
struct acpi_ivhd_entry {
    u8 type; /* ACPI_IVHD_DEV_* */
    u16 device_id;
    u8 dte; /* DTE settings for the devices it names */
} __packed;
ACPI_CHECK_OFF(acpi_ivhd_entry, device_id, 1);
ACPI_CHECK_SIZE(acpi_ivhd_entry, 4);
#define ACPI_IVHD_DEV_PAD         0x00
#define ACPI_IVHD_DEV_ALL         0x01 /* every device of the segment */
#define ACPI_IVHD_DEV_SELECT      0x02
#define ACPI_IVHD_DEV_RANGE_START 0x03 /* device_id up to the next END entry */
#define ACPI_IVHD_DEV_RANGE_END   0x04
#define ACPI_IVHD_DEV_ALIAS       0x42 /* a device whose requests carry another ID */
#define ACPI_IVHD_DEV_ALIAS_RANGE 0x43
#define ACPI_IVHD_DEV_EXT         0x46 /* with 32 bits of extended settings */
#define ACPI_IVHD_DEV_EXT_RANGE   0x47
#define ACPI_IVHD_DEV_SPECIAL     0x48 /* an I/O APIC or HPET and its source ID */
#define ACPI_IVHD_DEV_ACPI_HID    0xf0 /* an ACPI device and its source ID */
#define ACPI_IVHD_DEV_LEN8_FIRST  0x40
#define ACPI_IVHD_DEV_VAR_FIRST   0x80

/* The 8-byte entries: alias (42h, 43h), extended (46h, 47h), special (48h). */
struct acpi_ivhd_entry8 {
    struct acpi_ivhd_entry e;
    u8 handle;     /* special: I/O APIC ID or HPET number */
    u16 source_id; /* alias: the ID requests carry; special: the source ID */
    u8 variety;    /* special: ACPI_IVHD_SPECIAL_* */
} __packed;
ACPI_CHECK_OFF(acpi_ivhd_entry8, handle, 4);
ACPI_CHECK_OFF(acpi_ivhd_entry8, source_id, 5);
ACPI_CHECK_OFF(acpi_ivhd_entry8, variety, 7);
ACPI_CHECK_SIZE(acpi_ivhd_entry8, 8);
#define ACPI_IVHD_SPECIAL_IOAPIC 1
#define ACPI_IVHD_SPECIAL_HPET   2

/* The ACPI_HID entry (F0h): a UID of uid_length bytes follows. */
struct acpi_ivhd_acpi_hid {
    struct acpi_ivhd_entry e;
    char hid[8];
    char cid[8];
    u8 uid_format;
    u8 uid_length;
} __packed;
ACPI_CHECK_OFF(acpi_ivhd_acpi_hid, hid, 4);
ACPI_CHECK_OFF(acpi_ivhd_acpi_hid, cid, 12);
ACPI_CHECK_OFF(acpi_ivhd_acpi_hid, uid_length, 21);
ACPI_CHECK_SIZE(acpi_ivhd_acpi_hid, 22);

/* 5.2.2.5 IVMD: memory devices keep using for DMA (like the DMAR's RMRR). */
struct acpi_ivmd {
    struct acpi_ivrs_block h;
    u16 device_id; /* 21h: the device; 22h: the first of the range */
    u16 aux;       /* 22h: the last device of the range */
    u64 reserved;
    u64 start;
    u64 length;
} __packed;
ACPI_CHECK_OFF(acpi_ivmd, device_id, 4);
ACPI_CHECK_OFF(acpi_ivmd, aux, 6);
ACPI_CHECK_OFF(acpi_ivmd, start, 16);
ACPI_CHECK_OFF(acpi_ivmd, length, 24);
ACPI_CHECK_SIZE(acpi_ivmd, 32);

#endif
