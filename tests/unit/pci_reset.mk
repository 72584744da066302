# Resetting one PCI function (drivers/pci_reset.c): FLR, secondary bus reset,
# the refusals, and its configuration written back, over a fake config space.
UNIT_TESTS += pci_reset
UNIT_SRCS_pci_reset := tests/unit/test_pci_reset.c drivers/pci_reset.c drivers/pci.c kernel/lib/printf.c kernel/lib/string.c tests/unit/stubs.c
