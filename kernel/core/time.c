/* TSC calibration and conversions. */
#include "kernel/core/time.h"
#include "kernel/core/log.h"
#include "arch/x86/hw/cpu.h"

u64 tsc_khz;
u64 tsc_boot;
const char *tsc_source = "none";

u64 time_tsc_to_us(u64 tsc)
{
    if (!tsc_khz || tsc < tsc_boot)
        return 0;
    u64 d = tsc - tsc_boot;
    /* Split to avoid overflow for long uptimes: d * 1000 overflows after ~200 days at 1 GHz. */
    return (d / tsc_khz) * 1000 + ((d % tsc_khz) * 1000) / tsc_khz;
}

u64 time_now_us(void) { return time_tsc_to_us(rdtsc()); }

static u64 wall_ns, wall_tsc;

void wallclock_set(u64 unix_ns, u64 at_tsc)
{
    wall_ns = unix_ns;
    wall_tsc = at_tsc;
}

bool wallclock_known(void) { return wall_tsc != 0; }

u64 time_ticks_to_ns(u64 ticks, u64 khz)
{
    if (!khz)
        return 0;
    /* Whole milliseconds, then the rest: (ticks % khz) * 10^6 < 2^24 * 2^20. */
    return (ticks / khz) * 1000000ULL + ((ticks % khz) * 1000000ULL) / khz;
}

u64 wallclock_ns(u64 tsc)
{
    if (!wall_tsc || !tsc_khz)
        return 0;
    /* A CPU whose TSC reads a little behind the boot CPU's when it was read. */
    if (tsc < wall_tsc) {
        u64 back = time_ticks_to_ns(wall_tsc - tsc, tsc_khz);
        return back < wall_ns ? wall_ns - back : 0;
    }
    return wall_ns + time_ticks_to_ns(tsc - wall_tsc, tsc_khz);
}

void time_delay_us(u64 us)
{
    u64 khz = tsc_khz ? tsc_khz : 3000000; /* uncalibrated: assume a fast clock, wait longer */
    u64 end = rdtsc() + us * khz / 1000;
    while (rdtsc() < end)
        cpu_relax();
}

/* Counts TSC cycles across `ms` milliseconds of the reference clock. */
static u64 measure(const struct clocksource *cs, u32 ms)
{
    u64 want = cs->hz * ms / 1000, start = cs->read(), t0 = rdtsc(), elapsed = 0, prev = start;
    u64 guard = t0 + 20ULL * 1000 * 1000 * 1000; /* a clock that stops must not hang boot */
    while (elapsed < want) {
        u64 now = cs->read();
        elapsed += (now - prev) & cs->mask;
        prev = now;
        if (rdtsc() > guard)
            return 0;
    }
    u64 t1 = rdtsc();
    return (t1 - t0) * cs->hz / (elapsed ? elapsed : 1) / 1000; /* kHz */
}

int time_calibrate(const struct clocksource *cs)
{
    /* Three 10 ms windows; the median rejects one disturbed by emulation hiccups. */
    u64 k[3];
    for (int i = 0; i < 3; i++)
        k[i] = measure(cs, 10);
    u64 lo = MIN(k[0], MIN(k[1], k[2])), hi = MAX(k[0], MAX(k[1], k[2]));
    u64 med = k[0] + k[1] + k[2] - lo - hi;
    if (!med)
        return -1;
    tsc_khz = med;
    tsc_source = cs->name;
    log_info("time", "TSC %llu.%03llu MHz, measured against the %s (%llu Hz)", (unsigned long long)(tsc_khz / 1000),
             (unsigned long long)(tsc_khz % 1000), cs->name, (unsigned long long)cs->hz);
    return 0;
}
