# Fuzzing the PVH ELF loader (vmm/pvh_loader.c) with libFuzzer: `make fuzz-pvh_loader`
# (FUZZ_SECONDS=60). An input is 16 control bytes (guest RAM size, reserved ranges,
# a load callback to fail, a module to place) and the image. It runs in
# build/fuzz/pvh_loader; the fuzzer writes its own seed images (ELF64 and ELF32, the
# entry note in a PT_NOTE or an SHT_NOTE section) into the corpus there first.
FUZZ_TARGETS += pvh_loader

FUZZ_PVH_SRCS := tests/fuzz/fuzz_pvh_loader.c vmm/pvh_loader.c kernel/lib/printf.c kernel/lib/string.c \
                 kernel/lib/errno.c

$(B)/fuzz/fuzz_pvh_loader: $(FUZZ_PVH_SRCS) tests/fuzz/fuzz.h vmm/pvh_loader.h vmm/pvh.h $(wildcard kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_PVH_SRCS) -o $@

fuzz-pvh_loader: $(B)/fuzz/fuzz_pvh_loader
	@mkdir -p $(B)/fuzz/pvh_loader/corpus
	cd $(B)/fuzz/pvh_loader && PVH_WRITE_SEEDS=corpus ../fuzz_pvh_loader
	$(FUZZ_RUN) pvh_loader $(B)/fuzz/pvh_loader -- ../fuzz_pvh_loader -dict=$(CURDIR)/tests/fuzz/pvh_loader.dict \
	  -max_len=8192 corpus

.PHONY: fuzz-pvh_loader
