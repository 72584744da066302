/* The `paging` command: how each running partition's memory is translated,
 * and for shadow paging what the shadow MMU did (docs/paging.md). */
#include "kernel/lib/shell_core.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "arch/x86/hw/pte.h"
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
               "INVLPG %llu; full flushes %llu; double faults %llu\n",
               (ull)st->faults, (ull)st->pf_exits, (ull)st->fills, (ull)st->guest_faults, (ull)st->mmio,
               (ull)st->invlpg, (ull)st->flushes, (ull)st->double_faults);
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

/* `paging NAME VA [VCPU]`: the shadow leaf a vCPU runs with for VA, with its
 * rights and memory type (assigned BARs must be uncacheable whatever the
 * guest's own entry says). */
static int show_entry(const char *name, const char *va_text, const char *vcpu_text)
{
    u64 va, vcpu = 0;
    if (kparse_u64(va_text, &va, false) < 0 || (vcpu_text && kparse_u64(vcpu_text, &vcpu, false) < 0)) {
        con_printf("paging: %s is not a number\n", kparse_u64(va_text, &va, false) < 0 ? va_text : vcpu_text);
        return -EINVAL;
    }
    int id = part_lookup(name);
    if (id < 0) {
        con_printf("paging: no partition named %s\n", name);
        return id;
    }
    u64 e;
    int rc = vcpu > UINT32_MAX ? -ERANGE : part_shadow_entry((u32)id, (u32)vcpu, va, &e);
    if (rc == -ENOTSUP) {
        con_printf("paging: %s is not running under shadow paging\n", name);
        return rc;
    }
    if (rc == -ERANGE) {
        con_printf("paging: %s has no vCPU %llu\n", name, (ull)vcpu);
        return rc;
    }
    if (rc < 0)
        return rc;
    if (!(e & PTE_P)) {
        con_printf("%s: vCPU %llu, 0x%llx: no shadow leaf now (filled at the next access)\n", name, (ull)vcpu, (ull)va);
        return 0;
    }
    /* PAT entries 0 and 3 are WB and UC both at reset and in Linux's layout. */
    unsigned pat = ((e & PTE_PAT) ? 4u : 0u) | ((e & PTE_PCD) ? 2u : 0u) | ((e & PTE_PWT) ? 1u : 0u);
    con_printf("%s: vCPU %llu, 0x%llx: shadow leaf 0x%llx: host frame 0x%llx%s%s%s%s, PAT entry %u%s\n", name,
               (ull)vcpu, (ull)va, (ull)e, (ull)(e & PTE_ADDR), (e & PTE_RW) ? ", writable" : ", read-only",
               (e & PTE_US) ? ", user" : ", supervisor", (e & PTE_NX) ? ", no-execute" : "",
               (e & PTE_D) ? ", dirty" : "", pat,
               pat == 3   ? " (uncacheable)"
               : pat == 0 ? " (write-back)"
                          : "");
    return 0;
}

static int cmd_paging(int argc, char **argv)
{
    if (argc > 4)
        return -EINVAL;
    if (argc >= 3)
        return show_entry(argv[1], argv[2], argc == 4 ? argv[3] : NULL);
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
SHELL_COMMAND(paging, "paging [NAME [VA [VCPU]]]",
              "how partitions' memory is translated; shadow paging: faults, root cache, page-table writes; "
              "with VA, the shadow leaf a vCPU runs with for it",
              cmd_paging);
