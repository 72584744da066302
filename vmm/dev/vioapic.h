/* The partition's I/O APIC, for the devices that have an interrupt line (the
 * UART's IRQ 4 today): the public side of vmm/dev/vioapic.c, as pcibus.h is
 * of the PCI bus. Every partition has one at IOAPIC_DEFAULT_BASE with GSIs
 * 0-23 (the MADT says so: vmm/guest_acpi.c).
 *
 * Both calls may come from any CPU (a vCPU's exit handler, the shell's
 * console on CPU 0) while the partition's vCPUs run elsewhere: the I/O APIC
 * has its own lock, taken inside, and delivers by posting to the vCPUs'
 * inboxes (vcpu_post_irq), never by touching their local APICs. A caller may
 * hold its own device lock around them (the UART holds the partition's lock,
 * so that its line changes reach the I/O APIC in the order they happened);
 * nothing here takes another lock. Before the partition starts and after it
 * is quiesced they change the pins' state but deliver nothing. */
#ifndef ISTHMUS_VMM_DEV_VIOAPIC_H
#define ISTHMUS_VMM_DEV_VIOAPIC_H

#include "kernel/lib/types.h"
#include "vmm/guest_acpi.h"

struct partition;

/* The ISA IRQ lines the partition's devices use, as the MADT's interrupt
 * source overrides describe them (ISA IRQ n is GSI n, pin n). */
#define VIOAPIC_IRQ_COM1 GUEST_ACPI_COM1_IRQ

/* Drives input pin `pin` to `high` (for an active-high ISA device: its
 * interrupt request). -EINVAL for a pin beyond the 24. */
int vioapic_set_irq(struct partition *p, u32 pin, bool high) __must_check;
/* The local APIC of a vCPU broadcast the EOI of a level-triggered vector. */
void vioapic_eoi(struct partition *p, u8 vector);

#endif
