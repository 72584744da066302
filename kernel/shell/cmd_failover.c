/* The failover shell commands: `hb` (each watched partition's heartbeat),
 * `failover` (groups, primaries, measured times, history) and
 * `failover NAME` (manual switchover). docs/failover.md. */
#include "kernel/lib/shell_core.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"
#include "kernel/lib/printf.h"
#include "vmm/ha/failover.h"
#include "vmm/query.h"

typedef unsigned long long ull;

static const char *pname(s32 i)
{
    const char *n = i >= 0 ? part_name((u32)i) : NULL;
    return n ? n : "-";
}

/* ns as milliseconds with three decimals. */
static void print_ms(u64 ns) { con_printf("%llu.%03llu ms", (ull)(ns / 1000000), (ull)(ns / 1000 % 1000)); }

static int cmd_hb(int argc, char **argv)
{
    (void)argv;
    if (argc != 1)
        return -EINVAL;
    if (!hb.ngroups) {
        con_printf("hb: no [[failover]] groups are configured: no heartbeats are watched\n");
        return 0;
    }
    u64 now = time_now_us() * 1000;
    con_printf("%-16s %-12s %-8s %-8s %12s %10s %8s %6s\n", "PARTITION", "GROUP", "ROLE", "STATE", "LAST BEAT", "BEATS",
               "MISSES", "LATE");
    for (u32 i = 0; i < hb.nparts; i++) {
        const struct hb_part *h = &hb.part[i];
        if (!h->monitored)
            continue;
        u64 last = __atomic_load_n(&h->last_beat, __ATOMIC_ACQUIRE);
        char age[24] = "never";
        if (__atomic_load_n(&h->beats, __ATOMIC_RELAXED))
            ksnprintf(age, sizeof(age), "%llu ms ago", (ull)(now > last ? (now - last) / 1000000 : 0));
        con_printf("%-16s %-12s %-8s %-8s %12s %10llu %8llu %6llu\n", pname((s32)i), hb.group[h->group].cfg->name,
                   hb_role_name(h->role), hb_pstate_name(h->state), age, (ull)h->beats, (ull)h->misses, (ull)h->late);
        if (h->state == HB_FAILED && h->why[0])
            con_printf("  failed: %s\n", h->why);
    }
    return 0;
}
SHELL_COMMAND(hb, "hb", "heartbeats of the partitions in failover groups: role, state, age of the last beat, misses",
              cmd_hb);

static void show_group(const struct hb_group *g)
{
    static const char *const modes[] = { "auto", "hot", "cold" };
    const struct config_failover *c = g->cfg;
    con_printf("group %s: %s, mode %s, primary %s, standby %s", c->name, hb_gstate_name(g->state), modes[c->mode % 3],
               pname(g->primary),
               g->standby >= 0        ? pname(g->standby)
               : c->standby_kernel[0] ? c->standby_kernel
                                      : "(restart)");
    con_printf(", beats every %u ms, failed after %u missed\n", c->interval_ms, c->misses);
    if (g->state == HBG_DOWN && g->why[0])
        con_printf("  down: %s\n", g->why);
    if (g->state == HBG_TAKEOVER)
        con_printf("  taking over: %s (%s)\n", pname(g->target), g->target_cold ? "booting" : "promoted");
    con_printf("  failovers %u", g->failovers);
    if (g->failovers) {
        con_printf(", detection last ");
        print_ms(g->detect_last);
        con_printf(" max ");
        print_ms(g->detect_max);
        con_printf(", takeover last ");
        print_ms(g->takeover_last);
        con_printf(" max ");
        print_ms(g->takeover_max);
    }
    con_printf("\n");
    for (u32 k = 0; k < hb_event_count(g); k++) {
        const struct hb_event *e = hb_event_at(g, k);
        con_printf("  %6llu.%06llu s  %-12s %s", (ull)(e->at / 1000000000), (ull)(e->at / 1000 % 1000000),
                   hb_event_name(e->kind), pname(e->part));
        if (e->other >= 0)
            con_printf(e->kind == HB_EV_TAKEN_OVER ? " (replacing %s)" : " -> %s", pname(e->other));
        if (e->kind == HB_EV_TAKEN_OVER) {
            con_printf(" detection ");
            print_ms(e->detect_ns);
            con_printf(" takeover ");
            print_ms(e->takeover_ns);
        }
        con_printf("%s%s\n", e->why[0] ? ": " : "", e->why);
    }
}

static int cmd_failover(int argc, char **argv)
{
    if (argc > 2)
        return -EINVAL;
    if (!hb.ngroups) {
        con_printf("failover: no [[failover]] groups are configured\n");
        return 0;
    }
    if (argc == 1) {
        for (u32 i = 0; i < hb.ngroups; i++)
            show_group(&hb.group[i]);
        return 0;
    }
    int g = hb_group_find(&hb, argv[1]);
    if (g < 0) {
        con_printf("failover: no group named \"%s\" (see `failover`)\n", argv[1]);
        return 0;
    }
    char err[160];
    if (failover_switchover((u32)g, err, sizeof(err)) < 0) {
        con_printf("failover: %s\n", err);
        return 0;
    }
    con_printf("failover: %s: %s is primary now (taking over)\n", argv[1], pname(hb.group[g].primary));
    return 0;
}
SHELL_COMMAND(failover, "failover [NAME]",
              "failover groups: state, primary, measured times, history; NAME: switch its service to the standby",
              cmd_failover);
