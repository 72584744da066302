# Host tools. `make tools` builds them into build/tools/.

ISTHMUS_CHECK_SRCS := tools/isthmus-check.c kernel/config.c kernel/toml.c kernel/log_level.c \
                      kernel/string.c kernel/printf.c

$(B)/tools/isthmus-check: $(ISTHMUS_CHECK_SRCS) $(wildcard kernel/*.h)
	@mkdir -p $(dir $@)
	$(HOSTCC) $(HOST_CFLAGS) $(ISTHMUS_CHECK_SRCS) -o $@

tools: $(B)/tools/isthmus-check

.PHONY: tools
