/* The NUMA placement planner; the rules are in placement.h. */
#include "vmm/placement.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"
#include <stdarg.h>

#define FREE     (-1)
#define NOT_OURS (-2)

struct state {
    s8 cpu_owner[PLACE_MAX_CPUS]; /* FREE, NOT_OURS or the partition index */
    u64 mem_left[PLACE_MAX_NODES];
    s8 dev_owner[PLACE_MAX_DEVS];
};

u32 place_distance(const struct place_machine *m, u32 a, u32 b)
{
    if (a >= PLACE_MAX_NODES || b >= PLACE_MAX_NODES)
        return 255;
    u8 d = m->dist[a][b];
    return d ? d : (a == b ? 10 : 20);
}

static u32 mib(u64 bytes) { return (u32)(bytes >> 20); }

static u32 free_cpus(const struct place_machine *m, const struct state *s, u32 node)
{
    u32 n = 0;
    for (u32 c = 0; c < m->ncpus && c < PLACE_MAX_CPUS; c++)
        n += s->cpu_owner[c] == FREE && m->cpu_node[c] == (s8)node;
    return n;
}

/* Nodes in the order to try them: by distance from `from` (then number), or by
 * number when from < 0. */
static u32 node_order(const struct place_machine *m, s32 from, u32 order[PLACE_MAX_NODES])
{
    u32 n = MIN(m->nnodes, (u32)PLACE_MAX_NODES);
    for (u32 i = 0; i < n; i++)
        order[i] = i;
    if (from < 0)
        return n;
    for (u32 i = 1; i < n; i++) { /* insertion sort: stable, n is small */
        u32 v = order[i], j = i;
        while (j > 0 && place_distance(m, (u32)from, order[j - 1]) > place_distance(m, (u32)from, v)) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = v;
    }
    return n;
}

static void bdf_text(u32 bdf, char *buf, size_t len)
{
    ksnprintf(buf, len, "%04x:%02x:%02x.%u", bdf >> 16, (bdf >> 8) & 0xff, (bdf >> 3) & 0x1f, bdf & 7);
}

static bool refuse(struct place_result *r, const char *fmt, ...) __printf(2, 3);
static bool refuse(struct place_result *r, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(r->msg, sizeof(r->msg), fmt, ap);
    va_end(ap);
    r->ok = false;
    r->ncpus = r->nmem = r->ndevices = 0;
    return false;
}

/* Free CPUs and memory per node, for messages: "node 0: 1 CPU, 300 MiB; node 1: ..." */
static void free_summary(const struct place_machine *m, const struct state *s, char *buf, size_t len)
{
    size_t n = 0;
    buf[0] = '\0';
    for (u32 i = 0; i < m->nnodes && i < PLACE_MAX_NODES && n + 40 < len; i++) {
        u32 c = free_cpus(m, s, i);
        n += (size_t)ksnprintf(buf + n, len - n, "%snode %u: %u CPU%s, %u MiB", i ? "; " : "", i, c, c == 1 ? "" : "s",
                               mib(s->mem_left[i]));
    }
}

static bool place_devices(const struct place_machine *m, struct state *s, const struct place_request *q, u32 self,
                          const struct place_request *all, struct place_result *r, s32 *dev_node)
{
    *dev_node = -1;
    for (u32 d = 0; d < q->ndevices && d < PLACE_MAX_PART_DEVS; d++) {
        char name[24];
        bdf_text(q->devices[d], name, sizeof(name));
        u32 k;
        for (k = 0; k < m->ndevs && m->devs[k].bdf != q->devices[d]; k++)
            ;
        if (k == m->ndevs)
            return refuse(r, "partition \"%s\": PCI device %s does not exist", q->name, name);
        if (s->dev_owner[k] == (s8)self)
            return refuse(r, "partition \"%s\": PCI device %s is listed twice", q->name, name);
        if (s->dev_owner[k] != FREE)
            return refuse(r, "partition \"%s\": PCI device %s already belongs to \"%s\"", q->name, name,
                          all[s->dev_owner[k]].name);
        s8 node = m->devs[k].node;
        if (node >= 0 && *dev_node >= 0 && node != *dev_node && q->numa != PLACE_SPREAD)
            return refuse(r,
                          "partition \"%s\": its PCI devices are on nodes %d and %d; set numa = \"spread\" "
                          "to allow a partition on several nodes",
                          q->name, *dev_node, node);
        if (node >= 0 && *dev_node < 0)
            *dev_node = node;
        s->dev_owner[k] = (s8)self;
        r->dev_index[r->ndevices++] = (u16)k;
    }
    return true;
}

static bool check_cpu_list(const struct place_machine *m, struct state *s, const struct place_request *q, u32 self,
                           const struct place_request *all, struct place_result *r)
{
    for (u32 i = 0; i < q->ncpus; i++) {
        u16 c = q->cpus[i];
        if (c >= m->ncpus)
            return refuse(r, "partition \"%s\": CPU %u does not exist (this machine has CPUs 0-%u)", q->name, c,
                          m->ncpus ? m->ncpus - 1 : 0);
        if (m->cpu_reserved[c])
            return refuse(r, "partition \"%s\": CPU %u runs the hypervisor's shell (reserve_cpu0 = true)", q->name, c);
        if (m->cpu_node[c] < 0)
            return refuse(r, "partition \"%s\": CPU %u is not online", q->name, c);
        if (s->cpu_owner[c] >= 0)
            return refuse(r, "partition \"%s\": CPU %u already belongs to \"%s\"", q->name, c,
                          all[s->cpu_owner[c]].name);
        if (q->node >= 0 && m->cpu_node[c] != q->node)
            return refuse(r, "partition \"%s\": CPU %u is on node %d, not on node %d that it is pinned to", q->name, c,
                          m->cpu_node[c], q->node);
        if (q->numa != PLACE_SPREAD && m->cpu_node[c] != m->cpu_node[q->cpus[0]])
            return refuse(r,
                          "partition \"%s\": CPUs %u and %u are on different nodes (%d and %d); set "
                          "numa = \"spread\" to allow that",
                          q->name, q->cpus[0], c, m->cpu_node[q->cpus[0]], m->cpu_node[c]);
    }
    for (u32 i = 0; i < q->ncpus; i++) {
        s->cpu_owner[q->cpus[i]] = (s8)self;
        r->cpus[r->ncpus++] = q->cpus[i];
    }
    return true;
}

static void take_cpus(const struct place_machine *m, struct state *s, u32 node, u32 want, u32 self,
                      struct place_result *r)
{
    for (u32 c = 0; c < m->ncpus && r->ncpus < want; c++)
        if (s->cpu_owner[c] == FREE && m->cpu_node[c] == (s8)node) {
            s->cpu_owner[c] = (s8)self;
            r->cpus[r->ncpus++] = (u16)c;
        }
}

static void take_mem(struct state *s, u32 node, u64 bytes, struct place_result *r)
{
    s->mem_left[node] -= bytes;
    r->mem[r->nmem].node = (s32)node;
    r->mem[r->nmem++].bytes = bytes;
}

/* numa = spread: CPUs and memory from the nodes in order until both suffice. */
static bool place_spread(const struct place_machine *m, struct state *s, const struct place_request *q, u32 self,
                         const u32 *order, u32 norder, struct place_result *r)
{
    for (u32 i = 0; i < norder && !q->cpu_list && r->ncpus < q->ncpus; i++)
        take_cpus(m, s, order[i], q->ncpus, self, r);
    u64 need = q->memory;
    for (u32 i = 0; i < norder && need; i++) {
        u64 avail = ALIGN_DOWN(s->mem_left[order[i]], PLACE_GRAIN);
        if (avail)
            take_mem(s, order[i], MIN(avail, need), r);
        need -= MIN(avail, need);
    }
    if (r->ncpus < q->ncpus || need)
        return refuse(r,
                      "partition \"%s\" needs %u CPUs and %u MiB but the nodes it may use have only "
                      "%u CPUs and %u MiB free",
                      q->name, q->ncpus, mib(q->memory), r->ncpus, mib(q->memory - need));
    return true;
}

static bool place_one(const struct place_machine *m, struct state *s, const struct place_request *q, u32 self,
                      s32 dev_node, struct place_result *r)
{
    if (q->node >= (s32)m->nnodes)
        return refuse(r, "partition \"%s\": node %d does not exist (this machine has node%s 0%s%u)", q->name, q->node,
                      m->nnodes > 1 ? "s" : "", m->nnodes > 1 ? "-" : "", m->nnodes > 1 ? m->nnodes - 1 : 0);
    if (q->node >= 0 && dev_node >= 0 && q->node != dev_node)
        return refuse(r, "partition \"%s\" is pinned to node %d but its PCI devices are on node %d", q->name, q->node,
                      dev_node);
    s32 cpu_node = q->cpu_list && q->ncpus ? m->cpu_node[q->cpus[0]] : -1;
    r->wanted = dev_node >= 0 ? dev_node : q->node >= 0 ? q->node : cpu_node;
    bool strict = q->node >= 0;
    u32 order[PLACE_MAX_NODES];
    u32 norder = strict ? 1 : node_order(m, r->wanted, order);
    if (strict)
        order[0] = (u32)q->node;
    char sum[160];

    if (q->numa == PLACE_SPREAD) {
        if (!place_spread(m, s, q, self, order, norder, r)) {
            free_summary(m, s, sum, sizeof(sum));
            size_t l = strlen(r->msg);
            ksnprintf(r->msg + l, sizeof(r->msg) - l, " (%s)", sum);
            return false;
        }
    } else if (q->cpu_list) {
        /* The CPUs are fixed; the memory goes to their node, or the nearest with room. */
        if (!strict)
            norder = node_order(m, cpu_node, order);
        u32 i;
        for (i = 0; i < norder && s->mem_left[order[i]] < q->memory; i++)
            ;
        if (i == norder) {
            free_summary(m, s, sum, sizeof(sum));
            return refuse(r, "partition \"%s\" needs %u MiB on one node near its CPUs; free: %s", q->name,
                          mib(q->memory), sum);
        }
        take_mem(s, order[i], q->memory, r);
    } else {
        u32 i;
        for (i = 0; i < norder; i++)
            if (free_cpus(m, s, order[i]) >= q->ncpus && s->mem_left[order[i]] >= q->memory)
                break;
        if (i == norder) {
            free_summary(m, s, sum, sizeof(sum));
            if (strict)
                return refuse(r,
                              "partition \"%s\" is pinned to node %d, which has %u free CPU%s and %u MiB "
                              "free; it needs %u and %u MiB",
                              q->name, q->node, free_cpus(m, s, (u32)q->node),
                              free_cpus(m, s, (u32)q->node) == 1 ? "" : "s", mib(s->mem_left[q->node]), q->ncpus,
                              mib(q->memory));
            return refuse(r, "partition \"%s\" needs %u CPU%s and %u MiB on one node; free: %s%s", q->name, q->ncpus,
                          q->ncpus == 1 ? "" : "s", mib(q->memory), sum,
                          m->nnodes > 1 ? " (numa = \"spread\" allows several nodes)" : "");
        }
        take_cpus(m, s, order[i], q->ncpus, self, r);
        take_mem(s, order[i], q->memory, r);
    }

    r->home = m->cpu_node[r->cpus[0]];
    r->fallback = false;
    if (r->wanted >= 0) {
        for (u32 i = 0; i < r->ncpus; i++)
            r->fallback |= m->cpu_node[r->cpus[i]] != r->wanted;
        for (u32 i = 0; i < r->nmem; i++)
            r->fallback |= r->mem[i].node != r->wanted;
    }
    const char *why = dev_node >= 0  ? "its PCI devices' node"
                      : q->node >= 0 ? "the node it is pinned to"
                      : q->cpu_list  ? "its CPUs' node"
                                     : "the first node with room";
    if (r->fallback)
        ksnprintf(r->msg, sizeof(r->msg),
                  "wanted node %d (%s), which is short of room; placed on node %d "
                  "(distance %u)%s",
                  r->wanted, why, r->home, place_distance(m, (u32)r->wanted, (u32)r->home),
                  r->nmem > 1 || (r->nmem == 1 && r->mem[0].node != r->home) ? ", memory split as listed" : "");
    else
        ksnprintf(r->msg, sizeof(r->msg), "node %d: %s", r->home, why);
    r->ok = true;
    return true;
}

int place_plan(const struct place_machine *m, const struct place_request *req, u32 n, struct place_result *out)
{
    static struct state s; /* not reentrant; the planner runs on CPU 0 (or in one test thread) */
    s32 dev_node[PLACE_MAX_PARTS];
    bool live[PLACE_MAX_PARTS];
    n = MIN(n, (u32)PLACE_MAX_PARTS);
    memset(&s, 0, sizeof(s));
    for (u32 c = 0; c < PLACE_MAX_CPUS; c++)
        s.cpu_owner[c] = (c < m->ncpus && m->cpu_node[c] >= 0 && !m->cpu_reserved[c]) ? FREE : NOT_OURS;
    for (u32 i = 0; i < PLACE_MAX_NODES; i++)
        s.mem_left[i] = i < m->nnodes ? m->node_mem[i] : 0;
    for (u32 d = 0; d < PLACE_MAX_DEVS; d++)
        s.dev_owner[d] = FREE;

    /* A refused partition gives back what it took: work on a copy, commit on success. */
    static struct state trial;
    for (u32 i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof(out[i]));
        out[i].home = out[i].wanted = -1;
        trial = s;
        live[i] = place_devices(m, &trial, &req[i], i, req, &out[i], &dev_node[i]);
        if (live[i])
            s = trial;
    }
    for (u32 i = 0; i < n; i++) {
        if (!live[i] || !req[i].cpu_list)
            continue;
        trial = s;
        live[i] = check_cpu_list(m, &trial, &req[i], i, req, &out[i]);
        if (live[i])
            s = trial;
        else
            for (u32 d = 0; d < PLACE_MAX_DEVS; d++)
                if (s.dev_owner[d] == (s8)i)
                    s.dev_owner[d] = FREE;
    }
    /* By priority, higher first; config order breaks ties (a stable selection). */
    bool done[PLACE_MAX_PARTS] = { false };
    int refused = 0;
    for (u32 k = 0; k < n; k++) {
        s32 best = -1;
        for (u32 i = 0; i < n; i++)
            if (!done[i] && (best < 0 || req[i].priority > req[best].priority))
                best = (s32)i;
        if (best < 0)
            break; /* cannot happen: one request is left per round */
        u32 i = (u32)best;
        done[i] = true;
        if (!live[i]) {
            refused++;
            continue;
        }
        trial = s;
        if (place_one(m, &trial, &req[i], i, dev_node[i], &out[i])) {
            s = trial;
            continue;
        }
        refused++;
        /* Give back its explicit CPUs and devices. */
        for (u32 c = 0; c < PLACE_MAX_CPUS; c++)
            if (s.cpu_owner[c] == (s8)i)
                s.cpu_owner[c] = FREE;
        for (u32 d = 0; d < PLACE_MAX_DEVS; d++)
            if (s.dev_owner[d] == (s8)i)
                s.dev_owner[d] = FREE;
    }
    return refused;
}
