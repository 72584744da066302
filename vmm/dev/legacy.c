/* The legacy ports a PC kernel touches whether or not it uses them, answered
 * as on a PC without those parts, so that nothing is logged as going nowhere
 * and nothing misleads:
 *
 * - 8259 PICs (0x20/0x21, 0xA0/0xA1) and their edge/level registers (ELCR,
 *   0x4D0/0x4D1): absent. The partition's MADT has no
 *   PCAT_COMPAT and its FADT is hardware-reduced (vmm/guest_acpi.c), so Linux
 *   uses no legacy PIC; a kernel that probes anyway (writes a mask to 0x21 and
 *   reads it back) reads 0xFF and concludes the same.
 * - 8254 PIT (0x40-0x43): absent, reads 0xFF. Timekeeping is the TSC and
 *   the local APIC timer (docs/guests.md).
 * - Port 0x61 (NMI status and control): no NMI source, speaker off; bit 5,
 *   the PIT channel 2 output, reads 1, so a loop that waits for it ends.
 * - Port 0x80 (POST codes, the classic I/O delay): writes do nothing, quietly;
 *   the KVM features also tell Linux it needs no delay (NOP_IO_DELAY). With it
 *   the 8237 DMA page registers 0x81-0x8F: absent (Debian's generic kernel
 *   reads 0x87 to see whether an ISA DMA controller is there).
 * - Super I/O configuration ports (0x2E/0x2F, 0x4E/0x4F): absent; drivers
 *   built into distribution kernels probe them for a watchdog or sensors.
 * - COM2-COM4 (0x2F8, 0x3E8, 0x2E8): absent. Linux's 8250 driver probes the
 *   four legacy serial ports whatever ACPI says; all-ones reads tell it
 *   there is no UART there. A partition's one UART is COM1 (vmm/dev/uart.c).
 *
 * Reads wider than a byte read all-ones, like unclaimed ports. */
#include "arch/x86/hw/pc.h"
#include "vmm/partition.h"
#include "vmm/vdev.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

#define PORT_PIC1                0x20
#define PORT_PIC2                0xa0
#define PORT_ELCR                0x4d0
#define PORT_PIT                 0x40
#define PORT_PIT_COUNT           4
#define PORT_SYS_CTRL            0x61
#define PORT_SUPERIO1            0x2e /* index and data */
#define PORT_SUPERIO2            0x4e
#define PORT_POST                0x80 /* then the DMA page registers up to 0x8f */
#define PORT_POST_DMA_PAGE_COUNT 16
#define SYS_CTRL_PIT2_OUT        0x20 /* bit 5: PIT channel 2 output */

static enum vdev_result absent_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    (void)vc;
    (void)dev;
    (void)port;
    (void)size;
    if (in)
        *val = 0xffffffffu;
    return VDEV_DONE;
}

static enum vdev_result sys_ctrl_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    (void)vc;
    (void)dev;
    (void)port;
    if (in)
        *val = size == 1 ? SYS_CTRL_PIT2_OUT : 0xffffffffu;
    return VDEV_DONE;
}

static int legacy_attach(struct partition *p, char *err, size_t errlen)
{
    static const struct {
        u16 first, count;
        vdev_pio_fn fn;
    } ranges[] = {
        { PORT_PIC1, 2, absent_pio },
        { PORT_PIC2, 2, absent_pio },
        { PORT_PIT, PORT_PIT_COUNT, absent_pio },
        { PORT_SYS_CTRL, 1, sys_ctrl_pio },
        { PORT_POST, PORT_POST_DMA_PAGE_COUNT, absent_pio },
        { PORT_ELCR, 2, absent_pio },
        { PORT_SUPERIO1, 2, absent_pio },
        { PORT_SUPERIO2, 2, absent_pio },
        { PC_COM2_PORT, PC_UART_PORTS, absent_pio },
        { PC_COM3_PORT, PC_UART_PORTS, absent_pio },
        { PC_COM4_PORT, PC_UART_PORTS, absent_pio },
    };
    int rc = 0;
    for (u32 i = 0; i < ARRAY_SIZE(ranges) && !rc; i++)
        rc = vdev_claim_pio(p, ranges[i].first, ranges[i].count, ranges[i].fn, NULL, "legacy");
    return rc < 0 ? kerr_fmt(err, errlen, rc, "cannot claim the legacy ports") : 0;
}

VDEV_REGISTER(legacy, .name = "legacy", .order = 0, .attach = legacy_attach);
