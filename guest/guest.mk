# The test guest (guest/README.md): a freestanding 64-bit PVH ELF that the boot
# tests run inside Isthmus partitions. Included by the top-level Makefile.

GUEST_CC      ?= $(CC)
GUEST_CFLAGS  := -std=gnu11 -m64 -ffreestanding -nostdlib -static -fno-pic -fno-pie \
                 -mno-red-zone -mgeneral-regs-only -mcmodel=small -fno-stack-protector \
                 -fno-asynchronous-unwind-tables -fno-tree-loop-distribute-patterns \
                 -fno-strict-aliasing -Wall -Wextra -Werror -O2 -g -I.
GUEST_LDFLAGS := -m elf_x86_64 -nostdlib -static -z max-page-size=4096 --build-id=none \
                 --no-warn-rwx-segments -T guest/testguest.lds

TG_CSRC := $(wildcard guest/*.c)
TG_OBJS := $(patsubst guest/%.c,$(B)/guest/%.o,$(TG_CSRC)) $(B)/guest/entry.S.o

# The image's size limit is a tripwire, not a loader limit (PVH images may be
# far larger): it catches .bss turned into file contents (the 1.1 MiB of
# virtio rings and buffers), a debug or -O0 build, a scenario grown by
# accident. It was 64 KiB until the abuse scenario (abuse.c, about 11 KiB of
# code at -Os) took the image to about 80 KiB; 96 KiB leaves room for one
# more scenario of that size before anyone has to look again.
TG_MAX_BYTES := 98304

# testguest.elf is what partitions boot; its debug information is in
# testguest.debug (gdb finds it through the .gnu_debuglink section).
GUEST_BINS := $(B)/guest/testguest.elf

# The static programs for stock Linux partitions, built with the C library:
# the failover agent (guest/linux/hb-agent.c), the "hangs" failure of the
# failover tests (guest/linux/hog.c), the memory workloads of the shadow
# paging tests (guest/linux/mm.c) and the TCP streams of the network tests
# and bench (guest/linux/stream.c).
LINUX_AGENT  := $(B)/guest/linux/isthmus-hb-agent
LINUX_HOG    := $(B)/guest/linux/isthmus-hog
LINUX_MM     := $(B)/guest/linux/isthmus-mm
LINUX_STREAM := $(B)/guest/linux/isthmus-stream

$(LINUX_AGENT): guest/linux/hb-agent.c vmm/hypercall_abi.h
$(LINUX_HOG): guest/linux/hog.c
$(LINUX_MM): guest/linux/mm.c
$(LINUX_STREAM): guest/linux/stream.c
$(LINUX_AGENT) $(LINUX_HOG) $(LINUX_MM) $(LINUX_STREAM):
	@mkdir -p $(dir $@)
	@echo "  CC      $< (static, for Linux guests)"; $(CC) -std=gnu11 -O2 -static -pthread -Wall -Wextra -Werror -I. $< -o $@

# The initramfs for Debian's kernel (tools/debian-kernel.py initramfs): busybox
# from Debian's package (make deps fetches it with the kernel), the scripts in
# guest/linux/ and the programs above.
LINUX_DIR    := $(B)/debian
LINUX_INITRD := $(LINUX_DIR)/initramfs.cpio
LINUX_KERNEL := $(LINUX_DIR)/vmlinuz
$(LINUX_INITRD): guest/linux/init guest/linux/net-init guest/linux/poll guest/linux/fail $(LINUX_AGENT) $(LINUX_HOG) \
                 $(LINUX_MM) $(LINUX_STREAM) tools/debian-kernel.py
	@$(PYTHON) tools/debian-kernel.py initramfs --agent $(LINUX_AGENT) --hog $(LINUX_HOG) --mm $(LINUX_MM) \
	    --stream $(LINUX_STREAM) $(LINUX_DIR)

# The same for Debian's generic kernel (make deps keeps its vmlinuz and e1000e
# module in $(LINUX_DIR)/generic/): busybox and the scripts, its e1000e module
# instead of the cloud kernel's virtio ones (tests/boot/test_linux_nic.py).
LINUX_GENERIC_INITRD := $(LINUX_DIR)/generic/initramfs.cpio
LINUX_GENERIC_KERNEL := $(LINUX_DIR)/generic/vmlinuz
$(LINUX_GENERIC_INITRD): guest/linux/init guest/linux/net-init guest/linux/poll guest/linux/fail tools/debian-kernel.py
	@$(PYTHON) tools/debian-kernel.py initramfs --generic $(LINUX_DIR)

guest: $(GUEST_BINS) $(LINUX_AGENT) $(LINUX_HOG) $(LINUX_MM) $(LINUX_STREAM)
linux-guest: $(LINUX_INITRD) $(LINUX_GENERIC_INITRD)

$(B)/guest/%.o: guest/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(GUEST_CC) $(GUEST_CFLAGS) -MMD -c $< -o $@

$(B)/guest/entry.S.o: guest/entry.S
	@mkdir -p $(dir $@)
	@echo "  AS      $<"; $(GUEST_CC) $(GUEST_CFLAGS) -MMD -c $< -o $@

$(B)/guest/testguest.debug: $(TG_OBJS) guest/testguest.lds
	@echo "  LD      $@"; $(LD) $(GUEST_LDFLAGS) $(TG_OBJS) -o $@

$(B)/guest/testguest.elf: $(B)/guest/testguest.debug
	@echo "  STRIP   $@"; cd $(B)/guest && $(OBJCOPY) --strip-debug --add-gnu-debuglink=testguest.debug testguest.debug testguest.elf
	@size=$$(stat -c %s $@); if [ $$size -gt $(TG_MAX_BYTES) ]; then echo "error: $@ is $$size bytes, more than $(TG_MAX_BYTES)"; exit 1; fi

-include $(TG_OBJS:.o=.d)

.PHONY: guest linux-guest
