# Fuzzing the virtual switch (net/vswitch.c), which reads the header of every frame
# a guest sends, against a second switch in the fuzz target: `make fuzz-vswitch`
# (FUZZ_SECONDS=60). An input is the ageing time, port configurations and a
# sequence of frames and port changes. It runs in build/fuzz/vswitch, from an
# empty corpus.
FUZZ_TARGETS += vswitch

FUZZ_VSW_SRCS := tests/fuzz/fuzz_vswitch.c net/vswitch.c kernel/lib/string.c

$(B)/fuzz/fuzz_vswitch: $(FUZZ_VSW_SRCS) tests/fuzz/fuzz.h net/vswitch.h net/virtio.h $(wildcard kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_VSW_SRCS) -o $@

fuzz-vswitch: $(B)/fuzz/fuzz_vswitch
	@mkdir -p $(B)/fuzz/vswitch/corpus
	$(FUZZ_RUN) vswitch $(B)/fuzz/vswitch -- ../fuzz_vswitch -max_len=1024 corpus

.PHONY: fuzz-vswitch
