# Fuzzing the configuration parser with libFuzzer: `make fuzz-config` (FUZZ_SECONDS=60).
# It runs in build/fuzz/config, whose corpus starts from the example files and grows
# there, so nothing in the source tree changes. Crashes are saved there as crash-*.
FUZZ_TARGETS += config

FUZZ_CONFIG_SRCS := tests/fuzz/fuzz_config.c kernel/core/config.c kernel/lib/toml.c kernel/core/log_level.c \
                    kernel/lib/string.c kernel/lib/printf.c

$(B)/fuzz/fuzz_config: $(FUZZ_CONFIG_SRCS) $(wildcard kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_CONFIG_SRCS) -o $@

fuzz-config: $(B)/fuzz/fuzz_config
	@mkdir -p $(B)/fuzz/config/corpus
	cp tests/unit/configs/valid/*.toml tests/unit/configs/invalid/*.toml configs/isthmus.toml \
	  $(B)/fuzz/config/corpus/
	$(FUZZ_RUN) config $(B)/fuzz/config -- ../fuzz_config -dict=$(CURDIR)/tests/fuzz/config.dict corpus

.PHONY: fuzz-config
