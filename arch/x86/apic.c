/* Local APIC access and IPIs. */
#include "arch/x86/apic.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/cpuid.h"
#include "arch/x86/hw/msr.h"
#include "arch/x86/interrupts.h"
#include "arch/x86/paging.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/time.h"

#define LAPIC_TIMER_DIV_16 0x3

bool lapic_x2apic;
static hpa_t lapic_base;
static u64 timer_ticks_per_sec; /* at divide-by-16 */

static u32 lapic_read(enum lapic_reg r)
{
    if (lapic_x2apic)
        return (u32)rdmsr(MSR_X2APIC_BASE + (r >> 4));
    return mmio_read32(lapic_base + r);
}

static void lapic_write(enum lapic_reg r, u32 v)
{
    if (lapic_x2apic)
        wrmsr(MSR_X2APIC_BASE + (r >> 4), v);
    else
        mmio_write32(lapic_base + r, v);
}

u32 lapic_id(void) { return lapic_x2apic ? lapic_read(LAPIC_ID) : lapic_read(LAPIC_ID) >> 24; }

void lapic_eoi(void) { lapic_write(LAPIC_EOI, 0); }

const char *lapic_mode_name(void) { return lapic_x2apic ? "x2APIC" : "xAPIC"; }

static void lapic_enable_local(void)
{
    u64 base = rdmsr(MSR_IA32_APIC_BASE) | APIC_BASE_ENABLE;
    if (lapic_x2apic)
        base |= APIC_BASE_X2APIC;
    wrmsr(MSR_IA32_APIC_BASE, base);
    lapic_write(LAPIC_TPR, 0);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_LVT_LINT0, LVT_MASKED);
    lapic_write(LAPIC_LVT_ERROR, LVT_MASKED);
    lapic_write(LAPIC_SVR, LAPIC_SVR_ENABLE | VEC_SPURIOUS);
}

int lapic_init_bsp(void)
{
    lapic_x2apic = (cpuid(CPUID_LEAF_FEATURES, 0).ecx & CPUID_1_ECX_X2APIC) != 0;
    u64 msr = rdmsr(MSR_IA32_APIC_BASE);
    lapic_base = msr & APIC_BASE_ADDR;
    if (!lapic_x2apic) {
        int err = paging_map(lapic_base, PAGE_SIZE, MAP_WRITE | MAP_UC);
        if (err)
            return err;
    }
    lapic_enable_local();
    return 0;
}

void lapic_init_ap(void) { lapic_enable_local(); }

int lapic_send_ipi(u32 apic_id, u32 icr_lo)
{
    if (lapic_x2apic) {
        wrmsr(MSR_X2APIC_BASE + (LAPIC_ICR_LO >> 4), ((u64)apic_id << 32) | icr_lo);
        return 0;
    }
    if (apic_id > 0xff)
        return -EINVAL;
    lapic_write(LAPIC_ICR_HI, apic_id << 24);
    lapic_write(LAPIC_ICR_LO, icr_lo);
    for (u32 i = 0; i < 1000000; i++) {
        if (!(lapic_read(LAPIC_ICR_LO) & ICR_DELIVERY_PENDING))
            return 0;
        cpu_relax();
    }
    return -ETIMEDOUT;
}

void lapic_timer_calibrate(void)
{
    lapic_write(LAPIC_TIMER_DIV, LAPIC_TIMER_DIV_16);
    lapic_write(LAPIC_LVT_TIMER, LVT_MASKED);
    lapic_write(LAPIC_TIMER_INIT, 0xffffffff);
    time_delay_us(10000);
    u32 elapsed = 0xffffffff - lapic_read(LAPIC_TIMER_CUR);
    lapic_write(LAPIC_TIMER_INIT, 0);
    timer_ticks_per_sec = (u64)elapsed * 100;
}

u64 lapic_timer_hz(void) { return timer_ticks_per_sec; }

void lapic_timer_oneshot(u64 tsc_delta)
{
    if (!timer_ticks_per_sec || !tsc_khz)
        return;
    /* TSC ticks -> timer ticks, rounded up so the interrupt never comes early;
     * split to stay within 64 bits for deltas of hours. */
    u64 per_ms = timer_ticks_per_sec / 1000;
    u64 count = (tsc_delta / tsc_khz) * per_ms + ((tsc_delta % tsc_khz) * per_ms + tsc_khz - 1) / tsc_khz;
    lapic_write(LAPIC_TIMER_DIV, LAPIC_TIMER_DIV_16);
    lapic_write(LAPIC_LVT_TIMER, VEC_TIMER);
    lapic_write(LAPIC_TIMER_INIT, (u32)MIN(MAX(count, 1ULL), 0xffffffffULL));
}

void lapic_timer_stop(void) { lapic_write(LAPIC_TIMER_INIT, 0); }

void lapic_timer_start(u32 hz)
{
    if (!timer_ticks_per_sec || !hz)
        return;
    u64 count = timer_ticks_per_sec / hz;
    lapic_write(LAPIC_TIMER_DIV, LAPIC_TIMER_DIV_16);
    lapic_write(LAPIC_LVT_TIMER, VEC_TIMER | LVT_TIMER_PERIODIC);
    lapic_write(LAPIC_TIMER_INIT, count ? (u32)MIN(count, 0xffffffffULL) : 1);
}
