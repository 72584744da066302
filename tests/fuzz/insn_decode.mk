# Fuzzing the MMIO instruction decoder (vmm/insn_decode.c) against a second decoder
# in the fuzz target: `make fuzz-insn_decode` (FUZZ_SECONDS=60). An input is the
# mode, 8 bytes for the register values, then the instruction bytes. It runs in
# build/fuzz/insn_decode; the fuzzer writes its own seeds (real encodings of every
# form) into the corpus there first.
FUZZ_TARGETS += insn_decode

FUZZ_INSN_SRCS := tests/fuzz/fuzz_insn_decode.c vmm/insn_decode.c kernel/lib/string.c

$(B)/fuzz/fuzz_insn_decode: $(FUZZ_INSN_SRCS) tests/fuzz/fuzz.h vmm/insn_decode.h $(wildcard kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_INSN_SRCS) -o $@

fuzz-insn_decode: $(B)/fuzz/fuzz_insn_decode
	@mkdir -p $(B)/fuzz/insn_decode/corpus
	cd $(B)/fuzz/insn_decode && INSN_WRITE_SEEDS=corpus ../fuzz_insn_decode
	$(FUZZ_RUN) insn_decode $(B)/fuzz/insn_decode -- ../fuzz_insn_decode -max_len=48 corpus

.PHONY: fuzz-insn_decode
