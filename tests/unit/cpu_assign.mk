# Assigning physical CPUs to partitions.
UNIT_TESTS += cpu_assign
UNIT_SRCS_cpu_assign := tests/unit/test_cpu_assign.c vmm/cpu_assign.c kernel/config.c kernel/toml.c \
                        kernel/log_level.c kernel/printf.c kernel/string.c tests/unit/stubs.c
