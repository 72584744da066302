# The emulated local APIC and the guest's CPUID view.
UNIT_TESTS += vlapic vcpuid
UNIT_SRCS_vlapic := tests/unit/test_vlapic.c vmm/vlapic.c
UNIT_SRCS_vcpuid := tests/unit/test_vcpuid.c vmm/vcpuid.c
