# The heartbeat master (vmm/hb.c): failure detection and failover of
# [[failover]] groups, on a simulated clock with simulated agents.
UNIT_TESTS += hb
UNIT_SRCS_hb := tests/unit/test_hb.c vmm/hb.c kernel/string.c kernel/printf.c kernel/errno.c
