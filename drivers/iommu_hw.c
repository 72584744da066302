/* See iommu_hw.h: what both vendors' drivers share. */
#include "drivers/iommu_hw.h"
#include "drivers/iommu.h"
#include "arch/x86/vcpu.h"
#include "kernel/core/log.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define TAG "iommu"

void iommu_hw_init(const struct iommu_model *m, struct iommu_units *out)
{
    memset(out, 0, sizeof(*out));
    if (!m || !m->fw)
        return;
    out->n = m->fw->nunits;
    for (u32 i = 0; i < out->n; i++) {
        struct iommu_hw *u = &out->unit[i];
        u->fw = &m->fw->units[i];
        u->fw_all = m->fw;
        u->index = i;
        if (!u->fw->usable) {
            ksnprintf(u->why, sizeof(u->why), "the firmware's table is not usable: %s", u->fw->error);
            continue;
        }
        u->ops = u->fw->vendor == ACPI_IOMMU_AMDVI ? &amdvi_ops : &vtd_ops;
        char err[IOMMU_HW_WHY_MAX];
        int rc = u->ops->enable(u, err, sizeof(err));
        if (rc < 0) {
            ksnprintf(u->why, sizeof(u->why), "%s", err);
            log_err(TAG, "iommu%u (%s at %#llx) is not used: %s", i, u->ops->vendor, (unsigned long long)u->fw->base,
                    err);
            continue;
        }
        out->non++;
        log_info(TAG, "iommu%u on: %s; every device blocked until a partition owns it", i, u->info);
    }
}

struct iommu_hw *iommu_hw_for(const struct iommu_model *m, struct iommu_units *us, u16 seg, u8 bus, u8 devfn, char *why,
                              size_t len)
{
    struct iommu_cover c = iommu_lookup(m, seg, bus, devfn);
    if (c.how != IOMMU_SCOPE && c.how != IOMMU_ALL) {
        char t[32];
        iommu_cover_text(c, t, sizeof(t));
        ksnprintf(why, len, "no usable DMA remapping unit covers it (%s)", t);
        return NULL;
    }
    if (c.unit < 0 || (u32)c.unit >= us->n)
        return NULL;
    struct iommu_hw *u = &us->unit[c.unit];
    if (!u->on) {
        ksnprintf(why, len, "iommu%d covers it but is not used: %s", c.unit, u->why);
        return NULL;
    }
    return u;
}

int iommu_hw_format(const struct iommu_hw *u) { return u->ops == &amdvi_ops ? SLPT_AMDVI : SLPT_VTD; }
