/* Finding Isthmus (CPUID hypervisor leaves) and calling it. */
#include "guest/tg.h"
#include "guest/x86.h"

#define CPUID1_ECX_HYPERVISOR (1u << 31)

int64_t hypercall(uint64_t nr, uint64_t a1, uint64_t a2, uint64_t a3, uint64_t a4)
{
    /* The argument registers count as clobbered although the ABI preserves
     * them: the guest need not depend on that. */
    register uint64_t r10 __asm__("r10") = a4;
    uint64_t ret = nr;
    if (tg.use_vmmcall)
        __asm__ volatile("vmmcall" : "+a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10) :: "memory");
    else
        __asm__ volatile("vmcall" : "+a"(ret), "+D"(a1), "+S"(a2), "+d"(a3), "+r"(r10) :: "memory");
    return (int64_t)ret;
}

static void regs_to_str(char *s, uint32_t r0, uint32_t r1, uint32_t r2)
{
    memcpy(s, &r0, 4);
    memcpy(s + 4, &r1, 4);
    memcpy(s + 8, &r2, 4);
    s[12] = 0;
    for (int i = 0; i < 12; i++)
        if (s[i] && (s[i] < 0x20 || s[i] > 0x7e))
            s[i] = '?';
}

void hv_detect(void)
{
    uint32_t a, b, c, d;
    char vendor[13], sig[13];

    cpuid(0, 0, &a, &b, &c, &d);
    regs_to_str(vendor, b, d, c);
    /* VMMCALL is AMD's (and Hygon's) instruction, VMCALL Intel's; the other
     * one raises #UD. */
    tg.use_vmmcall = streq(vendor, "AuthenticAMD") || streq(vendor, "HygonGenuine");

    cpuid(1, 0, &a, &b, &c, &d);
    if (!(c & CPUID1_ECX_HYPERVISOR)) {
        say("not running on Isthmus");
        say("no hypervisor present (CPUID.1:ECX[31] clear), CPU vendor %s", vendor);
        return;
    }
    uint32_t max_leaf;
    cpuid(ISTHMUS_CPUID_LEAF, 0, &max_leaf, &b, &c, &d);
    regs_to_str(sig, b, c, d);
    if (b != ISTHMUS_CPUID_SIG_EBX || c != ISTHMUS_CPUID_SIG_ECX || d != ISTHMUS_CPUID_SIG_EDX) {
        say("not running on Isthmus");
        say("hypervisor signature '%s', CPU vendor %s", sig, vendor);
        return;
    }
    tg.isthmus = true;

    int64_t abi = hypercall(HC_ABI_VERSION, 0, 0, 0, 0);
    say("running on Isthmus (CPU vendor %s, hypercalls by %s), hypervisor leaves up to 0x%x",
        vendor, tg.use_vmmcall ? "vmmcall" : "vmcall", max_leaf);
    if (abi < 0)
        say("warning: HC_ABI_VERSION -> %ld", abi);
    else if ((abi >> 16) != HC_ABI_MAJOR)
        say("warning: hypervisor ABI %ld.%ld, this guest was built for %d.%d",
            abi >> 16, abi & 0xffff, HC_ABI_MAJOR, HC_ABI_MINOR);

    int64_t r = hypercall(HC_PARTITION_INFO, (uintptr_t)&tg.info, 0, 0, 0);
    if (r != 0) {
        say("warning: HC_PARTITION_INFO -> %ld", r);
        memset(&tg.info, 0, sizeof(tg.info));
    }
    tg.info.name[ISTHMUS_NAME_MAX - 1] = 0;
    tg.tsc_khz = tg.info.tsc_khz;
    tg.apic_khz = tg.info.apic_timer_khz;

    /* The timing leaf must agree with the hypercall. */
    if (max_leaf >= ISTHMUS_CPUID_TIMING_LEAF) {
        cpuid(ISTHMUS_CPUID_TIMING_LEAF, 0, &a, &b, &c, &d);
        if (a != tg.tsc_khz || b != tg.apic_khz)
            say("warning: CPUID 0x%x says tsc %u kHz, apic timer %u kHz; HC_PARTITION_INFO %lu and %lu",
                ISTHMUS_CPUID_TIMING_LEAF, a, b, tg.tsc_khz, tg.apic_khz);
        if (!tg.tsc_khz)
            tg.tsc_khz = a;
        if (!tg.apic_khz)
            tg.apic_khz = b;
    } else {
        say("warning: no timing leaf 0x%x (highest hypervisor leaf 0x%x)", ISTHMUS_CPUID_TIMING_LEAF, max_leaf);
    }
}
