/* The hypervisor proper: entered once on the boot CPU from the EFI stage with
 * boot services gone. Brings the machine up in dependency order, then runs the
 * shell on the boot CPU forever. */
#include "kernel/bootinfo.h"
#include "kernel/console.h"
#include "kernel/log.h"
#include "kernel/percpu.h"
#include "kernel/time.h"
#include "kernel/string.h"
#include "arch/x86/cpu.h"
#include "arch/x86/paging.h"
#include "arch/x86/segments.h"

struct percpu percpu_area[MAX_CPUS];
u32 cpus_online_count = 1;

__noreturn void hv_main(struct boot_info *bi)
{
    tsc_boot = rdtsc();
    struct percpu *bsp = &percpu_area[0];
    idt_init();
    segments_init_cpu(bsp);
    bsp->state = CPU_BUSY;

    con_init(0x3f8, 115200);
    con_printf("\nIsthmus %s\n", ISTHMUS_VERSION);
    if (bi->magic != BOOTINFO_MAGIC) {
        con_printf("bad boot info\n");
        cpu_halt_forever();
    }
    int err = paging_init(bi);
    con_printf("paging_init: %d\n", err);
    struct paging_stats ps;
    paging_verify(&ps);
    con_printf("paging: %llu 4K + %llu 2M leaves, %llu W+X\n", (unsigned long long)ps.leaves_4k,
               (unsigned long long)ps.leaves_2m, (unsigned long long)ps.wx_violations);
    for (;;) {
        int c = con_getc();
        if (c >= 0)
            con_printf("got %d\n", c);
    }
}
