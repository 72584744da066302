# Unit tests for the core library: printf, string, page allocator, line editor, shell core.
UNIT_TESTS += printf string page_alloc line_editor shell_core

UNIT_SRCS_printf      := tests/unit/test_printf.c kernel/printf.c kernel/string.c
UNIT_SRCS_string      := tests/unit/test_string.c kernel/string.c kernel/errno.c
UNIT_SRCS_page_alloc  := tests/unit/test_page_alloc.c kernel/page_alloc.c kernel/string.c \
                         kernel/errno.c tests/unit/stubs.c
UNIT_SRCS_line_editor := tests/unit/test_line_editor.c kernel/line_editor.c kernel/string.c
UNIT_SRCS_shell_core  := tests/unit/test_shell_core.c kernel/shell_core.c kernel/printf.c \
                         kernel/string.c kernel/errno.c tests/unit/stubs.c
