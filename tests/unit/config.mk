# Unit tests of the configuration file parser: the TOML subset and the schema.
UNIT_TESTS += toml config

CONFIG_PARSER_SRCS := kernel/toml.c kernel/config.c kernel/log_level.c kernel/string.c \
                      kernel/printf.c
UNIT_SRCS_toml   := tests/unit/test_toml.c kernel/toml.c kernel/string.c kernel/printf.c \
                    tests/unit/stubs.c
UNIT_SRCS_config := tests/unit/test_config.c $(CONFIG_PARSER_SRCS) tests/unit/stubs.c
