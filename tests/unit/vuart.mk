# The partition's virtual UART and console ring.
UNIT_TESTS += vuart
UNIT_SRCS_vuart := tests/unit/test_vuart.c vmm/dev/vuart.c vmm/console_ring.c
