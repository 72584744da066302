# Unit tests of the partition builders in vmm/: second-level page tables (EPT/NPT),
# the MMIO instruction decoder, the PVH ELF loader and start info, and the
# partition's ACPI tables (parsed back with drivers/acpi, hence ACPI_SRCS from
# acpi.mk, expanded late so the include order does not matter).
UNIT_TESTS += slpt insn_decode pvh_loader pvh_start guest_acpi

VMM_TEST_LIBS := kernel/lib/printf.c kernel/lib/string.c kernel/lib/errno.c tests/unit/stubs.c

UNIT_SRCS_slpt        := tests/unit/test_slpt.c vmm/slpt.c tests/unit/stubs.c
UNIT_SRCS_insn_decode := tests/unit/test_insn_decode.c vmm/insn_decode.c tests/unit/stubs.c
UNIT_SRCS_pvh_loader  := tests/unit/test_pvh_loader.c vmm/pvh_loader.c $(VMM_TEST_LIBS)
UNIT_SRCS_pvh_start   := tests/unit/test_pvh_start.c vmm/pvh_start.c $(VMM_TEST_LIBS)
UNIT_SRCS_guest_acpi   = tests/unit/test_guest_acpi.c vmm/guest_acpi.c $(ACPI_SRCS) $(VMM_TEST_LIBS)

# The partition's virtual PCI bus (vmm/dev/vpci.c) over a fake host function, and
# BAR sizing (drivers/pci.c).
UNIT_TESTS += vpci
UNIT_SRCS_vpci := tests/unit/test_vpci.c vmm/dev/vpci.c kernel/core/log_limit.c drivers/pci.c $(VMM_TEST_LIBS)

# A partition's memory as several host blocks (vmm/gmem.c).
UNIT_TESTS += gmem
UNIT_SRCS_gmem := tests/unit/test_gmem.c vmm/gmem.c kernel/lib/string.c
