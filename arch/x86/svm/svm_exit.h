/* The AMD-V exit translation as a pure function: svm.c gathers the raw exit
 * fields from the VMCB into struct svm_exit_raw, svm_translate_exit() turns
 * them into struct vcpu_exit. It touches no hardware, so host unit tests
 * (tests/unit/test_svm_exit.c) run it on the APM's encodings. */
#ifndef ISTHMUS_ARCH_X86_SVM_SVM_EXIT_H
#define ISTHMUS_ARCH_X86_SVM_SVM_EXIT_H

#include "kernel/lib/types.h"
#include "arch/x86/vcpu.h"

/* Everything the translation reads. */
struct svm_exit_raw {
    u64 exitcode;        /* VMCB EXITCODE: compared on its low 32 bits */
    u64 exitinfo1;       /* VMCB EXITINFO1 */
    u64 exitinfo2;       /* VMCB EXITINFO2: the next RIP of I/O intercepts */
    u64 rip;             /* the guest's RIP at the exit */
    u64 next_rip;        /* VMCB nRIP: meaningful with NRIPS only */
    u64 rcx;             /* the guest's RCX: the MSR that RDMSR / WRMSR name */
    bool nrips;          /* the CPU fills next_rip (CPUID 8000_000A EDX NRIPS) */
    bool decode_assists; /* the CPU decodes CR accesses and INVLPG (EDX DecodeAssists) */
};

/* Fills e (cleared first) from raw; no VMCB or other hardware access. */
void svm_translate_exit(const struct svm_exit_raw *raw, struct vcpu_exit *e);

#endif
