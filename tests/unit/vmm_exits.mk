# Arch-neutral pieces of exit handling: hypercall argument checks and the guest
# page-table walker used to fetch instructions for APIC emulation.
UNIT_TESTS += hypercall guest_walk
UNIT_SRCS_hypercall  := tests/unit/test_hypercall.c vmm/hypercall.c vmm/gmem.c kernel/lib/string.c tests/unit/stubs.c
UNIT_SRCS_guest_walk := tests/unit/test_guest_walk.c vmm/guest_walk.c
