# Fuzzing the DMA remapping tables (drivers/acpi/dmar.c, ivrs.c, remap.c) and the
# unit-per-device model over them (drivers/iommu.c): `make fuzz-iommu`
# (FUZZ_SECONDS=60). An input is a flags byte (DMAR or IVRS, PCI tree variant)
# and the table's bytes. It runs in build/fuzz/iommu; the fuzzer writes QEMU's
# DMAR and IVRS (tests/unit/fixtures/acpi/) into the corpus there first.
FUZZ_TARGETS += iommu

FUZZ_IOMMU_SRCS = tests/fuzz/fuzz_iommu.c tests/fuzz/fuzz_log.c drivers/acpi/dmar.c drivers/acpi/ivrs.c \
                  drivers/acpi/remap.c drivers/iommu.c kernel/lib/printf.c kernel/lib/string.c

$(B)/fuzz/fuzz_iommu: $(FUZZ_IOMMU_SRCS) tests/fuzz/fuzz.h $(wildcard drivers/*.h drivers/acpi/*.h kernel/*/*.h)
	@mkdir -p $(dir $@)
	clang $(FUZZ_CFLAGS) $(FUZZ_IOMMU_SRCS) -o $@

fuzz-iommu: $(B)/fuzz/fuzz_iommu
	@mkdir -p $(B)/fuzz/iommu/corpus
	cd $(B)/fuzz/iommu && IOMMU_WRITE_SEEDS=corpus ACPI_FIXTURES=$(CURDIR)/tests/unit/fixtures/acpi ../fuzz_iommu
	$(FUZZ_RUN) iommu $(B)/fuzz/iommu -- ../fuzz_iommu -dict=$(CURDIR)/tests/fuzz/iommu.dict -max_len=4096 corpus

.PHONY: fuzz-iommu
