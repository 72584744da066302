# The NUMA placement planner.
UNIT_TESTS += placement
UNIT_SRCS_placement := tests/unit/test_placement.c vmm/placement.c kernel/lib/printf.c kernel/lib/string.c tests/unit/stubs.c
