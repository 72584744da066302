# The NUMA placement planner.
UNIT_TESTS += placement
UNIT_SRCS_placement := tests/unit/test_placement.c vmm/placement.c kernel/printf.c kernel/string.c tests/unit/stubs.c
