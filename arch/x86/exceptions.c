/* Exceptions stop the CPU that took them, after a register dump naming it; the
 * other CPUs (and the shell, unless it was this CPU) go on. Device and IPI
 * vectors go to registered handlers. */
#include "arch/x86/interrupts.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/vectors.h"
#include "arch/x86/apic.h"
#include "kernel/core/percpu.h"
#include "kernel/core/console.h"
#include "kernel/core/log.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

static irq_handler_fn handlers[256];
static u64 unexpected_irqs;

static const char *const exc_names[X86_NR_EXCEPTIONS] = {
    "#DE divide error",
    "#DB debug",
    "NMI",
    "#BP breakpoint",
    "#OF overflow",
    "#BR bound range",
    "#UD invalid opcode",
    "#NM device not available",
    "#DF double fault",
    "coprocessor overrun",
    "#TS invalid TSS",
    "#NP segment not present",
    "#SS stack fault",
    "#GP general protection",
    "#PF page fault",
    "reserved 15",
    "#MF x87 error",
    "#AC alignment check",
    "#MC machine check",
    "#XM SIMD error",
    "#VE virtualization",
    "#CP control protection",
    "reserved 22",
    "reserved 23",
    "reserved 24",
    "reserved 25",
    "reserved 26",
    "reserved 27",
    "#HV hypervisor injection",
    "#VC VMM communication",
    "#SX security",
    "reserved 31",
};

void irq_register(u8 vector, irq_handler_fn fn) { handlers[vector] = fn; }

static void dump_and_stop(struct int_frame *f)
{
    struct percpu *cpu = this_cpu();
    const char *name = exc_names[f->vector % X86_NR_EXCEPTIONS];
    char line[160];

    /* The console lock may be held by the code that faulted: take it only if it
     * frees up soon, and print regardless. */
    con_emergency_begin();
    ksnprintf(line, sizeof(line), "\n*** CPU %u (APIC ID %u) took exception %s (vector %llu, error 0x%llx)\n",
              cpu->index, cpu->apic_id, name, (unsigned long long)f->vector, (unsigned long long)f->error);
    con_write(line, strlen(line));
    con_printf("    RIP %016llx  CS %04llx  RFLAGS %016llx\n", (unsigned long long)f->rip, (unsigned long long)f->cs,
               (unsigned long long)f->rflags);
    con_printf("    RSP %016llx  SS %04llx\n", (unsigned long long)f->rsp, (unsigned long long)f->ss);
    con_printf("    RAX %016llx  RBX %016llx  RCX %016llx\n", (unsigned long long)f->rax, (unsigned long long)f->rbx,
               (unsigned long long)f->rcx);
    con_printf("    RDX %016llx  RSI %016llx  RDI %016llx\n", (unsigned long long)f->rdx, (unsigned long long)f->rsi,
               (unsigned long long)f->rdi);
    con_printf("    RBP %016llx  R8  %016llx  R9  %016llx\n", (unsigned long long)f->rbp, (unsigned long long)f->r8,
               (unsigned long long)f->r9);
    con_printf("    R10 %016llx  R11 %016llx  R12 %016llx\n", (unsigned long long)f->r10, (unsigned long long)f->r11,
               (unsigned long long)f->r12);
    con_printf("    R13 %016llx  R14 %016llx  R15 %016llx\n", (unsigned long long)f->r13, (unsigned long long)f->r14,
               (unsigned long long)f->r15);
    con_printf("    CR0 %016llx  CR2 %016llx  CR3 %016llx  CR4 %016llx\n", (unsigned long long)read_cr0(),
               (unsigned long long)read_cr2(), (unsigned long long)read_cr3(), (unsigned long long)read_cr4());
    con_printf("*** CPU %u stopped%s\n", cpu->index, cpu->index == 0 ? " (it ran the shell: reset the machine)" : "");
    con_emergency_end();

    ksnprintf(cpu->halt_reason, sizeof(cpu->halt_reason), "%s at %llx", name, (unsigned long long)f->rip);
    cpu->state = CPU_HALTED;
    log_err("cpu", "CPU %u stopped: %s at RIP %llx", cpu->index, name, (unsigned long long)f->rip);
    cpu_halt_forever();
}

void interrupt_dispatch(struct int_frame *f)
{
    if (f->vector < X86_NR_EXCEPTIONS && f->vector != X86_EXC_NMI) {
        dump_and_stop(f);
        return;
    }
    this_cpu()->irqs++;
    irq_handler_fn h = handlers[f->vector & 0xff];
    if (h) {
        h(f);
    } else if (f->vector != VEC_SPURIOUS && f->vector != X86_EXC_NMI) {
        unexpected_irqs++;
        if (unexpected_irqs < 10)
            log_warn("irq", "CPU %u: unexpected interrupt vector %llu", this_cpu()->index,
                     (unsigned long long)f->vector);
    }
    /* Spurious-vector interrupts and NMIs must not be acknowledged (SDM 10.9). */
    if (f->vector >= X86_NR_EXCEPTIONS && f->vector != VEC_SPURIOUS)
        lapic_eoi();
}

__noreturn void cpu_halt_forever(void)
{
    for (;;)
        __asm__ volatile("cli; hlt" ::: "memory");
}
