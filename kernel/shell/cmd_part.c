/* Shell commands for partitions: parts, part start|stop|restart, console, vcpus. */
#include "kernel/lib/shell_core.h"
#include "kernel/core/console.h"
#include "kernel/shell/shell.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/core/time.h"
#include "kernel/core/log_limit.h"
#include "arch/x86/vcpu.h"
#include "vmm/query.h"
#include "vmm/console_ring.h"

#define CONSOLE_ESCAPE 0x1d /* Ctrl-] */

/* The shell runs on CPU 0 only: snapshots live here, not on its stack. */
static struct part_info info;
static struct part_vcpu_info vinfo;
static char text[8192];

static void cpu_list_text(const struct part_info *p, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (u32 i = 0; i < p->nvcpus && n + 8 < len; i++)
        n += (size_t)ksnprintf(buf + n, len - n, "%s%u", i ? "," : "", p->cpus[i]);
    if (!p->nvcpus)
        kstrlcpy(buf, "-", len);
}

/* The id of the partition called `name`, or < 0 after saying so as `cmd`. */
static int find_or_say(const char *cmd, const char *name)
{
    int id = part_lookup(name);
    if (id < 0)
        con_printf("%s: no partition named '%s' (see parts)\n", cmd, name);
    return id;
}

/* Text of several lines, written a line at a time as con_printf would. */
static void put_lines(const char *s)
{
    while (*s) {
        const char *nl = strchr(s, '\n');
        size_t n = nl ? (size_t)(nl - s) + 1 : strlen(s);
        con_write(s, n);
        s += n;
    }
}

static void show_placement(const struct part_info *p)
{
    con_printf("  placement: %s; memory on node %d", p->placement, p->mem_node);
    for (u32 k = 1; k < p->nmem; k++)
        con_printf(k + 1 == p->nmem ? " and %d" : ", %d", p->mem[k].node);
    if (p->nmem > 1) {
        con_printf(" (");
        for (u32 k = 0; k < p->nmem; k++)
            con_printf("%s%llu MiB", k ? " + " : "", (unsigned long long)(p->mem[k].bytes >> 20));
        con_printf(")");
    }
    con_printf("%s\n", p->fallback ? " (fallback)" : "");
}

/* The partition's guest-caused log lines that its log limits held back. */
static void show_suppressed(u32 id)
{
    bool any = false;
    for (u32 r = 0; r < LOGR_COUNT; r++) {
        struct log_limit_info in;
        log_limit_get(id, (enum log_reason)r, &in);
        if (!in.suppressed)
            continue;
        con_printf("%s %s %llu", any ? "," : "  log lines suppressed:", log_reason_name((enum log_reason)r),
                   (unsigned long long)in.suppressed);
        any = true;
    }
    if (any)
        con_printf(" (log limits)\n");
}

static int cmd_parts(int argc, char **argv)
{
    bool verbose = argc == 2 && !strcmp(argv[1], "-v");
    if (argc > 2 || (argc == 2 && !verbose))
        return -EINVAL;
    if (!part_count()) {
        con_printf("no partitions configured\n");
        return 0;
    }
    con_printf("%-16s %-9s %-5s %-16s %10s %4s %12s\n", "NAME", "STATE", "VCPUS", "CPUS", "MEMORY", "NODE", "EXITS");
    for (u32 i = 0; i < part_count(); i++) {
        const struct part_info *p = &info;
        if (part_snapshot(i, &info) < 0)
            continue;
        char cpus[64];
        cpu_list_text(p, cpus, sizeof(cpus));
        con_printf("%-16s %-9s %-5u %-16s %6llu MiB %4d %12llu\n", p->name, p->state_name, p->nvcpus, cpus,
                   (unsigned long long)(p->memory >> 20), p->node, (unsigned long long)p->exits);
        if (p->reason[0] && (p->state == PART_INFO_FAILED || p->state == PART_INFO_REFUSED))
            con_printf("  reason: %s\n", p->reason);
        if (verbose && p->placement[0])
            show_placement(p);
        if (verbose && p->starts)
            con_printf("  starts: %llu, %llu of them after the guest reset itself\n", (unsigned long long)p->starts,
                       (unsigned long long)p->resets);
        if (verbose && p->requested_node >= 0)
            con_printf("  requested: node %d\n", (int)p->requested_node);
        /* A cold takeover may have booted its failover group's standby image. */
        if (verbose && p->standby_image)
            con_printf("  image: standby image %s, cmdline '%s' (its failover group's)\n", p->kernel, p->cmdline);
        if (verbose) {
            part_devices_text(i, text, sizeof(text));
            put_lines(text);
            show_suppressed(i);
        }
    }
    return 0;
}
SHELL_COMMAND(parts, "parts [-v]", "list partitions: state, CPUs, memory, node, VM exits; -v: placement and why",
              cmd_parts);

static int cmd_part(int argc, char **argv)
{
    if (argc != 3)
        return -EINVAL;
    int id = find_or_say("part", argv[2]);
    if (id < 0)
        return 0;
    char err[256];
    int rc;
    if (!strcmp(argv[1], "start"))
        rc = part_start_id((u32)id, err, sizeof(err));
    else if (!strcmp(argv[1], "stop"))
        rc = part_stop_id((u32)id, err, sizeof(err));
    else if (!strcmp(argv[1], "restart"))
        rc = part_restart_id((u32)id, err, sizeof(err));
    else
        return -EINVAL;
    if (rc < 0)
        con_printf("part: %s\n", err);
    else if (part_snapshot((u32)id, &info) == 0)
        con_printf("part: %s is %s\n", info.name, info.state_name);
    return 0;
}
SHELL_COMMAND(part, "part start|stop|restart NAME", "start, stop or restart a partition", cmd_part);

/* Typed bytes up to Ctrl-] (true when it came) into buf; *n of them. */
static bool console_keys(u8 *buf, u32 size, u32 *n)
{
    int c;
    *n = 0;
    while (*n < size && (c = con_getc()) >= 0) {
        if (c == CONSOLE_ESCAPE)
            return true;
        buf[(*n)++] = (u8)c;
    }
    return false;
}

static int cmd_console(int argc, char **argv)
{
    if (argc != 2)
        return -EINVAL;
    int id = find_or_say("console", argv[1]);
    if (id < 0 || part_snapshot((u32)id, &info) < 0)
        return 0;
    con_printf("console: attached to %s (%s); what you type goes to its COM1; press Ctrl-] to detach\n", info.name,
               info.state_name);
    /* Replay what the ring still holds, then follow. Keys are read once the
     * backlog is shown (one ring's worth at most), then between chunks of
     * output, so that Ctrl-] is seen even while the guest floods its
     * console; typed bytes go to the guest's UART a chunk at a time. */
    u64 cursor = part_console_oldest((u32)id), replay_end = cursor + CONSOLE_RING_SIZE;
    u64 sent = 0, dropped = 0, unsent = 0;
    static u8 buf[512], keys[64];
    for (;;) {
        /* Watching a console must not hold up the management work: the
         * heartbeat master (a failover while its console is watched) and
         * the restart of a partition that reset itself (maybe this one). */
        shell_idle();
        u64 lost = 0;
        size_t n = part_console_read((u32)id, &cursor, buf, sizeof(buf), &lost);
        if (lost)
            con_printf("\n[console: %llu bytes lost]\n", (unsigned long long)lost);
        if (n)
            con_write((const char *)buf, n);
        if (n && cursor < replay_end)
            continue;
        u32 k;
        bool detach = console_keys(keys, sizeof(keys), &k);
        if (k) {
            int kept = part_console_write((u32)id, keys, k);
            if (kept < 0) {
                unsent += k;
            } else {
                sent += (u64)kept;
                dropped += k - (u32)kept;
            }
        }
        if (detach)
            break;
        if (!n && !k)
            irq_enable_and_halt();
    }
    con_printf("\nconsole: detached from %s; %llu bytes typed", info.name, (unsigned long long)sent);
    if (dropped)
        con_printf(", %llu dropped (its input buffer was full)", (unsigned long long)dropped);
    if (unsent)
        con_printf(", %llu not sent (it was not running)", (unsigned long long)unsent);
    con_printf("\n");
    return 0;
}
SHELL_COMMAND(console, "console NAME", "attach to a partition's console (Ctrl-] detaches)", cmd_console);

static void show_vcpu(const char *name, const struct part_vcpu_info *v)
{
    con_printf("%-16s %-4u %-4u %-14s %12llu %8llu\n", name, v->index, v->cpu, v->run_state_name,
               (unsigned long long)v->exits, (unsigned long long)v->irqs_injected);
    char line[512];
    size_t n = 0;
    line[0] = '\0';
    for (u32 r = 1; r < VEXIT_COUNT && n + 48 < sizeof(line); r++)
        if (v->by_reason[r])
            n += (size_t)ksnprintf(line + n, sizeof(line) - n, "%s%s %llu", n ? ", " : "", vcpu_exit_name(r),
                                   (unsigned long long)v->by_reason[r]);
    con_printf("  exits by reason: %s\n", n ? line : "none");
    u64 d = v->timer_deadline, now = rdtsc();
    if (d)
        con_printf("  APIC timer: next expiry %s%llu ms %s\n", d < now ? "" : "in ",
                   (unsigned long long)((d > now ? d - now : now - d) / (tsc_khz ? tsc_khz : 1)),
                   d < now ? "ago (pending)" : "");
    con_printf("  ports ignored %llu, MSR #GP %llu, APIC accesses %llu, foreign IPIs %llu, "
               "hypercalls %llu (%llu failed), SIPIs taken %u\n",
               (unsigned long long)v->io_ignored, (unsigned long long)v->msr_gp, (unsigned long long)v->apic_accesses,
               (unsigned long long)v->ipis_foreign, (unsigned long long)v->hypercalls,
               (unsigned long long)v->hypercall_errors, v->starts);
    con_printf("  local APIC: %s mode, EOIs %llu, PV EOIs %llu, timer expiries %llu, TSC-deadline writes %llu, "
               "x2APIC #GP %llu\n",
               v->apic_x2apic ? "x2APIC" : "xAPIC", (unsigned long long)v->apic_eois,
               (unsigned long long)v->apic_pv_eois, (unsigned long long)v->apic_timer_fired,
               (unsigned long long)v->apic_tsc_deadline_writes, (unsigned long long)v->apic_x2apic_gp);
    con_printf("  last exit: %s at RIP %#llx, RFLAGS %#llx (interrupts %s); APIC: IRR top %d, ISR top %d, TPR %#x\n",
               vcpu_exit_name(v->last_exit), (unsigned long long)v->rip, (unsigned long long)v->rflags,
               (v->rflags & RFLAGS_IF) ? "on" : "off", v->irr_top, v->isr_top, v->tpr);
    if (v->msis || v->pci_io || v->nic_mmio)
        con_printf("  device MSIs forwarded %llu, device port accesses %llu, NIC register accesses %llu\n",
                   (unsigned long long)v->msis, (unsigned long long)v->pci_io, (unsigned long long)v->nic_mmio);
}

static int cmd_vcpus(int argc, char **argv)
{
    if (argc > 2)
        return -EINVAL;
    u32 shown = 0;
    for (u32 i = 0; i < part_count(); i++) {
        const char *name = part_name(i);
        if (argc == 2 && strcmp(argv[1], name))
            continue;
        int rc;
        for (u32 j = 0; (rc = part_vcpu_snapshot(i, j, &vinfo)) != -ENOENT; j++) {
            if (rc < 0)
                continue; /* -ENODEV: this vCPU does not exist now */
            if (!shown++)
                con_printf("%-16s %-4s %-4s %-14s %12s %8s\n", "PARTITION", "VCPU", "CPU", "STATE", "EXITS", "IRQS");
            show_vcpu(name, &vinfo);
        }
    }
    if (!shown)
        con_printf("no vCPUs: no partition is running%s\n", argc == 2 ? " by that name" : "");
    return 0;
}
SHELL_COMMAND(vcpus, "vcpus [NAME]", "per-vCPU state and VM exits by reason", cmd_vcpus);
