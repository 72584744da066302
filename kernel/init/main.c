/* The hypervisor proper: entered once on the boot CPU from the EFI stage with
 * boot services gone. Brings the machine up in dependency order, then runs the
 * shell on the boot CPU forever. A failure in an optional step is logged and
 * the boot goes on with less; only a machine we cannot run on at all stops. */
#include "kernel/init/init.h"
#include "kernel/core/bootinfo.h"
#include "kernel/core/config.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "drivers/machine.h"
#include "kernel/core/mm.h"
#include "kernel/core/percpu.h"
#include "kernel/shell/shell.h"
#include "kernel/lib/string.h"
#include "kernel/lib/printf.h"
#include "kernel/core/time.h"
#include "kernel/lib/calendar.h"
#include "arch/x86/apic.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/cpuid.h"
#include "arch/x86/interrupts.h"
#include "arch/x86/paging.h"
#include "arch/x86/segments.h"
#include "arch/x86/smp.h"
#include "arch/x86/virt.h"
#include "arch/x86/vcpu.h"
#include "vmm/partition.h"
#include "vmm/ha/failover.h"
#include "vmm/dma.h"
#include "drivers/acpi/topology.h"
#include "drivers/clocksource.h"
#include "drivers/pci_access.h"
#include "drivers/power.h"
#include "drivers/uart16550.h"

#define SHELL_TICK_HZ  1000 /* polls the UART often enough not to overrun a 16-byte FIFO at 115200 */
#define AP_STACK_PAGES 8

struct machine machine;
struct percpu *cpu_list[MAX_CPUS];
u32 ncpus = 1;
u32 cpus_online_count = 1;
static struct percpu bsp_area;

const char *cpu_state_name(u32 s)
{
    static const char *const names[] = { "absent", "starting", "online", "busy", "halted", "failed" };
    return s < ARRAY_SIZE(names) ? names[s] : "?";
}

/* CPU 0's periodic work, between the shell's input bytes. */
static void management_tick(void)
{
    dma_poll();
    failover_tick();
    part_reap();
}

static void timer_tick(struct int_frame *f)
{
    (void)f;
    this_cpu()->ticks++;
}

static void identify_cpu(void)
{
    struct cpuid_regs r = cpuid(CPUID_LEAF_VENDOR, 0);
    memcpy(machine.cpu_vendor, &r.ebx, 4);
    memcpy(machine.cpu_vendor + 4, &r.edx, 4);
    memcpy(machine.cpu_vendor + 8, &r.ecx, 4);
    machine.cpu_vendor[12] = '\0';
    if (cpuid(CPUID_LEAF_EXT_MAX, 0).eax >= CPUID_LEAF_BRAND + 2) {
        for (u32 i = 0; i < 3; i++) {
            r = cpuid(CPUID_LEAF_BRAND + i, 0);
            memcpy(machine.cpu_brand + 16 * i, &r, 16);
        }
        machine.cpu_brand[48] = '\0';
        /* Brand strings are often padded with leading spaces. */
        char *b = machine.cpu_brand;
        while (*b == ' ')
            b++;
        memmove(machine.cpu_brand, b, strlen(b) + 1);
    } else {
        kstrlcpy(machine.cpu_brand, "unknown model", sizeof(machine.cpu_brand));
    }
}

/* The configuration is parsed before anything prints so that the console it
 * names is the one used from the first line on. */
static void load_config(struct boot_info *bi)
{
    config_defaults(&machine.cfg);
    if (!bi->config.addr) {
        ksnprintf(machine.cfg_status, sizeof(machine.cfg_status),
                  "no configuration: %s; defaults in effect, no partitions will start",
                  bi->config_error[0] ? bi->config_error : "isthmus.toml not found");
        return;
    }
    int err = config_parse(hpa_to_ptr(bi->config.addr), bi->config.size, &machine.cfg, &machine.cfg_diag);
    if (err) {
        config_defaults(&machine.cfg);
        ksnprintf(machine.cfg_status, sizeof(machine.cfg_status),
                  "%s%s has %u error%s%s; defaults in effect, no partitions will start", bi->loader_dir,
                  bi->config.name, machine.cfg_diag.nerrors, machine.cfg_diag.nerrors == 1 ? "" : "s",
                  machine.cfg_diag.more_errors ? " (or more)" : "");
        return;
    }
    machine.cfg_ok = true;
    ksnprintf(machine.cfg_status, sizeof(machine.cfg_status), "%s%s: valid (%llu bytes)", bi->loader_dir,
              bi->config.name, (unsigned long long)bi->config.size);
}

static void report_config(void)
{
    if (machine.cfg_ok) {
        log_info("config", "%s", machine.cfg_status);
        return;
    }
    log_err("config", "%s", machine.cfg_status);
    for (u32 i = 0; i < machine.cfg_diag.nerrors; i++) {
        char line[256];
        config_format_error(&machine.cfg_diag, i, "isthmus.toml", line, sizeof(line));
        log_err("config", "%s", line);
    }
    if (machine.cfg_diag.more_errors)
        log_err("config", "further errors not listed");
}

static const void *acpi_phys_map(void *opaque, u64 pa, u64 len)
{
    (void)opaque;
    if (!len || pa + len < pa || (pa >> 46))
        return NULL;
    /* Tables normally sit in ACPI memory (already mapped); firmware may also put
     * them in reserved ranges, which are mapped read-only on first use. */
    if (!paging_is_mapped(pa, len) && paging_map(pa, len, MAP_READ) < 0)
        return NULL;
    return hpa_to_ptr(pa);
}

const struct acpi_mem machine_acpi_mem = { acpi_phys_map, NULL };

static void discover(struct boot_info *bi, u32 bsp_apic_id)
{
    const struct acpi_mem mem = machine_acpi_mem;
    if (!bi->rsdp) {
        log_warn("acpi", "firmware gave no RSDP: one node, no SMP, PCI via port I/O");
    } else if (acpi_parse(&mem, bi->rsdp, &machine.acpi) < 0) {
        log_err("acpi", "ACPI tables unusable: one node, no SMP");
    } else {
        machine.acpi_ok = true;
    }
    int err = topology_build(machine.acpi_ok ? &machine.acpi : NULL, bi->mem, bi->nmem, bsp_apic_id, &machine.topo);
    if (err)
        log_err("topo", "building the topology failed (%s)", strerror_short(err));
    else
        topology_log(&machine.topo);
}

/* The firmware's UTC reading (boot/efi_main.c), advanced by the TSC from now
 * on; partitions' clocks (vmm/dev/rtc.c, kvmclock.c) show it. */
static void log_wallclock(void)
{
    if (!wallclock_known()) {
        log_warn("time", "no wall-clock time from the firmware: partitions' clocks start at 1970");
        return;
    }
    u64 s = wallclock_ns(rdtsc()) / CAL_NS_PER_SEC;
    struct cal_date d = cal_civil_from_days((s64)(s / CAL_SECS_PER_DAY));
    u64 sod = s % CAL_SECS_PER_DAY;
    log_info("time", "wall clock %04d-%02u-%02u %02llu:%02llu:%02llu UTC, from the firmware", d.year, d.month, d.day,
             (unsigned long long)(sod / 3600), (unsigned long long)(sod / 60 % 60), (unsigned long long)(sod % 60));
}

static void start_clocks(void)
{
    struct clocksource cs;
    bool ok = false;
    const struct acpi_info *a = &machine.acpi;
    if (machine.acpi_ok && a->have_hpet && hpet_clocksource(a->hpet.base, &cs) == 0)
        ok = time_calibrate(&cs) == 0;
    if (!ok && machine.acpi_ok && a->have_fadt && a->fadt.pm_tmr.space == ACPI_SPACE_IO && a->fadt.pm_tmr.address &&
        a->fadt.pm_tmr.address <= 0xffff &&
        pmtimer_clocksource((u16)a->fadt.pm_tmr.address, a->fadt.pm_tmr_bits == 32, &cs) == 0)
        ok = time_calibrate(&cs) == 0;
    if (!ok) {
        tsc_khz = 2000000;
        tsc_source = "assumed";
        log_err("time", "no HPET or ACPI PM timer to measure the TSC: assuming 2 GHz, times will be off");
    }
    log_wallclock();
    lapic_timer_calibrate();
    irq_register(VEC_TIMER, timer_tick);
    lapic_timer_start(SHELL_TICK_HZ);
    log_info("apic", "local APIC in %s mode, timer %llu Hz at divide-by-16", lapic_mode_name(),
             (unsigned long long)lapic_timer_hz());
}

static void scan_pci(void)
{
    struct pci_ecam ecam[PCI_MAX_ECAM];
    int n = 0;
    for (u32 i = 0; machine.acpi_ok && i < machine.acpi.nmcfg && n < PCI_MAX_ECAM; i++, n++) {
        ecam[n].base = machine.acpi.mcfg[i].base;
        ecam[n].seg = machine.acpi.mcfg[i].segment;
        ecam[n].start_bus = machine.acpi.mcfg[i].start_bus;
        ecam[n].end_bus = machine.acpi.mcfg[i].end_bus;
    }
    if (pci_access_init(ecam, n) < 0)
        log_err("pci", "cannot map the ECAM windows; using port I/O");
    struct pci_bus_range ranges[PCI_MAX_ECAM];
    int nr = pci_access_ranges(ranges, PCI_MAX_ECAM);
    if (nr < 0 || pci_enumerate(pci_access_ops(), ranges, nr, &machine.pci) < 0) {
        log_err("pci", "enumeration failed");
        return;
    }
    for (u32 i = 0; i < machine.pci.count; i++) {
        struct pci_dev *d = &machine.pci.dev[i];
        /* On a one-node machine every device is local; otherwise _PXM decides. */
        d->node = machine.topo.numa ? topology_pci_root_node(&machine.topo, d->seg, d->root_bus) : 0;
    }
    log_info("pci", "%u functions found via %s", machine.pci.count, pci_access_method());
}

/* After PCI enumeration: a DMAR scope's path is followed through the bridges
 * found, then every usable unit is switched on with all DMA blocked, before
 * any partition owns a device. */
static void find_iommus(void)
{
    iommu_model_build(machine.acpi_ok ? &machine.acpi.iommu : NULL, &machine.pci, &machine.iommu);
    if (!machine.acpi_ok || !machine.acpi.iommu.nunits)
        return;
    iommu_hw_init(&machine.iommu, &machine.iommu_hw);
    log_info("iommu", "%u DMA remapping unit(s) found, %u on", machine.acpi.iommu.nunits, machine.iommu_hw.non);
}

static struct power_reg power_reg_from(const struct acpi_reg *r)
{
    struct power_reg p = { r->space, r->bit_width, r->address };
    if (r->space != ACPI_SPACE_MEMORY && r->space != ACPI_SPACE_IO)
        p.addr = 0; /* PCI config and FFH registers are not driven */
    return p;
}

static void setup_power(void)
{
    if (!machine.acpi_ok || !machine.acpi.have_fadt) {
        power_init(NULL);
        return;
    }
    const struct acpi_info *a = &machine.acpi;
    struct power_facts f = {
        .have_s5 = a->s5.valid,
        .slp_typ_a = a->s5.slp_typa,
        .slp_typ_b = a->s5.slp_typb,
        .pm1a_cnt = power_reg_from(&a->fadt.pm1a_cnt),
        .pm1b_cnt = power_reg_from(&a->fadt.pm1b_cnt),
        .hw_reduced = a->fadt.hw_reduced,
        .reset_supported = a->fadt.reset_supported,
        .reset_reg = power_reg_from(&a->fadt.reset_reg),
        .reset_value = a->fadt.reset_value,
    };
    power_init(&f);
    if (!f.have_s5)
        log_warn("power", "no \\_S5 object in the DSDT: poweroff is unavailable");
}

static void start_aps(void)
{
    const struct topology *t = &machine.topo;
    for (u32 i = 0; i < t->ncpus; i++) {
        const struct topo_cpu *tc = &t->cpus[i];
        if (tc->is_bsp)
            continue;
        if (ncpus >= MAX_CPUS) {
            log_warn("smp", "more than %d CPUs: CPU with APIC ID %u left off", MAX_CPUS, tc->apic_id);
            continue;
        }
        hpa_t area, stack;
        u64 area_pages = ALIGN_UP(sizeof(struct percpu), PAGE_SIZE) / PAGE_SIZE;
        if (mm_alloc(tc->node, area_pages, 1, 0, &area, NULL) < 0 ||
            mm_alloc(tc->node, AP_STACK_PAGES, 1, 0, &stack, NULL) < 0) {
            log_err("smp", "out of memory for CPU with APIC ID %u", tc->apic_id);
            break;
        }
        struct percpu *c = hpa_to_ptr(area);
        c->index = ncpus;
        c->apic_id = tc->apic_id;
        c->node = tc->node;
        c->stack_top = stack + AP_STACK_PAGES * PAGE_SIZE;
        cpu_list[ncpus++] = c;
        if (!machine.bi->trampoline) {
            c->state = CPU_FAILED;
            continue;
        }
        int err = smp_start_cpu(c, hpa_to_ptr(c->stack_top));
        if (err)
            log_err("smp", "CPU %u (APIC ID %u) did not start: %s", c->index, c->apic_id, strerror_short(err));
    }
    log_info("smp", "%u of %u CPUs online", cpus_online_count, ncpus);
}

/* Images the EFI stage could not read are named here; partitions_init() then
 * refuses what the machine cannot hold and starts what is marked running. */
static void start_partitions(const struct boot_info *bi)
{
    for (u32 i = 0; i < bi->nfiles; i++)
        if (!bi->files[i].addr)
            log_err("part", "cannot read %s%s: %s", bi->loader_dir, bi->files[i].name, bi->files[i].error);
    if (!machine.cfg_ok && machine.cfg.npartitions)
        return;
    partitions_init();
    failover_init();
    partitions_autostart();
}

__noreturn void hv_main(struct boot_info *bi)
{
    tsc_boot = rdtsc();
    if (bi->wall_tsc)
        wallclock_set(bi->wall_ns, bi->wall_tsc);
    /* First, so that even a fault in the steps below can be reported. */
    con_set_port_ops(&uart16550_con_ops);
    struct percpu *bsp = &bsp_area;
    cpu_list[0] = bsp;
    idt_init();
    segments_init_cpu(bsp);
    bsp->state = CPU_BUSY;
    /* The firmware may leave the legacy PICs unmasked; Isthmus uses only APICs. */
    outb(0x21, 0xff);
    outb(0xa1, 0xff);

    if (bi->magic != BOOTINFO_MAGIC) {
        con_printf("isthmus: bad boot information from the EFI stage; stopping\n");
        cpu_halt_forever();
    }
    machine.bi = bi;
    load_config(bi);
    con_init(machine.cfg.console_port, machine.cfg.baud);
    log_set_console_level(machine.cfg.log_level);
    if (machine.cfg.banner)
        con_printf("\nIsthmus %s - a microhypervisor with inter-partition networking\n", ISTHMUS_VERSION);
    report_config();

    int err = smp_install_trampoline(bi);
    if (err)
        log_warn("smp", "no AP start-up code (%s): only the boot CPU will run", strerror_short(err));
    err = paging_init(bi);
    if (err) {
        log_err("paging", "cannot build the hypervisor page tables (%s); stopping", strerror_short(err));
        cpu_halt_forever();
    }
    struct paging_stats ps;
    paging_verify(&ps);
    log_info("paging", "own page tables: %llu 2M + %llu 4K leaves, %llu executable pages, %llu writable+executable",
             (unsigned long long)ps.leaves_2m, (unsigned long long)ps.leaves_4k, (unsigned long long)ps.exec_pages,
             (unsigned long long)ps.wx_violations);

    identify_cpu();
    log_info("cpu", "%s (%s)", machine.cpu_brand, machine.cpu_vendor);
    virt_detect();
    char vdesc[160];
    virt_describe(vdesc, sizeof(vdesc));
    if (virt.vendor == VIRT_NONE)
        log_warn("virt", "no hardware virtualization: %s", vdesc);
    else
        log_info("virt", "%s", vdesc);
    if (vcpu_backend_select() == 0)
        log_info("vmm", "vCPU backend: %s", vcpu_backend->name);
    if (lapic_init_bsp() < 0)
        log_err("apic", "cannot map the local APIC");
    bsp->apic_id = lapic_id();
    discover(bi, bsp->apic_id);
    bsp->node = topology_cpu_node(&machine.topo, bsp->apic_id);
    if (mm_init(bi, &machine.topo) < 0) {
        log_err("mm", "no usable memory; stopping");
        cpu_halt_forever();
    }
    start_clocks();
    irq_enable();
    scan_pci();
    find_iommus();
    start_aps();
    setup_power();

    start_partitions(bi);
    log_info("shell", "ready; type 'help' for the commands");
    shell_set_idle_hook(management_tick);
    shell_run();
}
