/* The partition's power and reset control: the hardware-reduced ACPI sleep
 * control and status registers (ACPI 6.x 4.8.3.7) and the reset register
 * (4.8.3.6) that its FADT names, \_S5 in its DSDT (vmm/guest_aml.c), and the
 * code a PC's firmware has at the reset vector.
 *
 * - SLP_EN with \_S5's type powers the partition off (part_poweroff: stopped,
 *   or failed over in a failover group); other sleep states are not offered
 *   (no \_S1-\_S4) and are ignored; the status register reads 0 (no wake).
 * - The reset value written to the reset register restarts it (part_reset:
 *   started again with its image, or failed over in a failover group); other
 *   values are ignored, as the register is write-only and byte-wide.
 * - Linux 6.1 on a hardware-reduced ACPI machine reboots through EFI first
 *   (reboot_init: efi_reboot_required() and EFI runtime not disabled on the
 *   command line), which without EFI does nothing, and then through the BIOS:
 *   back to real mode and a jump to F000:FFF0. A PC's firmware there resets
 *   the machine; the partition's does the same through its reset register.
 *   That code is in guest memory the guest may overwrite: then its reboot goes
 *   wherever its own bytes take it, and nowhere outside the partition. */
#include "vmm/partition.h"
#include "vmm/vdev.h"
#include "vmm/layout.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

#define ACPI_SLEEP_EN        BIT(5) /* sleep control register (table 4.21) */
#define ACPI_SLEEP_TYP_MASK  (7u << 2)
#define ACPI_SLEEP_TYP_SHIFT 2

_Static_assert(LAYOUT_SLEEP_STS_PORT == LAYOUT_SLEEP_CTL_PORT + 1 && LAYOUT_RESET_PORT == LAYOUT_SLEEP_CTL_PORT + 2,
               "one claim covers the three registers");

/* Real-mode (16-bit) opcodes of the reset-vector code. */
#define OP_MOV_DX_IMM16 0xba /* mov dx, imm16 */
#define OP_MOV_AL_IMM8  0xb0 /* mov al, imm8 */
#define OP_OUT_DX_AL    0xee /* out dx, al */
#define OP_CLI          0xfa
#define OP_HLT          0xf4
#define OP_JMP_REL8     0xeb

/* mov dx, RESET_PORT; mov al, RESET_VALUE; out dx, al; then cli; hlt and back
 * to the hlt, should the write ever return. */
static const u8 reset_code[] = {
    OP_MOV_DX_IMM16,
    LAYOUT_RESET_PORT & 0xff,
    LAYOUT_RESET_PORT >> 8,
    OP_MOV_AL_IMM8,
    LAYOUT_RESET_VALUE,
    OP_OUT_DX_AL,
    OP_CLI,
    OP_HLT,
    OP_JMP_REL8,
    (u8)-3, /* to the hlt */
};
_Static_assert(sizeof(reset_code) <= PC_RESET_VECTOR_SZ, "the code fits the reset vector's 16 bytes");

static enum vdev_result power_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    (void)dev;
    (void)size;
    if (in) {
        *val = port == LAYOUT_RESET_PORT ? 0xff : 0; /* reset: write-only */
        return VDEV_DONE;
    }
    if (port == LAYOUT_SLEEP_CTL_PORT && (*val & ACPI_SLEEP_EN) &&
        ((*val & ACPI_SLEEP_TYP_MASK) >> ACPI_SLEEP_TYP_SHIFT) == LAYOUT_SLP_TYP_S5)
        part_poweroff(vc);
    else if (port == LAYOUT_RESET_PORT && (*val & 0xff) == LAYOUT_RESET_VALUE)
        part_reset(vc);
    return VDEV_DONE;
}

static int power_attach(struct partition *p, char *err, size_t errlen)
{
    int rc = vdev_claim_pio(p, LAYOUT_SLEEP_CTL_PORT, 3, power_pio, NULL, "power");
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "cannot claim the sleep and reset registers");
    /* The ACPI tables, built later, stop below it (LAYOUT_ACPI_TABLES_SZ). */
    rc = gmem_write(&p->gmem, PC_RESET_VECTOR, reset_code, sizeof(reset_code));
    return rc < 0 ? kerr_fmt(err, errlen, rc, "cannot write the reset vector") : 0;
}

VDEV_REGISTER(power, .name = "power", .order = 0, .attach = power_attach);
