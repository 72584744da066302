/* Time from the TSC, calibrated at boot against the HPET or the ACPI PM timer. */
#ifndef ISTHMUS_KERNEL_TIME_H
#define ISTHMUS_KERNEL_TIME_H

#include "kernel/lib/types.h"

extern u64 tsc_khz;  /* 0 until calibrated */
extern u64 tsc_boot; /* TSC when the hypervisor proper started */
extern const char *tsc_source;

u64 time_tsc_to_us(u64 tsc); /* microseconds since boot */
u64 time_now_us(void);
void time_delay_us(u64 us);

/* A reference clock to measure the TSC against, used once at boot. The core
 * defines it; drivers (drivers/hpet.c, drivers/pmtimer.c) provide one. */
struct clocksource {
    const char *name;
    u64 hz;   /* counter frequency */
    u64 mask; /* counter width: it wraps at mask + 1 */
    u64 (*read)(void);
};

int time_calibrate(const struct clocksource *cs) __must_check; /* busy-waits; needs a calibrated TSC */

#endif
