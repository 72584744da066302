# Fuzzing the serial console's input path: the line editor (kernel/lib/line_editor.c)
# byte by byte and the shell's tokenizer and dispatcher (kernel/lib/shell_core.c) on
# every line it completes: `make fuzz-shell` (FUZZ_SECONDS=60). An input is the
# prompt length, the word limit and the bytes typed. It runs in build/fuzz/shell,
# seeded with escape sequences and quoted command lines.
FUZZ_TARGETS += shell

FUZZ_SHELL_SRCS := tests/fuzz/fuzz_shell.c kernel/lib/line_editor.c kernel/lib/shell_core.c kernel/lib/printf.c \
                   kernel/lib/string.c kernel/lib/errno.c

$(B)/fuzz/fuzz_shell: $(FUZZ_SHELL_SRCS) tests/fuzz/fuzz.h $(wildcard kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_SHELL_SRCS) -o $@

fuzz-shell: $(B)/fuzz/fuzz_shell
	@mkdir -p $(B)/fuzz/shell/corpus
	printf '\011\004part start "alpha beta"\r\033[Dx\033[3~\001\013help\033[A\r\n\014' >$(B)/fuzz/shell/corpus/seed-edit
	printf '\040\040a b c d e f g h i j k l m n o p q r s t u v w x y z 1 2 3 4 5 6 7 8\r"a\\"b\\\\c" ""\r"open\r\003' \
	  >$(B)/fuzz/shell/corpus/seed-words
	$(FUZZ_RUN) shell $(B)/fuzz/shell -- ../fuzz_shell -dict=$(CURDIR)/tests/fuzz/shell.dict -max_len=512 corpus

.PHONY: fuzz-shell
