/* INIT-SIPI-SIPI start-up (SDM Vol. 3A 8.4.4.1) and the idle loop of the APs. */
#include "arch/x86/smp.h"
#include "arch/x86/apic.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/interrupts.h"
#include "arch/x86/paging.h"
#include "arch/x86/segments.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"

extern const u8 trampoline_start[], trampoline_end[];

/* Must match the D_* offsets in trampoline.asm. */
struct trampoline_data {
    u32 cr3;
    u32 pad0;
    u64 stack;
    u64 entry;
    u64 percpu;
    volatile u32 started;
    u32 pad1;
    u16 gdt_limit;
    u32 gdt_base;
    u16 pad2;
    u32 far32_off;
    u16 far32_sel;
    u16 pad3;
    u32 far64_off;
    u16 far64_sel;
    u16 pad4;
    u64 gdt[4];
} __packed;
STATIC_ASSERT(__builtin_offsetof(struct trampoline_data, stack) == 0x08, "D_STACK");
STATIC_ASSERT(__builtin_offsetof(struct trampoline_data, started) == 0x20, "D_STARTED");
STATIC_ASSERT(__builtin_offsetof(struct trampoline_data, gdt_limit) == 0x28, "D_GDTR");
STATIC_ASSERT(__builtin_offsetof(struct trampoline_data, far32_off) == 0x30, "D_FAR32");
STATIC_ASSERT(__builtin_offsetof(struct trampoline_data, far64_off) == 0x38, "D_FAR64");
STATIC_ASSERT(__builtin_offsetof(struct trampoline_data, gdt) == 0x40, "D_GDT");

#define TRAMP_MARKER 0x50414d54u

static hpa_t tramp;
static u32 pm32_off, lm64_off;

int smp_install_trampoline(const struct boot_info *bi)
{
    /* The assembler's bounds of one blob; to a C checker, two objects. */
    // cppcheck-suppress comparePointers
    size_t len = trampoline_end - trampoline_start;
    if (!bi->trampoline)
        return -ENODEV;
    if (len > PAGE_SIZE || len < 12)
        return -E2BIG;
    /* Laundered through an integer: the compiler cannot know the blob's length. */
    u32 tail[3];
    memcpy(tail, (const void *)((uintptr_t)trampoline_end - sizeof(tail)), sizeof(tail));
    if (tail[0] != TRAMP_MARKER)
        return -ENOEXEC;
    pm32_off = tail[1];
    lm64_off = tail[2];
    tramp = bi->trampoline;
    memcpy(hpa_to_ptr(tramp), trampoline_start, len);
    return 0;
}

static void wake_handler(struct int_frame *f) { (void)f; }

static __noreturn void ap_idle(struct percpu *cpu)
{
    for (;;) {
        irq_disable();
        cpu_work_fn fn = cpu->work_fn;
        if (fn) {
            cpu->state = CPU_BUSY;
            irq_enable();
            fn(cpu->work_arg);
            irq_disable();
            cpu->work_fn = NULL;
            if (cpu->state == CPU_BUSY)
                cpu->state = CPU_ONLINE;
            continue;
        }
        irq_enable_and_halt();
    }
}

/* The first C code an AP runs, on its own stack, with the boot page tables. */
static __noreturn void ap_entry(struct percpu *cpu)
{
    segments_init_cpu(cpu);
    lapic_init_ap();
    cpu->apic_id = lapic_id();
    __atomic_fetch_add(&cpus_online_count, 1, __ATOMIC_SEQ_CST);
    __atomic_store_n(&cpu->state, CPU_ONLINE, __ATOMIC_RELEASE);
    ap_idle(cpu);
}

int smp_start_cpu(struct percpu *cpu, void *stack_top)
{
    if (!tramp)
        return -ENODEV;
    static bool wake_registered;
    if (!wake_registered) {
        irq_register(VEC_WAKE, wake_handler);
        wake_registered = true;
    }
    struct trampoline_data *d = hpa_to_ptr(tramp + PAGE_SIZE);
    memset(d, 0, sizeof(*d));
    d->cr3 = (u32)paging_root();
    d->stack = (u64)(uintptr_t)stack_top;
    d->entry = (u64)(uintptr_t)ap_entry;
    d->percpu = (u64)(uintptr_t)cpu;
    d->gdt[1] = GDT_CODE32;
    d->gdt[2] = GDT_DATA32;
    d->gdt[3] = GDT_CODE64;
    d->gdt_limit = sizeof(d->gdt) - 1;
    d->gdt_base = (u32)(tramp + PAGE_SIZE + __builtin_offsetof(struct trampoline_data, gdt));
    d->far32_off = (u32)tramp + pm32_off;
    d->far32_sel = 0x08;
    d->far64_off = (u32)tramp + lm64_off;
    d->far64_sel = 0x18;
    cpu->state = CPU_STARTING;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);

    u32 vector = (u32)(tramp >> PAGE_SHIFT);
    int err = lapic_send_ipi(cpu->apic_id, ICR_INIT | ICR_LEVEL_ASSERT);
    if (err)
        return err;
    time_delay_us(10000);
    for (int sipi = 0; sipi < 2 && !d->started; sipi++) {
        err = lapic_send_ipi(cpu->apic_id, ICR_STARTUP | vector);
        if (err)
            return err;
        for (int i = 0; i < 200 && !d->started; i++)
            time_delay_us(1000);
    }
    if (!d->started) {
        cpu->state = CPU_FAILED;
        return -ETIMEDOUT;
    }
    /* It has left the trampoline; wait for it to finish its own set-up. */
    for (int i = 0; i < 1000 && __atomic_load_n(&cpu->state, __ATOMIC_ACQUIRE) == CPU_STARTING; i++)
        time_delay_us(1000);
    if (cpu->state != CPU_ONLINE) {
        cpu->state = CPU_FAILED;
        return -ETIMEDOUT;
    }
    return 0;
}

int cpu_run_on(struct percpu *cpu, cpu_work_fn fn, void *arg)
{
    if (cpu->state != CPU_ONLINE || cpu->work_fn)
        return -EBUSY;
    cpu->work_arg = arg;
    __atomic_store_n(&cpu->work_fn, fn, __ATOMIC_RELEASE);
    return lapic_send_ipi(cpu->apic_id, VEC_WAKE);
}
