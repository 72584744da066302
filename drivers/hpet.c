/* HPET main counter (IA-PC HPET specification 1.0a, section 2.3). */
#include "drivers/clocksource.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/paging.h"
#include "kernel/lib/errno.h"

#define HPET_CAP           0x000 /* bits 63:32 counter period in femtoseconds */
#define HPET_CONFIG        0x010
#define HPET_COUNTER       0x0f0
#define HPET_ENABLE        BIT(0)
#define HPET_MAX_PERIOD_FS 100000000ULL /* the spec's upper bound: 100 ns */

static hpa_t hpet_base;

static u64 hpet_read(void) { return mmio_read64(hpet_base + HPET_COUNTER); }

int hpet_clocksource(hpa_t base, struct clocksource *cs)
{
    if (!base || !IS_ALIGNED(base, PAGE_SIZE))
        return -EINVAL;
    int err = paging_map(base, PAGE_SIZE, MAP_WRITE | MAP_UC);
    if (err)
        return err;
    u64 cap = mmio_read64(base + HPET_CAP);
    u64 period = cap >> 32;
    if (period == 0 || period > HPET_MAX_PERIOD_FS)
        return -ENODEV;
    hpet_base = base;
    mmio_write64(base + HPET_CONFIG, mmio_read64(base + HPET_CONFIG) | HPET_ENABLE);
    cs->name = "HPET";
    cs->hz = 1000000000000000ULL / period;
    cs->mask = (cap & BIT(13)) ? ~0ULL : 0xffffffffULL; /* COUNT_SIZE_CAP */
    cs->read = hpet_read;
    return 0;
}
