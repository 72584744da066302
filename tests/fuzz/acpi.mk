# Fuzzing the ACPI tables as firmware hands them over (drivers/acpi/: discovery, the
# table parsers, the AML scan) and the NUMA topology built from them:
# `make fuzz-acpi` (FUZZ_SECONDS=60). An input is two control bytes and tables end
# to end; the fuzz target lays out the RSDP and root tables for them and fixes
# lengths and checksums as the control bytes say. It runs in build/fuzz/acpi; the
# fuzzer writes seeds from the captured QEMU tables (tests/unit/fixtures/acpi/)
# into the corpus there first.
FUZZ_TARGETS += acpi

FUZZ_ACPI_SRCS = tests/fuzz/fuzz_acpi.c tests/fuzz/fuzz_log.c $(ACPI_SRCS) drivers/acpi/topology.c \
                 kernel/core/topology.c kernel/lib/printf.c kernel/lib/string.c

$(B)/fuzz/fuzz_acpi: $(FUZZ_ACPI_SRCS) tests/fuzz/fuzz.h $(wildcard drivers/acpi/*.h kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_ACPI_SRCS) -o $@

fuzz-acpi: $(B)/fuzz/fuzz_acpi
	@mkdir -p $(B)/fuzz/acpi/corpus
	cd $(B)/fuzz/acpi && ACPI_WRITE_SEEDS=corpus ACPI_FIXTURES=$(CURDIR)/tests/unit/fixtures/acpi ../fuzz_acpi
	$(FUZZ_RUN) acpi $(B)/fuzz/acpi -- ../fuzz_acpi -dict=$(CURDIR)/tests/fuzz/acpi.dict -max_len=16384 corpus

.PHONY: fuzz-acpi
