/* See cpu_assign.h. */
#include "vmm/cpu_assign.h"
#include "kernel/printf.h"
#include "kernel/string.h"

int cpu_assign(const struct isthmus_config *cfg, u32 ncpus, struct cpu_assignment *out,
               char msgs[CONFIG_MAX_PARTITIONS][160])
{
    s8 owner[CPU_ASSIGN_MAX_CPUS];     /* partition index, -1 free, -2 the hypervisor's */
    int refused = 0;
    if (ncpus > CPU_ASSIGN_MAX_CPUS)
        ncpus = CPU_ASSIGN_MAX_CPUS;
    memset(out, 0, sizeof(*out));
    for (u32 c = 0; c < CPU_ASSIGN_MAX_CPUS; c++)
        owner[c] = -1;
    if (cfg->reserve_cpu0 && ncpus)
        owner[0] = -2;

    /* Explicit lists first, so that counts cannot take CPUs someone named. */
    for (u32 p = 0; p < cfg->npartitions && p < CONFIG_MAX_PARTITIONS; p++) {
        const struct config_partition *cp = &cfg->partition[p];
        msgs[p][0] = '\0';
        if (!cp->cpu_list)
            continue;
        bool good = true;
        for (u32 i = 0; i < cp->ncpus && good; i++) {
            u16 c = cp->cpus[i];
            if (c >= ncpus) {
                ksnprintf(msgs[p], 160, "partition \"%s\": CPU %u does not exist (this machine has CPUs 0-%u)",
                          cp->name, c, ncpus ? ncpus - 1 : 0);
                good = false;
            } else if (owner[c] == -2) {
                ksnprintf(msgs[p], 160, "partition \"%s\": CPU %u runs the hypervisor's shell "
                          "(reserve_cpu0 = true)", cp->name, c);
                good = false;
            } else if (owner[c] >= 0) {
                ksnprintf(msgs[p], 160, "partition \"%s\": CPU %u already belongs to \"%s\"", cp->name, c,
                          cfg->partition[owner[c]].name);
                good = false;
            }
        }
        if (!good) {
            refused++;
            continue;
        }
        for (u32 i = 0; i < cp->ncpus; i++) {
            owner[cp->cpus[i]] = (s8)p;
            out->cpu[p][i] = cp->cpus[i];
        }
        out->ncpus[p] = cp->ncpus;
        out->ok[p] = true;
    }
    for (u32 p = 0; p < cfg->npartitions && p < CONFIG_MAX_PARTITIONS; p++) {
        const struct config_partition *cp = &cfg->partition[p];
        if (cp->cpu_list)
            continue;
        u32 free = 0;
        for (u32 c = 0; c < ncpus; c++)
            free += owner[c] == -1;
        if (free < cp->ncpus) {
            ksnprintf(msgs[p], 160, "partition \"%s\" asks for %u CPU%s but only %u of the %u %s free",
                      cp->name, cp->ncpus, cp->ncpus == 1 ? "" : "s", free, ncpus,
                      free == 1 ? "is" : "are");
            refused++;
            continue;
        }
        u32 n = 0;
        for (u32 c = 0; c < ncpus && n < cp->ncpus; c++)
            if (owner[c] == -1) {
                owner[c] = (s8)p;
                out->cpu[p][n++] = (u16)c;
            }
        out->ncpus[p] = n;
        out->ok[p] = true;
    }
    return refused;
}
