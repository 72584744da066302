/* The emulated local APIC of one vCPU, in xAPIC mode (the MMIO page) or
 * x2APIC mode (MSRs 0x800-0x8ff, SDM Vol. 3A 11.12): registers, the
 * timer (one-shot, periodic and TSC-deadline), interrupt priority and IPI
 * decoding (SDM Vol. 3A, chapter 11 "Advanced Programmable Interrupt
 * Controller", chapter 10 in older editions).
 *
 * Everything here is arch-neutral and deterministic: time enters only as TSC
 * readings passed by the caller, so the tests drive it with a simulated clock.
 * Every value written by the guest is untrusted; no access can make the
 * emulation misbehave, only fail with -EINVAL for the caller's policy.
 *
 * Not thread-safe: one vlapic belongs to one vCPU; another vCPU's IPI must be
 * delivered (vlapic_set_irq) by, or in lock-step with, the owning CPU. */
#ifndef ISTHMUS_VMM_VLAPIC_H
#define ISTHMUS_VMM_VLAPIC_H

#include "kernel/lib/types.h"

#define VLAPIC_BASE_DEFAULT 0xfee00000ull
#define VLAPIC_PAGE_SIZE    0x1000u
#define VLAPIC_REG_LAST     0x3f0u /* highest register offset handled */

/* Register offsets (SDM Vol. 3A, Table 11-1 "Local APIC Register Address Map"). */
enum vlapic_reg {
    VLAPIC_ID = 0x020,
    VLAPIC_VERSION = 0x030,
    VLAPIC_TPR = 0x080,
    VLAPIC_APR = 0x090,
    VLAPIC_PPR = 0x0a0,
    VLAPIC_EOI = 0x0b0,
    VLAPIC_RRD = 0x0c0,
    VLAPIC_LDR = 0x0d0,
    VLAPIC_DFR = 0x0e0,
    VLAPIC_SVR = 0x0f0,
    VLAPIC_ISR0 = 0x100, /* 8 registers, 0x100-0x170 */
    VLAPIC_TMR0 = 0x180, /* 0x180-0x1f0 */
    VLAPIC_IRR0 = 0x200, /* 0x200-0x270 */
    VLAPIC_ESR = 0x280,
    VLAPIC_ICR_LO = 0x300,
    VLAPIC_ICR_HI = 0x310,
    VLAPIC_LVT_TIMER = 0x320,
    VLAPIC_LVT_THERM = 0x330,
    VLAPIC_LVT_PERF = 0x340,
    VLAPIC_LVT_LINT0 = 0x350,
    VLAPIC_LVT_LINT1 = 0x360,
    VLAPIC_LVT_ERROR = 0x370,
    VLAPIC_TIMER_ICR = 0x380, /* initial count */
    VLAPIC_TIMER_CCR = 0x390, /* current count */
    VLAPIC_TIMER_DCR = 0x3e0, /* divide configuration */
    VLAPIC_SELF_IPI = 0x3f0,  /* x2APIC only, write-only */
};

/* Version register: version 0x14 (an integrated xAPIC), max LVT entry 5 (six
 * LVT entries: timer, thermal, perf, LINT0, LINT1, error; no CMCI), no
 * EOI-broadcast suppression (bit 24 clear). */
#define VLAPIC_VERSION_VALUE 0x00050014u

#define VLAPIC_SVR_ENABLE       BIT(8)
#define VLAPIC_LVT_MASKED       BIT(16)
#define VLAPIC_LVT_PERIODIC     BIT(17)
#define VLAPIC_LVT_TSC_DEADLINE BIT(18)                                         /* the mode field's value 10b */
#define VLAPIC_LVT_TIMER_MODE   (VLAPIC_LVT_PERIODIC | VLAPIC_LVT_TSC_DEADLINE) /* 11b is reserved */
#define VLAPIC_ICR_BUSY         BIT(12)                                         /* delivery status, always reads 0 */

/* ESR bits (SDM Vol. 3A, 11.5.3 "Error Handling"). */
#define VLAPIC_ESR_SEND_ILLEGAL_VECTOR BIT(5)
#define VLAPIC_ESR_RECV_ILLEGAL_VECTOR BIT(6)
#define VLAPIC_ESR_ILLEGAL_REGISTER    BIT(7)

enum vlapic_lvt {
    VLAPIC_LVT_TIMER_IDX,
    VLAPIC_LVT_THERM_IDX,
    VLAPIC_LVT_PERF_IDX,
    VLAPIC_LVT_LINT0_IDX,
    VLAPIC_LVT_LINT1_IDX,
    VLAPIC_LVT_ERROR_IDX,
    VLAPIC_NR_LVT
};

enum vlapic_ipi_mode { VLAPIC_IPI_FIXED, VLAPIC_IPI_NMI, VLAPIC_IPI_INIT, VLAPIC_IPI_SIPI };
enum vlapic_shorthand { VLAPIC_SH_NONE, VLAPIC_SH_SELF, VLAPIC_SH_ALL_INCL, VLAPIC_SH_ALL_EXCL };

/* An IPI the guest sent by writing ICR low. The caller routes it, confined to
 * the partition's own vCPUs (the self shorthand included: it is delivered
 * back with vlapic_set_irq like any other). */
struct vlapic_ipi {
    u8 mode;      /* enum vlapic_ipi_mode; lowest priority is reported as fixed */
    u8 vector;    /* fixed: >= 16; SIPI: the start page; NMI/INIT: 0 */
    u32 dest;     /* xAPIC: ICR high[31:24], an APIC ID or logical MDA when
                   * `logical`; x2APIC: ICR[63:32], an x2APIC ID or, when
                   * `logical`, cluster (31:16) and member bits (15:0) */
    u8 shorthand; /* enum vlapic_shorthand */
    bool logical;
    bool x2apic; /* sent in x2APIC mode: `dest` is 32 bits wide */
};

struct vlapic_stats {
    u64 ro_writes;    /* writes to read-only registers, ignored */
    u64 bad_accesses; /* misaligned, out of range or reserved offsets */
    u64 timer_fired;  /* timer expiries handled by vlapic_tick */
    u64 timer_missed; /* periodic expiries skipped because ticks came late */
    u64 ipis_sent;
    u64 ipis_dropped;         /* SMI, reserved modes, INIT de-assert, bad vectors */
    u64 ipis_overwritten;     /* an IPI not taken before the next ICR write */
    u64 irqs_dropped;         /* set_irq while software-disabled or illegal */
    u64 timer_mode_reserved;  /* LVT timer writes of the reserved mode 11b, refused */
    u64 tsc_deadline_ignored; /* IA32_TSC_DEADLINE writes outside TSC-deadline mode */
    u64 tsc_deadline_writes;  /* IA32_TSC_DEADLINE writes, all modes: each one an exit */
    u64 eois;                 /* EOI register writes */
    u64 x2apic_gp;            /* x2APIC MSR accesses refused with #GP */
};

struct vlapic {
    u32 apic_id;
    u32 tpr, svr, ldr, dfr;
    u32 esr;                    /* as read: errors latched by the last ESR write */
    u32 esr_pending;            /* errors since that write */
    u32 isr[8], irr[8], tmr[8]; /* 256-bit sets, vector v is word v/32 bit v%32 */
    u32 eoi_level[8];           /* level-triggered vectors EOIed, not yet taken */
    u32 lvt[VLAPIC_NR_LVT];
    u32 icr_lo, icr_hi;
    u32 timer_initial;
    u32 timer_dcr;

    /* Timer: time base and derived state. */
    u32 tsc_khz, timer_khz;
    u64 timer_deadline; /* TSC of the next expiry; 0: stopped */
    u64 tsc_deadline;   /* IA32_TSC_DEADLINE while armed in TSC-deadline mode, else 0 */
    u64 timer_period;   /* TSC ticks of one full count with the current divider */
    u64 now;            /* latest TSC reading seen (write or tick) */

    bool ipi_pending;
    struct vlapic_ipi ipi;
    bool x2apic; /* x2APIC mode (IA32_APIC_BASE.EXTD): MSRs, not the page */

    struct vlapic_stats stats;
};

/* Architectural INIT state (SDM Vol. 3A, 11.4.7.1 and Table 9-1) for the vCPU
 * with the given APIC ID. tsc_khz is the rate of the now_tsc values later
 * passed in, timer_khz the timer's input clock before its divider; both are
 * clamped to 1 .. 2^24 kHz (16 GHz), which keeps the timer arithmetic
 * within 64 bits. */
void vlapic_init(struct vlapic *a, u32 apic_id, u32 tsc_khz, u32 timer_khz);

/* One aligned 32-bit access at `offset` into the APIC page. Returns 0, or
 * -EINVAL for an offset that is not 16-byte aligned, beyond 0x3f0 or not a
 * register (also latched in ESR bit 7); the caller stops the partition or
 * ignores the access (reads as 0) per its policy. Writes to read-only
 * registers are ignored and counted. */
/* The current count (0x390) is computed at the latest time the vlapic was
 * given (vlapic_write or vlapic_tick): an exit handler ticks before it reads. */
int vlapic_read(struct vlapic *a, u32 offset, u32 *val) __must_check;
int vlapic_write(struct vlapic *a, u32 offset, u32 val, u64 now_tsc) __must_check;

/* x2APIC mode (SDM Vol. 3A 11.12): entered when the guest sets
 * IA32_APIC_BASE.EXTD; the ID becomes 32 bits wide and the LDR fixed at
 * cluster (ID[31:4]) and member bit (1 << ID[3:0]). */
void vlapic_enable_x2apic(struct vlapic *a);
/* One x2APIC MSR (0x800 + register offset / 16). Returns 0, or -EINVAL for
 * what the architecture answers with #GP: the APIC in xAPIC mode, an MSR
 * that is no register, a read of a write-only one (EOI, self IPI), a write
 * of a read-only one, non-zero reserved bits (the upper half of a 32-bit
 * register, a non-zero EOI or ESR write). ICR is one 64-bit register. */
int vlapic_x2apic_read(struct vlapic *a, u32 msr, u64 *val) __must_check;
int vlapic_x2apic_write(struct vlapic *a, u32 msr, u64 val, u64 now_tsc) __must_check;
/* The x2APIC LDR of the APIC with that ID, for routing logical IPIs. */
u32 vlapic_x2apic_ldr(u32 apic_id);

/* The TSC at which the timer next expires, 0 when it is stopped. */
u64 vlapic_timer_deadline(const struct vlapic *a);
/* IA32_TSC_DEADLINE (SDM Vol. 3A 11.5.4.1): in TSC-deadline mode a write arms
 * the timer for that TSC (0 disarms) and a read gives the armed deadline, 0
 * once it fired; in the other modes writes are ignored and reads give 0. */
void vlapic_write_tsc_deadline(struct vlapic *a, u64 val, u64 now_tsc);
u64 vlapic_read_tsc_deadline(const struct vlapic *a);
/* Raises the timer interrupt if its deadline has passed. Periodic timers rearm
 * on their own grid (previous deadline + period), so there is no drift; if
 * several periods passed since the last call one interrupt is raised and the
 * others are counted in stats.timer_missed. Returns true if it expired. */
bool vlapic_tick(struct vlapic *a, u64 now_tsc);

/* The vector to inject next: the highest requested one whose priority class
 * is above the processor priority (TPR and in-service vector), or -1. */
int vlapic_pending(struct vlapic *a);
/* The vCPU took `vector` (normally what vlapic_pending returned): IRR -> ISR. */
void vlapic_accept(struct vlapic *a, u8 vector);
/* Undoes vlapic_accept(vector) for an interrupt whose delivery did not
 * happen (another event took its place): pending again, not in service. */
void vlapic_unaccept(struct vlapic *a, u8 vector);
/* A fixed, edge-triggered interrupt from elsewhere (IPI). Vectors 0-15 are
 * illegal: they set ESR "receive illegal vector" instead. */
void vlapic_set_irq(struct vlapic *a, u8 vector);
/* The same, level-triggered when `level` (an I/O APIC's level entry): TMR is
 * set, and the EOI that retires it is kept for vlapic_take_eoi. */
void vlapic_set_irq_trig(struct vlapic *a, u8 vector, bool level);
/* A level-triggered vector the guest EOIed since the last call, which the
 * caller broadcasts to the partition's I/O APIC (SDM Vol. 3A, 11.8.5). */
bool vlapic_take_eoi(struct vlapic *a, u8 *vector);
/* The IPI produced by the last ICR low write, once. */
bool vlapic_take_ipi(struct vlapic *a, struct vlapic_ipi *out);

/* EOI, as a write of the EOI register does: retires the highest in-service
 * vector (a level-triggered one's EOI is then kept for vlapic_take_eoi). */
void vlapic_eoi(struct vlapic *a);
/* Whether the guest may retire what it has in service without writing EOI,
 * through KVM's paravirtual EOI flag (vmm/pveoi.h): exactly one vector in
 * service, edge-triggered (a level-triggered one's EOI must reach the I/O
 * APIC at once), and none requested (a waiting vector is delivered on the
 * EOI's exit; without that exit it would wait for the next one). */
bool vlapic_pv_eoi_ok(const struct vlapic *a);

/* Processor priority (SDM Vol. 3A, 11.8.3.1). */
u32 vlapic_ppr(const struct vlapic *a);
bool vlapic_sw_enabled(const struct vlapic *a);
/* Timer divider (1..128) from the divide configuration register. */
u32 vlapic_timer_divisor(const struct vlapic *a);

#endif
