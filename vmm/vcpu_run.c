/* The vCPU thread: one per vCPU, on the physical CPU it is pinned to, for as
 * long as the partition runs. It enters the guest, hands each exit to
 * handle_exit(), delivers the vlapic's interrupts, and sleeps (HLT, waiting for
 * SIPI) with the host APIC timer armed for the guest's next timer deadline.
 * Other CPUs reach it only through its inbox and an IPI (vcpu_kick). */
#include "vmm/partition.h"
#include "vmm/exits.h"
#include "vmm/vdev.h"
#include "vmm/shadow_vcpu.h"
#include "vmm/boot64.h"
#include "arch/x86/apic.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/desc.h"
#include "arch/x86/interrupts.h"
#include "arch/x86/virt.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"

/* The guest's APIC timer input clock: the host's bus clock (its timer runs
 * divided by 16). */
static u32 guest_timer_khz(void)
{
    u64 hz = lapic_timer_hz() * 16;
    return hz >= 1000 ? (u32)MIN(hz / 1000, 0xffffffULL) : 1000000;
}

void vcpu_kick(struct vm_vcpu *vc)
{
    /* A lost kick would leave a guest running that should stop: say so. */
    if (vc->cpu != this_cpu() && lapic_send_ipi(vc->cpu->apic_id, VEC_WAKE) < 0)
        log_err("part", "cannot interrupt CPU %u (vCPU %u of %s)", vc->cpu->index, vc->v.index, vc->part->cfg->name);
}

void vcpu_post_irq(struct vm_vcpu *to, u8 vector)
{
    __atomic_fetch_or(&to->inbox[vector / 64], BIT(vector % 64), __ATOMIC_SEQ_CST);
    vcpu_kick(to);
}

void vcpu_post_irq_level(struct vm_vcpu *to, u8 vector)
{
    /* The level bit first: drain_inbox reads it after taking the vector. */
    __atomic_fetch_or(&to->inbox_level[vector / 64], BIT(vector % 64), __ATOMIC_SEQ_CST);
    vcpu_post_irq(to, vector);
}

void vcpu_post_init(struct vm_vcpu *to)
{
    __atomic_store_n(&to->init_pending, 1, __ATOMIC_SEQ_CST);
    vcpu_kick(to);
}

void vcpu_post_sipi(struct vm_vcpu *to, u8 vector)
{
    __atomic_store_n(&to->sipi_pending, 0x100u | vector, __ATOMIC_SEQ_CST);
    vcpu_kick(to);
}

/* Code, data (also ES/FS/GS/SS) and task segments; an empty LDT and
 * descriptor tables with the reset limits. */
static void set_segments(struct vcpu_boot_state *s, struct vcpu_segment code, struct vcpu_segment data,
                         struct vcpu_segment task)
{
    s->cs = code;
    s->ds = s->es = s->fs = s->gs = s->ss = data;
    s->tr = task;
    s->ldtr = (struct vcpu_segment){ 0, SEG_ATTRS_LDT, 0xffff, 0 };
    s->gdtr = (struct vcpu_segment){ 0, 0, 0xffff, 0 };
    s->idtr = (struct vcpu_segment){ 0, 0, 0xffff, 0 };
}

/* PVH entry (xen/include/public/arch-x86/hvm/start_info.h): 32-bit protected
 * mode, flat segments, paging off, EBX = start info. */
static void pvh_boot_state(struct vcpu_boot_state *s, u64 entry)
{
    memset(s, 0, sizeof(*s));
    s->regs.rip = entry;
    s->regs.rflags = RFLAGS_FIXED;
    s->regs.gpr[GPR_RBX] = LAYOUT_START_INFO;
    s->cr0 = CR0_PE | CR0_ET;
    set_segments(s, (struct vcpu_segment){ 0x08, SEG_ATTRS_CODE32, 0xffffffff, 0 },
                 (struct vcpu_segment){ 0x10, SEG_ATTRS_DATA32, 0xffffffff, 0 },
                 (struct vcpu_segment){ 0x18, SEG_ATTRS_TSS, TSS64_LIMIT, 0 });
}

/* After INIT and a SIPI with `vector` (SDM Vol. 3A 9.1.1, 9.4.4): real mode at
 * vector << 12, CS = vector << 8. CR0 is ET only: the reset value also has CD
 * and NW, which a guest clears anyway and which would only slow it. */
static void sipi_state(struct vcpu_boot_state *s, u8 vector)
{
    memset(s, 0, sizeof(*s));
    s->regs.rflags = RFLAGS_FIXED;
    s->regs.gpr[GPR_RDX] = 0x600; /* family/model/stepping, as after reset */
    s->cr0 = CR0_ET;
    set_segments(s, (struct vcpu_segment){ (u16)(vector << 8), SEG_ATTRS_CODE16, 0xffff, (u64)vector << 12 },
                 (struct vcpu_segment){ 0, SEG_ATTRS_DATA16, 0xffff, 0 },
                 (struct vcpu_segment){ 0, SEG_ATTRS_TSS, 0xffff, 0 });
}

static void drain_inbox(struct vm_vcpu *vc)
{
    for (u32 w = 0; w < 4; w++) {
        u64 bits = __atomic_exchange_n(&vc->inbox[w], 0, __ATOMIC_SEQ_CST);
        u64 level = bits ? __atomic_fetch_and(&vc->inbox_level[w], ~bits, __ATOMIC_SEQ_CST) & bits : 0;
        while (bits) {
            u32 b = (u32)__builtin_ctzll(bits);
            bits &= bits - 1;
            vlapic_set_irq_trig(&vc->lapic, (u8)(w * 64 + b), level & BIT(b));
        }
    }
    if (__atomic_exchange_n(&vc->init_pending, 0, __ATOMIC_SEQ_CST)) {
        /* INIT resets the APIC's registers but not IA32_APIC_BASE: x2APIC
         * mode stays (SDM Vol. 3A 11.12.5.1). */
        bool x2apic = vc->lapic.x2apic;
        vlapic_init(&vc->lapic, vc->v.apic_id, (u32)tsc_khz, guest_timer_khz());
        if (x2apic)
            vlapic_enable_x2apic(&vc->lapic);
        pveoi_reset(&vc->pv_eoi);
        vc->run_state = VRUN_WAIT_SIPI;
    }
    u32 sipi = __atomic_exchange_n(&vc->sipi_pending, 0, __ATOMIC_SEQ_CST);
    /* A SIPI reaches only a vCPU waiting for one; later ones are ignored. */
    if (sipi && vc->run_state == VRUN_WAIT_SIPI) {
        struct vcpu_boot_state s;
        sipi_state(&s, (u8)sipi);
        vcpu_backend->load_state(&vc->v, &s);
        /* Under shadow paging the guest's view comes from the state too (a
         * failure stops the partition, with the reason). */
        if (vc->part->shadowed && shadow_vcpu_start(vc, &s) < 0)
            return;
        vc->run_state = VRUN_RUNNING;
        vc->starts++;
    }
}

/* Whether another CPU posted something since the inbox was last drained. */
static bool inbox_pending(const struct vm_vcpu *vc)
{
    for (u32 w = 0; w < 4; w++)
        if (__atomic_load_n(&vc->inbox[w], __ATOMIC_ACQUIRE))
            return true;
    return __atomic_load_n(&vc->init_pending, __ATOMIC_ACQUIRE) || __atomic_load_n(&vc->sipi_pending, __ATOMIC_ACQUIRE);
}

static u64 pass_cap_tsc(void) { return tsc_khz * VCPU_PASS_CAP_MS; }

/* One pass of the vCPU thread (an exit handled, or a wake while waiting):
 * the time since the last one was given to the guest, up to the cap. A
 * longer gap means the host did not run this CPU (or the guest neither
 * exited nor slept while nobody watched): it counts as the cap. */
static void account_pass(struct vm_vcpu *vc, u64 *last)
{
    u64 now = rdtsc(), gap = now - *last, cap = pass_cap_tsc();
    *last = now;
    volatile u64 *ran = &vc->part->ran_tsc[vc->v.index];
    __atomic_store_n(ran, *ran + (gap < cap ? gap : cap), __ATOMIC_RELEASE);
}

static bool watched(const struct vm_vcpu *vc, u64 now)
{
    return now < __atomic_load_n(&vc->part->watch_until, __ATOMIC_ACQUIRE);
}

u64 part_ran_ns(const struct partition *p)
{
    u64 least = ~0ULL;
    for (u32 i = 0; i < p->nvcpus && i < CONFIG_MAX_PART_CPUS; i++) {
        u64 t = __atomic_load_n(&p->ran_tsc[i], __ATOMIC_ACQUIRE);
        least = t < least ? t : least;
    }
    if (least == ~0ULL || !tsc_khz)
        return 0;
    return least / tsc_khz * 1000000 + least % tsc_khz * 1000000 / tsc_khz;
}

void part_watch_ran(struct partition *p)
{
    u64 until = rdtsc() + 200 * pass_cap_tsc();
    if (__atomic_load_n(&p->watch_until, __ATOMIC_RELAXED) >= until - 100 * pass_cap_tsc())
        return; /* recently extended: spare the cache line */
    __atomic_store_n(&p->watch_until, until, __ATOMIC_RELEASE);
    /* Halted vCPUs re-arm their timers when they next wake: wake them now. */
    for (u32 i = 0; i < p->nvcpus; i++)
        if (p->vcpu[i] && p->vcpu[i]->cpu != this_cpu())
            vcpu_kick(p->vcpu[i]);
}

/* The host timer serves the guest's APIC timer and, on the first vCPU, the
 * NIC's retries of held frames: armed for the earlier of the two. While the
 * partition is watched, also for the next pass (part_watch_ran). */
static void arm_timer(struct vm_vcpu *vc, bool force)
{
    u64 d = vlapic_timer_deadline(&vc->lapic), r = vdev_deadline(vc);
    if (r && (!d || r < d))
        d = r;
    u64 now = rdtsc();
    if (watched(vc, now)) {
        u64 w = now + pass_cap_tsc();
        if (!d || w < d)
            d = w;
    }
    if (d == vc->armed_deadline && !force)
        return;
    vc->armed_deadline = d;
    if (!d) {
        lapic_timer_stop();
        return;
    }
    lapic_timer_oneshot(d > now ? d - now : 1);
}

/* Queues the highest-priority pending interrupt, or asks for an exit as soon
 * as the guest can take it. */
static void deliver(struct vm_vcpu *vc)
{
    const struct vcpu_backend *be = vcpu_backend;
    vlapic_tick(&vc->lapic, rdtsc());
    int vec = vlapic_pending(&vc->lapic);
    if (vec < 0) {
        be->want_interrupt_window(&vc->v, false);
        return;
    }
    if (be->interruptible(&vc->v)) {
        struct vcpu_event ev = { VEVENT_EXTINT, (u8)vec, false, 0, 0 };
        if (be->inject(&vc->v, &ev) == 0) {
            vlapic_accept(&vc->lapic, (u8)vec);
            vc->stats.irqs_injected++;
        }
        be->want_interrupt_window(&vc->v, false);
    } else {
        be->want_interrupt_window(&vc->v, true);
    }
}

/* HLT, HC_HALT and wait-for-SIPI: sleep until there is something to do. */
static void wait(struct vm_vcpu *vc, u64 *last)
{
    struct partition *p = vc->part;
    irq_disable();
    while (!p->stop_request) {
        account_pass(vc, last);
        irq_enable();
        vdev_poll(vc);
        irq_disable();
        /* Drained with interrupts off until the halt: a post after this
         * sends a kick that stays pending and ends the halt. Drained before
         * vdev_poll instead, a post during it (interrupts on) had its kick
         * taken there, and the vCPU slept with the vector in its inbox until
         * its timer fired, or for good with no timer armed (an IPI to an
         * idle, tickless vCPU). */
        drain_inbox(vc);
        if (vc->run_state == VRUN_RUNNING)
            break;
        if (vc->run_state == VRUN_HALTED) {
            vlapic_tick(&vc->lapic, rdtsc());
            if (vlapic_pending(&vc->lapic) >= 0 && (vc->halt_any || (vc->v.regs.rflags & RFLAGS_IF))) {
                vc->run_state = VRUN_RUNNING;
                vc->halt_any = false;
                break;
            }
        }
        /* Re-armed on every wake: a long deadline may exceed the timer's range. */
        arm_timer(vc, true);
        irq_enable_and_halt();
        irq_disable();
    }
    irq_enable();
}

void vcpu_thread(void *arg)
{
    struct vm_vcpu *vc = arg;
    struct partition *p = vc->part;
    const struct vcpu_backend *be = vcpu_backend;
    int err = be->cpu_enable();
    if (!err)
        err = be->create(&vc->v);
    if (err) {
        part_fail(vc, "cannot set up virtualization on CPU %u: %s", vc->cpu->index, strerror_short(err));
        goto out;
    }
    vlapic_init(&vc->lapic, vc->v.apic_id, (u32)tsc_khz, guest_timer_khz());
    vc->slpt_gen = p->slpt_gen;
    if (p->shadowed)
        err = shadow_vcpu_enable(vc);
    else
        be->set_slpt_root(&vc->v, slpt_root(&p->slpt));
    if (err) {
        part_fail(vc, "cannot set up shadow paging on CPU %u: %s", vc->cpu->index, strerror_short(err));
        be->destroy(&vc->v);
        goto out;
    }
    if (vc->v.index == 0) {
        struct vcpu_boot_state s;
        if (p->entry64)
            boot64_state(&s, gpa(LAYOUT_BOOT64), p->entry, gpa(LAYOUT_START_INFO));
        else
            pvh_boot_state(&s, p->entry);
        be->load_state(&vc->v, &s);
        if (p->shadowed && shadow_vcpu_start(vc, &s) < 0) {
            be->destroy(&vc->v);
            goto out;
        }
        vc->run_state = VRUN_RUNNING;
    } else {
        vc->run_state = VRUN_WAIT_SIPI;
    }
    u64 last = rdtsc();
    while (!p->stop_request) {
        if (vc->run_state != VRUN_RUNNING) {
            wait(vc, &last);
            continue;
        }
        vdev_poll(vc);
        drain_inbox(vc);
        if (vc->run_state != VRUN_RUNNING)
            continue;
        deliver(vc);
        if (pveoi_arm(&vc->pv_eoi, &vc->lapic, &p->gmem) < 0) {
            part_fail(vc, "cannot write the PV EOI flag at guest-physical %#llx", (unsigned long long)vc->pv_eoi.msr);
            break;
        }
        arm_timer(vc, false);
        /* Interrupts off from the last look at the stop flag to the entry: a
         * kick sent in between is pending and ends the run at once. */
        u64 flags = irq_save();
        if (p->stop_request) {
            irq_restore(flags);
            break;
        }
        /* Something posted after drain_inbox, while interrupts were still
         * on, had its kick taken by the host's handler then: entering now
         * would leave it in the inbox until the guest's next exit (a tick,
         * or never for a guest spinning with its timer off). Look again. */
        if (inbox_pending(vc)) {
            irq_restore(flags);
            continue;
        }
        /* The partition's second-level tables changed (a BAR moved): flush. */
        u64 gen = __atomic_load_n(&p->slpt_gen, __ATOMIC_ACQUIRE);
        if (gen != vc->slpt_gen) {
            vc->slpt_gen = gen;
            if (p->shadowed)
                shadow_gpa_map_changed(vc);
            else
                be->set_slpt_root(&vc->v, slpt_root(&p->slpt));
        }
        struct vcpu_exit e;
        /* Interrupts are off: a sync's kick sent once in_guest is seen ends
         * the run at once (shadow_vcpu.c). */
        __atomic_store_n(&vc->in_guest, 1, __ATOMIC_SEQ_CST);
        err = be->run(&vc->v, &e);
        __atomic_store_n(&vc->exit_seq, vc->exit_seq + 1, __ATOMIC_SEQ_CST);
        __atomic_store_n(&vc->in_guest, 0, __ATOMIC_SEQ_CST);
        irq_restore(flags);
        if (err) {
            part_fail(vc, "cannot enter the guest: %s", strerror_short(err));
            break;
        }
        account_pass(vc, &last);
        vc->last_exit = e.reason;
        /* An EOI the guest made through the PV EOI flag comes before
         * anything this exit does (an EOI write, say). */
        if (pveoi_sync(&vc->pv_eoi, &vc->lapic, &p->gmem) < 0) {
            part_fail(vc, "cannot read the PV EOI flag at guest-physical %#llx", (unsigned long long)vc->pv_eoi.msr);
            break;
        }
        handle_exit(vc, &e);
    }
    be->destroy(&vc->v);
out:
    lapic_timer_stop();
    vc->run_state = VRUN_OFF;
    __atomic_fetch_sub(&p->vcpus_active, 1, __ATOMIC_SEQ_CST);
}
