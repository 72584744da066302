# The NIC: virtio-pci transport, data path and the network of ports
# (net/vnet_pci.c, net/vnet_data.c, net/net.c), driven from the guests' side,
# and the query API the shell reads them through (net/query.c).
UNIT_TESTS += vnet
UNIT_SRCS_vnet := tests/unit/test_vnet.c kernel/core/log_limit.c net/vnet_pci.c net/vnet_data.c net/net.c net/query.c net/virtq.c net/vswitch.c \
                  net/shim.c vmm/gmem.c kernel/lib/string.c kernel/lib/errno.c kernel/lib/printf.c tests/unit/stubs.c
