/* AML for a partition's DSDT (ACPI 6.5 chapter 20 encoding), appended after the
 * DSDT header through guest_acpi_config.dsdt_aml. Linux with ACPI scans only the
 * PCI host bridges the namespace declares (PNP0A03/PNP0A08 devices), so without
 * this a stock kernel never finds the virtual PCI bus of vmm/vpci.h. */
#ifndef ISTHMUS_VMM_GUEST_AML_H
#define ISTHMUS_VMM_GUEST_AML_H

#include "kernel/lib/types.h"

/* Enough for guest_aml_pci_root() with both windows (the unit test checks it). */
#define GUEST_AML_PCI_ROOT_MAX 256

/* The memory windows the host bridge forwards to PCI, each [base, end). */
struct guest_aml_pci {
    u64 mmio32_base, mmio32_end; /* required: base < end <= 4 GiB, end - base < 4 GiB */
    u64 mmio64_base, mmio64_end; /* end <= base: none; else 4 GiB <= base */
};

/* Emits into buf:
 *   Scope (\_SB) { Device (PCI0) {
 *     Name (_HID, EisaId ("PNP0A03")) Name (_UID, 0) Name (_SEG, 0) Name (_BBN, 0)
 *     Name (_CRS, ResourceTemplate () {
 *       WordBusNumber 0-0, IO (Decode16, 0xCF8, 0xCF8, 1, 8),
 *       WordIO 0x0000-0x0CF7, WordIO 0x0D00-0xFFFF,
 *       DWordMemory [mmio32_base, mmio32_end) and, when not empty,
 *       QWordMemory [mmio64_base, mmio64_end), both non-cacheable read-write })
 *   } }
 * *len is the AML's length on success and the length needed on -ENOSPC (buf too
 * small; nothing is written past size, so size 0 with buf NULL measures).
 * -EINVAL: NULL cfg or len, buf NULL with size > 0, or windows breaking the rules
 * above. */
int guest_aml_pci_root(u8 *buf, u32 size, const struct guest_aml_pci *cfg, u32 *len) __must_check;

/* Name (\_S5, Package () { slp_typ, slp_typ, 0, 0 }): the sleep type a guest
 * writes to the FADT's sleep control register to power off. */
#define GUEST_AML_S5_LEN 15
int guest_aml_s5(u8 *buf, u32 size, u8 slp_typ, u32 *len) __must_check;

/* Scope (\_SB) { Device (COM1) {
 *   Name (_HID, EisaId ("PNP0501")) Name (_UID, 1)
 *   Name (_CRS, ResourceTemplate () {
 *     IO (Decode16, port, port, 1, 8), IRQ (Level or Edge, ActiveHigh, Exclusive) {irq} })
 * } }
 * The serial port as a PC's DSDT declares it. Linux needs it: with a
 * hardware-reduced FADT it has no legacy IRQs, the I/O APIC's GSI 4 gets a
 * dynamic IRQ number, and only this device (through 8250_pnp) tells the
 * serial driver which one; the legacy port table's IRQ 4 does not exist.
 * The trigger mode must match the MADT's interrupt source override, or Linux
 * warns that it overrides it. Lengths and errors as guest_aml_pci_root();
 * -EINVAL also for irq > 15 or a port range past 0xFFFF. */
#define GUEST_AML_COM1_MAX 64
int guest_aml_com1(u8 *buf, u32 size, u16 port, u8 irq, bool level, u32 *len) __must_check;

/* Scope (\_SB) { Device (RTC) {
 *   Name (_HID, EisaId ("PNP0B00"))
 *   Name (_CRS, ResourceTemplate () { IO (Decode16, port, port, 1, 2) })
 * } }
 * The CMOS clock (vmm/dev/rtc.c), without an interrupt: it raises none. Linux
 * binds rtc_cmos to it and, once that registers rtc0, sets its system clock
 * from it (rtc_hctosys). That read comes after Linux has left the jiffies
 * clocksource, so it undoes the time lost to late ticks while jiffies kept
 * time in early boot (docs/guests.md); the kvm-clock wall clock is read only
 * before. Lengths and errors as guest_aml_pci_root(); -EINVAL also for a
 * port range past 0xFFFF. */
#define GUEST_AML_RTC_MAX 48
int guest_aml_rtc(u8 *buf, u32 size, u16 port, u32 *len) __must_check;

#endif
