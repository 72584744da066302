/* Where a PC has its legacy devices: the addresses stock kernels assume
 * without asking (Linux's legacy serial table, its 8250 driver). One home
 * for the partitions' emulated ones, their ACPI description and the tests. */
#ifndef ISTHMUS_ARCH_X86_HW_PC_H
#define ISTHMUS_ARCH_X86_HW_PC_H

#define PC_COM1_PORT  0x3f8 /* first serial port: 8 registers */
#define PC_COM1_IRQ   4     /* its ISA interrupt */
#define PC_UART_PORTS 8
#define PC_COM2_PORT  0x2f8 /* the other three: Linux's 8250 driver probes them all */
#define PC_COM3_PORT  0x3e8
#define PC_COM4_PORT  0x2e8
#define PC_RTC_PORT   0x70 /* CMOS clock: index, then data at 0x71 */
#define PC_RTC_PORTS  2

/* Where a PC's firmware starts in real mode after a reset: F000:FFF0, the last
 * 16 bytes of the first megabyte. Linux's BIOS reboot method (and the method
 * it falls to first on a hardware-reduced ACPI machine without EFI runtime
 * services) jumps there after switching back to real mode. */
#define PC_RESET_VECTOR    0xffff0
#define PC_RESET_VECTOR_SZ 16

#endif
