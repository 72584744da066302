/* The low megabyte as a PC has it, for kernels that look there (Linux 6.1's
 * setup_arch: the BIOS data area, the EBDA and MP-table scans, probe_roms):
 *
 * - [0xA0000, 0xE0000), the VGA window and option-ROM space, is the
 *   partition's own memory behind it, zeroed and mapped read-only: probes
 *   read zeros (no ROM signature 55 AA, no "_MP_"), and writes are dropped,
 *   as on a PC without VGA. Nothing of the host is reached: these are pages
 *   of the partition's RAM block the layout leaves out of its memory map.
 * - [0xE0000, 0x100000) already holds the partition's ACPI tables (RSDP
 *   search range) as RAM (vmm/layout.h).
 * - The BIOS data area says there is no EBDA (0x40E = 0) and gives the base
 *   memory as the memory map's first RAM range (0x413, in KiB), so Linux's
 *   reserve_bios_regions agrees with the map.
 *
 * Every partition has these: the layout is a PC's for all of them. */
#include "vmm/exits.h"
#include "vmm/layout.h"
#include "vmm/vdev.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"

#define LOWMEM_ROM_START LAYOUT_LEGACY /* VGA window, then option ROMs */
#define LOWMEM_ROM_END   LAYOUT_ACPI
#define BDA_PAGE         0x0ULL   /* real-mode IVT and the BIOS data area */
#define BDA_EBDA_SEG     0x40eULL /* u16: EBDA segment, 0 = none */
#define BDA_BASE_KIB     0x413ULL /* u16: conventional memory in KiB */

STATIC_ASSERT(LAYOUT_START_INFO + LAYOUT_START_INFO_SZ == LOWMEM_ROM_START, "the ROM window follows the start info");
STATIC_ASSERT(LAYOUT_LOW_RAM_END / 1024 <= 640, "base memory fits a PC's 640 KiB");

struct lowmem_stats {
    u64 writes_dropped;
};

static struct lowmem_stats stats[CONFIG_MAX_PARTITIONS];

/* Only writes fault (the range is mapped readable); a read that gets here
 * (shadow paging's path) is served from the zeroed pages. */
static enum vdev_result rom_mmio(struct vm_vcpu *vc, void *dev, const struct vcpu_exit *e)
{
    struct lowmem_stats *s = dev;
    struct insn in;
    if (mmio_decode(vc, "the ROM area", &in) < 0)
        return VDEV_DONE;
    if (in.dir == INSN_READ) {
        u64 v = 0;
        if (gmem_read(&vc->part->gmem, e->fault.gpa.v, &v, in.access_size) < 0)
            v = ~0ULL;
        u64 *regs = vc->v.regs.gpr;
        regs[in.reg] = insn_apply_read(&in, regs[in.reg], v);
    } else {
        s->writes_dropped++;
    }
    vcpu_backend->advance_rip(&vc->v, in.len);
    return VDEV_DONE;
}

static int lowmem_attach(struct partition *p, char *err, size_t errlen)
{
    struct lowmem_stats *s = &stats[p->id];
    s->writes_dropped = 0;
    const u16 ebda = 0, base_kib = (u16)(LAYOUT_LOW_RAM_END / 1024);
    u64 len = LOWMEM_ROM_END - LOWMEM_ROM_START;
    const struct gmem_chunk *c = gmem_chunk_of(&p->gmem, LOWMEM_ROM_START);
    int rc = c && LOWMEM_ROM_END <= c->gpa + c->size ? 0 : -ERANGE;
    if (!rc)
        rc = gmem_zero(&p->gmem, LOWMEM_ROM_START, len);
    if (!rc)
        rc = gmem_zero(&p->gmem, BDA_PAGE, PAGE_SIZE);
    if (!rc)
        rc = gmem_write(&p->gmem, BDA_EBDA_SEG, &ebda, sizeof(ebda));
    if (!rc)
        rc = gmem_write(&p->gmem, BDA_BASE_KIB, &base_kib, sizeof(base_kib));
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "low memory: the first memory block does not hold the first megabyte");
    rc = slpt_map(&p->slpt, gpa(LOWMEM_ROM_START), c->hpa + (LOWMEM_ROM_START - c->gpa), len, SLPT_R, SLPT_WB);
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "low memory: cannot map the ROM area");
    rc = vdev_claim_mmio(p, gpa(LOWMEM_ROM_START), len, rom_mmio, s, "low memory");
    return rc < 0 ? kerr_fmt(err, errlen, rc, "low memory: cannot claim the ROM area") : 0;
}

static size_t lowmem_show(const struct partition *p, char *buf, size_t len)
{
    int n = ksnprintf(buf, len, "  ROM area: %llu writes dropped\n", (unsigned long long)stats[p->id].writes_dropped);
    return n < 0 ? 0 : MIN((size_t)n, len);
}

VDEV_REGISTER(lowmem, .name = "low memory", .order = 0, .attach = lowmem_attach, .show = lowmem_show);
