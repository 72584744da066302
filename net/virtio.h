/* Virtio 1.x structures and constants (OASIS virtio v1.2: 2.7 split virtqueues,
 * 4.1 virtio over PCI, 5.1 network device), shared by the hypervisor's device
 * and the test guest's driver (guest/ includes this file).
 *
 * Also the layout of Isthmus' virtio-net PCI function: one 32-bit memory BAR
 * (BAR0) holding every virtio structure and the MSI-X table, each in its own
 * page. The layout is discoverable through the capabilities as the spec
 * requires; the constants are here so both sides and the tests agree on it.
 *
 * This header must stay freestanding C with fixed-width types only. */
#ifndef ISTHMUS_NET_VIRTIO_H
#define ISTHMUS_NET_VIRTIO_H

#include <stdint.h>

/* ---- split virtqueue (2.7) ---- */
#define VIRTQ_DESC_F_NEXT          1
#define VIRTQ_DESC_F_WRITE         2
#define VIRTQ_DESC_F_INDIRECT      4
#define VIRTQ_AVAIL_F_NO_INTERRUPT 1
#define VIRTQ_USED_F_NO_NOTIFY     1

struct virtq_desc {
    uint64_t addr;
    uint32_t len;
    uint16_t flags;
    uint16_t next;
} __attribute__((packed));
_Static_assert(sizeof(struct virtq_desc) == 16, "virtq_desc is 16 bytes (2.7.5)");

/* avail: flags, idx, ring[size], used_event (with EVENT_IDX) */
#define VIRTQ_AVAIL_FLAGS   0
#define VIRTQ_AVAIL_IDX     2
#define VIRTQ_AVAIL_RING(i) (4 + 2 * (uint64_t)(i))
#define VIRTQ_AVAIL_SIZE(n) (6 + 2 * (uint64_t)(n))
/* used: flags, idx, ring[size] of {id, len}, avail_event */
struct virtq_used_elem {
    uint32_t id;
    uint32_t len;
} __attribute__((packed));
_Static_assert(sizeof(struct virtq_used_elem) == 8, "virtq_used_elem is 8 bytes (2.7.8)");
#define VIRTQ_USED_FLAGS   0
#define VIRTQ_USED_IDX     2
#define VIRTQ_USED_RING(i) (4 + 8 * (uint64_t)(i))
#define VIRTQ_USED_SIZE(n) (6 + 8 * (uint64_t)(n))
/* Alignment the driver must give each part (2.7, table "Virtqueue Part Alignment"). */
#define VIRTQ_DESC_ALIGN   16
#define VIRTQ_AVAIL_ALIGN  2
#define VIRTQ_USED_ALIGN   4
#define VIRTQ_MAX_SIZE     32768

/* Whether the other side asked to be told now that idx moved from old to
 * new_idx, given its event index (2.7.10 / 2.7.13.4: vring_need_event). */
static inline int virtq_need_event(uint16_t event, uint16_t new_idx, uint16_t old)
{
    return (uint16_t)(new_idx - event - 1) < (uint16_t)(new_idx - old);
}

/* ---- feature bits (6) ---- */
#define VIRTIO_NET_F_MTU            3 /* virtio_net_config.mtu is valid (5.1.3) */
#define VIRTIO_NET_F_MAC            5
#define VIRTIO_NET_F_MRG_RXBUF      15 /* a frame may span receive buffers (num_buffers, 5.1.6.3) */
#define VIRTIO_NET_F_STATUS         16
#define VIRTIO_RING_F_INDIRECT_DESC 28
#define VIRTIO_RING_F_EVENT_IDX     29
#define VIRTIO_F_VERSION_1          32

/* ---- device status (2.1) ---- */
#define VIRTIO_STATUS_ACKNOWLEDGE 1
#define VIRTIO_STATUS_DRIVER      2
#define VIRTIO_STATUS_DRIVER_OK   4
#define VIRTIO_STATUS_FEATURES_OK 8
#define VIRTIO_STATUS_NEEDS_RESET 64
#define VIRTIO_STATUS_FAILED      128

/* ---- virtio over PCI (4.1) ---- */
#define VIRTIO_PCI_VENDOR         0x1af4
#define VIRTIO_PCI_DEVICE_NET     0x1041 /* 0x1040 + device type 1 */
#define VIRTIO_PCI_REVISION       1
#define VIRTIO_PCI_SUBSYS_NET     0x1100 /* non-transitional: 0x40 or more (4.1.2.1) */
#define VIRTIO_PCI_CAP_COMMON_CFG 1
#define VIRTIO_PCI_CAP_NOTIFY_CFG 2
#define VIRTIO_PCI_CAP_ISR_CFG    3
#define VIRTIO_PCI_CAP_DEVICE_CFG 4
#define VIRTIO_PCI_CAP_PCI_CFG    5
#define VIRTIO_MSI_NO_VECTOR      0xffff

/* struct virtio_pci_cap (4.1.4): cap_vndr 0x09, cap_next, cap_len, cfg_type,
 * bar, id, padding[2], offset, length; the notify capability adds
 * notify_off_multiplier at 16, the PCI-config-access capability pci_cfg_data at 16. */
#define VIRTIO_CAP_LEN         0x10
#define VIRTIO_NOTIFY_CAP_LEN  0x14
#define VIRTIO_PCI_CFG_CAP_LEN 0x14

/* struct virtio_pci_common_cfg (4.1.4.3), offsets */
#define VPC_DFSELECT       0x00 /* le32 device_feature_select */
#define VPC_DF             0x04 /* le32 device_feature (RO) */
#define VPC_GFSELECT       0x08 /* le32 driver_feature_select */
#define VPC_GF             0x0c /* le32 driver_feature */
#define VPC_MSIX_CONFIG    0x10 /* le16 config_msix_vector */
#define VPC_NUM_QUEUES     0x12 /* le16 num_queues (RO) */
#define VPC_STATUS         0x14 /* u8 device_status */
#define VPC_CFG_GENERATION 0x15 /* u8 config_generation (RO) */
#define VPC_Q_SELECT       0x16 /* le16 queue_select */
#define VPC_Q_SIZE         0x18 /* le16 queue_size */
#define VPC_Q_MSIX_VECTOR  0x1a /* le16 queue_msix_vector */
#define VPC_Q_ENABLE       0x1c /* le16 queue_enable */
#define VPC_Q_NOTIFY_OFF   0x1e /* le16 queue_notify_off (RO) */
#define VPC_Q_DESC         0x20 /* le64 queue_desc */
#define VPC_Q_DRIVER       0x28 /* le64 queue_driver (avail) */
#define VPC_Q_DEVICE       0x30 /* le64 queue_device (used) */
#define VPC_COMMON_LEN     0x38

/* Isthmus' BAR0 layout. */
#define VNET_BAR_SIZE       0x8000
#define VNET_BAR_COMMON     0x0000
#define VNET_BAR_ISR        0x1000
#define VNET_BAR_DEVICE     0x2000
#define VNET_BAR_NOTIFY     0x3000
#define VNET_NOTIFY_MULT    4 /* queue q is notified at NOTIFY + 4 * q */
#define VNET_BAR_MSIX_TABLE 0x4000
#define VNET_BAR_MSIX_PBA   0x5000
#define VNET_MSIX_VECTORS   3   /* config, rx, tx */
#define VNET_QUEUE_SIZE     256 /* largest queue size offered */
#define VNET_RXQ            0
#define VNET_TXQ            1
#define VNET_NUM_QUEUES     2

/* ---- virtio-net (5.1) ---- */
struct virtio_net_config {
    uint8_t mac[6];
    uint16_t status; /* VIRTIO_NET_S_LINK_UP */
    uint16_t max_virtqueue_pairs;
    uint16_t mtu; /* with VIRTIO_NET_F_MTU: the largest frame, without its Ethernet header */
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_net_config) == 12, "virtio_net_config");
_Static_assert(__builtin_offsetof(struct virtio_net_config, mtu) == 10, "virtio_net_config.mtu (5.1.4)");
#define VIRTIO_NET_S_LINK_UP 1
/* The range a device may offer in mtu (5.1.4.1: "between 68 and 65535 inclusive"). */
#define VIRTIO_NET_MTU_MIN   68
#define VIRTIO_NET_MTU_MAX   65535

/* Every frame starts with this header (5.1.6; 12 bytes with VERSION_1). */
struct virtio_net_hdr {
    uint8_t flags;
    uint8_t gso_type;
    uint16_t hdr_len;
    uint16_t gso_size;
    uint16_t csum_start;
    uint16_t csum_offset;
    uint16_t num_buffers;
} __attribute__((packed));
_Static_assert(sizeof(struct virtio_net_hdr) == 12, "virtio_net_hdr is 12 bytes with VERSION_1");

/* MSI-X table entry (PCI 3.0 6.8.2.6). */
#define MSIX_ENTRY_SIZE    16
#define MSIX_ENTRY_ADDR_LO 0
#define MSIX_ENTRY_ADDR_HI 4
#define MSIX_ENTRY_DATA    8
#define MSIX_ENTRY_CTRL    12
#define MSIX_ENTRY_MASKED  1u

/* Ethernet */
#define ETH_ALEN       6
#define ETH_HLEN       14
#define ETH_P_8021Q    0x8100
#define VLAN_HLEN      4
#define VNET_MAX_FRAME (65536 + ETH_HLEN + VLAN_HLEN) /* without the virtio-net header */

#endif
