/* See vlapic.h. Section numbers are SDM Vol. 3A, chapter 11 (APIC). */
#include "vmm/vlapic.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "arch/x86/hw/msr.h"
#include "arch/x86/hw/vectors.h"

#define KHZ_MAX (1u << 24)

/* Writable bits of each register; the rest read as 0 (or 1, DFR). */
#define TPR_MASK       0x000000ffu
#define LDR_MASK       0xff000000u
#define DFR_MODEL_MASK 0xf0000000u
#define DFR_ONES       0x0fffffffu
#define SVR_MASK       0x000003ffu /* vector, software enable, focus checking */
#define ICR_LO_MASK    0x000ccfffu /* all but delivery status (12) and reserved */
#define ICR_HI_MASK    0xff000000u
#define DCR_MASK       0x0000000bu

/* LVT fields (11.5.1, Figure 11-8): delivery status (12) and remote IRR (14)
 * are read-only and always 0 here: deliveries are immediate and nothing is
 * level-triggered. */
static const u32 lvt_mask[VLAPIC_NR_LVT] = {
    [VLAPIC_LVT_TIMER_IDX] = 0x000700ffu, /* vector, mask, timer mode (bits 18:17) */
    [VLAPIC_LVT_THERM_IDX] = 0x000107ffu, /* vector, delivery mode, mask */
    [VLAPIC_LVT_PERF_IDX] = 0x000107ffu,  [VLAPIC_LVT_LINT0_IDX] = 0x0001a7ffu, /* + polarity, trigger mode */
    [VLAPIC_LVT_LINT1_IDX] = 0x0001a7ffu, [VLAPIC_LVT_ERROR_IDX] = 0x000100ffu, /* vector, mask */
};

/* ICR low fields (11.6.1, Figure 11-12). */
#define ICR_VECTOR(v)    ((v)&0xffu)
#define ICR_MODE(v)      (((v) >> 8) & 7u)
#define ICR_LOGICAL      BIT(11)
#define ICR_ASSERT       BIT(14)
#define ICR_LEVEL        BIT(15)
#define ICR_SHORTHAND(v) (((v) >> 18) & 3u)
enum { DM_FIXED = 0, DM_LOWEST = 1, DM_SMI = 2, DM_NMI = 4, DM_INIT = 5, DM_SIPI = 6 };

/* ------------------------------------------------------------------ 256-bit sets */

static bool vset_test(const u32 *s, u8 v) { return s[v >> 5] & (1u << (v & 31)); }
static void vset_set(u32 *s, u8 v) { s[v >> 5] |= 1u << (v & 31); }
static void vset_clear(u32 *s, u8 v) { s[v >> 5] &= ~(1u << (v & 31)); }

static int vset_highest(const u32 *s)
{
    for (int w = 7; w >= 0; w--)
        if (s[w])
            return w * 32 + 31 - __builtin_clz(s[w]);
    return -1;
}

/* ------------------------------------------------------------------ errors and IRR */

bool vlapic_sw_enabled(const struct vlapic *a) { return a->svr & VLAPIC_SVR_ENABLE; }

static void raise_irr(struct vlapic *a, u8 vector);

/* 11.5.3: errors accumulate until the next ESR write latches them; each one
 * also signals through the error LVT unless it is masked. */
static void esr_error(struct vlapic *a, u32 bit)
{
    a->esr_pending |= bit;
    u32 lvt = a->lvt[VLAPIC_LVT_ERROR_IDX];
    /* An illegal error vector is not reported again: no recursion. */
    if (!(lvt & VLAPIC_LVT_MASKED) && ICR_VECTOR(lvt) >= APIC_MIN_VECTOR)
        raise_irr(a, (u8)ICR_VECTOR(lvt));
}

/* Vectors 0-15 are reserved for exceptions; the APIC refuses them (11.5.2). */
static void raise_irr(struct vlapic *a, u8 vector)
{
    if (vector < APIC_MIN_VECTOR) {
        a->stats.irqs_dropped++;
        esr_error(a, VLAPIC_ESR_RECV_ILLEGAL_VECTOR);
        return;
    }
    vset_set(a->irr, vector);
    vset_clear(a->tmr, vector); /* edge-triggered */
}

void vlapic_set_irq_trig(struct vlapic *a, u8 vector, bool level)
{
    /* 11.4.7.2: a software-disabled APIC accepts no fixed interrupts. */
    if (!vlapic_sw_enabled(a)) {
        a->stats.irqs_dropped++;
        return;
    }
    raise_irr(a, vector);
    /* 11.8.4: TMR is set for level-triggered interrupts, so that their EOI
     * is broadcast to the I/O APICs. */
    if (level && vector >= APIC_MIN_VECTOR)
        vset_set(a->tmr, vector);
}

void vlapic_set_irq(struct vlapic *a, u8 vector) { vlapic_set_irq_trig(a, vector, false); }

bool vlapic_take_eoi(struct vlapic *a, u8 *vector)
{
    int v = vset_highest(a->eoi_level);
    if (v < 0)
        return false;
    vset_clear(a->eoi_level, (u8)v);
    *vector = (u8)v;
    return true;
}

/* ------------------------------------------------------------------ priority */

u32 vlapic_ppr(const struct vlapic *a)
{
    int isrv = vset_highest(a->isr);
    u32 isr_class = isrv < 0 ? 0 : ((u32)isrv & 0xf0u);
    /* 11.8.3.1: PPR = TPR if TPR[7:4] >= ISRV[7:4], else ISRV[7:4]:0. */
    return (a->tpr & 0xf0u) >= isr_class ? a->tpr : isr_class;
}

int vlapic_pending(struct vlapic *a)
{
    int v = vset_highest(a->irr);
    if (v < 0)
        return -1;
    /* 11.8.3: only a priority class above PPR's is dispatched. */
    return ((u32)v & 0xf0u) > (vlapic_ppr(a) & 0xf0u) ? v : -1;
}

void vlapic_accept(struct vlapic *a, u8 vector)
{
    if (!vset_test(a->irr, vector))
        return;
    vset_clear(a->irr, vector);
    vset_set(a->isr, vector);
}

void vlapic_unaccept(struct vlapic *a, u8 vector)
{
    if (!vset_test(a->isr, vector))
        return;
    vset_clear(a->isr, vector);
    vset_set(a->irr, vector);
}

void vlapic_eoi(struct vlapic *a)
{
    a->stats.eois++;
    /* 11.8.5: EOI retires the highest-priority in-service interrupt. */
    int v = vset_highest(a->isr);
    if (v >= 0) {
        vset_clear(a->isr, (u8)v);
        /* A level-triggered one: its EOI goes on to the I/O APIC (11.8.5). */
        if (vset_test(a->tmr, (u8)v))
            vset_set(a->eoi_level, (u8)v);
        vset_clear(a->tmr, (u8)v);
    }
}

bool vlapic_pv_eoi_ok(const struct vlapic *a)
{
    u32 words = 0; /* ISR words with a bit set; one of them with exactly one */
    bool single = false;
    for (int w = 0; w < 8; w++) {
        if (a->irr[w])
            return false;
        if (a->isr[w]) {
            words++;
            single = !(a->isr[w] & (a->isr[w] - 1));
        }
    }
    return words == 1 && single && !vset_test(a->tmr, (u8)vset_highest(a->isr));
}

/* ------------------------------------------------------------------ timer */

u32 vlapic_timer_divisor(const struct vlapic *a)
{
    /* 11.5.4, Figure 11-10: bits 3,1,0 form a 3-bit code; 0b111 divides by 1,
     * otherwise by 2^(code+1). */
    u32 code = ((a->timer_dcr & 8u) >> 1) | (a->timer_dcr & 3u);
    return 1u << ((code + 1) & 7u);
}

/* TSC ticks for `count` timer counts at `div`, to the nearest tick. With both
 * frequencies <= 2^24 kHz and div <= 128: count * div * tsc_khz < 2^63. */
static u64 tsc_for_count(const struct vlapic *a, u64 count, u32 div)
{
    u64 t = (count * div * a->tsc_khz + a->timer_khz / 2) / a->timer_khz;
    return t ? t : 1;
}

static bool deadline_mode(const struct vlapic *a)
{
    return (a->lvt[VLAPIC_LVT_TIMER_IDX] & VLAPIC_LVT_TIMER_MODE) == VLAPIC_LVT_TSC_DEADLINE;
}

/* Counts left at `now`: rounded up, so a just-started timer reads the initial count.
 * Always 0 in TSC-deadline mode (11.5.4.1). */
static u32 current_count(const struct vlapic *a, u64 now)
{
    if (!a->timer_deadline || !a->timer_initial || deadline_mode(a))
        return 0;
    u64 rem;
    if (now < a->timer_deadline)
        rem = a->timer_deadline - now;
    else if (a->lvt[VLAPIC_LVT_TIMER_IDX] & VLAPIC_LVT_PERIODIC)
        rem = a->timer_period - (now - a->timer_deadline) % a->timer_period;
    else
        return 0; /* expired one-shot not yet ticked */
    if (rem > a->timer_period)
        rem = a->timer_period; /* `now` before the start: full count */
    u64 per = (u64)a->tsc_khz * vlapic_timer_divisor(a);
    u64 c = (rem * a->timer_khz + per - 1) / per;
    return c > a->timer_initial ? a->timer_initial : (u32)c;
}

static void timer_start(struct vlapic *a, u64 now)
{
    if (deadline_mode(a))
        return; /* 11.5.4.1: the initial count is ignored in TSC-deadline mode */
    if (!a->timer_initial) {
        a->timer_deadline = 0; /* 11.5.4: a zero initial count stops the timer */
        return;
    }
    a->timer_period = tsc_for_count(a, a->timer_initial, vlapic_timer_divisor(a));
    a->timer_deadline = now + a->timer_period;
    if (!a->timer_deadline)
        a->timer_deadline = 1;
}

/* A new divider while counting: keep the counts left, at the new rate. */
static void timer_set_dcr(struct vlapic *a, u32 val, u64 now)
{
    u32 left = current_count(a, now);
    bool running = a->timer_deadline && a->timer_initial && now < a->timer_deadline;
    bool periodic = a->lvt[VLAPIC_LVT_TIMER_IDX] & VLAPIC_LVT_PERIODIC;
    a->timer_dcr = val & DCR_MASK;
    if (!a->timer_initial || deadline_mode(a))
        return;
    a->timer_period = tsc_for_count(a, a->timer_initial, vlapic_timer_divisor(a));
    if (running || (periodic && a->timer_deadline))
        a->timer_deadline = now + (left ? tsc_for_count(a, left, vlapic_timer_divisor(a)) : 0);
}

u64 vlapic_timer_deadline(const struct vlapic *a) { return a->timer_deadline; }

/* 11.5.4.1: in TSC-deadline mode a non-zero IA32_TSC_DEADLINE arms the timer
 * for that TSC value (one in the past fires at once) and 0 disarms it; in the
 * other modes writes are ignored and reads return 0. */
void vlapic_write_tsc_deadline(struct vlapic *a, u64 val, u64 now)
{
    a->now = now;
    a->stats.tsc_deadline_writes++;
    if (!deadline_mode(a)) {
        a->stats.tsc_deadline_ignored++;
        return;
    }
    a->tsc_deadline = val;
    a->timer_deadline = val;
}

u64 vlapic_read_tsc_deadline(const struct vlapic *a) { return deadline_mode(a) ? a->tsc_deadline : 0; }

/* A write to the LVT timer register: the reserved mode 11b is refused (the
 * previous mode stays), and a change into or out of TSC-deadline mode disarms
 * the timer (11.5.4.1). One-shot <-> periodic keeps counting, as before. */
static u32 timer_lvt_write(struct vlapic *a, u32 val)
{
    u32 old = a->lvt[VLAPIC_LVT_TIMER_IDX] & VLAPIC_LVT_TIMER_MODE;
    if ((val & VLAPIC_LVT_TIMER_MODE) == VLAPIC_LVT_TIMER_MODE) {
        a->stats.timer_mode_reserved++;
        val = (val & ~VLAPIC_LVT_TIMER_MODE) | old;
    }
    bool was = old == VLAPIC_LVT_TSC_DEADLINE, is = (val & VLAPIC_LVT_TIMER_MODE) == VLAPIC_LVT_TSC_DEADLINE;
    if (was != is) {
        a->timer_deadline = 0;
        a->tsc_deadline = 0;
        a->timer_initial = 0;
    }
    return val;
}

bool vlapic_tick(struct vlapic *a, u64 now)
{
    a->now = now;
    if (!a->timer_deadline || now < a->timer_deadline)
        return false;
    u32 lvt = a->lvt[VLAPIC_LVT_TIMER_IDX];
    a->stats.timer_fired++;
    /* A masked timer keeps counting and rearming; it just interrupts nobody. */
    if (!(lvt & VLAPIC_LVT_MASKED))
        raise_irr(a, (u8)ICR_VECTOR(lvt));
    if (deadline_mode(a)) {
        a->timer_deadline = 0; /* one expiry per deadline; IA32_TSC_DEADLINE reads 0 after it */
        a->tsc_deadline = 0;
    } else if (lvt & VLAPIC_LVT_PERIODIC) {
        /* Rearm on the grid start + N * period; late ticks drop (and count)
         * the periods they missed instead of bursting interrupts. */
        u64 missed = (now - a->timer_deadline) / a->timer_period;
        a->stats.timer_missed += missed;
        a->timer_deadline += (missed + 1) * a->timer_period;
    } else {
        a->timer_deadline = 0;
    }
    return true;
}

/* ------------------------------------------------------------------ IPIs */

static void send_ipi(struct vlapic *a, u32 icr)
{
    struct vlapic_ipi ipi = {
        .vector = 0,
        .dest = a->x2apic ? a->icr_hi : a->icr_hi >> 24,
        .shorthand = (u8)ICR_SHORTHAND(icr),
        .logical = icr & ICR_LOGICAL,
        .x2apic = a->x2apic,
    };
    switch (ICR_MODE(icr)) {
    case DM_FIXED:
    case DM_LOWEST: /* arbitration is the router's business: deliver as fixed */
        if (ICR_VECTOR(icr) < APIC_MIN_VECTOR) {
            esr_error(a, VLAPIC_ESR_SEND_ILLEGAL_VECTOR);
            goto drop;
        }
        ipi.mode = VLAPIC_IPI_FIXED;
        ipi.vector = (u8)ICR_VECTOR(icr);
        break;
    case DM_NMI: ipi.mode = VLAPIC_IPI_NMI; break;
    case DM_INIT:
        /* INIT level de-assert (level trigger, de-assert) only synchronised
         * arbitration IDs on old parts; it does nothing since the Pentium 4. */
        if ((icr & ICR_LEVEL) && !(icr & ICR_ASSERT))
            goto drop;
        ipi.mode = VLAPIC_IPI_INIT;
        break;
    case DM_SIPI:
        ipi.mode = VLAPIC_IPI_SIPI;
        ipi.vector = (u8)ICR_VECTOR(icr);
        break;
    default: /* SMI is not offered to guests; 3 and 7 are reserved */ goto drop;
    }
    /* 11.6.1: the self shorthand is only valid with fixed delivery. */
    if (ipi.shorthand == VLAPIC_SH_SELF && ipi.mode != VLAPIC_IPI_FIXED)
        goto drop;
    if (a->ipi_pending)
        a->stats.ipis_overwritten++;
    a->ipi = ipi;
    a->ipi_pending = true;
    a->stats.ipis_sent++;
    return;
drop:
    a->stats.ipis_dropped++;
}

bool vlapic_take_ipi(struct vlapic *a, struct vlapic_ipi *out)
{
    if (!a->ipi_pending)
        return false;
    *out = a->ipi;
    a->ipi_pending = false;
    return true;
}

/* ------------------------------------------------------------------ registers */

void vlapic_init(struct vlapic *a, u32 apic_id, u32 tsc_khz, u32 timer_khz)
{
    memset(a, 0, sizeof(*a));
    a->apic_id = apic_id;
    a->tsc_khz = tsc_khz ? MIN(tsc_khz, KHZ_MAX) : 1;
    a->timer_khz = timer_khz ? MIN(timer_khz, KHZ_MAX) : 1;
    /* 11.4.7.1: after INIT, DFR is all ones, SVR 0xff (software disabled),
     * every LVT masked; everything else (TPR, IRR, ISR, timer, ICR...) is 0. */
    a->dfr = 0xffffffffu;
    a->svr = 0xffu;
    for (int i = 0; i < VLAPIC_NR_LVT; i++)
        a->lvt[i] = VLAPIC_LVT_MASKED;
}

static int lvt_index(u32 offset)
{
    if (offset < VLAPIC_LVT_TIMER || offset > VLAPIC_LVT_ERROR)
        return -1;
    return (int)((offset - VLAPIC_LVT_TIMER) >> 4);
}

static bool offset_ok(struct vlapic *a, u32 offset)
{
    if ((offset & 0xf) || offset > VLAPIC_REG_LAST) {
        a->stats.bad_accesses++;
        esr_error(a, VLAPIC_ESR_ILLEGAL_REGISTER);
        return false;
    }
    return true;
}

static int bad_register(struct vlapic *a)
{
    a->stats.bad_accesses++;
    esr_error(a, VLAPIC_ESR_ILLEGAL_REGISTER);
    return -EINVAL;
}

int vlapic_read(struct vlapic *a, u32 offset, u32 *val)
{
    *val = 0;
    if (!offset_ok(a, offset))
        return -EINVAL;
    int lvt = lvt_index(offset);
    if (lvt >= 0) {
        *val = a->lvt[lvt];
        return 0;
    }
    if (offset >= VLAPIC_ISR0 && offset < VLAPIC_ISR0 + 0x80) {
        *val = a->isr[(offset - VLAPIC_ISR0) >> 4];
        return 0;
    }
    if (offset >= VLAPIC_TMR0 && offset < VLAPIC_TMR0 + 0x80) {
        *val = a->tmr[(offset - VLAPIC_TMR0) >> 4];
        return 0;
    }
    if (offset >= VLAPIC_IRR0 && offset < VLAPIC_IRR0 + 0x80) {
        *val = a->irr[(offset - VLAPIC_IRR0) >> 4];
        return 0;
    }
    switch (offset) {
    case VLAPIC_ID: *val = (a->apic_id & 0xffu) << 24; break; /* xAPIC IDs are 8-bit */
    case VLAPIC_VERSION: *val = VLAPIC_VERSION_VALUE; break;
    case VLAPIC_TPR: *val = a->tpr; break;
    case VLAPIC_APR: *val = 0; break; /* no bus arbitration to report */
    case VLAPIC_PPR: *val = vlapic_ppr(a); break;
    case VLAPIC_EOI: *val = 0; break; /* write-only */
    case VLAPIC_RRD: *val = 0; break; /* remote read is not supported */
    case VLAPIC_LDR: *val = a->ldr; break;
    case VLAPIC_DFR: *val = a->dfr; break;
    case VLAPIC_SVR: *val = a->svr; break;
    case VLAPIC_ESR: *val = a->esr; break;
    case VLAPIC_ICR_LO: *val = a->icr_lo; break; /* delivery status 0: sends are immediate */
    case VLAPIC_ICR_HI: *val = a->icr_hi; break;
    case VLAPIC_TIMER_ICR: *val = a->timer_initial; break;
    case VLAPIC_TIMER_CCR: *val = current_count(a, a->now); break;
    case VLAPIC_TIMER_DCR: *val = a->timer_dcr; break;
    default: return bad_register(a);
    }
    return 0;
}

int vlapic_write(struct vlapic *a, u32 offset, u32 val, u64 now)
{
    a->now = now;
    if (!offset_ok(a, offset))
        return -EINVAL;
    int lvt = lvt_index(offset);
    if (lvt >= 0) {
        val &= lvt_mask[lvt];
        if (lvt == VLAPIC_LVT_TIMER_IDX)
            val = timer_lvt_write(a, val);
        /* 11.4.7.2: while software-disabled, LVT mask bits cannot be cleared. */
        if (!vlapic_sw_enabled(a))
            val |= VLAPIC_LVT_MASKED;
        a->lvt[lvt] = val;
        return 0;
    }
    if (offset >= VLAPIC_ISR0 && offset < VLAPIC_IRR0 + 0x80) {
        a->stats.ro_writes++; /* ISR, TMR, IRR */
        return 0;
    }
    switch (offset) {
    case VLAPIC_ID: /* fixed: the partition's MADT and IPI routing use it */
    case VLAPIC_VERSION:
    case VLAPIC_APR:
    case VLAPIC_PPR:
    case VLAPIC_RRD:
    case VLAPIC_TIMER_CCR: a->stats.ro_writes++; break;
    case VLAPIC_TPR: a->tpr = val & TPR_MASK; break;
    case VLAPIC_EOI: vlapic_eoi(a); break;
    case VLAPIC_LDR: a->ldr = val & LDR_MASK; break;
    case VLAPIC_DFR: a->dfr = (val & DFR_MODEL_MASK) | DFR_ONES; break;
    case VLAPIC_SVR:
        a->svr = val & SVR_MASK;
        if (!vlapic_sw_enabled(a))
            for (int i = 0; i < VLAPIC_NR_LVT; i++)
                a->lvt[i] |= VLAPIC_LVT_MASKED;
        break;
    case VLAPIC_ESR:
        a->esr = a->esr_pending; /* 11.5.3: a write latches, then clears */
        a->esr_pending = 0;
        break;
    case VLAPIC_ICR_HI: a->icr_hi = val & ICR_HI_MASK; break;
    case VLAPIC_ICR_LO:
        a->icr_lo = val & ICR_LO_MASK;
        send_ipi(a, a->icr_lo);
        break;
    case VLAPIC_TIMER_ICR:
        a->timer_initial = val;
        timer_start(a, now);
        break;
    case VLAPIC_TIMER_DCR: timer_set_dcr(a, val, now); break;
    default: return bad_register(a);
    }
    return 0;
}

/* ------------------------------------------------------------------ x2APIC */

u32 vlapic_x2apic_ldr(u32 apic_id) { return ((apic_id >> 4) << 16) | (1u << (apic_id & 0xf)); }

void vlapic_enable_x2apic(struct vlapic *a)
{
    a->x2apic = true;
    a->ldr = vlapic_x2apic_ldr(a->apic_id);
}

static int x2apic_gp(struct vlapic *a)
{
    a->stats.x2apic_gp++;
    return -EINVAL;
}

/* The register offset of an x2APIC MSR, or -1 for one that is no register
 * in x2APIC mode (SDM Vol. 3A, Table 11-6): no DFR, no ICR high half (ICR is
 * one 64-bit MSR), APR and RRD gone, and nothing above self IPI. */
static int x2apic_offset(u32 msr)
{
    if (msr < MSR_X2APIC_BASE || msr > MSR_X2APIC_BASE + (VLAPIC_REG_LAST >> 4))
        return -1;
    u32 off = (msr - MSR_X2APIC_BASE) << 4;
    switch (off) {
    case VLAPIC_DFR:
    case VLAPIC_ICR_HI:
    case VLAPIC_APR:
    case VLAPIC_RRD: return -1;
    default: return (int)off;
    }
}

int vlapic_x2apic_read(struct vlapic *a, u32 msr, u64 *val)
{
    int off = x2apic_offset(msr);
    if (!a->x2apic || off < 0)
        return x2apic_gp(a);
    u32 v;
    switch (off) {
    case VLAPIC_ID: *val = a->apic_id; return 0;
    case VLAPIC_LDR: *val = a->ldr; return 0;
    case VLAPIC_ICR_LO: *val = ((u64)a->icr_hi << 32) | a->icr_lo; return 0;
    case VLAPIC_EOI:
    case VLAPIC_SELF_IPI: return x2apic_gp(a); /* write-only */
    default:
        if (vlapic_read(a, (u32)off, &v) < 0)
            return x2apic_gp(a);
        *val = v;
        return 0;
    }
}

int vlapic_x2apic_write(struct vlapic *a, u32 msr, u64 val, u64 now)
{
    int off = x2apic_offset(msr);
    if (!a->x2apic || off < 0)
        return x2apic_gp(a);
    a->now = now;
    if (off == VLAPIC_ICR_LO) {
        /* One write sends: destination in the high half, as it is. */
        if (val & ~(((u64)0xffffffffu << 32) | ICR_LO_MASK))
            return x2apic_gp(a);
        a->icr_hi = (u32)(val >> 32);
        a->icr_lo = (u32)val & ICR_LO_MASK;
        send_ipi(a, a->icr_lo);
        return 0;
    }
    if (val >> 32)
        return x2apic_gp(a); /* every other register is 32 bits wide */
    u32 v = (u32)val;
    switch (off) {
    case VLAPIC_ID:
    case VLAPIC_VERSION:
    case VLAPIC_PPR:
    case VLAPIC_LDR:
    case VLAPIC_TIMER_CCR: return x2apic_gp(a); /* read-only in x2APIC mode */
    case VLAPIC_EOI:
    case VLAPIC_ESR:
        if (v)
            return x2apic_gp(a); /* both take only 0 */
        break;
    case VLAPIC_SELF_IPI:
        if (v & ~0xffu)
            return x2apic_gp(a);
        /* A fixed, edge-triggered IPI to oneself, as ICR with the self
         * shorthand would send (an illegal vector sets ESR). */
        if (v < APIC_MIN_VECTOR) {
            esr_error(a, VLAPIC_ESR_SEND_ILLEGAL_VECTOR);
            return 0;
        }
        vlapic_set_irq(a, (u8)v);
        a->stats.ipis_sent++;
        return 0;
    default: break;
    }
    if (off >= VLAPIC_ISR0 && off < VLAPIC_IRR0 + 0x80)
        return x2apic_gp(a); /* ISR, TMR, IRR: read-only */
    return vlapic_write(a, (u32)off, v, now) < 0 ? x2apic_gp(a) : 0;
}
