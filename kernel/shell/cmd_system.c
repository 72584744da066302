/* Shell commands about the hypervisor and the machine as a whole: version,
 * log, loglevel, config, cpus, debug, vmtest, poweroff, reboot. */
#include "kernel/lib/shell_core.h"
#include "drivers/machine.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/log_limit.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"
#include "kernel/lib/calendar.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/apic.h"
#include "arch/x86/smp.h"
#include "arch/x86/virt.h"
#include "drivers/power.h"
#include "vmm/query.h"
#include "vmm/selftest.h"

static int cmd_version(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    con_printf("Isthmus %s (built %s %s)\n", ISTHMUS_VERSION, __DATE__, __TIME__);
    con_printf("CPU: %s (%s), local APIC in %s mode, TSC %llu kHz (%s)\n", machine.cpu_brand, machine.cpu_vendor,
               lapic_mode_name(), (unsigned long long)tsc_khz, tsc_source);
    char vdesc[160];
    virt_describe(vdesc, sizeof(vdesc));
    con_printf("virtualization: %s\n", vdesc);
    u64 up = time_now_us();
    con_printf("uptime %llu.%03llu s\n", (unsigned long long)(up / 1000000), (unsigned long long)(up / 1000 % 1000));
    /* The clock partitions get (their CMOS RTC and KVM wall clock): the
     * firmware's time at boot, advanced by the TSC. */
    if (wallclock_known()) {
        u64 ns = wallclock_ns(rdtsc()), secs = ns / CAL_NS_PER_SEC, sod = secs % CAL_SECS_PER_DAY;
        struct cal_date d = cal_civil_from_days((s64)(secs / CAL_SECS_PER_DAY));
        con_printf("wall clock %04d-%02u-%02u %02llu:%02llu:%02llu.%03llu UTC (%llu.%03llu)\n", d.year, d.month, d.day,
                   (unsigned long long)(sod / 3600), (unsigned long long)(sod / 60 % 60),
                   (unsigned long long)(sod % 60), (unsigned long long)(ns / 1000000 % 1000), (unsigned long long)secs,
                   (unsigned long long)(ns / 1000000 % 1000));
    } else {
        con_printf("wall clock unknown (the firmware gave none)\n");
    }
    return 0;
}
SHELL_COMMAND(version, "version", "show the hypervisor version, CPU and uptime", cmd_version);

/* One row per (partition, reason) that logged anything a guest caused;
 * *pending: whether any has suppressed lines not yet reported. */
static bool limits_row(u32 key, const char *name, bool *pending)
{
    bool any = false;
    for (u32 r = 0; r < LOGR_COUNT; r++) {
        struct log_limit_info in;
        log_limit_get(key, (enum log_reason)r, &in);
        if (!in.printed && !in.suppressed)
            continue;
        con_printf("%-16s %-10s %10llu %10llu %10llu\n", name, log_reason_name((enum log_reason)r),
                   (unsigned long long)in.printed, (unsigned long long)in.suppressed, (unsigned long long)in.pending);
        any = true;
        *pending |= in.pending != 0;
    }
    return any;
}

static void show_limits(void)
{
    con_printf("log limits per partition and reason: %u lines at once, then %u a minute\n", LOG_LIMIT_BURST,
               LOG_LIMIT_PER_MIN);
    con_printf("%-16s %-10s %10s %10s %10s\n", "PARTITION", "REASON", "PRINTED", "SUPPRESSED", "PENDING");
    bool any = false, pending = false;
    for (u32 i = 0; i < part_count() && i < LOG_LIMIT_HOST; i++)
        any |= limits_row(i, part_name(i), &pending);
    any |= limits_row(LOG_LIMIT_HOST, "(none)", &pending);
    if (!any)
        con_printf("(no guest-caused lines yet)\n");
    if (pending)
        con_printf("PENDING: suppressed since the last line printed; the next one that gets through says so\n");
}

static int cmd_log(int argc, char **argv)
{
    if (argc == 2 && !strcmp(argv[1], "limits")) {
        show_limits();
        return 0;
    }
    enum log_level lvl = LOG_DEBUG;
    u32 last = 0;
    for (int i = 1; i < argc; i++) {
        u64 n;
        if (log_level_parse(argv[i], &lvl) == 0)
            continue;
        if (kparse_u64(argv[i], &n, false) == 0 && n > 0 && n <= 100000) {
            last = (u32)n;
            continue;
        }
        return -EINVAL;
    }
    log_dump(lvl, last);
    return 0;
}
SHELL_COMMAND(log, "log [error|warn|info|debug] [LAST] | log limits",
              "show the log ring (records up to a level, only the last LAST); limits: guest-caused lines "
              "printed and suppressed per partition and reason",
              cmd_log);

static int cmd_loglevel(int argc, char **argv)
{
    if (argc == 1) {
        con_printf("console log level: %s\n", log_level_name(log_get_console_level()));
        return 0;
    }
    enum log_level lvl;
    if (argc != 2 || log_level_parse(argv[1], &lvl) < 0)
        return -EINVAL;
    log_set_console_level(lvl);
    con_printf("console log level: %s\n", log_level_name(lvl));
    return 0;
}
SHELL_COMMAND(loglevel, "loglevel [error|warn|info|debug]",
              "show or set which log records are also printed on the console", cmd_loglevel);

static int cmd_config(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    con_printf("%s\n", machine.cfg_status);
    for (u32 i = 0; i < machine.cfg_diag.nerrors; i++) {
        char line[256];
        config_format_error(&machine.cfg_diag, i, "isthmus.toml", line, sizeof(line));
        con_printf("  %s\n", line);
    }
    if (machine.cfg_diag.more_errors)
        con_printf("  (more errors not shown)\n");
    char sum[160];
    config_summary(&machine.cfg, sum, sizeof(sum));
    con_printf("in effect: %s\n", sum);
    return 0;
}
SHELL_COMMAND(config, "config", "show the configuration in effect and any errors in isthmus.toml", cmd_config);

static int cmd_cpus(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    con_printf("CPU  APIC ID  NODE  STATE     TICKS     NOTE\n");
    for (u32 i = 0; i < ncpus; i++) {
        struct percpu *c = cpu_list[i];
        con_printf("%-4u %-8u %-5d %-9s %-9llu %s%s\n", c->index, c->apic_id, c->node, cpu_state_name(c->state),
                   (unsigned long long)c->ticks, i == 0 ? "boot CPU, runs the shell" : "",
                   c->state == CPU_HALTED ? c->halt_reason : "");
    }
    con_printf("%u CPUs, %u online\n", ncpus, cpus_online_count);
    return 0;
}
SHELL_COMMAND(cpus, "cpus", "list the CPUs: APIC ID, NUMA node and state", cmd_cpus);

static void do_fault(void *arg)
{
    const char *kind = arg;
    if (kind[0] == 'g') {
        /* A non-canonical address: #GP. */
        volatile u64 *p = (volatile u64 *)0x8000000000000000ULL;
        *p = 1;
    } else if (kind[0] == 'p') {
        volatile u64 *p = (volatile u64 *)0x0; /* page 0 is never mapped: #PF */
        // cppcheck-suppress nullPointer ; the fault is the point of `debug fault`
        *p = 1;
    }
    __asm__ volatile("ud2");
}

static int cmd_debug(int argc, char **argv)
{
    if (argc < 2)
        return -EINVAL;
    if (!strcmp(argv[1], "fault")) {
        static const char *const kinds[] = { "ud", "gp", "pf" };
        u64 idx;
        if (argc < 3 || argc > 4 || kparse_u64(argv[2], &idx, false) < 0)
            return -EINVAL;
        const char *kind = argc == 4 ? argv[3] : "ud";
        const char *k = NULL;
        for (size_t i = 0; i < ARRAY_SIZE(kinds); i++)
            if (!strcmp(kind, kinds[i]))
                k = kinds[i];
        if (!k)
            return -EINVAL;
        if (idx == 0 || idx >= ncpus) {
            con_printf("debug: CPU %llu is not an application processor (1..%u); the boot CPU runs the shell\n",
                       (unsigned long long)idx, ncpus ? ncpus - 1 : 0);
            return 0;
        }
        struct percpu *c = cpu_list[idx];
        int err = cpu_run_on(c, do_fault, (void *)k);
        if (err == -EBUSY) {
            con_printf("debug: CPU %llu is %s, not idle\n", (unsigned long long)idx, cpu_state_name(c->state));
            return 0;
        }
        if (err)
            return err;
        /* Wait for the dump so that it comes before the next prompt. */
        for (int i = 0; i < 2000 && c->state != CPU_HALTED; i++)
            time_delay_us(1000);
        if (c->state != CPU_HALTED)
            con_printf("debug: CPU %llu did not stop within 2 s (state %s)\n", (unsigned long long)idx,
                       cpu_state_name(c->state));
        return 0;
    }
    return -EINVAL;
}
SHELL_COMMAND(debug, "debug fault CPU [ud|gp|pf]",
              "make an idle CPU take an exception (tests the handler; that CPU stops)", cmd_debug);

static int cmd_vmtest(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    (void)vmtest_run(); /* it prints its verdict and any error itself */
    return 0;
}
SHELL_COMMAND(vmtest, "vmtest", "run a tiny guest through the virtualization backend on this CPU and check its exits",
              cmd_vmtest);

static int cmd_poweroff(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    power_off();
    return 0;
}
SHELL_COMMAND(poweroff, "poweroff", "switch the machine off (ACPI S5)", cmd_poweroff);

static int cmd_reboot(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    power_reset();
    return 0;
}
SHELL_COMMAND(reboot, "reboot", "reset the machine (ACPI reset register, else legacy methods)", cmd_reboot);
