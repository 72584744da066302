/* Local APIC in xAPIC (MMIO) or x2APIC (MSR) mode, chosen from CPUID at boot:
 * QEMU's TCG has no x2APIC, most real machines do. */
#ifndef ISTHMUS_ARCH_X86_APIC_H
#define ISTHMUS_ARCH_X86_APIC_H

#include "kernel/lib/types.h"

/* Register offsets in the xAPIC page (SDM Vol. 3A table 10-1); x2APIC MSR = 0x800 + off/16. */
enum lapic_reg {
    LAPIC_ID = 0x020,
    LAPIC_VERSION = 0x030,
    LAPIC_TPR = 0x080,
    LAPIC_EOI = 0x0b0,
    LAPIC_SVR = 0x0f0,
    LAPIC_ESR = 0x280,
    LAPIC_ICR_LO = 0x300,
    LAPIC_ICR_HI = 0x310,
    LAPIC_LVT_TIMER = 0x320,
    LAPIC_LVT_LINT0 = 0x350,
    LAPIC_LVT_LINT1 = 0x360,
    LAPIC_LVT_ERROR = 0x370,
    LAPIC_TIMER_INIT = 0x380,
    LAPIC_TIMER_CUR = 0x390,
    LAPIC_TIMER_DIV = 0x3e0,
};
#define LAPIC_SVR_ENABLE     BIT(8)
#define LVT_MASKED           BIT(16)
#define LVT_TIMER_PERIODIC   BIT(17)
#define ICR_INIT             (5u << 8)
#define ICR_STARTUP          (6u << 8)
#define ICR_LEVEL_ASSERT     BIT(14)
#define ICR_DELIVERY_PENDING BIT(12)

extern bool lapic_x2apic;

int lapic_init_bsp(void) __must_check; /* picks the mode, maps the page, enables */
void lapic_init_ap(void);              /* same mode on an AP */
u32 lapic_id(void);
void lapic_eoi(void);
int lapic_send_ipi(u32 apic_id, u32 icr_lo) __must_check;
void lapic_timer_calibrate(void); /* needs a calibrated TSC */
void lapic_timer_start(u32 hz);   /* periodic VEC_TIMER on this CPU */
u64 lapic_timer_hz(void);
/* One VEC_TIMER interrupt on this CPU after about tsc_delta TSC ticks (never
 * earlier; capped at the counter's range, so a long wait may wake early and
 * must re-check). lapic_timer_stop() cancels it. */
void lapic_timer_oneshot(u64 tsc_delta);
void lapic_timer_stop(void);
const char *lapic_mode_name(void);

#endif
