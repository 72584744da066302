/* arch/x86/hw/: every definitions header builds on the host (cpu.h, with the
 * intrinsics, is the one that does not), and the encodings agree with the
 * manuals where one constant can be checked against another: the PAT
 * power-on value, the GDT descriptors against the segment attribute bits,
 * the page-table geometry, the exceptions with an error code, the MSR enum. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/hw/cpuid.h"
#include "arch/x86/hw/desc.h"
#include "arch/x86/hw/msr.h"
#include "arch/x86/hw/pte.h"
#include "arch/x86/hw/regs.h"
#include "arch/x86/hw/vectors.h"
#include "arch/x86/hw/vmx_ctls.h"

static void test_pat_default(void **state)
{
    static const u8 want[8] = { PAT_WB, PAT_WT, PAT_UC_MINUS, PAT_UC, PAT_WB, PAT_WT, PAT_UC_MINUS, PAT_UC };
    for (int i = 0; i < 8; i++)
        assert_int_equal((PAT_DEFAULT >> (8 * i)) & 0xff, want[i]);
    /* PTE_PWT and PTE_PCD select entries 1 and 2; both together entry 3, UC. */
    assert_int_equal(PTE_PWT, BIT(0) << 3);
    assert_int_equal((PAT_DEFAULT >> (8 * 3)) & 0xff, PAT_UC);
}

/* Bits 47:40 and 55:52 of a descriptor in the packed attribute form. */
static u32 attrs_of(u64 desc) { return (u32)(((desc >> 40) & 0xff) | ((desc >> 52) & 0xf) << 8); }

static u32 limit_of(u64 desc) { return (u32)((desc & 0xffff) | ((desc >> 48) & 0xf) << 16); }

static void test_gdt_descriptors(void **state)
{
    const u32 code = SEG_ATTR_P | SEG_ATTR_S | SEG_TYPE_CODE_RX;
    const u32 data = SEG_ATTR_P | SEG_ATTR_S | SEG_TYPE_DATA_RW;

    assert_int_equal(attrs_of(GDT_CODE64), code | SEG_ATTR_L);
    assert_int_equal(attrs_of(GDT_DATA), data);
    assert_int_equal(attrs_of(GDT_CODE32), code | SEG_ATTR_DB | SEG_ATTR_G);
    assert_int_equal(attrs_of(GDT_DATA32), data | SEG_ATTR_DB | SEG_ATTR_G);
    assert_int_equal(limit_of(GDT_CODE32), 0xfffff);
    assert_int_equal(limit_of(GDT_DATA32), 0xfffff);
    assert_int_equal(SEL_CODE / 8, 1);
    assert_int_equal(SEL_DATA / 8, 2);
    assert_int_equal(SEL_TSS / 8 + 2, GDT_ENTRIES); /* the TSS descriptor is last, two slots */
}

static void test_page_geometry(void **state)
{
    const u64 va = 0x0000123456789abcULL;
    u64 back = 0;

    for (int l = 4; l >= 1; l--)
        back |= (u64)PT_INDEX(va, l) << PT_LEVEL_SHIFT(l);
    assert_int_equal(back | (va & (PAGE_SIZE - 1)), va);
    assert_int_equal(PT_INDEX(va, 4), (va >> 39) & 511);
    assert_int_equal(PT_INDEX(va, 1), (va >> 12) & 511);
    assert_int_equal(PTE_ADDR & PTE_NX, 0);
    assert_int_equal(PTE_ADDR & PTE_PS, 0);
    /* In a large leaf PAT moves to bit 12, the lowest address bit a 4 KiB
     * frame has and a 2 MiB or 1 GiB one does not. */
    assert_int_equal(PTE_PAT_LARGE, PAGE_SIZE);
    assert_int_equal(PTE_PAT_LARGE & (PAGE_SIZE_2M - 1), PTE_PAT_LARGE);
    /* EPT leaves of both memory types fit their field. */
    assert_int_equal((EPT_MT_WB << EPT_MT_SHIFT) & ~EPT_MT_MASK, 0);
    assert_int_equal(NPT_P | NPT_RW | NPT_US, PTE_P | PTE_RW | PTE_US);
}

static void test_error_code_vectors(void **state)
{
    /* SDM Vol. 3A table 6-1 plus #VC and #SX (APM Vol. 2 table 8-1); the
     * same list as arch/x86/entry.asm's stubs. */
    static const int with_error[] = { 8, 10, 11, 12, 13, 14, 17, 21, 29, 30 };
    u64 want = 0;

    for (size_t i = 0; i < ARRAY_SIZE(with_error); i++)
        want |= BIT(with_error[i]);
    assert_int_equal(X86_EXC_HAS_ERROR_CODE, want);
    assert_true(X86_EXC_SX < X86_NR_EXCEPTIONS);
    assert_true(APIC_MIN_VECTOR <= X86_NR_EXCEPTIONS);
}

static void test_msrs_distinct(void **state)
{
    static const u32 all[] = {
        MSR_IA32_TSC,
        MSR_IA32_APIC_BASE,
        MSR_IA32_FEATURE_CONTROL,
        MSR_IA32_MTRRCAP,
        MSR_IA32_SYSENTER_CS,
        MSR_IA32_SYSENTER_ESP,
        MSR_IA32_SYSENTER_EIP,
        MSR_IA32_MISC_ENABLE,
        MSR_IA32_PAT,
        MSR_IA32_MTRR_DEF_TYPE,
        MSR_IA32_VMX_BASIC,
        MSR_IA32_VMX_PINBASED_CTLS,
        MSR_IA32_VMX_PROCBASED_CTLS,
        MSR_IA32_VMX_EXIT_CTLS,
        MSR_IA32_VMX_ENTRY_CTLS,
        MSR_IA32_VMX_MISC,
        MSR_IA32_VMX_CR0_FIXED0,
        MSR_IA32_VMX_CR0_FIXED1,
        MSR_IA32_VMX_CR4_FIXED0,
        MSR_IA32_VMX_CR4_FIXED1,
        MSR_IA32_VMX_PROCBASED_CTLS2,
        MSR_IA32_VMX_EPT_VPID_CAP,
        MSR_IA32_VMX_TRUE_PINBASED_CTLS,
        MSR_IA32_VMX_TRUE_PROCBASED_CTLS,
        MSR_IA32_VMX_TRUE_EXIT_CTLS,
        MSR_IA32_VMX_TRUE_ENTRY_CTLS,
        MSR_X2APIC_BASE,
        MSR_EFER,
        MSR_STAR,
        MSR_LSTAR,
        MSR_CSTAR,
        MSR_SFMASK,
        MSR_FS_BASE,
        MSR_GS_BASE,
        MSR_KERNEL_GS_BASE,
        MSR_TSC_AUX,
        MSR_VM_CR,
        MSR_VM_HSAVE_PA,
    };
    for (size_t i = 0; i < ARRAY_SIZE(all); i++)
        for (size_t k = i + 1; k < ARRAY_SIZE(all); k++)
            assert_int_not_equal(all[i], all[k]);
    /* The TRUE_ controls follow the plain ones in the same order (SDM A.3-A.5). */
    assert_int_equal(MSR_IA32_VMX_TRUE_PINBASED_CTLS - MSR_IA32_VMX_PINBASED_CTLS, 0xc);
    assert_int_equal(MSR_IA32_VMX_TRUE_ENTRY_CTLS - MSR_IA32_VMX_ENTRY_CTLS, 0xc);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pat_default),   cmocka_unit_test(test_gdt_descriptors),
        cmocka_unit_test(test_page_geometry), cmocka_unit_test(test_error_code_vectors),
        cmocka_unit_test(test_msrs_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
