# Fuzzing the bzImage loader (vmm/bzimage.c) with libFuzzer: `make fuzz-bzimage`
# (FUZZ_SECONDS=60). An input is 12 control bytes (the partition's memory, a
# reserved range, an initrd, the command line's length, a write to fail) and the
# image. It runs in build/fuzz/bzimage; the fuzzer writes its own seed images
# (Debian's header shrunk, relocatable or not) into the corpus there first.
FUZZ_TARGETS += bzimage

FUZZ_BZIMAGE_SRCS := tests/fuzz/fuzz_bzimage.c vmm/bzimage.c vmm/pvh_start.c vmm/layout.c kernel/lib/printf.c kernel/lib/string.c \
                     kernel/lib/errno.c

$(B)/fuzz/fuzz_bzimage: $(FUZZ_BZIMAGE_SRCS) tests/fuzz/fuzz.h vmm/bzimage.h vmm/bootparams.h vmm/layout.h \
                        $(wildcard kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_BZIMAGE_SRCS) -o $@

fuzz-bzimage: $(B)/fuzz/fuzz_bzimage
	@mkdir -p $(B)/fuzz/bzimage/corpus
	cd $(B)/fuzz/bzimage && BZIMAGE_WRITE_SEEDS=corpus ../fuzz_bzimage
	$(FUZZ_RUN) bzimage $(B)/fuzz/bzimage -- ../fuzz_bzimage -dict=$(CURDIR)/tests/fuzz/bzimage.dict -max_len=12288 corpus

.PHONY: fuzz-bzimage
