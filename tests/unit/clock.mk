# The partitions' clocks: the CMOS RTC model with the calendar under it, and
# the KVM paravirtual clock's leaves, scaling and address checks.
UNIT_TESTS += vrtc pvclock
UNIT_SRCS_vrtc    := tests/unit/test_vrtc.c vmm/dev/vrtc.c kernel/lib/calendar.c
UNIT_SRCS_pvclock := tests/unit/test_pvclock.c vmm/dev/pvclock.c kernel/lib/string.c kernel/lib/errno.c
