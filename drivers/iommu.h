/* Which DMA remapping unit covers which PCI function: the units the DMAR or IVRS
 * describe (drivers/acpi/acpi.h, struct acpi_iommu_info), with each DMAR device
 * scope's path followed through the bridges the PCI enumeration found. Both
 * vendors look the same from here. Discovery only: nothing programs a unit yet.
 * Arch-neutral and unit-tested with a PCI list built by hand. */
#ifndef ISTHMUS_DRIVERS_IOMMU_H
#define ISTHMUS_DRIVERS_IOMMU_H

#include "drivers/acpi/acpi.h"
#include "drivers/pci.h"

#define IOMMU_MAX_RANGES (2 * ACPI_MAX_IOMMU_SCOPES) /* a bridge scope gives two */
#define IOMMU_WHY_MAX    48

/* Requester IDs first..last of a segment that a unit's scopes name. */
struct iommu_range {
    u16 seg;
    u16 first, last; /* bus << 8 | device << 3 | function */
    u8 unit;
};

struct iommu_model {
    const struct acpi_iommu_info *fw; /* the units and scopes as firmware gave them */
    u32 nranges;
    struct iommu_range ranges[IOMMU_MAX_RANGES];
    /* Per firmware scope: a DMAR path that could not be followed (a bridge on it
     * is absent or is no bridge) names no function; why[i] says which. */
    bool unresolved[ACPI_MAX_IOMMU_SCOPES];
    char why[ACPI_MAX_IOMMU_SCOPES][IOMMU_WHY_MAX];
    u32 nunresolved;
    /* Per resolved DMAR scope: the function it names, and a bridge's buses
     * (sec 0 when it has none). */
    u16 rid[ACPI_MAX_IOMMU_SCOPES];
    u8 sec[ACPI_MAX_IOMMU_SCOPES], sub[ACPI_MAX_IOMMU_SCOPES];
};

enum iommu_how {
    IOMMU_NONE = 0,  /* no unit names the function, none takes all others */
    IOMMU_SCOPE,     /* named by one usable unit's scope or entry */
    IOMMU_ALL,       /* taken by its segment's "all other devices" unit */
    IOMMU_BAD_UNIT,  /* named by (or left to) a unit that is not used */
    IOMMU_AMBIGUOUS, /* named by two units */
    IOMMU_UNKNOWN,   /* left to "all others", but some unit's scopes were unreadable */
};

struct iommu_cover {
    u8 how;   /* enum iommu_how */
    int unit; /* index into fw->units, -1 for none */
};

/* Resolves every scope of fw against the enumerated functions; logs each path
 * that cannot be followed. fw must outlive the model. */
void iommu_model_build(const struct acpi_iommu_info *fw, const struct pci_list *pci, struct iommu_model *m);
/* The unit that translates DMA from seg:bus:devfn. Only IOMMU_SCOPE and
 * IOMMU_ALL are coverage; the rest say why there is none. */
struct iommu_cover iommu_lookup(const struct iommu_model *m, u16 seg, u8 bus, u8 devfn);
/* What `pci` shows: "iommu0", "none", "bad:iommu1", "ambiguous", "unknown". */
void iommu_cover_text(struct iommu_cover c, char *buf, size_t len);
/* One scope as `acpi` shows it, e.g. "bridge 00:01.0 (buses 01-01)",
 * "endpoint 00:1c.0/00.0: bridge 00:1c.0 absent", "I/O APIC 0 (source ff:00.0)". */
void iommu_scope_text(const struct iommu_model *m, u32 scope, char *buf, size_t len);

#endif
