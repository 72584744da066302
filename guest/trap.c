/* The IDT: every exception prints one line and halts its vCPU (except the #GP
 * the hostile scenario provokes on purpose, and what exception_hook claims:
 * the paging scenario's faults); the few interrupt vectors the
 * guest programs are counted; anything else is reported and acknowledged. */
#include "guest/tg.h"
#include "guest/x86.h"

struct idt_gate {
    uint16_t offset_lo;
    uint16_t selector;
    uint8_t ist;
    uint8_t attr;             /* present, DPL 0, type 0xe: 64-bit interrupt gate */
    uint16_t offset_mid;
    uint32_t offset_hi;
    uint32_t reserved;
} __attribute__((packed));
_Static_assert(sizeof(struct idt_gate) == 16, "IDT gates are 16 bytes in long mode");

#define GDT_CODE64   0x18
#define GATE_INTR64  0x8e
#define STUB_SIZE    16       /* entry.S spaces the stubs this far apart */

static struct idt_gate idt[256] __attribute__((aligned(16)));
extern const char trap_stubs[];

volatile uint64_t timer_ticks;
volatile uint32_t hostile_ipis;
volatile bool gp_recover;
volatile uint32_t gp_count;
volatile uint64_t gp_error;
volatile uint64_t net_rx_irqs, net_tx_irqs, net_cfg_irqs;
volatile uint64_t abuse_irqs;
bool (*volatile exception_hook)(struct trap_frame *f);

static const char *const exception_names[32] = {
    "#DE", "#DB", "NMI", "#BP", "#OF", "#BR", "#UD", "#NM",
    "#DF", "#CSO", "#TS", "#NP", "#SS", "#GP", "#PF", "#15",
    "#MF", "#AC", "#MC", "#XM", "#VE", "#CP", "#22", "#23",
    "#24", "#25", "#26", "#27", "#HV", "#VC", "#SX", "#31",
};

void trap_load(void)
{
    struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) ptr = { sizeof(idt) - 1, (uint64_t)(uintptr_t)idt };
    __asm__ volatile("lidt %0" :: "m"(ptr));
}

void trap_init(void)
{
    for (unsigned v = 0; v < 256; v++) {
        uint64_t a = (uintptr_t)trap_stubs + v * STUB_SIZE;
        idt[v] = (struct idt_gate){
            .offset_lo = (uint16_t)a, .selector = GDT_CODE64, .attr = GATE_INTR64,
            .offset_mid = (uint16_t)(a >> 16), .offset_hi = (uint32_t)(a >> 32),
        };
    }
    trap_load();
}

void halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt");
}

/* RDMSR is 0f 32, WRMSR 0f 30: the only instructions whose #GP is survivable. */
static bool is_msr_insn(uint64_t rip)
{
    const volatile uint8_t *p = (const volatile uint8_t *)(uintptr_t)rip;
    return p[0] == 0x0f && (p[1] == 0x30 || p[1] == 0x32);
}

static void exception(struct trap_frame *f)
{
    bool (*hook)(struct trap_frame *) = exception_hook;
    if (hook && hook(f))
        return;
    if (f->vector == 13 && gp_recover && is_msr_insn(f->rip)) {
        gp_error = f->error;
        gp_count++;
        say_from_trap("hostile: #GP error 0x%lx at rip 0x%lx (%s), resuming after it", f->error, f->rip,
                      ((const volatile uint8_t *)(uintptr_t)f->rip)[1] == 0x32 ? "rdmsr" : "wrmsr");
        f->rip += 2;
        return;
    }
    uint32_t id = apic_id();
    int cpu = cpu_index_of(id);
    if (f->vector == 14)
        say_from_trap("exception %lu %s error 0x%lx rip 0x%lx cr2 0x%lx on vcpu %d (APIC ID %u), halting",
                      f->vector, exception_names[f->vector], f->error, f->rip, read_cr2(), cpu, id);
    else
        say_from_trap("exception %lu %s error 0x%lx rip 0x%lx on vcpu %d (APIC ID %u), halting",
                      f->vector, exception_names[f->vector], f->error, f->rip, cpu, id);
    halt_forever();
}

void trap(struct trap_frame *f);
void trap(struct trap_frame *f)
{
    if (f->vector < 32) {
        exception(f);
        return;
    }
    switch (f->vector) {
    case VEC_TIMER:
        timer_ticks++;
        break;
    case VEC_HOSTILE:
        hostile_ipis++;
        break;
    case VEC_IPIWAKE:
        ipiwake_irqs++;
        break;
    case VEC_MSI:
        msi_count++;
        break;
    case VEC_MSIX0:
    case VEC_MSIX1:
        msix_count[f->vector - VEC_MSIX0]++;
        break;
    case VEC_NET:
        net_rx_irqs++;
        break;
    case VEC_NET_TX:
        net_tx_irqs++;
        break;
    case VEC_NET_CFG:
        net_cfg_irqs++;
        break;
    case VEC_UART:
        echo_irq();
        break;
    case VEC_SPURIOUS:
        return;                 /* a spurious interrupt takes no EOI */
    case VEC_ABUSE ... VEC_ABUSE + 15:
        abuse_irqs++;
        break;
    default:
        say_from_trap("unexpected interrupt vector 0x%lx on APIC ID %u", f->vector, apic_id());
        break;
    }
    apic_eoi();
}

void triple_fault(void)
{
    static const struct {
        uint16_t limit;
        uint64_t base;
    } __attribute__((packed)) empty = { 0, 0 };
    /* INT3 finds no IDT entry: #GP, which finds none either: #DF, none: shutdown. */
    __asm__ volatile("lidt %0; int3" :: "m"(empty) : "memory");
}
