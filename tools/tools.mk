# Host tools. `make tools` builds them into build/tools/.

ISTHMUS_CHECK_SRCS := tools/isthmus-check.c kernel/core/config.c kernel/lib/toml.c kernel/core/log_level.c \
                      kernel/lib/string.c kernel/lib/printf.c

$(B)/tools/isthmus-check: $(ISTHMUS_CHECK_SRCS) $(wildcard kernel/*/*.h)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) $(ISTHMUS_CHECK_SRCS) -o $@

tools: $(B)/tools/isthmus-check

.PHONY: tools
