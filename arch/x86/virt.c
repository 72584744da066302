/* Feature discovery for VT-x (SDM Vol. 3C ch. 23-24, appendix A) and AMD-V
 * (APM Vol. 2 ch. 15, CPUID Fn8000_000A). */
#include "arch/x86/virt.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/cpuid.h"
#include "arch/x86/hw/msr.h"
#include "arch/x86/hw/vmx_ctls.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

struct virt_caps virt;

static void none(const char *why)
{
    virt.vendor = VIRT_NONE;
    kstrlcpy(virt.why_none, why, sizeof(virt.why_none));
}

static void detect_vmx(void)
{
    u64 fc = rdmsr(MSR_IA32_FEATURE_CONTROL);
    /* Firmware usually locks this MSR (Bochs and OVMF leave it locked with VMX on).
     * Locked with VMX off cannot be changed until reset; unlocked we enable and lock it. */
    if (fc & FEATURE_CONTROL_LOCK) {
        virt.vmx_feature_control_locked = true;
        if (!(fc & FEATURE_CONTROL_VMX_OUTSIDE_SMX)) {
            none("VT-x is disabled by the firmware (IA32_FEATURE_CONTROL locked with VMX off)");
            return;
        }
    } else {
        wrmsr(MSR_IA32_FEATURE_CONTROL, fc | FEATURE_CONTROL_VMX_OUTSIDE_SMX | FEATURE_CONTROL_LOCK);
    }
    u64 basic = rdmsr(MSR_IA32_VMX_BASIC);
    virt.vmx_revision = (u32)(basic & VMX_BASIC_REVISION);
    /* The allowed-1 settings are the high halves of the control capability MSRs. */
    u32 proc = (u32)(rdmsr(MSR_IA32_VMX_PROCBASED_CTLS) >> 32);
    if (proc & VMX_PROC_SECONDARY) {
        u32 proc2 = (u32)(rdmsr(MSR_IA32_VMX_PROCBASED_CTLS2) >> 32);
        virt.vmx_ept = proc2 & VMX_PROC2_EPT;
        virt.vmx_vpid = proc2 & VMX_PROC2_VPID;
        virt.vmx_unrestricted = proc2 & VMX_PROC2_UNRESTRICTED;
    }
    if (virt.vmx_ept) {
        u64 cap = rdmsr(MSR_IA32_VMX_EPT_VPID_CAP);
        if (!(cap & EPT_CAP_WALK4) || !(cap & EPT_CAP_WB))
            virt.vmx_ept = false;
        virt.vmx_ept_2m = cap & EPT_CAP_2M;
        virt.vmx_ept_1g = cap & EPT_CAP_1G;
        virt.vmx_ept_ad = cap & EPT_CAP_AD;
    }
    virt.vendor = VIRT_VMX;
}

static void detect_svm(void)
{
    if (rdmsr(MSR_VM_CR) & VM_CR_SVMDIS) {
        none("AMD-V is disabled by the firmware (VM_CR.SVMDIS)");
        return;
    }
    struct cpuid_regs r = cpuid(CPUID_LEAF_SVM, 0);
    virt.svm_revision = r.eax & 0xff;
    virt.svm_asids = r.ebx;
    virt.svm_npt = r.edx & CPUID_SVM_EDX_NP;
    virt.svm_nrips = r.edx & CPUID_SVM_EDX_NRIPS;
    virt.svm_vmcb_clean = r.edx & CPUID_SVM_EDX_VMCB_CLEAN;
    virt.svm_flush_by_asid = r.edx & CPUID_SVM_EDX_FLUSH_BY_ASID;
    virt.svm_decode_assists = r.edx & CPUID_SVM_EDX_DECODE_ASSISTS;
    virt.svm_vgif = r.edx & CPUID_SVM_EDX_VGIF;
    virt.vendor = VIRT_SVM;
}

void virt_detect(void)
{
    memset(&virt, 0, sizeof(virt));
    if (cpuid(CPUID_LEAF_FEATURES, 0).ecx & CPUID_1_ECX_VMX) {
        detect_vmx();
        return;
    }
    if (cpuid(CPUID_LEAF_EXT_MAX, 0).eax >= CPUID_LEAF_SVM &&
        (cpuid(CPUID_LEAF_EXT_AMD, 0).ecx & CPUID_80000001_ECX_SVM)) {
        detect_svm();
        return;
    }
    none("the CPU offers neither VT-x nor AMD-V");
}

void virt_describe(char *buf, size_t size)
{
    switch (virt.vendor) {
    case VIRT_VMX:
        ksnprintf(buf, size, "VT-x (VMCS revision %u)%s%s%s%s%s%s", virt.vmx_revision,
                  virt.vmx_ept ? ", EPT" : ", no EPT", virt.vmx_ept_2m ? " 2M" : "", virt.vmx_ept_1g ? " 1G" : "",
                  virt.vmx_vpid ? ", VPID" : "", virt.vmx_unrestricted ? ", unrestricted guest" : "",
                  virt.vmx_feature_control_locked ? ", IA32_FEATURE_CONTROL locked by firmware" : "");
        break;
    case VIRT_SVM:
        ksnprintf(buf, size, "AMD-V (SVM revision %u)%s, %u ASIDs%s%s%s%s%s", virt.svm_revision,
                  virt.svm_npt ? ", NPT" : ", no NPT", virt.svm_asids, virt.svm_nrips ? ", NRIPS" : ", no NRIPS",
                  virt.svm_decode_assists ? ", decode assists" : "", virt.svm_flush_by_asid ? ", flush by ASID" : "",
                  virt.svm_vmcb_clean ? ", VMCB clean bits" : "", virt.svm_vgif ? ", vGIF" : "");
        break;
    default: ksnprintf(buf, size, "none: %s", virt.why_none); break;
    }
}
