# Unit tests of the partition builders in vmm/: second-level page tables, the PVH
# ELF loader and start info, the partition's ACPI tables, and the MMIO instruction
# decoder.
UNIT_TESTS += slpt

UNIT_SRCS_slpt := tests/unit/test_slpt.c vmm/slpt.c tests/unit/stubs.c
