# Fuzzing the guest page-table walker (vmm/guest_walk.c) against a second walker in
# the fuzz target: `make fuzz-guest_walk` (FUZZ_SECONDS=60). An input is 18 control
# bytes (mode, CR3, a virtual address, a length) and the guest's memory from
# guest-physical 0. It runs in build/fuzz/guest_walk; the fuzzer writes its own
# seeds (tables of each paging mode) into the corpus there first.
FUZZ_TARGETS += guest_walk

FUZZ_WALK_SRCS := tests/fuzz/fuzz_guest_walk.c vmm/guest_walk.c

$(B)/fuzz/fuzz_guest_walk: $(FUZZ_WALK_SRCS) tests/fuzz/fuzz.h vmm/guest_walk.h arch/x86/hw/pte.h arch/x86/hw/regs.h \
                           $(wildcard kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_WALK_SRCS) -o $@

fuzz-guest_walk: $(B)/fuzz/fuzz_guest_walk
	@mkdir -p $(B)/fuzz/guest_walk/corpus
	cd $(B)/fuzz/guest_walk && WALK_WRITE_SEEDS=corpus ../fuzz_guest_walk
	$(FUZZ_RUN) guest_walk $(B)/fuzz/guest_walk -- ../fuzz_guest_walk -max_len=32768 corpus

.PHONY: fuzz-guest_walk
