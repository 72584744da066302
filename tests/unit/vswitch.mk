# The virtual Ethernet switch (net/vswitch.c); its test also decides from several threads.
UNIT_TESTS += vswitch
UNIT_SRCS_vswitch := tests/unit/test_vswitch.c net/vswitch.c
$(B)/unit/test_vswitch: HOST_CFLAGS += -pthread
