/* Builds the PVH start info (struct hvm_start_info version 1, vmm/pvh.h) for a
 * partition into a caller buffer that will be the guest memory at `base`: the
 * structure, the memory map, the module list, the command line and the module
 * command lines, with every pointer a guest-physical address inside the buffer.
 *
 * Layout (each part 8-byte aligned, in this order):
 *   hvm_start_info | memmap[nranges] | modlist[nmodules] | cmdline | module cmdlines
 * The guest receives `base` in EBX. Linux copies all of it early in boot, but the
 * buffer should still be outside RAM in the memory map (a reserved range) so that
 * no other kernel reuses it before reading it. */
#ifndef ISTHMUS_VMM_PVH_START_H
#define ISTHMUS_VMM_PVH_START_H

#include "kernel/lib/types.h"
#include "kernel/lib/gpa.h"
#include "vmm/pvh.h"

#define PVH_MAX_MEMMAP    128 /* memory map entries */
#define PVH_MAX_MODULES   16
#define PVH_CMDLINE_MAX   2048 /* Linux x86 COMMAND_LINE_SIZE, NUL included */
#define PVH_ERR_LEN_START 128

struct pvh_mem_range {
    u64 addr, size;
    u32 type; /* HVM_MEMMAP_RAM / _RESERVED / _ACPI, or other E820 types */
};

struct pvh_module {
    u64 paddr, size;     /* where the module was loaded in the guest */
    const char *cmdline; /* NULL: none */
};

struct pvh_start_config {
    gpa_t base; /* guest-physical address of buf[0], 8-byte aligned */
    void *buf;
    u64 buf_size;
    /* Memory map in any order; it is sorted by address, must not overlap, and
     * adjacent ranges of one type are merged. Sizes > 0. */
    const struct pvh_mem_range *ranges;
    u32 nranges;
    const char *cmdline; /* NULL: no command line */
    u32 cmdline_max;     /* longest accepted, NUL included; 0: PVH_CMDLINE_MAX */
    const struct pvh_module *modules;
    u32 nmodules;
    u64 rsdp_gpa; /* 0: no ACPI */
};

/* Where things went, for logging and tests. */
struct pvh_start_layout {
    u64 size; /* bytes of buf used */
    u64 memmap_gpa, modlist_gpa, cmdline_gpa;
    u32 memmap_entries; /* after merging */
};

/* Fills buf (zeroing the unused rest up to buf_size; on failure buf holds nothing
 * usable). 0, or:
 *   -EINVAL: bad arguments, a zero-sized or wrapping range, overlapping ranges, a
 *            module not inside a RAM range, base not 8-byte aligned;
 *   -E2BIG:  the command line (or a module's) is too long, too many ranges/modules;
 *   -ENOSPC: it does not fit in buf_size;
 * with a message in err when err is not NULL. */
/* A memory map as both boot protocols hand it over (the start info's table,
 * a bzImage's E820): n ranges of in sorted by address into out (room for
 * n), adjacent ranges of one type merged, the count in *nout. -EINVAL with
 * a message when a range is empty or wraps, or two overlap. */
int pvh_memmap_normalize(const struct pvh_mem_range *in, u32 n, struct pvh_mem_range *out, u32 *nout, char *err,
                         size_t errlen) __must_check;

int pvh_start_build(const struct pvh_start_config *cfg, struct pvh_start_layout *layout, char *err,
                    size_t errlen) __must_check;

#endif
