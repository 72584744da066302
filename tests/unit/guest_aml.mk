# The partition's PCI host bridge AML (vmm/guest_aml.c), wrapped in a DSDT by
# vmm/guest_acpi.c and scanned back with drivers/acpi (ACPI_SRCS from acpi.mk,
# expanded late so the include order does not matter).
UNIT_TESTS += guest_aml
UNIT_SRCS_guest_aml = tests/unit/test_guest_aml.c vmm/guest_aml.c vmm/guest_acpi.c \
                      $(ACPI_SRCS) kernel/lib/printf.c kernel/lib/string.c kernel/lib/errno.c \
                      tests/unit/stubs.c
