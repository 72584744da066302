/* The guest's state MSRs (vmm/dev/vmsr.c): which MSR index is kept by the
 * backend, and whether a value may be written to it. Pure, for unit tests. */
#ifndef ISTHMUS_VMM_DEV_VMSR_H
#define ISTHMUS_VMM_DEV_VMSR_H

#include "kernel/lib/types.h"
#include "arch/x86/vcpu.h"

/* Whether MSR `index` is one of the backend's state MSRs, and which. */
bool vmsr_state_index(u32 index, enum vcpu_msr *m);
/* Whether a WRMSR of v to m is accepted (else #GP): EFER only SCE/LME/LMA/NXE,
 * PAT entries only defined memory types, addresses canonical, SYSENTER_CS
 * 16 bits, SFMASK 32 bits. */
bool vmsr_value_ok(enum vcpu_msr m, u64 v);
/* Whether a WRMSR of v to IA32_MTRR_DEF_TYPE is accepted: a defined memory
 * type, E, and nothing else (no fixed-range MTRRs to enable with FE). */
bool vmsr_mtrr_def_type_ok(u64 v);

#endif
