/* The ipiwake scenario: fixed IPIs, one at a time, to a vCPU that waits for
 * them in HLT with its APIC timer off, so that nothing but the IPI can wake
 * it. The BSP sends the next as soon as the handler has counted the last,
 * which lands it while the hypervisor is taking the target through its HLT
 * exit and back to sleep: the window where a post whose kick was taken
 * early would leave the vCPU asleep with the vector in its inbox
 * (vmm/vcpu_run.c, wait()). An IPI counted more than LATE_MS after it was
 * sent is late: it is sent again, whose kick wakes the target; after five
 * late ones the scenario gives up.
 *
 *   ipiwake [ops=N]   N IPIs (20,000 when not given); needs 2 vCPUs
 *
 * Prints "ipiwake: N sent, N taken, L late, longest W us". */
#include "guest/tg.h"
#include "guest/x86.h"

#define LATE_MS     200
#define ROUNDS      20000

volatile uint64_t ipiwake_irqs;

static volatile int ready;

static void ap_wait(unsigned cpu)
{
    (void)cpu;
    apic_timer_stop();
    __atomic_store_n(&ready, 1, __ATOMIC_RELEASE);
    for (;;)
        sti_hlt();              /* the handler counts; back to sleep */
}

void scenario_ipiwake(void)
{
    ap_work = ap_wait;
    unsigned n = smp_start();
    unsigned target = tg.bsp == 0 ? 1 : 0;
    if (n < 2 || target >= tg.ncpus || !tg.cpus[target].online) {
        say("ipiwake: needs a second vCPU online (%u online)", n);
        halt_forever();
    }
    uint64_t until = tsc_after_ms(5000);
    while (!__atomic_load_n(&ready, __ATOMIC_ACQUIRE) && !tsc_passed(until))
        pause();
    uint64_t rounds = tg.opt.ops ? tg.opt.ops : ROUNDS, late = 0, longest = 0, sent = 0;
    uint32_t dest = tg.cpus[target].apic_id;
    say("ipiwake: %lu IPIs to vcpu %u (APIC ID %u), asleep with its timer off", rounds, target, dest);
    bool stuck = false;
    for (; sent < rounds && !stuck; sent++) {
        uint64_t before = __atomic_load_n(&ipiwake_irqs, __ATOMIC_ACQUIRE), t0 = rdtsc();
        apic_send_ipi(dest, ICR_FIXED | ICR_ASSERT | VEC_IPIWAKE);
        uint64_t deadline = tsc_after_ms(LATE_MS);
        bool was_late = false;
        while (__atomic_load_n(&ipiwake_irqs, __ATOMIC_ACQUIRE) == before) {
            if (tsc_passed(deadline)) {
                if (!was_late) {
                    late++;
                    say("ipiwake: IPI %lu not taken within %u ms: sending it again", sent, LATE_MS);
                }
                was_late = true;
                if (late >= 5) {
                    stuck = true;
                    break;
                }
                /* Another IPI's kick wakes the target, which then finds
                 * both in its inbox (one vector: counted once). */
                apic_send_ipi(dest, ICR_FIXED | ICR_ASSERT | VEC_IPIWAKE);
                deadline = tsc_after_ms(LATE_MS);
            }
            pause();
        }
        uint64_t us = (rdtsc() - t0) * 1000 / tg.tsc_khz;
        longest = us > longest ? us : longest;
    }
    say("ipiwake: %lu sent, %lu taken, %lu late, longest %lu us", sent,
        (uint64_t)__atomic_load_n(&ipiwake_irqs, __ATOMIC_ACQUIRE), late, longest);
    tick_forever();
}
