# Fuzzing the AML scan (drivers/acpi/aml*.c) on its own: `make fuzz-aml`
# (FUZZ_SECONDS=60). An input is a flags byte and the AML of a DSDT and SSDTs
# separated by "SSDT". It runs in build/fuzz/aml; the fuzzer writes seeds (the
# captured QEMU DSDTs, a crafted host bridge) into the corpus there first.
FUZZ_TARGETS += aml

FUZZ_AML_SRCS := tests/fuzz/fuzz_aml.c tests/fuzz/fuzz_log.c drivers/acpi/aml.c drivers/acpi/aml_grammar.c \
                 drivers/acpi/tables.c kernel/lib/printf.c kernel/lib/string.c

$(B)/fuzz/fuzz_aml: $(FUZZ_AML_SRCS) tests/fuzz/fuzz.h $(wildcard drivers/acpi/*.h kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_AML_SRCS) -o $@

fuzz-aml: $(B)/fuzz/fuzz_aml
	@mkdir -p $(B)/fuzz/aml/corpus
	cd $(B)/fuzz/aml && AML_WRITE_SEEDS=corpus ACPI_FIXTURES=$(CURDIR)/tests/unit/fixtures/acpi ../fuzz_aml
	$(FUZZ_RUN) aml $(B)/fuzz/aml -- ../fuzz_aml -dict=$(CURDIR)/tests/fuzz/acpi.dict -max_len=16384 corpus

.PHONY: fuzz-aml
