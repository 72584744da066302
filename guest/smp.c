/* The smp scenario: the BSP starts every other vCPU in the MADT with
 * INIT-SIPI-SIPI into a real-mode trampoline; each reports in and parks (or,
 * when a scenario set ap_work, runs that: the abuse scenario). */
#include "guest/tg.h"
#include "guest/x86.h"

#define TRAMPOLINE_PREFERRED 0x8000

extern const char trampoline_start[], trampoline_end[];
extern volatile uint32_t ap_slots;
extern uint64_t ap_stack_tops[TG_MAX_CPUS];

void (*volatile ap_work)(unsigned cpu);

/* A RAM page below 1 MiB (a SIPI vector addresses page << 12 in real mode). */
static uint64_t trampoline_page(void)
{
    if (mem_is_ram(TRAMPOLINE_PREFERRED, 4096))
        return TRAMPOLINE_PREFERRED;
    for (uint64_t a = 0x1000; a < 0x100000; a += 4096)
        if (mem_is_ram(a, 4096) && (a + 4096 <= mem_own_start() || a >= mem_own_end()))
            return a;
    return 0;
}

static unsigned count_online(void)
{
    unsigned k = 0;
    for (unsigned i = 0; i < tg.ncpus; i++)
        k += tg.cpus[i].online != 0;
    return k;
}

unsigned smp_start(void)
{
    unsigned n = tg.ncpus;
    tg.cpus[tg.bsp].arrived = tg.cpus[tg.bsp].online = 1;
    uint64_t tramp = trampoline_page();
    if (n > 1 && !tramp)
        say("smp: no RAM page below 1 MiB for the trampoline");
    if (n > 1 && tramp) {
        memcpy(phys(tramp), trampoline_start, trampoline_end - trampoline_start);
        for (unsigned i = 0; i < n - 1; i++)
            ap_stack_tops[i] = (uintptr_t)mem_alloc(TG_STACK_SIZE) + TG_STACK_SIZE;
        __atomic_store_n(&ap_slots, n - 1, __ATOMIC_RELEASE);
        say("smp: starting %u secondary vCPUs through a trampoline at 0x%lx", n - 1, tramp);

        /* INIT, 10 ms, SIPI, 200 us, SIPI: the MP specification's sequence
         * (SDM Vol. 3A, 8.4.4.1). A vCPU already running ignores the second
         * SIPI; one that ran twice would report in twice. */
        uint64_t deadline = tsc_after_ms(tg.opt.timeout_ms);
        for (unsigned i = 0; i < n; i++)
            if (i != tg.bsp && !apic_send_ipi(tg.cpus[i].apic_id, ICR_INIT | ICR_ASSERT))
                say("smp: warning: INIT to APIC ID %u still pending after 10 ms", tg.cpus[i].apic_id);
        delay_us(10000);
        for (int round = 0; round < 2; round++) {
            for (unsigned i = 0; i < n; i++)
                if (i != tg.bsp && !apic_send_ipi(tg.cpus[i].apic_id, ICR_STARTUP | ICR_ASSERT | (uint32_t)(tramp >> 12)))
                    say("smp: warning: SIPI to APIC ID %u still pending after 10 ms", tg.cpus[i].apic_id);
            delay_us(200);
        }
        while (count_online() < n && !tsc_passed(deadline))
            pause();
    }

    unsigned k = count_online();
    if (k == n) {
        say("smp: %u of %u vCPUs online", k, n);
    } else {
        say("smp: only %u of %u vCPUs online", k, n);
        for (unsigned i = 0; i < n; i++)
            if (!tg.cpus[i].online)
                say("smp: vcpu %u (APIC ID %u) missing%s", i, tg.cpus[i].apic_id,
                    tg.cpus[i].arrived ? " (it started but did not report in)" : "");
    }
    return k;
}

void scenario_smp(void)
{
    smp_start();
    tick_forever();
}

/* A secondary vCPU, on its own stack (entry.S gave it slot). */
void ap_main(uint32_t slot)
{
    trap_load();
    apic_enable();
    uint32_t id = apic_id();
    int i = cpu_index_of(id);
    if (i < 0) {
        say("vcpu with APIC ID %u (slot %u) started, but it is not in the MADT", id, slot);
        halt_forever();
    }
    struct tg_cpu *c = &tg.cpus[i];
    uint32_t times = __atomic_add_fetch(&c->arrived, 1, __ATOMIC_ACQ_REL);
    if (times > 1) {
        say("vcpu %d (APIC ID %u) started %u times", i, id, times);
        halt_forever();
    }
    say("vcpu %d (APIC ID %u) online", i, id);
    if (tg.isthmus) {
        struct isthmus_partition_info info __attribute__((aligned(8)));
        int64_t r = hypercall(HC_PARTITION_INFO, (uintptr_t)&info, 0, 0, 0);
        if (r != 0 || info.vcpu_index != (uint32_t)i)
            say("vcpu %d: warning: HC_PARTITION_INFO -> %ld, vcpu_index %u", i, r, r ? 0 : info.vcpu_index);
    }
    __atomic_store_n(&c->online, 1, __ATOMIC_RELEASE);
    void (*work)(unsigned) = ap_work;
    if (work)
        work((unsigned)i);
    halt_forever();
}
