/* ACPI power-management timer: 3.579545 MHz, 24 or 32 bits (ACPI 6.5, 4.8.3.3). */
#include "drivers/clocksource.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/lib/errno.h"

#define PMTIMER_HZ 3579545ULL

static u16 pm_port;

static u64 pm_read(void) { return inl(pm_port); }

int pmtimer_clocksource(u16 port, bool width32, struct clocksource *cs)
{
    if (!port)
        return -ENODEV;
    pm_port = port;
    /* A missing timer reads as a constant: make sure it moves. */
    u32 a = inl(port);
    bool moved = false;
    for (int i = 0; i < 100000 && !moved; i++)
        moved = inl(port) != a;
    if (!moved)
        return -ENODEV;
    cs->name = "ACPI PM timer";
    cs->hz = PMTIMER_HZ;
    cs->mask = width32 ? 0xffffffffULL : 0xffffffULL;
    cs->read = pm_read;
    return 0;
}
