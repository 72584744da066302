# Unit tests of DMA remapping discovery: the DMAR and IVRS parsers
# (drivers/acpi/dmar.c, ivrs.c, remap.c) on QEMU's real tables and on crafted and
# malformed ones, and the unit-per-device lookup (drivers/iommu.c) over a PCI
# list built by hand. ACPI_SRCS comes from acpi.mk (expanded late).
UNIT_TESTS += iommu

UNIT_SRCS_iommu = tests/unit/test_iommu.c drivers/iommu.c $(ACPI_SRCS) kernel/lib/printf.c tests/unit/stubs.c

$(B)/unit/test_iommu: tests/unit/test_acpi_util.c
