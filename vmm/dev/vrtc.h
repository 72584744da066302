/* A CMOS real-time clock (Motorola MC146818A, as PC chipsets keep it at ports
 * 0x70/0x71) showing a partition the hypervisor's wall-clock time, read-only:
 * the time registers in BCD or binary as register B's DM bit says, always
 * 24-hour, the century at 0x32, update-in-progress in register A for the
 * last 244 us of every second as on the part, no alarms, no interrupts, no
 * NVRAM (reads 0, writes ignored). The guest may pick BCD or binary and
 * set or clear SET; writes to the time itself are ignored.
 *
 * Pure and deterministic: time enters as the UTC nanoseconds the caller
 * reads, so the tests drive it with a simulated clock. */
#ifndef ISTHMUS_VMM_DEV_VRTC_H
#define ISTHMUS_VMM_DEV_VRTC_H

#include "kernel/lib/types.h"
#include "arch/x86/hw/pc.h"

#define VRTC_PORT_INDEX PC_RTC_PORT /* write: register index (bit 7: NMI disable on a PC) */
#define VRTC_PORT_DATA  (PC_RTC_PORT + 1)

/* Registers (MC146818A data sheet; 0x32 the IBM PC century byte). */
enum vrtc_reg {
    VRTC_SEC = 0x00,
    VRTC_SEC_ALARM = 0x01,
    VRTC_MIN = 0x02,
    VRTC_MIN_ALARM = 0x03,
    VRTC_HOUR = 0x04,
    VRTC_HOUR_ALARM = 0x05,
    VRTC_WEEKDAY = 0x06, /* 1 = Sunday */
    VRTC_DAY = 0x07,
    VRTC_MONTH = 0x08,
    VRTC_YEAR = 0x09, /* two digits */
    VRTC_REG_A = 0x0a,
    VRTC_REG_B = 0x0b,
    VRTC_REG_C = 0x0c,
    VRTC_REG_D = 0x0d,
    VRTC_CENTURY = 0x32,
};

#define VRTC_A_UIP       BIT(7)
#define VRTC_A_DIV_32K   (2u << 4) /* divider: 32.768 kHz time base, running */
#define VRTC_A_RATE_1K   6u        /* periodic rate 1024 Hz, the PC default */
#define VRTC_B_SET       BIT(7)
#define VRTC_B_DM_BINARY BIT(2)
#define VRTC_B_24H       BIT(1)
#define VRTC_D_VRT       BIT(7)  /* valid RAM and time: the battery is good */
#define VRTC_UIP_NS      244000u /* UIP rises this long before each second's update */
#define VRTC_INDEX_MASK  0x7fu

struct vrtc {
    u8 index;
    u8 reg_b;
};

/* Power-on state: BCD, 24-hour, index 0. */
void vrtc_init(struct vrtc *r);
/* A byte written to port 0x70 (index) or 0x71 (data). */
void vrtc_write(struct vrtc *r, u16 port, u8 val);
/* A byte read from port 0x70 (0xff: the index port is write-only) or 0x71,
 * at UTC unix_ns. */
u8 vrtc_read(const struct vrtc *r, u16 port, u64 unix_ns);

#endif
