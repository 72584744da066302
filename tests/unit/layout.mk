# The partition's guest-physical layout.
UNIT_TESTS += layout
UNIT_SRCS_layout := tests/unit/test_layout.c vmm/layout.c kernel/lib/printf.c kernel/lib/string.c
