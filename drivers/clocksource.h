/* Reference clocks used once at boot to measure the TSC: HPET (preferred) and
 * the ACPI PM timer, as the core's struct clocksource (kernel/core/time.h). */
#ifndef ISTHMUS_DRIVERS_CLOCKSOURCE_H
#define ISTHMUS_DRIVERS_CLOCKSOURCE_H

#include "kernel/lib/types.h"
#include "kernel/core/time.h"

/* Each returns 0 and fills cs when the clock exists and works. */
int hpet_clocksource(hpa_t base, struct clocksource *cs) __must_check;
int pmtimer_clocksource(u16 port, bool width32, struct clocksource *cs) __must_check;

#endif
