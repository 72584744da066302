# Isthmus — top-level build. `make` builds isthmus.efi, `make esp` the boot
# partition, `make run` boots it under QEMU, `make test` runs every test.
# See README.md.

PYTHON    ?= /usr/bin/python3
CC        ?= gcc
HOSTCC    ?= gcc
NASM      ?= nasm
LD        ?= ld
OBJCOPY   ?= objcopy
CONFIG    ?= configs/isthmus.toml
B         := build
VERSION   := $(shell git describe --always --dirty 2>/dev/null || echo unknown)

EFI_INC   := /usr/include/efi
EFI_LIB   := /usr/lib
OVMF      ?= /usr/share/ovmf/OVMF.fd

# ---------------------------------------------------------------- hypervisor
HV_DIRS   := boot kernel/lib kernel/core kernel/shell kernel/init arch/x86 arch/x86/vmx arch/x86/svm \
             drivers drivers/acpi vmm vmm/dev vmm/ha net
HV_CSRC   := $(foreach d,$(HV_DIRS),$(wildcard $(d)/*.c))
HV_ASRC   := $(filter-out arch/x86/trampoline.asm,$(foreach d,$(HV_DIRS),$(wildcard $(d)/*.asm)))
HV_OBJS   := $(patsubst %.c,$(B)/hv/%.o,$(HV_CSRC)) $(patsubst %.asm,$(B)/hv/%.asm.o,$(HV_ASRC))

# Warnings beyond -Wall -Wextra, as Jailhouse builds: shadowed names, functions
# without a prototype in a header, old-style declarations, undefined macros in
# #if, and declarations made twice. Host code is built with the same set.
WARN_FLAGS := -Wall -Wextra -Werror -Wno-unused-parameter -Wshadow -Wmissing-prototypes -Wstrict-prototypes \
              -Wundef -Wredundant-decls
HV_CFLAGS := -std=gnu11 -O2 -g $(WARN_FLAGS) \
             -ffreestanding -fno-stack-protector -fno-strict-aliasing -fpic \
             -fshort-wchar -mno-red-zone -mgeneral-regs-only -fno-omit-frame-pointer \
             -fno-asynchronous-unwind-tables -ffunction-sections \
             -I. -DISTHMUS_VERSION='"$(VERSION)"'
# Only the EFI boot stage sees the GNU-EFI headers.
EFI_CFLAGS := -isystem $(EFI_INC) -isystem $(EFI_INC)/x86_64 -DGNU_EFI_USE_MS_ABI

all: $(B)/isthmus.efi

# The objects that print the version are rebuilt when it changes (a commit,
# or the tree turning dirty), not only when their sources do: the stamp is
# rewritten only then.
VERSION_STAMP := $(B)/version.stamp
$(shell mkdir -p $(B) && { [ "$$(cat $(VERSION_STAMP) 2>/dev/null)" = "$(VERSION)" ] || echo "$(VERSION)" > $(VERSION_STAMP); })
$(B)/hv/boot/efi_main.o $(B)/hv/kernel/shell/cmd_system.o $(B)/hv/kernel/init/main.o: $(VERSION_STAMP)

$(B)/hv/boot/%.o: boot/%.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(HV_CFLAGS) $(EFI_CFLAGS) -MMD -c $< -o $@

$(B)/hv/%.o: %.c
	@mkdir -p $(dir $@)
	@echo "  CC      $<"; $(CC) $(HV_CFLAGS) -MMD -c $< -o $@

$(B)/hv/arch/x86/trampoline.bin: arch/x86/trampoline.asm
	@mkdir -p $(dir $@)
	$(NASM) -f bin $< -o $@

$(B)/hv/arch/x86/trampoline_blob.asm.o: $(B)/hv/arch/x86/trampoline.bin
$(B)/hv/%.asm.o: %.asm arch/x86/guest_regs.inc
	@mkdir -p $(dir $@)
	$(NASM) -f elf64 -I$(B)/hv/arch/x86/ -Iarch/x86/ $< -o $@

$(B)/isthmus.so: $(HV_OBJS) boot/isthmus.lds
	$(LD) -nostdlib -znocombreloc -T boot/isthmus.lds -shared -Bsymbolic --gc-sections --no-undefined \
	  -L$(EFI_LIB) $(EFI_LIB)/crt0-efi-x86_64.o $(HV_OBJS) -o $@ -lgnuefi
	@if $(LD) --version >/dev/null && readelf -r $@ | grep -E 'R_X86_64_(64|GLOB_DAT|JUMP_SLOT)' >/dev/null; then \
	  echo "error: isthmus.so has non-RELATIVE relocations that the EFI self-relocator ignores"; \
	  readelf -r $@ | grep -E 'R_X86_64_(64|GLOB_DAT|JUMP_SLOT)' | head; exit 1; fi

$(B)/isthmus.efi: $(B)/isthmus.so
	$(OBJCOPY) -j .text -j .rodata -j .sdata -j .data -j .dynamic -j .dynsym \
	  -j .rel -j .rela -j .rel.* -j .rela.* -j .reloc \
	  --target efi-app-x86_64 --subsystem=10 $< $@

-include $(HV_OBJS:.o=.d)

# ---------------------------------------------------------------- guests
-include guest/guest.mk

# ---------------------------------------------------------------- ESP
# $(call esp_image,DIR,IMAGE,CONFIG,FILES): the boot partition laid out in DIR
# (isthmus.efi as BOOTX64.EFI, CONFIG as isthmus.toml, FILES beside them) and
# imaged in IMAGE.
define esp_image
	rm -rf $(1) && mkdir -p $(1)/EFI/BOOT
	cp $(B)/isthmus.efi $(1)/EFI/BOOT/BOOTX64.EFI
	cp $(3) $(1)/EFI/BOOT/isthmus.toml
	$(if $(strip $(4)),cp -L $(4) $(1)/EFI/BOOT/)
	rm -f $(2) && dd if=/dev/zero of=$(2) bs=1M count=64 status=none
	mformat -i $(2) -F -v ISTHMUS ::
	mcopy -i $(2) -s $(1)/EFI ::/
	@echo "ESP laid out in $(1) and imaged in $(2)"
endef

ESP_FILES += $(GUEST_BINS)
esp: $(B)/esp.img
$(B)/esp.img: $(B)/isthmus.efi $(CONFIG) $(ESP_FILES)
	$(call esp_image,$(B)/esp,$@,$(CONFIG),$(ESP_FILES))
.PHONY: esp $(B)/esp.img

# make run's ESP: the Linux demo (configs/linux-demo.toml, Debian's kernel and
# the initramfs) unless CONFIG is given, then that file with the same images.
RUN_CONFIG  := $(if $(filter file,$(origin CONFIG)),configs/linux-demo.toml,$(CONFIG))
RUN_PROFILE := $(or $(PROFILE),$(if $(filter file,$(origin CONFIG)),linux-demo))
RUN_FILES   := $(ESP_FILES) $(LINUX_KERNEL) $(LINUX_INITRD)
$(B)/run-esp.img: $(B)/isthmus.efi $(RUN_CONFIG) $(RUN_FILES)
	$(call esp_image,$(B)/run-esp,$@,$(RUN_CONFIG),$(RUN_FILES))
.PHONY: $(B)/run-esp.img

# ---------------------------------------------------------------- host tools
HOST_CFLAGS := -std=gnu11 -g -O1 $(WARN_FLAGS) -DISTHMUS_HOST -I.
SAN_FLAGS   := -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer

-include tools/tools.mk
-include bench/bench.mk

# ---------------------------------------------------------------- unit tests
# Each tests/unit/<name>.mk adds: UNIT_TESTS += <name> and
# UNIT_SRCS_<name> := <sources, including tests/unit/test_<name>.c>
UNIT_TESTS :=
-include $(wildcard tests/unit/*.mk)

define unit_rule
$(B)/unit/test_$(1): $$(UNIT_SRCS_$(1)) $$(wildcard */*.h */*/*.h */*/*/*.h)
	@mkdir -p $$(dir $$@)
	$$(HOSTCC) $$(HOST_CFLAGS) $$(SAN_FLAGS) $$(UNIT_SRCS_$(1)) -o $$@ -lcmocka
endef
$(foreach t,$(UNIT_TESTS),$(eval $(call unit_rule,$(t))))

UNIT_BINS := $(addprefix $(B)/unit/test_,$(UNIT_TESTS))
unit: $(UNIT_BINS)
	@set -e; cd tests/unit; for t in $(UNIT_BINS); do echo "== $$t"; ../../$$t; done

# ---------------------------------------------------------------- fuzzing
# Each tests/fuzz/<name>.mk adds <name> to FUZZ_TARGETS, builds its fuzzer with
# FUZZ_CFLAGS and has a fuzz-<name> rule that runs it through
# `$(FUZZ_RUN) <name> <dir> -- <fuzzer> <arguments>`: tools/fuzz.py runs it for
# FUZZ_SECONDS (or FUZZ_RUNS executions, if set, whichever comes first), keeps its
# output in <dir>/fuzz.log and its figures in <dir>/result.json. `make fuzz` runs
# every target (-j2 runs two at once), prints one table (target, seconds,
# executions, exec/s, crashes) and fails if any target crashed.
FUZZ_SECONDS ?= 60
FUZZ_RUNS    ?=
FUZZ_TARGETS :=
FUZZ_CFLAGS  := -std=gnu11 -g -O1 $(WARN_FLAGS) -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
                -DISTHMUS_HOST -I.
FUZZ_RUN      = $(PYTHON) tools/fuzz.py run --seconds $(FUZZ_SECONDS) $(if $(FUZZ_RUNS),--runs $(FUZZ_RUNS)) \
                $(if $(FUZZ_KEEP_GOING),--keep-going)
-include $(wildcard tests/fuzz/*.mk)
# Every target runs even when one crashes; the table says which.
fuzz: FUZZ_KEEP_GOING := 1
fuzz: $(addprefix fuzz-,$(FUZZ_TARGETS))
	@$(PYTHON) tools/fuzz.py report $(B)/fuzz $(FUZZ_TARGETS)

# ---------------------------------------------------------------- run & test
# The Debian packages to build and test, then Debian's kernels (cloud, and
# generic pruned to its vmlinuz and e1000e module) and busybox (apt-get
# download, dpkg -x: tools/debian-kernel.py fetch) into build/debian/.
deps:
	@$(PYTHON) tools/deps.py
	@mkdir -p $(B) && $(PYTHON) tools/debian-kernel.py fetch $(LINUX_DIR) >$(B)/debian-fetch.log 2>&1 || \
	  { cat $(B)/debian-fetch.log; echo "deps: could not fetch Debian's kernels (above); make run's demo" \
	    "and the Linux boot tests need them"; exit 1; }

# Debian's kernel (vmlinuz as shipped, and the vmlinux inside it) and the
# initramfs built from guest/linux/, in build/debian/; Debian's generic kernel
# (its vmlinuz and e1000e module) and its initramfs in build/debian/generic/.
debian-kernel: deps $(LINUX_INITRD) $(LINUX_GENERIC_INITRD)

QEMU_ARGS ?=
run: deps $(B)/run-esp.img
	@$(PYTHON) tools/run-qemu.py --esp $(B)/run-esp.img $(if $(RUN_PROFILE),--profile $(RUN_PROFILE)) $(QEMU_ARGS)

# Boot tests (and the host-tool tests) under pytest; every QEMU run keeps its
# serial log in build/boot-logs/.
BOOT_TEST_ARGS ?=
boot-test: esp tools guest linux-guest
	$(PYTHON) -m pytest -v -rs -W ignore::DeprecationWarning tests/tools tests/boot $(BOOT_TEST_ARGS)

# ---------------------------------------------------------------- checks
# The layer table (tools/check-layers.py), clang-format (.clang-format) and
# cppcheck over the hypervisor, the host tools and the tests' C files.
LINT_DIRS := kernel arch drivers vmm net boot
FORMAT_FILES = $(shell git ls-files '*.c' '*.h' | grep -v '^guest/')
# GCC attributes after a function-pointer member (__must_check) are syntax
# cppcheck cannot parse: it reads the tree without attributes.
CPPCHECK_FLAGS := --quiet --enable=warning,portability --std=c11 --error-exitcode=1 --inline-suppr \
                  --suppress=missingIncludeSystem -I. -DISTHMUS_HOST "-D__attribute__(x)=" -j2

check-layers:
	@$(PYTHON) tools/check-layers.py

format-check:
	@clang-format --dry-run -Werror $(FORMAT_FILES) && echo "format-check: $(words $(FORMAT_FILES)) files as .clang-format says"

format:
	clang-format -i $(FORMAT_FILES)

cppcheck:
	@cppcheck $(CPPCHECK_FLAGS) $(LINT_DIRS) tools/isthmus-check.c && echo "cppcheck: no findings"

lint: check-layers format-check cppcheck

# Line coverage of the unit tests, per folder (gcov through gcovr, both from
# Debian's packages). The report is build/coverage/index.txt.
COV_B := $(B)/coverage
coverage:
	@rm -rf $(COV_B) && mkdir -p $(COV_B)
	@$(MAKE) --no-print-directory unit B=$(COV_B)/b SAN_FLAGS="--coverage -O0" >$(COV_B)/unit.log 2>&1 || \
	  { tail -30 $(COV_B)/unit.log; exit 1; }
	@$(PYTHON) tools/coverage.py $(COV_B)/b/unit $(COV_B)/index.txt

# The one command: checks, unit tests, a short fuzzing run, then the boot tests.
test: deps
	$(MAKE) lint
	$(MAKE) unit
	$(MAKE) fuzz FUZZ_SECONDS=15
	$(MAKE) boot-test

clean:
	rm -rf $(B)

.PHONY: all deps debian-kernel run test unit boot-test clean fuzz bench check-layers format-check format cppcheck lint coverage
