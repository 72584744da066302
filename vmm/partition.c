/* Partition lifecycle: building a partition's memory (image, start info, ACPI
 * tables, second-level page tables), launching its vCPU threads, stopping and
 * freeing it. Runs on CPU 0 (boot and shell); the vCPU threads only read what
 * is built here, and report back through state, reason and vcpus_active. */
#include "vmm/partition.h"
#include "vmm/dma.h"
#include "vmm/pvh_loader.h"
#include "vmm/pvh_start.h"
#include "vmm/bzimage.h"
#include "vmm/boot64.h"
#include "vmm/guest_acpi.h"
#include "arch/x86/hw/pc.h"
#include "vmm/placement.h"
#include "vmm/vdev.h"
#include "vmm/guest_aml.h"
#include "vmm/shadow_vcpu.h"
#include "drivers/pci_access.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/cpuid.h"
#include "arch/x86/smp.h"
#include "arch/x86/virt.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "drivers/machine.h"
#include "kernel/core/mm.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"
#include <stdarg.h>

#define STOP_TIMEOUT_MS 2000

struct partition partitions[CONFIG_MAX_PARTITIONS];
u32 npartitions;

static const struct part_observer no_observer;
static const struct part_observer *observer = &no_observer;

int part_observe(const struct part_observer *o)
{
    if (observer != &no_observer)
        return -EBUSY;
    observer = o;
    return 0;
}

void part_hc_env(struct partition *p, struct hc_env *env, struct isthmus_hb_info *buf)
{
    if (observer->hc_env)
        observer->hc_env(p, env, buf);
}

const char *part_state_name(u32 s)
{
    static const char *const names[] = { "stopped", "running", "stopping", "failed", "refused" };
    return s < ARRAY_SIZE(names) ? names[s] : "?";
}

const char *vcpu_run_state_name(u32 s)
{
    static const char *const names[] = { "off", "wait-for-SIPI", "running", "halted" };
    return s < ARRAY_SIZE(names) ? names[s] : "?";
}

struct partition *part_find(const char *name)
{
    for (u32 i = 0; i < npartitions; i++)
        if (!strcmp(partitions[i].cfg->name, name))
            return &partitions[i];
    return NULL;
}

u64 part_exits(const struct partition *p)
{
    u64 n = p->exits_before;
    for (u32 i = 0; i < p->nvcpus; i++)
        if (p->vcpu[i])
            n += p->vcpu[i]->v.stats.exits;
    return n;
}

u64 part_ram_bytes(const struct partition *p)
{
    u64 n = 0;
    for (u32 i = 0; i < p->layout.nranges; i++)
        if (p->layout.ranges[i].type == HVM_MEMMAP_RAM)
            n += p->layout.ranges[i].size;
    return n;
}

static const struct boot_file *find_file(const char *name)
{
    const struct boot_info *bi = machine.bi;
    for (u32 i = 0; i < bi->nfiles; i++)
        if (!strcmp(bi->files[i].name, name))
            return &bi->files[i];
    return NULL;
}

/* ---- second-level page tables ---- */

static int table_alloc(void *ctx, hpa_t *pa)
{
    struct partition *p = ctx;
    if (p->table_cache) {
        *pa = p->table_cache;
        u64 *page = hpa_to_ptr(*pa);
        p->table_cache = page[0];
        memset(page, 0, PAGE_SIZE);
        p->cached_tables--;
        return 0;
    }
    return mm_alloc(p->node, 1, 1, 0, pa, NULL);
}

/* A page-aligned link in entry 0 is a non-present entry in both formats, so a
 * stale walk through a cached table finds nothing. */
static void table_free(void *ctx, hpa_t pa)
{
    struct partition *p = ctx;
    *(u64 *)hpa_to_ptr(pa) = p->table_cache;
    p->table_cache = pa;
    p->cached_tables++;
}

static void *table_map(void *ctx, hpa_t pa)
{
    (void)ctx;
    return hpa_to_ptr(pa);
}

void part_table_ops(struct partition *p, struct slpt_ops *ops)
{
    *ops = (struct slpt_ops){ table_alloc, table_free, table_map, p };
}

int part_map_ram(struct partition *p, struct slpt *t, unsigned perms)
{
    for (u32 i = 0; i < p->nram_ranges; i++) {
        const struct hc_mem_range *r = &p->ram_ranges[i];
        for (u32 k = 0; k < p->gmem.n; k++) {
            const struct gmem_chunk *c = &p->gmem.c[k];
            u64 lo = MAX(r->start, c->gpa), hi = MIN(r->end, c->gpa + c->size);
            if (lo >= hi)
                continue;
            int rc = slpt_map(t, gpa(lo), c->hpa + (lo - c->gpa), hi - lo, perms, SLPT_WB);
            if (rc < 0)
                return rc;
        }
    }
    return 0;
}

/* ---- guest memory writes for the loader (bounds-checked against the block) ---- */

static int guest_write(void *ctx, gpa_t g, const void *src, u64 len)
{
    struct partition *p = ctx;
    return gmem_write(&p->gmem, g.v, src, len);
}

static int guest_zero(void *ctx, gpa_t g, u64 len)
{
    struct partition *p = ctx;
    return gmem_zero(&p->gmem, g.v, len);
}

static void free_memory(struct partition *p)
{
    /* Devices stop decoding, DMA and interrupts before the memory goes. */
    vdev_quiesce_all(p);
    vdev_detach_all(p);
    dma_detach(p);
    for (u32 i = 0; i < p->nvcpus; i++) {
        if (p->vcpu[i]) {
            p->exits_before += p->vcpu[i]->v.stats.exits;
            mm_release(ptr_to_hpa(p->vcpu[i]), ALIGN_UP(sizeof(struct vm_vcpu), PAGE_SIZE) / PAGE_SIZE);
            p->vcpu[i] = NULL;
        }
    }
    shadow_part_free(p);
    if (p->slpt_ready) {
        slpt_destroy(&p->slpt);
        p->slpt_ready = false;
    }
    while (p->table_cache) {
        hpa_t pa = p->table_cache;
        p->table_cache = *(u64 *)hpa_to_ptr(pa);
        mm_release(pa, 1);
    }
    p->cached_tables = 0;
    for (u32 i = 0; i < p->gmem.n; i++)
        mm_release(p->gmem.c[i].hpa, p->gmem.c[i].size / PAGE_SIZE);
    memset(&p->gmem, 0, sizeof(p->gmem));
}

/* The partition's ACPI tables at LAYOUT_ACPI; *rsdp gets the RSDP's address. */
static int build_acpi(struct partition *p, u64 *rsdp, char *err, size_t errlen)
{
    u32 apic_ids[CONFIG_MAX_PART_CPUS];
    for (u32 i = 0; i < p->nvcpus; i++)
        apic_ids[i] = i;
    /* SRAT (and SLIT when it spans nodes): the guest's proximity domains are the
     * host nodes it uses, numbered 0.. in host node order, so a NUMA-aware guest
     * sees its true locality and nothing of the rest of the machine. */
    s32 node_of_domain[PLACE_MAX_NODES] = { 0 };
    u32 ndomains = 0;
    u32 cpu_domain[CONFIG_MAX_PART_CPUS] = { 0 };
    for (int n = 0; n < (int)PLACE_MAX_NODES; n++) {
        bool used = false;
        for (u32 i = 0; i < p->gmem.n; i++)
            used |= p->gmem.c[i].node == n;
        for (u32 i = 0; i < p->nvcpus; i++)
            used |= cpu_list[p->cpus[i]]->node == n;
        if (used)
            node_of_domain[ndomains++] = n;
    }
    u32 chunk_domain[GMEM_MAX_CHUNKS] = { 0 };
    for (u32 d = 0; d < ndomains; d++) {
        for (u32 i = 0; i < p->gmem.n; i++)
            if (p->gmem.c[i].node == node_of_domain[d])
                chunk_domain[i] = d;
        for (u32 i = 0; i < p->nvcpus; i++)
            if (cpu_list[p->cpus[i]]->node == node_of_domain[d])
                cpu_domain[i] = d;
    }
    /* One affinity entry per piece of RAM per host block. */
    struct guest_acpi_mem_affinity aff[2 * GMEM_MAX_CHUNKS];
    u32 naff = 0;
    const u64 ram[2][2] = { { 0, LAYOUT_LOW_RAM_END }, { LAYOUT_HIGH_RAM, p->memory } };
    for (u32 r = 0; r < 2; r++)
        for (u32 i = 0; i < p->gmem.n; i++) {
            u64 lo = MAX(ram[r][0], p->gmem.c[i].gpa), hi = MIN(ram[r][1], p->gmem.c[i].gpa + p->gmem.c[i].size);
            if (lo < hi)
                aff[naff++] = (struct guest_acpi_mem_affinity){ lo, hi - lo, chunk_domain[i] };
        }
    static u8 dist[PLACE_MAX_NODES][PLACE_MAX_NODES];
    u8 *slit = NULL;
    if (ndomains > 1) {
        slit = &dist[0][0];
        for (u32 a = 0; a < ndomains; a++)
            for (u32 b = 0; b < ndomains; b++) {
                u8 d = machine.topo.dist[node_of_domain[a]][node_of_domain[b]];
                slit[a * ndomains + b] = a == b ? 10 : (d > 10 ? d : 20);
            }
    }
    struct guest_acpi_numa numa = { ndomains, cpu_domain, aff, naff, slit };
    /* The DSDT declares the PCI host bridge, so an ACPI guest (Linux) scans the
     * bus and finds its devices and NIC without boot options. */
    static u8 aml[GUEST_AML_PCI_ROOT_MAX + GUEST_AML_S5_LEN + GUEST_AML_COM1_MAX + GUEST_AML_RTC_MAX];
    const struct guest_aml_pci win = { part_mmio32_base(p), LAYOUT_MMIO32_END, LAYOUT_MMIO64_BASE, part_phys_limit() };
    u32 aml_len = 0;
    int rc = guest_aml_pci_root(aml, sizeof(aml), &win, &aml_len);
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "DSDT: cannot describe the PCI host bridge");
    u32 s5_len = 0;
    rc = guest_aml_s5(aml + aml_len, (u32)sizeof(aml) - aml_len, LAYOUT_SLP_TYP_S5, &s5_len);
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "DSDT: no room for \\_S5");
    aml_len += s5_len;
    /* COM1 with the interrupt its MADT override gives it (vmm/guest_aml.h). */
    u32 com1_len = 0;
    rc = guest_aml_com1(aml + aml_len, (u32)sizeof(aml) - aml_len, PC_COM1_PORT, GUEST_ACPI_COM1_IRQ,
                        (GUEST_ACPI_COM1_ISO_FLAGS & ACPI_MPS_TRIGGER_MASK) == ACPI_MPS_TRIGGER_LEVEL, &com1_len);
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "DSDT: no room for COM1");
    aml_len += com1_len;
    u32 rtc_len = 0;
    rc = guest_aml_rtc(aml + aml_len, (u32)sizeof(aml) - aml_len, PC_RTC_PORT, &rtc_len);
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "DSDT: no room for the CMOS clock");
    aml_len += rtc_len;
    struct guest_acpi_config ac = {
        .nvcpus = p->nvcpus, .apic_ids = apic_ids, .numa = &numa, .dsdt_aml = aml, .dsdt_aml_len = aml_len
    };
    struct guest_acpi_layout al;
    /* In the first host block (at least 2 MiB). */
    u8 *acpi = gmem_ptr(&p->gmem, LAYOUT_ACPI, LAYOUT_ACPI_SZ);
    if (!acpi)
        return kerr_fmt(err, errlen, -EFAULT, "the first memory block is too small for the ACPI tables");
    char why[PVH_ERR_LEN];
    rc = guest_acpi_build(&ac, gpa(LAYOUT_ACPI), acpi, LAYOUT_ACPI_TABLES_SZ, &al, why, sizeof(why));
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "ACPI tables: %s", why);
    *rsdp = al.rsdp;
    return 0;
}

/* A PVH ELF kernel, the initrd as its module 0, and the start info. */
static int load_pvh(struct partition *p, const struct boot_file *k, const struct boot_file *rd, u64 rsdp, char *err,
                    size_t errlen)
{
    const struct part_image *c = &p->image;
    char why[PVH_ERR_LEN];
    struct pvh_image img;
    int rc = pvh_inspect(hpa_to_ptr(k->addr), k->size, &img, why, sizeof(why));
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "kernel %s: %s", c->kernel, why);
    const struct partition_layout *l = &p->layout;
    struct pvh_load_ops ops = { guest_write, guest_zero, p };
    rc = pvh_load(hpa_to_ptr(k->addr), k->size, &img, p->memory, l->reserved, l->nreserved, &ops, why, sizeof(why));
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "kernel %s: %s", c->kernel, why);
    p->entry = img.entry;
    p->entry64 = false;

    struct pvh_module mod;
    u32 nmod = 0;
    if (rd) {
        u64 at;
        rc = pvh_place_module(img.end, rd->size, p->memory, l->reserved, l->nreserved, &at, why, sizeof(why));
        if (rc < 0)
            return kerr_fmt(err, errlen, rc, "initrd %s: %s", c->initrd, why);
        if ((rc = guest_write(p, gpa(at), hpa_to_ptr(rd->addr), rd->size)) < 0)
            return kerr_fmt(err, errlen, rc, "initrd %s does not fit", c->initrd);
        mod = (struct pvh_module){ at, rd->size, NULL };
        nmod = 1;
    }
    u8 *start = gmem_ptr(&p->gmem, LAYOUT_START_INFO, LAYOUT_START_INFO_SZ);
    if (!start)
        return kerr_fmt(err, errlen, -EFAULT, "the first memory block is too small for the start info");
    struct pvh_start_config sc = {
        .base = gpa(LAYOUT_START_INFO),
        .buf = start,
        .buf_size = LAYOUT_START_INFO_SZ,
        .ranges = l->ranges,
        .nranges = l->nranges,
        .cmdline = c->cmdline,
        .modules = nmod ? &mod : NULL,
        .nmodules = nmod,
        .rsdp_gpa = rsdp,
    };
    struct pvh_start_layout sl;
    rc = pvh_start_build(&sc, &sl, why, sizeof(why));
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "start info: %s", why);
    return 0;
}

STATIC_ASSERT(LAYOUT_BOOT64_SZ == BOOT64_SIZE && LAYOUT_BOOT64_MISC == LAYOUT_BOOT64 + BOOT64_TABLES_SZ,
              "the layout's boot area is what boot64_build() writes");
STATIC_ASSERT(LAYOUT_START_INFO_SZ == BP_SIZE, "the zero page takes the start info page");

/* A bzImage through the 64-bit boot protocol: the identity map, GDT and
 * command line in the boot area, the zero page in the start info page. */
static int load_bzimage(struct partition *p, const struct boot_file *k, const struct boot_file *rd, u64 rsdp, char *err,
                        size_t errlen)
{
    const struct part_image *c = &p->image;
    char why[BZ_ERR_LEN];
    struct bzimage_info bz;
    int rc = bzimage_inspect(hpa_to_ptr(k->addr), k->size, &bz, why, sizeof(why));
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "kernel %s: %s", c->kernel, why);
    u8 *boot = gmem_ptr(&p->gmem, LAYOUT_BOOT64, LAYOUT_BOOT64_SZ);
    struct boot_params *bp = gmem_ptr(&p->gmem, LAYOUT_START_INFO, LAYOUT_START_INFO_SZ);
    if (!boot || !bp)
        return kerr_fmt(err, errlen, -EFAULT, "the first memory block is too small for the boot area");
    if ((rc = boot64_build(boot, LAYOUT_BOOT64_SZ, gpa(LAYOUT_BOOT64))) < 0)
        return kerr_fmt(err, errlen, rc, "cannot build the 64-bit entry's page tables");
    const struct partition_layout *l = &p->layout;
    const struct bzimage_config bc = {
        .ranges = l->ranges,
        .nranges = l->nranges,
        .reserved = l->reserved,
        .nreserved = l->nreserved,
        .initrd = rd ? hpa_to_ptr(rd->addr) : NULL,
        .initrd_size = rd ? rd->size : 0,
        .cmdline = c->cmdline,
        .cmdline_gpa = gpa(LAYOUT_BOOT64_MISC + BOOT64_CMDLINE_OFF),
        .cmdline_max = BOOT64_CMDLINE_MAX,
        .zero_page = gpa(LAYOUT_START_INFO),
        .rsdp = rsdp,
    };
    struct pvh_load_ops ops = { guest_write, guest_zero, p };
    struct bzimage_placement pl;
    rc = bzimage_load(hpa_to_ptr(k->addr), k->size, &bz, &bc, &ops, bp, &pl, why, sizeof(why));
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "kernel %s: %s", c->kernel, why);
    p->entry = pl.entry;
    p->entry64 = true;
    log_info("part", "%s: bzImage %s, boot protocol %u.%02u, loaded at %#llx (init_size %#x)", p->cfg->name, c->kernel,
             bz.version >> 8, bz.version & 0xff, (unsigned long long)pl.load, bz.init_size);
    if (pl.initrd_size)
        log_info("part", "%s: initrd %s at %#llx (%llu bytes)", p->cfg->name, c->initrd, (unsigned long long)pl.initrd,
                 (unsigned long long)pl.initrd_size);
    return 0;
}

static bool is_elf(const struct boot_file *k) { return k->size >= 4 && !memcmp(hpa_to_ptr(k->addr), ELF_MAGIC, 4); }

/* Loads the kernel (and initrd), recognised by content, and writes the ACPI
 * tables and the start info or zero page. */
static int build_image(struct partition *p, char *err, size_t errlen)
{
    const struct part_image *c = &p->image;
    const struct boot_file *k = find_file(c->kernel);
    if (!k || !k->addr)
        return kerr_fmt(err, errlen, -ENOENT, "cannot read kernel %s: %s", c->kernel,
                        k ? k->error : "not loaded by the EFI stage");
    const struct boot_file *rd = NULL;
    if (c->initrd[0]) {
        rd = find_file(c->initrd);
        if (!rd || !rd->addr)
            return kerr_fmt(err, errlen, -ENOENT, "cannot read initrd %s: %s", c->initrd,
                            rd ? rd->error : "not loaded by the EFI stage");
    }
    const bool elf = is_elf(k), bzimage = !elf && bzimage_probe(hpa_to_ptr(k->addr), k->size);
    if (!elf && !bzimage)
        return kerr_fmt(err, errlen, -ENOEXEC,
                        "kernel %s: neither a PVH ELF kernel (no \\177ELF magic) nor a Linux bzImage (no boot_flag "
                        "0xAA55 at 0x1FE with \"HdrS\" at 0x202)",
                        c->kernel);
    u64 rsdp = 0;
    int rc = build_acpi(p, &rsdp, err, errlen);
    if (rc < 0)
        return rc;
    return elf ? load_pvh(p, k, rd, rsdp, err, errlen) : load_bzimage(p, k, rd, rsdp, err, errlen);
}

/* ---- what devices may ask of the core ---- */

void part_slpt_changed(struct partition *p)
{
    __atomic_fetch_add(&p->slpt_gen, 1, __ATOMIC_SEQ_CST);
    for (u32 i = 0; i < p->nvcpus; i++)
        if (p->vcpu[i] && p->vcpu[i]->cpu != this_cpu())
            vcpu_kick(p->vcpu[i]);
}

/* The host's physical address width, as CPUID reports it to the guest, within
 * what 4-level second-level tables translate. */
u64 part_phys_limit(void)
{
    u32 bits = (u8)cpuid(CPUID_LEAF_ADDR_SIZES, 0).eax;
    if (bits < 36 || bits > SLPT_GPA_BITS)
        bits = bits < 36 ? 36 : SLPT_GPA_BITS;
    return 1ULL << bits;
}

u64 part_mmio32_base(const struct partition *p) { return MAX(ALIGN_UP(p->memory, MiB(256)), LAYOUT_MMIO32_BASE); }

/* The planned bytes on one node: in as few 2 MiB-aligned blocks as its free
 * memory allows, biggest first (up to GMEM_MAX_CHUNKS blocks in all); what
 * still does not fit comes from the nearest node that has it, with a warning. */
static int alloc_on_node(struct partition *p, s32 node, u64 bytes, char *err, size_t errlen)
{
    const u64 grain = MiB(2) / PAGE_SIZE;
    while (bytes) {
        u64 largest = 0;
        (void)mm_free_aligned(node, grain, &largest);
        u64 n = MIN(bytes, largest * PAGE_SIZE);
        bool last = p->gmem.n + 1 >= GMEM_MAX_CHUNKS;
        hpa_t pa;
        int got = node;
        int rc = -ENOMEM;
        if (n && (!last || n == bytes))
            rc = mm_alloc(node, n / PAGE_SIZE, grain, PFA_STRICT, &pa, NULL);
        if (rc < 0) {
            n = bytes;
            rc = mm_alloc(node, n / PAGE_SIZE, grain, 0, &pa, &got);
            if (rc < 0)
                return kerr_fmt(err, errlen, rc, "not enough contiguous memory for %llu MiB (%llu MiB free in all)",
                                (unsigned long long)(n >> 20), (unsigned long long)(mm_free_bytes() >> 20));
            log_warn("part",
                     "%s: %llu MiB from node %d, not node %d where it was planned (no contiguous "
                     "block there)",
                     p->cfg->name, (unsigned long long)(n >> 20), got, node);
        }
        if (gmem_add(&p->gmem, pa, hpa_to_ptr(pa), n, got) < 0) {
            mm_release(pa, n / PAGE_SIZE);
            return kerr_fmt(err, errlen, -ENOSPC, "memory too fragmented (more than %d blocks)", GMEM_MAX_CHUNKS);
        }
        bytes -= n;
    }
    return 0;
}

/* Host blocks for the planned memory, laid end to end from GPA 0. */
static int alloc_memory(struct partition *p, char *err, size_t errlen)
{
    for (u32 i = 0; i < p->nmem_plan; i++) {
        int rc = alloc_on_node(p, p->mem_plan[i].node, p->mem_plan[i].bytes, err, errlen);
        if (rc < 0)
            return rc;
    }
    return 0;
}

static int build(struct partition *p, char *err, size_t errlen)
{
    int rc = layout_plan(p->memory, &p->layout, err, errlen);
    if (rc < 0)
        return rc;
    rc = alloc_memory(p, err, errlen);
    if (rc < 0)
        return rc;

    struct slpt_ops ops;
    part_table_ops(p, &ops);
    unsigned flags = vcpu_backend->slpt_1g_pages() ? SLPT_ALLOW_1G : 0;
    if ((rc = slpt_init(&p->slpt, vcpu_backend->slpt_format, &ops, flags)) < 0)
        return kerr_fmt(err, errlen, rc, "no memory for page tables");
    p->slpt_ready = true;
    /* Guest RAM at GPA 0, except the legacy hole [0xA0000, 0xE0000): nothing
     * else of the host is mapped. 2 MiB leaves wherever alignment allows. */
    p->ram_ranges[0] = (struct hc_mem_range){ 0, LAYOUT_START_INFO + LAYOUT_START_INFO_SZ };
    p->ram_ranges[1] = (struct hc_mem_range){ LAYOUT_ACPI, p->memory };
    p->nram_ranges = 2;
    if ((rc = part_map_ram(p, &p->slpt, SLPT_RWX)) < 0)
        return kerr_fmt(err, errlen, rc, "cannot map guest memory");
    /* Its devices' DMA domain, before any device model can turn on bus
     * mastering. */
    if ((rc = dma_attach(p, err, errlen)) < 0)
        return rc;
    if ((rc = vdev_attach_all(p, err, errlen)) < 0)
        return rc;
    if ((rc = shadow_part_init(p, err, errlen)) < 0)
        return rc;
    return build_image(p, err, errlen);
}

int part_start(struct partition *p, char *err, size_t errlen)
{
    const struct part_image own = { p->cfg->kernel, p->cfg->initrd, p->cfg->cmdline };
    return part_start_image(p, &own, err, errlen);
}

int part_start_image(struct partition *p, const struct part_image *img, char *err, size_t errlen)
{
    if (p->state == PART_REFUSED)
        return kerr_fmt(err, errlen, -EPERM, "%s was refused at boot: %s", p->cfg->name, p->reason);
    if (p->state == PART_RUNNING || p->state == PART_STOPPING)
        return kerr_fmt(err, errlen, -EBUSY, "%s is %s", p->cfg->name, part_state_name(p->state));
    if (!vcpu_backend)
        return kerr_fmt(err, errlen, -ENODEV, "no virtualization backend on this machine");
    if (p->state == PART_FAILED) {
        int rc = part_stop(p, err, errlen);
        if (rc < 0)
            return rc;
    }
    for (u32 i = 0; i < p->nvcpus; i++) {
        struct percpu *c = cpu_list[p->cpus[i]];
        /* A vCPU thread that just ended may not have handed its CPU back yet. */
        for (u32 t = 0; t < 500 && (c->state != CPU_ONLINE || c->work_fn); t++)
            time_delay_us(1000);
        if (c->state != CPU_ONLINE || c->work_fn)
            return kerr_fmt(err, errlen, -EBUSY, "CPU %u of %s is %s", p->cpus[i], p->cfg->name,
                            cpu_state_name(c->state));
    }
    p->image = *img;
    int rc = build(p, err, errlen);
    if (rc < 0) {
        free_memory(p);
        return rc;
    }
    u64 vpages = ALIGN_UP(sizeof(struct vm_vcpu), PAGE_SIZE) / PAGE_SIZE;
    for (u32 i = 0; i < p->nvcpus; i++) {
        hpa_t pa;
        if ((rc = mm_alloc(cpu_list[p->cpus[i]]->node, vpages, 1, 0, &pa, NULL)) < 0) {
            free_memory(p);
            return kerr_fmt(err, errlen, rc, "no memory for vCPU %u", i);
        }
        struct vm_vcpu *vc = hpa_to_ptr(pa);
        vc->part = p;
        vc->cpu = cpu_list[p->cpus[i]];
        vc->v.index = i;
        vc->v.apic_id = i;
        vc->v.asid = 1 + p->id;
        vc->run_state = VRUN_OFF;
        p->vcpu[i] = vc;
    }
    spin_lock(&p->lock);
    p->reason[0] = '\0';
    p->powered_off = false;
    p->reset = false;
    spin_unlock(&p->lock);
    p->stop_request = 0;
    for (u32 i = 0; i < CONFIG_MAX_PART_CPUS; i++)
        p->ran_tsc[i] = 0;
    p->watch_until = 0;
    p->vcpus_active = p->nvcpus;
    p->starts++;
    p->state = PART_RUNNING;
    vdev_start_all(p);
    if (observer->starting)
        observer->starting(p);
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    for (u32 i = 0; i < p->nvcpus; i++) {
        if ((rc = cpu_run_on(p->vcpu[i]->cpu, vcpu_thread, p->vcpu[i])) < 0) {
            __atomic_fetch_sub(&p->vcpus_active, p->nvcpus - i, __ATOMIC_SEQ_CST);
            char e2[PART_REASON_MAX];
            if (part_stop(p, e2, sizeof(e2)) < 0)
                log_err("part", "%s", e2);
            return kerr_fmt(err, errlen, rc, "cannot start vCPU %u on CPU %u", i, p->cpus[i]);
        }
    }
    char blocks[160];
    size_t n = 0;
    for (u32 i = 0; i < p->gmem.n && n < sizeof(blocks); i++)
        n += (size_t)ksnprintf(blocks + n, sizeof(blocks) - n, "%s%llu MiB at host %#llx (node %d)", i ? ", " : "",
                               (unsigned long long)(p->gmem.c[i].size >> 20), (unsigned long long)p->gmem.c[i].hpa,
                               p->gmem.c[i].node);
    log_info("part", "%s started: %u vCPU(s) on CPU(s) %u%s, %s, kernel %s, entry %#llx", p->cfg->name, p->nvcpus,
             p->cpus[0], p->nvcpus > 1 ? ".." : "", blocks, p->image.kernel, (unsigned long long)p->entry);
    return 0;
}

int part_stop(struct partition *p, char *err, size_t errlen)
{
    if (p->state == PART_REFUSED)
        return kerr_fmt(err, errlen, -EPERM, "%s was refused at boot: %s", p->cfg->name, p->reason);
    if (p->state == PART_STOPPED)
        return 0;
    bool failed = p->state == PART_FAILED;
    if (!failed)
        p->state = PART_STOPPING;
    __atomic_store_n(&p->stop_request, 1, __ATOMIC_SEQ_CST);
    for (u32 i = 0; i < p->nvcpus; i++)
        if (p->vcpu[i])
            vcpu_kick(p->vcpu[i]);
    u64 deadline = rdtsc() + tsc_khz * STOP_TIMEOUT_MS;
    while (__atomic_load_n(&p->vcpus_active, __ATOMIC_ACQUIRE) && rdtsc() < deadline)
        cpu_relax();
    if (p->vcpus_active) {
        /* A CPU that does not answer keeps its vCPU's memory: freeing it under a
         * running guest would hand that guest someone else's pages. */
        ksnprintf(p->reason, sizeof(p->reason), "%u vCPU(s) did not leave their CPUs when stopped", p->vcpus_active);
        p->state = PART_FAILED;
        return kerr_fmt(err, errlen, -ETIMEDOUT, "%s: %s", p->cfg->name, p->reason);
    }
    free_memory(p);
    if (!failed)
        p->reason[0] = '\0';
    p->state = PART_STOPPED;
    log_info("part", "%s stopped", p->cfg->name);
    if (observer->stopped)
        observer->stopped(p);
    return 0;
}

/* Takes the partition off its CPUs, from one of its vCPUs (vc) or from the
 * management tick (vc NULL): failed with why, or powered off or reset by the
 * guest. */
static void part_halt_on(struct partition *p, struct vm_vcpu *vc, enum part_down how, const char *why)
{
    bool poweroff = how != PART_DOWN_CRASH;
    spin_lock(&p->lock);
    bool first = p->state == PART_RUNNING;
    if (first && (poweroff || !vc))
        ksnprintf(p->reason, sizeof(p->reason), "%s", why);
    else if (first)
        ksnprintf(p->reason, sizeof(p->reason), "vCPU %u at RIP %#llx: %s", vc->v.index,
                  (unsigned long long)vc->v.regs.rip, why);
    if (first) {
        p->state = PART_FAILED;
        p->powered_off = poweroff;
        p->reset = how == PART_DOWN_RESET;
    }
    spin_unlock(&p->lock);
    if (first && poweroff) {
        log_info("part", "%s: %s", p->cfg->name, p->reason);
        if (observer->down)
            observer->down(p, how);
    } else if (first) {
        log_err("part", "%s failed: %s", p->cfg->name, p->reason);
        if (observer->down)
            observer->down(p, PART_DOWN_CRASH);
    }
    /* Its devices stop DMA, interrupts and frames now; its memory stays for
     * inspection. */
    if (first)
        vdev_quiesce_all(p);
    __atomic_store_n(&p->stop_request, 1, __ATOMIC_SEQ_CST);
    for (u32 i = 0; i < p->nvcpus; i++)
        if (p->vcpu[i] && p->vcpu[i] != vc)
            vcpu_kick(p->vcpu[i]);
}

static void part_halt(struct vm_vcpu *vc, enum part_down how, const char *why) { part_halt_on(vc->part, vc, how, why); }

void part_fail_host(struct partition *p, const char *why) { part_halt_on(p, NULL, PART_DOWN_CRASH, why); }

void part_fail(struct vm_vcpu *vc, const char *fmt, ...)
{
    char why[PART_REASON_MAX];
    va_list ap;
    va_start(ap, fmt);
    kvsnprintf(why, sizeof(why), fmt, ap);
    va_end(ap);
    part_halt(vc, PART_DOWN_CRASH, why);
}

void part_poweroff(struct vm_vcpu *vc) { part_halt(vc, PART_DOWN_SHUTDOWN, "the guest powered off (ACPI S5)"); }

void part_reset(struct vm_vcpu *vc) { part_halt(vc, PART_DOWN_RESET, "the guest reset itself (ACPI reset register)"); }

void part_reap(void)
{
    for (u32 i = 0; i < npartitions; i++) {
        struct partition *p = &partitions[i];
        /* A powered-off partition in a failover group is the master's to stop. */
        if (p->state != PART_FAILED || !p->powered_off || (observer->keeps && observer->keeps(p)))
            continue;
        bool reset = p->reset;
        char err[PART_REASON_MAX];
        int rc = part_stop(p, err, sizeof(err));
        /* A reset is a power cycle: the same image, memory and devices built
         * afresh, as at its first start (the `starts` count grows). */
        if (!rc && reset) {
            log_info("part", "%s: restarting after the guest's reset", p->cfg->name);
            p->resets++;
            rc = part_start(p, err, sizeof(err));
        }
        if (rc < 0)
            log_err("part", "%s", err);
    }
}

/* The machine as the planner sees it: online CPUs, free memory per node,
 * the PCI functions that are not bridges. */
static void describe_machine(struct place_machine *m)
{
    static struct page_alloc snap;
    memset(m, 0, sizeof(*m));
    m->nnodes = MIN(machine.topo.nnodes ? machine.topo.nnodes : 1, (u32)PLACE_MAX_NODES);
    m->ncpus = MIN(ncpus, (u32)PLACE_MAX_CPUS);
    for (u32 c = 0; c < m->ncpus; c++) {
        const struct percpu *pc = cpu_list[c];
        m->cpu_node[c] = pc->state == CPU_ONLINE && pc->node < PLACE_MAX_NODES ? (s8)pc->node : -1;
    }
    m->cpu_reserved[0] = machine.cfg.reserve_cpu0;
    mm_snapshot(&snap);
    for (u32 n = 0; n < m->nnodes; n++) {
        struct pfa_stats st;
        pfa_node_stats(&snap, (int)n, &st);
        /* What partitions can have: free memory in 2 MiB-aligned runs. */
        m->node_mem[n] = pfa_free_aligned(&snap, (int)n, MiB(2) / PAGE_SIZE, NULL) * PAGE_SIZE;
        for (u32 k = 0; k < m->nnodes; k++)
            m->dist[n][k] = machine.topo.dist[n][k];
    }
    for (u32 i = 0; i < machine.pci.count && m->ndevs < PLACE_MAX_DEVS; i++) {
        const struct pci_dev *d = &machine.pci.dev[i];
        if (d->bridge)
            continue;
        m->devs[m->ndevs].bdf = place_bdf(d->seg, d->bus, d->dev, d->fn);
        m->devs[m->ndevs++].node = d->node < PLACE_MAX_NODES ? (s8)d->node : -1;
    }
}

static void refuse_part(struct partition *p, const char *why)
{
    p->state = PART_REFUSED;
    ksnprintf(p->reason, sizeof(p->reason), "%s", why);
    log_err("part", "%s", why);
}

static struct pci_dev *pci_by_bdf(u32 bdf)
{
    for (u32 i = 0; i < machine.pci.count; i++) {
        struct pci_dev *d = &machine.pci.dev[i];
        if (place_bdf(d->seg, d->bus, d->dev, d->fn) == bdf)
            return d;
    }
    return NULL;
}

/* Why a device's memory BARs must not be given to a guest (they would map
 * host RAM as the device's registers), or NULL. */
static const char *bar_over_ram(const struct pci_dev *d)
{
    const struct boot_info *bi = machine.bi;
    for (u32 i = 0; i < PCI_NUM_BARS; i++) {
        const struct pci_bar *b = &d->bar[i];
        if (b->kind != PCI_BAR_MEM32 && b->kind != PCI_BAR_MEM64)
            continue;
        for (u32 k = 0; k < bi->nmem; k++) {
            const struct boot_mem_range *r = &bi->mem[k];
            bool ram = r->type != MEM_MMIO && r->type != MEM_RESERVED && r->type != MEM_UNUSABLE;
            if (ram && b->base < r->base + r->length && r->base < b->base + b->size)
                return "a memory BAR overlaps host RAM in the firmware's memory map";
        }
    }
    return NULL;
}

static bool dma_required(void);

/* Gives the planned devices to the partition: sized, owned, and announced
 * with what owning them without an IOMMU means. */
static int assign_devices(struct partition *p)
{
    const struct config_partition *c = p->cfg;
    p->ndevs = 0;
    for (u32 k = 0; k < c->ndevices; k++) {
        u32 bdf = c->devices[k];
        struct pci_dev *d = pci_by_bdf(bdf);
        const char *bad = !d                                        ? "not found"
                          : pci_probe_bars(pci_access_ops(), d) < 0 ? "not an ordinary function"
                                                                    : bar_over_ram(d);
        char nodma[IOMMU_HW_WHY_MAX] = "";
        bool remapped = !bad && dma_unit_of(d, nodma, sizeof(nodma));
        if (!bad && !remapped && dma_required())
            bad = nodma;
        if (bad) {
            char why[PART_REASON_MAX];
            ksnprintf(why, sizeof(why), "partition \"%s\": PCI device %04x:%02x:%02x.%u cannot be assigned: %s",
                      c->name, bdf >> 16, (bdf >> 8) & 0xff, (bdf >> 3) & 0x1f, bdf & 7, bad);
            refuse_part(p, why);
            for (u32 j = 0; j < p->ndevs; j++)
                kstrlcpy(p->devs[j]->owner, "hypervisor", sizeof(p->devs[j]->owner));
            p->ndevs = 0;
            return -EINVAL;
        }
        kstrlcpy(d->owner, c->name, sizeof(d->owner));
        p->devs[p->ndevs++] = d;
        log_info("part", "%s owns PCI %04x:%02x:%02x.%u (%04x:%04x, node %d) as 00:%02x.0 on its bus", c->name, d->seg,
                 d->bus, d->dev, d->fn, d->vendor, d->device, d->node, p->ndevs);
        const struct iommu_hw *u = remapped ? dma_unit_of(d, nodma, sizeof(nodma)) : NULL;
        if (u)
            log_info("part", "%s: PCI %04x:%02x:%02x.%u DMA remapped by iommu%u: it reaches only %s's memory%s",
                     c->name, d->seg, d->bus, d->dev, d->fn, u->index, c->name,
                     u->ir ? "; its interrupts remapped too" : "; its interrupts NOT remapped (the unit does not)");
        else
            log_warn("part",
                     "%s: no IOMMU is used: PCI %04x:%02x:%02x.%u can DMA anywhere in host memory once "
                     "its guest enables bus mastering (%s; [hypervisor] iommu = \"optional\")",
                     c->name, d->seg, d->bus, d->dev, d->fn, nodma);
    }
    return 0;
}

/* [hypervisor] iommu: "auto" requires remapping when some unit is on. */
static bool dma_required(void)
{
    enum config_iommu want = machine.cfg.iommu;
    return want == CONFIG_IOMMU_REQUIRED || (want == CONFIG_IOMMU_AUTO && machine.iommu_hw.non > 0);
}

void partitions_init(void)
{
    static struct place_machine m;
    static struct place_request req[PLACE_MAX_PARTS];
    static struct place_result res[PLACE_MAX_PARTS];
    const struct isthmus_config *cfg = &machine.cfg;
    npartitions = MIN(cfg->npartitions, (u32)PLACE_MAX_PARTS);
    describe_machine(&m);
    for (u32 i = 0; i < npartitions; i++) {
        const struct config_partition *c = &cfg->partition[i];
        struct place_request *q = &req[i];
        memset(q, 0, sizeof(*q));
        q->name = c->name;
        q->ncpus = c->ncpus;
        q->cpu_list = c->cpu_list;
        memcpy(q->cpus, c->cpus, sizeof(q->cpus));
        q->memory = c->memory;
        q->node = c->node;
        q->numa = c->numa ? PLACE_SPREAD : PLACE_LOCAL;
        q->priority = c->priority;
        q->ndevices = MIN(c->ndevices, (u32)PLACE_MAX_PART_DEVS);
        memcpy(q->devices, c->devices, q->ndevices * sizeof(u32));
    }
    place_plan(&m, req, npartitions, res);
    vdev_boot_all();
    for (u32 i = 0; i < npartitions; i++) {
        struct partition *p = &partitions[i];
        const struct config_partition *c = &cfg->partition[i];
        const struct place_result *r = &res[i];
        p->id = i;
        p->cfg = c;
        p->memory = c->memory;
        console_ring_init(&p->console);
        p->state = PART_STOPPED;
        vdev_setup_all(p);
        if (!r->ok) {
            refuse_part(p, r->msg);
            continue;
        }
        p->nvcpus = r->ncpus;
        memcpy(p->cpus, r->cpus, r->ncpus * sizeof(u16));
        p->node = r->home;
        p->mem_node = r->mem[0].node;
        p->nmem_plan = MIN(r->nmem, (u32)GMEM_MAX_CHUNKS);
        for (u32 k = 0; k < p->nmem_plan; k++) {
            p->mem_plan[k].node = r->mem[k].node;
            p->mem_plan[k].bytes = r->mem[k].bytes;
        }
        p->fallback = r->fallback;
        ksnprintf(p->placement, sizeof(p->placement), "%s", r->msg);
        if (r->fallback)
            log_warn("part", "%s: %s", c->name, r->msg);
        else
            log_info("part", "%s placed on %s", c->name, r->msg);
        if (!vcpu_backend) {
            p->state = PART_REFUSED;
            ksnprintf(p->reason, sizeof(p->reason), "no hardware virtualization backend");
            log_err("part", "partition \"%s\" cannot run: %s", c->name, p->reason);
            continue;
        }
        if (c->ndevices && assign_devices(p) < 0)
            continue;
    }
}

void partitions_autostart(void)
{
    for (u32 i = 0; i < npartitions; i++) {
        struct partition *p = &partitions[i];
        if (p->state != PART_STOPPED || !p->cfg->start)
            continue;
        char err[192];
        if (part_start(p, err, sizeof(err)) < 0) {
            log_err("part", "%s did not start: %s", p->cfg->name, err);
            p->state = PART_FAILED;
            ksnprintf(p->reason, sizeof(p->reason), "%s", err);
        }
    }
}
