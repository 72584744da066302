# The heartbeat master (vmm/ha/hb.c): failure detection and failover of
# [[failover]] groups, on a simulated clock with simulated agents.
UNIT_TESTS += hb
UNIT_SRCS_hb := tests/unit/test_hb.c vmm/ha/hb.c kernel/core/log_limit.c kernel/lib/string.c kernel/lib/printf.c \
                kernel/lib/errno.c tests/unit/stubs.c
