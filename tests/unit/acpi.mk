# Unit tests of the ACPI table parsers, the AML scan (test_acpi runs both) and the
# NUMA topology builder. test_acpi_util.c is #included by the test files.
UNIT_TESTS += acpi topology

ACPI_SRCS := drivers/acpi/tables.c drivers/acpi/fadt.c drivers/acpi/madt.c \
             drivers/acpi/numa.c drivers/acpi/mcfg.c drivers/acpi/hpet.c \
             drivers/acpi/aml.c drivers/acpi/aml_grammar.c drivers/acpi/acpi.c \
             drivers/acpi/dmar.c drivers/acpi/ivrs.c drivers/acpi/remap.c

UNIT_SRCS_acpi     := tests/unit/test_acpi.c tests/unit/test_acpi_aml.c $(ACPI_SRCS) \
                      kernel/lib/printf.c tests/unit/stubs.c
UNIT_SRCS_topology := tests/unit/test_topology.c kernel/core/topology.c drivers/acpi/topology.c \
                      $(ACPI_SRCS) kernel/lib/printf.c tests/unit/stubs.c

$(B)/unit/test_acpi $(B)/unit/test_topology: tests/unit/test_acpi_util.c
