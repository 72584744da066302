# The device side of a virtio split virtqueue (net/virtq.c) over guest memory
# faked with heap blocks (vmm/gmem.c).
UNIT_TESTS += virtq
UNIT_SRCS_virtq := tests/unit/test_virtq.c net/virtq.c vmm/gmem.c kernel/lib/string.c kernel/lib/errno.c
