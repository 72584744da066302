/* Which hardware virtualization this machine offers, found once at boot from
 * CPUID and the capability MSRs. The vCPU backend (vmx/ or svm/) is picked from it. */
#ifndef ISTHMUS_ARCH_X86_VIRT_H
#define ISTHMUS_ARCH_X86_VIRT_H

#include "kernel/lib/types.h"

enum virt_vendor { VIRT_NONE = 0, VIRT_VMX, VIRT_SVM };

struct virt_caps {
    enum virt_vendor vendor;
    char why_none[96]; /* when vendor == VIRT_NONE: the reason */
    /* VT-x */
    bool vmx_ept, vmx_vpid, vmx_unrestricted, vmx_ept_1g, vmx_ept_2m, vmx_ept_ad;
    bool vmx_feature_control_locked;
    u32 vmx_revision;
    /* AMD-V */
    bool svm_npt, svm_nrips, svm_decode_assists, svm_flush_by_asid, svm_vmcb_clean, svm_vgif;
    u32 svm_revision, svm_asids;
};

extern struct virt_caps virt;

/* Fills `virt`; never fails (VIRT_NONE with a reason when there is nothing usable). */
void virt_detect(void);
/* Whether partitions can use nested paging: AMD-V with NPT, or VT-x with EPT
 * and unrestricted guest. Without it they use shadow paging. */
static inline bool virt_has_slpt(void)
{
    return (virt.vendor == VIRT_SVM && virt.svm_npt) ||
           (virt.vendor == VIRT_VMX && virt.vmx_ept && virt.vmx_unrestricted);
}
/* One line for the log and `version`, e.g. "AMD-V rev 1, NPT, 16 ASIDs". */
void virt_describe(char *buf, size_t size);

#endif
