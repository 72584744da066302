# The architectural definitions of arch/x86/hw/ build on the host and agree
# with each other and with the manuals' encodings.
UNIT_TESTS += hw
UNIT_SRCS_hw := tests/unit/test_hw.c
