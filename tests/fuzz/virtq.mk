# Fuzzing the device side of the split virtqueue with libFuzzer: `make fuzz-virtq`
# (FUZZ_SECONDS=60). An input is a few control bytes (queue size, ring addresses,
# EVENT_IDX, max_bytes) and a 64 KiB guest memory image in two chunks. It runs in
# build/fuzz/virtq; the fuzzer writes its own seeds into the corpus there first.
# Crashes are saved there as crash-*.
FUZZ_TARGETS += virtq

FUZZ_VIRTQ_SRCS := tests/fuzz/fuzz_virtq.c net/virtq.c vmm/gmem.c kernel/lib/string.c

$(B)/fuzz/fuzz_virtq: $(FUZZ_VIRTQ_SRCS) net/virtq.h net/virtio.h vmm/gmem.h $(wildcard kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_VIRTQ_SRCS) -o $@

fuzz-virtq: $(B)/fuzz/fuzz_virtq
	@mkdir -p $(B)/fuzz/virtq/corpus
	cd $(B)/fuzz/virtq && VIRTQ_WRITE_SEEDS=corpus ../fuzz_virtq
	$(FUZZ_RUN) virtq $(B)/fuzz/virtq -- ../fuzz_virtq -max_len=65552 corpus

.PHONY: fuzz-virtq
