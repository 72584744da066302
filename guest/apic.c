/* The local APIC (xAPIC MMIO at 0xfee00000) and time: TSC and APIC timer
 * frequencies come from the hypervisor, or off Isthmus from a calibration
 * against the PIT. */
#include "guest/tg.h"
#include "guest/x86.h"

/* xAPIC register offsets (SDM Vol. 3A, Table 11-1). */
#define APIC_ID          0x020
#define APIC_VERSION     0x030
#define APIC_TPR         0x080
#define APIC_EOI         0x0b0
#define APIC_SVR         0x0f0
#define APIC_ICR_LO      0x300
#define APIC_ICR_HI      0x310
#define APIC_LVT_TIMER   0x320
#define APIC_LVT_LINT0   0x350
#define APIC_TIMER_INIT  0x380
#define APIC_TIMER_CUR   0x390
#define APIC_TIMER_DIV   0x3e0

#define SVR_ENABLE       0x100
#define LVT_MASKED       0x10000
#define LVT_PERIODIC     0x20000
#define ICR_BUSY         0x1000      /* delivery status: send pending */

/* PIT channel 2, gated through port 0x61 (the speaker port). */
#define PIT_HZ           1193182ull
#define PIT_CH2          0x42
#define PIT_MODE         0x43
#define PIT_CH2_LOHI_M0  0xb0        /* channel 2, lobyte/hibyte, mode 0, binary */
#define PORT_61          0x61
#define P61_GATE2        0x01
#define P61_SPEAKER      0x02
#define P61_OUT2         0x20
#define CALIBRATE_MS     50

static uint32_t apic_read(uint32_t reg) { return mmio_read32(APIC_BASE + reg); }
static void apic_write(uint32_t reg, uint32_t v) { mmio_write32(APIC_BASE + reg, v); }

uint32_t apic_id(void) { return apic_read(APIC_ID) >> 24; }
void apic_eoi(void) { apic_write(APIC_EOI, 0); }

int cpu_index_of(uint32_t id)
{
    for (unsigned i = 0; i < tg.ncpus; i++)
        if (tg.cpus[i].apic_id == id)
            return (int)i;
    return -1;
}

void apic_enable(void)
{
    /* Off Isthmus the firmware left the 8259 PICs routed to LINT0 (ExtINT)
     * with their timer running: mask them. Under Isthmus those ports are not
     * ours to touch, and the hypervisor delivers nothing through LINT0. */
    if (!tg.isthmus) {
        outb(0x21, 0xff);
        outb(0xa1, 0xff);
        apic_write(APIC_LVT_LINT0, LVT_MASKED);
    }
    apic_write(APIC_TPR, 0);
    apic_write(APIC_SVR, SVR_ENABLE | VEC_SPURIOUS);
}

/* Counts the TSC and the APIC timer (divide by 1) over CALIBRATE_MS of the PIT. */
static bool calibrate_with_pit(void)
{
    apic_write(APIC_TIMER_DIV, 0xb);
    apic_write(APIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
    apic_write(APIC_TIMER_INIT, 0xffffffff);

    uint32_t latch = (uint32_t)(PIT_HZ * CALIBRATE_MS / 1000);
    outb(PORT_61, (inb(PORT_61) & ~P61_SPEAKER) | P61_GATE2);
    outb(PIT_MODE, PIT_CH2_LOHI_M0);
    outb(PIT_CH2, latch & 0xff);
    outb(PIT_CH2, latch >> 8);
    uint64_t t0 = rdtsc();
    uint32_t c0 = apic_read(APIC_TIMER_CUR);
    unsigned long spins = 0;
    while (!(inb(PORT_61) & P61_OUT2))
        if (++spins > 100000000ul)
            break;
    uint64_t t1 = rdtsc();
    uint32_t c1 = apic_read(APIC_TIMER_CUR);
    apic_write(APIC_TIMER_INIT, 0);
    if (spins > 100000000ul || c1 >= c0 || t1 <= t0)
        return false;
    tg.tsc_khz = (t1 - t0) * PIT_HZ / ((uint64_t)latch * 1000);
    tg.apic_khz = (uint64_t)(c0 - c1) * PIT_HZ / ((uint64_t)latch * 1000);
    return tg.tsc_khz && tg.apic_khz;
}

void timing_init(void)
{
    if (tg.tsc_khz && tg.apic_khz) {
        say("timing: tsc %lu kHz, apic timer %lu kHz (from the hypervisor)", tg.tsc_khz, tg.apic_khz);
        return;
    }
    if (!tg.isthmus && calibrate_with_pit()) {
        say("timing: tsc %lu kHz, apic timer %lu kHz (calibrated against the PIT)", tg.tsc_khz, tg.apic_khz);
        return;
    }
    /* Nothing to measure against: guess, and say so. */
    if (!tg.tsc_khz)
        tg.tsc_khz = 1000000;
    if (!tg.apic_khz)
        tg.apic_khz = 1000000;
    say("timing: warning: no usable timing information, assuming tsc %lu kHz, apic timer %lu kHz",
        tg.tsc_khz, tg.apic_khz);
}

uint64_t tsc_after_ms(uint64_t ms) { return rdtsc() + ms * tg.tsc_khz; }
bool tsc_passed(uint64_t deadline) { return (int64_t)(rdtsc() - deadline) >= 0; }

uint64_t ms_since_boot(void) { return (rdtsc() - tg.boot_tsc) / tg.tsc_khz; }

void delay_us(uint64_t us)
{
    uint64_t end = rdtsc() + us * tg.tsc_khz / 1000;
    while (!tsc_passed(end))
        pause();
}

void apic_timer_periodic(uint64_t ms, uint8_t vector)
{
    /* Divide configuration encodings for 1, 2, 4 ... 128 (SDM Vol. 3A, 11.5.4). */
    static const uint8_t div_code[8] = { 0xb, 0x0, 0x1, 0x2, 0x3, 0x8, 0x9, 0xa };
    uint64_t count = tg.apic_khz * ms;
    unsigned shift = 0;
    while (shift < 7 && (count >> shift) > 0xffffffffull)
        shift++;
    count >>= shift;
    if (count > 0xffffffffull) {
        say("warning: %lu ms is too long for the APIC timer, using the longest period", ms);
        count = 0xffffffffull;
    }
    if (!count)
        count = 1;
    apic_write(APIC_TIMER_DIV, div_code[shift]);
    apic_write(APIC_LVT_TIMER, LVT_PERIODIC | vector);
    apic_write(APIC_TIMER_INIT, (uint32_t)count);
}

void apic_timer_stop(void)
{
    apic_write(APIC_LVT_TIMER, LVT_MASKED | VEC_TIMER);
    apic_write(APIC_TIMER_INIT, 0);
}

/* Physical destination mode; the ICR high word first, the low word sends.
 * True once the APIC reports the IPI as sent (delivery status idle). */
bool apic_send_ipi(uint32_t dest, uint32_t icr_low)
{
    apic_write(APIC_ICR_HI, dest << 24);
    apic_write(APIC_ICR_LO, icr_low);
    uint64_t end = tsc_after_ms(10);
    while (apic_read(APIC_ICR_LO) & ICR_BUSY) {
        if (tsc_passed(end))
            return false;
        pause();
    }
    return true;
}
