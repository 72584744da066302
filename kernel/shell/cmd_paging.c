/* The `paging` command: how each running partition's memory is translated,
 * and for shadow paging what the shadow MMU did (docs/paging.md). */
#include "kernel/lib/shell_core.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "vmm/query.h"

typedef unsigned long long ull;

static struct part_info info; /* the shell runs on CPU 0 only */

static void show(const struct part_info *p)
{
    if (p->paging == PART_PAGING_OFF) {
        con_printf("%s: %s\n", p->name, p->state_name);
        return;
    }
    if (p->paging == PART_PAGING_NESTED) {
        con_printf("%s: nested paging (%s)\n", p->name, p->slpt_name);
        return;
    }
    const struct part_shadow_info *st = &p->shadow;
    u64 lookups = st->root_hits + st->root_misses;
    u64 permille = lookups ? st->root_hits * 1000 / lookups : 0;
    con_printf("%s: shadow paging, up to %u shadow root(s) cached\n", p->name, st->nroots);
    con_printf("  CR3 loads %llu, other CR accesses %llu; root cache hits %llu, misses %llu, evictions %llu "
               "(hit rate %llu.%llu%%)\n",
               (ull)st->cr3_loads, (ull)st->cr_accesses, (ull)st->root_hits, (ull)st->root_misses,
               (ull)st->root_evictions, (ull)(permille / 10), (ull)(permille % 10));
    con_printf("  shadow faults %llu (#PF exits %llu): filled %llu, reflected to the guest %llu, MMIO %llu; "
               "INVLPG %llu; full flushes %llu\n",
               (ull)st->faults, (ull)st->pf_exits, (ull)st->fills, (ull)st->guest_faults, (ull)st->mmio,
               (ull)st->invlpg, (ull)st->flushes);
    con_printf("  page-table writes emulated %llu, pages unprotected %llu; guest page-table pages tracked %llu; "
               "shadow table pages %llu\n",
               (ull)st->pt_writes, (ull)st->unprotects, (ull)st->tracked, (ull)st->tables);
    con_printf(
        "  shadow memory %llu KiB (tables %llu KiB, peak %llu KiB, limit %llu KiB); idle roots evicted for "
        "room %llu, subtrees %llu; pages released after write floods %llu; leaves write-protected %llu; reverse map %llu; "
        "vCPU syncs %llu\n",
        (ull)(st->memory >> 10), (ull)(st->tables * 4), (ull)(st->tables_peak * 4), (ull)(st->max_tables * 4),
        (ull)st->budget_evictions, (ull)st->subtree_evictions, (ull)st->floods, (ull)st->protects, (ull)st->rmap,
        (ull)st->syncs);
}

static int cmd_paging(int argc, char **argv)
{
    if (argc > 2)
        return -EINVAL;
    bool found = false;
    for (u32 i = 0; i < part_count(); i++) {
        if (part_snapshot(i, &info) < 0 || (argc == 2 && strcmp(argv[1], info.name)))
            continue;
        found = true;
        show(&info);
    }
    if (argc == 2 && !found) {
        con_printf("paging: no partition named %s\n", argv[1]);
        return -ENOENT;
    }
    return 0;
}
SHELL_COMMAND(paging, "paging [NAME]",
              "how partitions' memory is translated; shadow paging: faults, root cache, page-table writes", cmd_paging);
