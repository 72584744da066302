/* FADT (ACPI 6.5 5.2.9): DSDT/FACS pointers, SCI, PM1/PM timer/GPE blocks, reset
 * register, century and boot-architecture flags. The table grew over revisions
 * (116 bytes in ACPI 1.0 as QEMU `pc` still emits, 244 in 2.0-4.0, 276 in 6.x), so
 * every field is read only when the table's length covers it. */
#include "drivers/acpi/internal.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"

#define FADT_HAS(len, field) (offsetof(struct acpi_fadt, field) + sizeof(((const struct acpi_fadt *)0)->field) <= (len))

static void gas_to_reg(struct acpi_reg *r, const struct acpi_gas_raw *g)
{
    r->space = g->space_id;
    r->bit_width = g->bit_width;
    r->bit_offset = g->bit_offset;
    r->access_size = g->access_size;
    r->address = g->address;
}

/* A field's value when the table covers it, else 0. Never reads past `len`. */
#define FADT_GET(f, len, field) (FADT_HAS(len, field) ? (f)->field : 0)

/* The 64-bit GAS (x, NULL when the table is too short for it) wins when non-zero
 * (5.2.9: "X_ fields supersede"); else the legacy I/O port block of blk_len bytes. */
static void pick_reg(struct acpi_reg *r, const char *name, const struct acpi_gas_raw *x, u32 port, u8 blk_len)
{
    memset(r, 0, sizeof(*r));
    if (x && x->address) {
        gas_to_reg(r, x);
        if (port && (x->space_id != ACPI_SPACE_IO || x->address != port))
            log_debug(ACPI_TAG,
                      "FADT %s: X_ register %#llx differs from legacy port %#x; "
                      "using X_",
                      name, (unsigned long long)x->address, port);
        return;
    }
    if (port) {
        r->space = ACPI_SPACE_IO;
        r->bit_width = (u8)MIN(blk_len * 8u, 255u);
        r->address = port;
    }
}

#define PICK(reg, name, xfield, field, lenval)                                                                         \
    pick_reg(reg, name, FADT_HAS(len, xfield) ? &f->xfield : NULL, FADT_GET(f, len, field), lenval)

int acpi_parse_fadt(const void *tbl, u32 len, struct acpi_info *out)
{
    const struct acpi_fadt *f = tbl;
    struct acpi_fadt_info *fi = &out->fadt;

    out->have_fadt = false;
    if (len < offsetof(struct acpi_fadt, reserved0)) {
        log_warn(ACPI_TAG, "FACP: length %u does not even cover the DSDT pointer: skipped", len);
        return -EINVAL;
    }
    if (len < ACPI_FADT_V1_SIZE)
        log_warn(ACPI_TAG,
                 "FACP: length %u is shorter than the ACPI 1.0 table (116): "
                 "reading only the fields it covers",
                 len);

    memset(fi, 0, sizeof(*fi));
    fi->revision = f->hdr.revision;
    fi->length = len;
    fi->dsdt = f->dsdt;
    fi->facs = f->firmware_ctrl;
    if (FADT_HAS(len, x_dsdt) && f->x_dsdt) {
        if (f->dsdt && f->dsdt != f->x_dsdt)
            log_debug(ACPI_TAG, "FACP: X_DSDT %#llx differs from DSDT %#x; using X_DSDT", (unsigned long long)f->x_dsdt,
                      f->dsdt);
        fi->dsdt = f->x_dsdt;
    }
    if (FADT_HAS(len, x_firmware_ctrl) && f->x_firmware_ctrl)
        fi->facs = f->x_firmware_ctrl;

    if (FADT_HAS(len, sci_int))
        fi->sci_irq = f->sci_int;
    if (FADT_HAS(len, smi_cmd))
        fi->smi_cmd = f->smi_cmd;
    if (FADT_HAS(len, acpi_disable)) {
        fi->acpi_enable = f->acpi_enable;
        fi->acpi_disable = f->acpi_disable;
    }
    if (FADT_HAS(len, gpe1_blk_len)) {
        fi->pm1_evt_len = f->pm1_evt_len;
        fi->pm1_cnt_len = f->pm1_cnt_len;
        fi->pm_tmr_len = f->pm_tmr_len;
        fi->gpe0_len = f->gpe0_blk_len;
        fi->gpe1_len = f->gpe1_blk_len;
    }
    if (FADT_HAS(len, flags))
        fi->flags = f->flags;
    if (FADT_HAS(len, century))
        fi->century = f->century;
    /* Bytes 109-111 were reserved in ACPI 1.0: trust IAPC_BOOT_ARCH from revision 2. */
    if (FADT_HAS(len, iapc_boot_arch) && f->hdr.revision >= 2)
        fi->iapc_boot_arch = f->iapc_boot_arch;
    if (FADT_HAS(len, minor_version))
        fi->minor_version = f->minor_version;

    /* PM1 event blocks hold status + enable halves of pm1_evt_len / 2 bytes each;
     * the register width given here is the whole block's. */
    PICK(&fi->pm1a_evt, "PM1a_EVT", x_pm1a_evt_blk, pm1a_evt_blk, fi->pm1_evt_len);
    PICK(&fi->pm1b_evt, "PM1b_EVT", x_pm1b_evt_blk, pm1b_evt_blk, fi->pm1_evt_len);
    PICK(&fi->pm1a_cnt, "PM1a_CNT", x_pm1a_cnt_blk, pm1a_cnt_blk, fi->pm1_cnt_len);
    PICK(&fi->pm1b_cnt, "PM1b_CNT", x_pm1b_cnt_blk, pm1b_cnt_blk, fi->pm1_cnt_len);
    PICK(&fi->pm2_cnt, "PM2_CNT", x_pm2_cnt_blk, pm2_cnt_blk, FADT_GET(f, len, pm2_cnt_len));
    PICK(&fi->pm_tmr, "PM_TMR", x_pm_tmr_blk, pm_tmr_blk, fi->pm_tmr_len);
    PICK(&fi->gpe0, "GPE0", x_gpe0_blk, gpe0_blk, fi->gpe0_len);
    PICK(&fi->gpe1, "GPE1", x_gpe1_blk, gpe1_blk, fi->gpe1_len);

    fi->hw_reduced = (fi->flags & ACPI_FADT_HW_REDUCED_ACPI) != 0;
    if (fi->hw_reduced) {
        /* 4.1: on hardware-reduced platforms the fixed-hardware fields are ignored. */
        memset(&fi->pm1a_evt, 0, sizeof(fi->pm1a_evt));
        memset(&fi->pm1b_evt, 0, sizeof(fi->pm1b_evt));
        memset(&fi->pm1a_cnt, 0, sizeof(fi->pm1a_cnt));
        memset(&fi->pm1b_cnt, 0, sizeof(fi->pm1b_cnt));
        memset(&fi->pm2_cnt, 0, sizeof(fi->pm2_cnt));
        memset(&fi->pm_tmr, 0, sizeof(fi->pm_tmr));
        memset(&fi->gpe0, 0, sizeof(fi->gpe0));
        memset(&fi->gpe1, 0, sizeof(fi->gpe1));
        log_info(ACPI_TAG, "FACP: hardware-reduced ACPI: no PM1, PM timer or GPE blocks");
    }
    if (fi->pm_tmr.address)
        fi->pm_tmr_bits = (fi->flags & ACPI_FADT_TMR_VAL_EXT) ? 32 : 24;

    if ((fi->flags & ACPI_FADT_RESET_REG_SUP) && FADT_HAS(len, reset_value)) {
        gas_to_reg(&fi->reset_reg, &f->reset_reg);
        fi->reset_value = f->reset_value;
        if (fi->reset_reg.address == 0 ||
            (fi->reset_reg.space != ACPI_SPACE_MEMORY && fi->reset_reg.space != ACPI_SPACE_IO &&
             fi->reset_reg.space != ACPI_SPACE_PCI_CONFIG)) {
            log_warn(ACPI_TAG,
                     "FACP: RESET_REG_SUP set but the reset register (space %u, "
                     "address %#llx) is unusable: ignored",
                     fi->reset_reg.space, (unsigned long long)fi->reset_reg.address);
            memset(&fi->reset_reg, 0, sizeof(fi->reset_reg));
        } else {
            fi->reset_supported = true;
        }
    } else if (fi->flags & ACPI_FADT_RESET_REG_SUP) {
        log_warn(ACPI_TAG, "FACP: RESET_REG_SUP set but the %u-byte table has no reset register", len);
    }

    out->have_fadt = true;
    return 0;
}
