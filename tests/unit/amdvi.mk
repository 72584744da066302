# The AMD-Vi encoders and decoders of arch/x86/hw/amdvi.h (device table
# entries, commands, event log entries) against the specification's layouts
# and the quadwords QEMU 7.2's amd-iommu model was seen to execute.
UNIT_TESTS += amdvi
UNIT_SRCS_amdvi := tests/unit/test_amdvi.c
