# The emulated local APIC and the guest's CPUID view.
UNIT_TESTS += vlapic vcpuid
UNIT_SRCS_vlapic := tests/unit/test_vlapic.c vmm/vlapic.c
UNIT_SRCS_vcpuid := tests/unit/test_vcpuid.c vmm/vcpuid.c

# KVM's paravirtual EOI over a vlapic and guest memory in a heap block.
UNIT_TESTS += pveoi
UNIT_SRCS_pveoi := tests/unit/test_pveoi.c vmm/pveoi.c vmm/vlapic.c vmm/gmem.c kernel/lib/string.c
