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

/* Wall-clock time (UTC): the firmware's reading at a known TSC, advanced by
 * the calibrated TSC. Set once by the boot sequence from struct boot_info. */
void wallclock_set(u64 unix_ns, u64 at_tsc);
bool wallclock_known(void);
/* Nanoseconds since 1970-01-01 UTC at `tsc` (0 if the time is unknown or the
 * TSC is not calibrated yet). */
u64 wallclock_ns(u64 tsc);
/* TSC ticks to nanoseconds at `khz`, without overflow for any u64 ticks
 * below 2^64 / 10^6 seconds' worth. */
u64 time_ticks_to_ns(u64 ticks, u64 khz);

#endif
