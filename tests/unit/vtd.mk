# VT-d's context entries, interrupt entries, remappable MSI addresses, queue
# descriptors and fault records as drivers/vtd.c builds and reads them
# (arch/x86/hw/vtd.h), against the specification's bit layouts.
UNIT_TESTS += vtd
UNIT_SRCS_vtd := tests/unit/test_vtd.c
