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

# testguest.elf is what partitions boot; its debug information is in
# testguest.debug (gdb finds it through the .gnu_debuglink section).
GUEST_BINS := $(B)/guest/testguest.elf

guest: $(GUEST_BINS)

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
	@size=$$(stat -c %s $@); if [ $$size -gt 65536 ]; then echo "error: $@ is $$size bytes, more than 64 KiB"; exit 1; fi

-include $(TG_OBJS:.o=.d)

.PHONY: guest
