/* Shell commands for partitions: parts, part start|stop|restart, console, vcpus. */
#include "kernel/lib/shell_core.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/core/time.h"
#include "vmm/partition.h"

#define CONSOLE_ESCAPE 0x1d          /* Ctrl-] */

static void cpu_list_text(const struct partition *p, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (u32 i = 0; i < p->nvcpus && n + 8 < len; i++)
        n += (size_t)ksnprintf(buf + n, len - n, "%s%u", i ? "," : "", p->cpus[i]);
    if (!p->nvcpus)
        kstrlcpy(buf, "-", len);
}

/* The partition called `name`, or NULL after saying so as `cmd`. */
static struct partition *find_or_say(const char *cmd, const char *name)
{
    struct partition *p = part_find(name);
    if (!p)
        con_printf("%s: no partition named '%s' (see parts)\n", cmd, name);
    return p;
}

/* What the partition's devices show of themselves (vmm/vdev.h). */
static void show_devices(const struct partition *p)
{
    static char buf[2048];
    vdev_show_all(p, buf, sizeof(buf));
    con_printf("%s", buf);
}

static int cmd_parts(int argc, char **argv)
{
    bool verbose = argc == 2 && !strcmp(argv[1], "-v");
    if (argc > 2 || (argc == 2 && !verbose))
        return -EINVAL;
    if (!npartitions) {
        con_printf("no partitions configured\n");
        return 0;
    }
    con_printf("%-16s %-9s %-5s %-16s %10s %4s %12s\n", "NAME", "STATE", "VCPUS", "CPUS", "MEMORY", "NODE",
               "EXITS");
    for (u32 i = 0; i < npartitions; i++) {
        const struct partition *p = &partitions[i];
        char cpus[64];
        cpu_list_text(p, cpus, sizeof(cpus));
        con_printf("%-16s %-9s %-5u %-16s %6llu MiB %4d %12llu\n", p->cfg->name, part_state_name(p->state),
                   p->nvcpus, cpus, (unsigned long long)(p->memory >> 20), p->node,
                   (unsigned long long)part_exits(p));
        if (p->reason[0] && (p->state == PART_FAILED || p->state == PART_REFUSED))
            con_printf("  reason: %s\n", p->reason);
        if (verbose && p->placement[0]) {
            con_printf("  placement: %s; memory on node %d", p->placement, p->mem_node);
            for (u32 k = 1; k < p->nmem_plan; k++)
                con_printf(k + 1 == p->nmem_plan ? " and %d" : ", %d", p->mem_plan[k].node);
            if (p->nmem_plan > 1) {
                con_printf(" (");
                for (u32 k = 0; k < p->nmem_plan; k++)
                    con_printf("%s%llu MiB", k ? " + " : "", (unsigned long long)(p->mem_plan[k].bytes >> 20));
                con_printf(")");
            }
            con_printf("%s\n", p->fallback ? " (fallback)" : "");
        }
        if (verbose && p->cfg->node >= 0)
            con_printf("  requested: node %d\n", (int)p->cfg->node);
        /* A cold takeover may have booted its failover group's standby image. */
        if (verbose && p->image.kernel && p->image.kernel != p->cfg->kernel)
            con_printf("  image: standby image %s, cmdline '%s' (its failover group's)\n", p->image.kernel,
                       p->image.cmdline);
        if (verbose)
            show_devices(p);
    }
    return 0;
}
SHELL_COMMAND(parts, "parts [-v]", "list partitions: state, CPUs, memory, node, VM exits; -v: placement and why",
              cmd_parts);

static int cmd_part(int argc, char **argv)
{
    if (argc != 3)
        return -EINVAL;
    struct partition *p = find_or_say("part", argv[2]);
    if (!p)
        return 0;
    char err[256];
    int rc;
    if (!strcmp(argv[1], "start")) {
        rc = part_start(p, err, sizeof(err));
    } else if (!strcmp(argv[1], "stop")) {
        rc = part_stop(p, err, sizeof(err));
    } else if (!strcmp(argv[1], "restart")) {
        rc = part_stop(p, err, sizeof(err));
        if (rc == 0)
            rc = part_start(p, err, sizeof(err));
    } else {
        return -EINVAL;
    }
    if (rc < 0)
        con_printf("part: %s\n", err);
    else
        con_printf("part: %s is %s\n", p->cfg->name, part_state_name(p->state));
    return 0;
}
SHELL_COMMAND(part, "part start|stop|restart NAME", "start, stop or restart a partition", cmd_part);

static int cmd_console(int argc, char **argv)
{
    if (argc != 2)
        return -EINVAL;
    struct partition *p = find_or_say("console", argv[1]);
    if (!p)
        return 0;
    con_printf("console: attached to %s (%s); press Ctrl-] to detach; the guest gets no input yet\n",
               p->cfg->name, part_state_name(p->state));
    /* Replay what the ring still holds, then follow. */
    u64 written = p->console.written;
    u64 cursor = written > CONSOLE_RING_SIZE ? written - CONSOLE_RING_SIZE : 0;
    static u8 buf[512];
    for (;;) {
        u64 lost = 0;
        size_t n = console_ring_read(&p->console, &cursor, buf, sizeof(buf), &lost);
        if (lost)
            con_printf("\n[console: %llu bytes lost]\n", (unsigned long long)lost);
        if (n) {
            con_write((const char *)buf, n);
            continue;
        }
        int c = con_getc();
        if (c == CONSOLE_ESCAPE)
            break;
        if (c < 0)
            irq_enable_and_halt();
    }
    con_printf("\nconsole: detached from %s\n", p->cfg->name);
    return 0;
}
SHELL_COMMAND(console, "console NAME", "attach to a partition's console (Ctrl-] detaches)", cmd_console);

static int cmd_vcpus(int argc, char **argv)
{
    if (argc > 2)
        return -EINVAL;
    u32 shown = 0;
    for (u32 i = 0; i < npartitions; i++) {
        const struct partition *p = &partitions[i];
        if (argc == 2 && strcmp(argv[1], p->cfg->name))
            continue;
        for (u32 j = 0; j < p->nvcpus; j++) {
            const struct vm_vcpu *vc = p->vcpu[j];
            if (!vc)
                continue;
            if (!shown++)
                con_printf("%-16s %-4s %-4s %-14s %12s %8s\n", "PARTITION", "VCPU", "CPU", "STATE", "EXITS",
                           "IRQS");
            con_printf("%-16s %-4u %-4u %-14s %12llu %8llu\n", p->cfg->name, j, p->cpus[j],
                       vcpu_run_state_name(vc->run_state), (unsigned long long)vc->v.stats.exits,
                       (unsigned long long)vc->stats.irqs_injected);
            char line[512];
            size_t n = 0;
            line[0] = '\0';
            for (u32 r = 1; r < VEXIT_COUNT && n + 48 < sizeof(line); r++)
                if (vc->v.stats.by_reason[r])
                    n += (size_t)ksnprintf(line + n, sizeof(line) - n, "%s%s %llu", n ? ", " : "",
                                           vcpu_exit_name(r), (unsigned long long)vc->v.stats.by_reason[r]);
            con_printf("  exits by reason: %s\n", n ? line : "none");
            u64 d = vlapic_timer_deadline(&vc->lapic), now = rdtsc();
            if (d)
                con_printf("  APIC timer: next expiry %s%llu ms %s\n", d < now ? "" : "in ",
                           (unsigned long long)((d > now ? d - now : now - d) / (tsc_khz ? tsc_khz : 1)),
                           d < now ? "ago (pending)" : "");
            con_printf("  ports ignored %llu, MSR #GP %llu, APIC accesses %llu, foreign IPIs %llu, "
                       "hypercalls %llu (%llu failed), SIPIs taken %u\n",
                       (unsigned long long)vc->stats.io_ignored, (unsigned long long)vc->stats.msr_gp,
                       (unsigned long long)vc->stats.apic_accesses, (unsigned long long)vc->stats.ipis_foreign,
                       (unsigned long long)vc->stats.hypercalls, (unsigned long long)vc->stats.hypercall_errors,
                       vc->starts);
            if (vc->stats.msis || vc->stats.pci_io || vc->stats.nic_mmio)
                con_printf("  device MSIs forwarded %llu, device port accesses %llu, NIC register accesses %llu\n",
                           (unsigned long long)vc->stats.msis, (unsigned long long)vc->stats.pci_io,
                           (unsigned long long)vc->stats.nic_mmio);
        }
    }
    if (!shown)
        con_printf("no vCPUs: no partition is running%s\n", argc == 2 ? " by that name" : "");
    return 0;
}
SHELL_COMMAND(vcpus, "vcpus [NAME]", "per-vCPU state and VM exits by reason", cmd_vcpus);
