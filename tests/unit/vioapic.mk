# The I/O APIC model behind the partitions' vIOAPIC.
UNIT_TESTS += vioapic
UNIT_SRCS_vioapic := tests/unit/test_vioapic.c vmm/dev/vioapic_model.c
