# Unit tests of the configuration file parser: the TOML subset and the schema.
UNIT_TESTS += toml config

CONFIG_PARSER_SRCS := kernel/lib/toml.c kernel/core/config.c kernel/core/log_level.c kernel/lib/string.c \
                      kernel/lib/printf.c
UNIT_SRCS_toml   := tests/unit/test_toml.c kernel/lib/toml.c kernel/lib/string.c kernel/lib/printf.c \
                    tests/unit/stubs.c
UNIT_SRCS_config := tests/unit/test_config.c $(CONFIG_PARSER_SRCS) tests/unit/stubs.c
