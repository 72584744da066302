# The exit path's logic: vmm/exits.c dispatching through the device registry
# (vmm/vdev.c) with a fake backend and fake devices, and the state MSRs'
# value checks (vmm/dev/vmsr.c).
UNIT_TESTS += exits
UNIT_SRCS_exits := tests/unit/test_exits.c vmm/exits.c vmm/vdev.c kernel/core/log_limit.c vmm/dev/vmsr.c vmm/vcpuid.c \
                   vmm/hypercall.c vmm/gmem.c vmm/console_ring.c kernel/lib/string.c kernel/lib/printf.c \
                   kernel/lib/errno.c tests/unit/stubs.c
