/* Backend selection and names for the vendor-neutral vCPU interface. */
#include "arch/x86/vcpu.h"
#include "arch/x86/virt.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"

const struct vcpu_backend *vcpu_backend;

int vcpu_backend_select(void)
{
    switch (virt.vendor) {
    case VIRT_SVM: vcpu_backend = &svm_backend; break;
    case VIRT_VMX: vcpu_backend = &vmx_backend; break;
    default: log_err("vmm", "no hardware virtualization (%s): no partition can run", virt.why_none); return -ENODEV;
    }
    if (!virt_has_slpt())
        log_warn("vmm", "%s: no %s: partitions use shadow paging", vcpu_backend->name,
                 virt.vendor == VIRT_SVM ? "NPT" : "EPT with unrestricted guest");
    return 0;
}

const char *vcpu_exit_name(enum vcpu_exit_reason r)
{
    static const char *const names[VEXIT_COUNT] = {
        [VEXIT_NONE] = "none",
        [VEXIT_EXTINT] = "external interrupt",
        [VEXIT_HLT] = "HLT",
        [VEXIT_IO] = "I/O",
        [VEXIT_MSR] = "MSR",
        [VEXIT_CPUID] = "CPUID",
        [VEXIT_HYPERCALL] = "hypercall",
        [VEXIT_SLPT_FAULT] = "second-level page fault",
        [VEXIT_TRIPLE_FAULT] = "triple fault",
        [VEXIT_INIT] = "INIT",
        [VEXIT_SIPI] = "SIPI",
        [VEXIT_INTR_WINDOW] = "interrupt window",
        [VEXIT_XSETBV] = "XSETBV",
        [VEXIT_PAUSE] = "PAUSE",
        [VEXIT_EXCEPTION] = "exception",
        [VEXIT_INVALID_STATE] = "invalid guest state",
        [VEXIT_UNHANDLED] = "unhandled",
        [VEXIT_CR_ACCESS] = "control register",
        [VEXIT_INVLPG] = "INVLPG",
    };
    return (unsigned)r < VEXIT_COUNT && names[r] ? names[r] : "?";
}
