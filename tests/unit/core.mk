# Unit tests for the core library: printf, string, page allocator, line editor, shell core.
UNIT_TESTS += printf string page_alloc line_editor shell_core

UNIT_SRCS_printf      := tests/unit/test_printf.c kernel/lib/printf.c kernel/lib/string.c
UNIT_SRCS_string      := tests/unit/test_string.c kernel/lib/string.c kernel/lib/errno.c
UNIT_SRCS_page_alloc  := tests/unit/test_page_alloc.c kernel/core/page_alloc.c kernel/lib/string.c \
                         kernel/lib/errno.c tests/unit/stubs.c
UNIT_SRCS_line_editor := tests/unit/test_line_editor.c kernel/lib/line_editor.c kernel/lib/string.c
UNIT_SRCS_shell_core  := tests/unit/test_shell_core.c kernel/lib/shell_core.c kernel/lib/printf.c \
                         kernel/lib/string.c kernel/lib/errno.c tests/unit/stubs.c

# The rate limits of guest-caused log lines (kernel/core/log_limit.c), on a
# simulated clock.
UNIT_TESTS += log_limit
UNIT_SRCS_log_limit := tests/unit/test_log_limit.c kernel/core/log_limit.c kernel/lib/printf.c kernel/lib/string.c \
                       tests/unit/stubs.c
$(B)/unit/test_log_limit: HOST_CFLAGS += -pthread
