# Fuzzing the hypercall argument checks (vmm/hypercall.c): `make fuzz-hypercall`
# (FUZZ_SECONDS=60). An input is the CPL, the call number, four argument registers
# and the partition's RAM ranges, then bytes for its memory. It runs in
# build/fuzz/hypercall, from an empty corpus.
FUZZ_TARGETS += hypercall

FUZZ_HC_SRCS := tests/fuzz/fuzz_hypercall.c vmm/hypercall.c vmm/gmem.c kernel/lib/string.c

$(B)/fuzz/fuzz_hypercall: $(FUZZ_HC_SRCS) tests/fuzz/fuzz.h vmm/hypercall.h vmm/hypercall_abi.h vmm/gmem.h \
                          $(wildcard kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_HC_SRCS) -o $@

fuzz-hypercall: $(B)/fuzz/fuzz_hypercall
	@mkdir -p $(B)/fuzz/hypercall/corpus
	$(FUZZ_RUN) hypercall $(B)/fuzz/hypercall -- ../fuzz_hypercall -max_len=256 corpus

.PHONY: fuzz-hypercall
