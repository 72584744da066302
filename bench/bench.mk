# Benchmarks of the NIC data path on the host (bench/net_bench.c). Included by
# the top-level Makefile.
#
#   make bench              builds build/bench/net_bench and runs it
#                           (BENCH_SECONDS per frame size, BENCH_ARGS more options)
#   make bench-callgrind    instructions per frame under valgrind (bench/callgrind.sh)
#   make bench-peer         the same two cores, DPDK vhost-user <-> virtio-user beside it
#                           (bench/peer.sh; PEER_SECONDS, PEER_REPS, PEER_HOT)
#   make bench BENCH_COPY=libc
#                           the same with the C library's memmove in the data path
#                           (build/bench/libc/net_bench): what the copy routine costs
#
# The data path (net/, vmm/gmem.c) is compiled with the hypervisor's own flags
# (HV_CFLAGS: -O2, -ffreestanding so no built-in memcpy, no SIMD) plus
# -DISTHMUS_HOST, and copies with the hypervisor's memcpy/memmove from
# kernel/lib/string.c. Those are renamed hv_* here so that they replace nothing of
# the C library's in the rest of the program; the benchmark's own baseline
# calls both.

BENCH_SECONDS ?= 2
BENCH_ARGS    ?=
BENCH_COPY    ?= hv

BENCH_DIR     := $(B)/bench$(if $(filter libc,$(BENCH_COPY)),/libc)
BENCH_CFLAGS  := -std=gnu11 -O2 -g -Wall -Wextra -Werror -Wno-unused-parameter -pthread -DISTHMUS_HOST -I.
BENCH_RENAME  := $(foreach f,memcpy memmove memset memcmp strlen strnlen strcmp strncmp strchr,-D$(f)=hv_$(f))
BENCH_DP_SRCS := net/net.c net/vnet_pci.c net/vnet_data.c net/virtq.c net/vswitch.c net/shim.c vmm/gmem.c
BENCH_DP_OBJS := $(patsubst %.c,$(BENCH_DIR)/obj/%.o,$(BENCH_DP_SRCS))
BENCH_OBJS    := $(BENCH_DP_OBJS) $(BENCH_DIR)/obj/kernel/string.o $(BENCH_DIR)/obj/bench/driver.o \
                 $(BENCH_DIR)/obj/bench/net_bench.o $(BENCH_DIR)/obj/bench/stubs.o

ifeq ($(BENCH_COPY),libc)
BENCH_DP_FLAGS := -DISTHMUS_HOST
BENCH_DP_COPY  := the C library memmove
else
BENCH_DP_FLAGS := -DISTHMUS_HOST $(BENCH_RENAME)
BENCH_DP_COPY  := kernel/lib/string.c memmove, as in the hypervisor
endif

$(BENCH_DP_OBJS): $(BENCH_DIR)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (bench)"; $(HOSTCC) $(HV_CFLAGS) $(BENCH_DP_FLAGS) -MMD -c $< -o $@

# The freestanding string.c (its memcpy, memmove, ...), renamed hv_*.
$(BENCH_DIR)/obj/kernel/string.o: kernel/lib/string.c
	@mkdir -p $(dir $@)
	@echo "  CC      $< (bench)"; $(HOSTCC) $(HV_CFLAGS) $(BENCH_RENAME) -MMD -c $< -o $@

$(BENCH_DIR)/obj/bench/%.o: bench/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(HOSTCC) $(BENCH_CFLAGS) -DBENCH_DP_COPY='"$(BENCH_DP_COPY)"' -MMD -c $< -o $@

$(BENCH_DIR)/net_bench: $(BENCH_OBJS)
	@echo "  LD      $@"; $(HOSTCC) -pthread $(BENCH_OBJS) -o $@

-include $(BENCH_OBJS:.o=.d)

bench: $(BENCH_DIR)/net_bench
	$(BENCH_DIR)/net_bench --seconds $(BENCH_SECONDS) $(BENCH_ARGS)

bench-callgrind: $(BENCH_DIR)/net_bench
	sh bench/callgrind.sh $(BENCH_DIR)/net_bench

.PHONY: bench bench-callgrind

# Beside DPDK's vhost-user <-> virtio-user pair, in one run (bench/peer.sh):
# installs DPDK from Debian's packages when missing; needs root.
PEER_SECONDS ?= 5
PEER_REPS    ?= 3
PEER_HOT     ?= 128

bench-peer: $(BENCH_DIR)/net_bench
	PEER_SECONDS=$(PEER_SECONDS) PEER_REPS=$(PEER_REPS) PEER_HOT=$(PEER_HOT) bash bench/peer.sh $(BENCH_DIR)/net_bench

.PHONY: bench-peer

# VM exits of stock Linux partitions under the hypervisor (bench/linux.py):
# per 1,000 frames of a TCP flow between two, per second of an idle one, and
# boot time to init. BENCH_BACKEND=vmx for VT-x under Bochs (ISTHMUS_BOCHS).
BENCH_BACKEND ?= svm

bench-linux: esp
	-@$(MAKE) --no-print-directory debian-kernel
	$(PYTHON) bench/linux.py $(BENCH_BACKEND)

.PHONY: bench-linux
