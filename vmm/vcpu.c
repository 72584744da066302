/* Backend selection and names for the vendor-neutral vCPU interface. */
#include "vmm/vcpu.h"
#include "arch/x86/virt.h"
#include "kernel/errno.h"
#include "kernel/log.h"

const struct vcpu_backend *vcpu_backend;

int vcpu_backend_select(void)
{
    switch (virt.vendor) {
    case VIRT_SVM:
        if (!virt.svm_npt) {
            log_err("vmm", "AMD-V without nested paging: partitions need NPT (shadow paging is not built yet)");
            return -ENODEV;
        }
        vcpu_backend = &svm_backend;
        return 0;
    case VIRT_VMX:
        if (!virt.vmx_ept || !virt.vmx_unrestricted) {
            log_err("vmm", "VT-x without EPT and unrestricted guest: partitions need both "
                    "(shadow paging is not built yet)");
            return -ENODEV;
        }
        vcpu_backend = &vmx_backend;
        return 0;
    default:
        log_err("vmm", "no hardware virtualization (%s): no partition can run", virt.why_none);
        return -ENODEV;
    }
}

const char *vcpu_exit_name(enum vcpu_exit_reason r)
{
    static const char *const names[VEXIT_COUNT] = {
        [VEXIT_NONE] = "none", [VEXIT_EXTINT] = "external interrupt", [VEXIT_HLT] = "HLT",
        [VEXIT_IO] = "I/O", [VEXIT_MSR] = "MSR", [VEXIT_CPUID] = "CPUID",
        [VEXIT_HYPERCALL] = "hypercall", [VEXIT_SLPT_FAULT] = "second-level page fault",
        [VEXIT_TRIPLE_FAULT] = "triple fault", [VEXIT_INIT] = "INIT", [VEXIT_SIPI] = "SIPI",
        [VEXIT_INTR_WINDOW] = "interrupt window", [VEXIT_XSETBV] = "XSETBV", [VEXIT_PAUSE] = "PAUSE",
        [VEXIT_EXCEPTION] = "exception", [VEXIT_INVALID_STATE] = "invalid guest state",
        [VEXIT_UNHANDLED] = "unhandled",
    };
    return (unsigned)r < VEXIT_COUNT && names[r] ? names[r] : "?";
}
