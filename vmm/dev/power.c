/* The partition's power-off: the hardware-reduced ACPI sleep control and
 * status registers (ACPI 6.x 4.8.3.7) that its FADT names, and \_S5 in its
 * DSDT (vmm/guest_aml.c). SLP_EN with \_S5's type powers the partition off
 * (part_poweroff: stopped, or failed over in a failover group); other sleep
 * states are not offered (no \_S1-\_S4) and are ignored; the status register
 * reads 0 (no wake). */
#include "vmm/partition.h"
#include "vmm/vdev.h"
#include "vmm/layout.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

#define ACPI_SLEEP_EN        BIT(5) /* sleep control register (table 4.21) */
#define ACPI_SLEEP_TYP_MASK  (7u << 2)
#define ACPI_SLEEP_TYP_SHIFT 2

_Static_assert(LAYOUT_SLEEP_STS_PORT == LAYOUT_SLEEP_CTL_PORT + 1, "one claim covers both registers");

static enum vdev_result sleep_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    (void)dev;
    (void)size;
    if (in) {
        *val = 0;
        return VDEV_DONE;
    }
    if (port == LAYOUT_SLEEP_CTL_PORT && (*val & ACPI_SLEEP_EN) &&
        ((*val & ACPI_SLEEP_TYP_MASK) >> ACPI_SLEEP_TYP_SHIFT) == LAYOUT_SLP_TYP_S5)
        part_poweroff(vc);
    return VDEV_DONE;
}

static int power_attach(struct partition *p, char *err, size_t errlen)
{
    int rc = vdev_claim_pio(p, LAYOUT_SLEEP_CTL_PORT, 2, sleep_pio, NULL, "power");
    return rc < 0 ? kerr_fmt(err, errlen, rc, "cannot claim the sleep registers") : 0;
}

VDEV_REGISTER(power, .name = "power", .order = 0, .attach = power_attach);
