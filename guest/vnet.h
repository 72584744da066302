/* The test guest's virtio-net driver (virtio_net.c) and the test frames the
 * net scenarios send and check (net.c). One device, one receive and one
 * transmit queue; everything runs on the boot vCPU with interrupts enabled
 * only around HLT. */
#ifndef TG_VNET_H
#define TG_VNET_H

#include <stdbool.h>
#include <stdint.h>

#include "net/virtio.h"

#define VNET_BUF_SIZE  2048                          /* a receive buffer, a transmit slot */
#define VNET_HDR_LEN   sizeof(struct virtio_net_hdr)  /* 12 with VERSION_1 (5.1.6) */
#define VNET_TX_MAX    (VNET_BUF_SIZE - VNET_HDR_LEN) /* the longest frame vnet_send takes */
#define VNET_RX_BUDGET 64                            /* entries vnet_poll takes at most */

/* Finds the device on bus 0, resets it and brings it up (3.1.1): features,
 * MSI-X, both queues, every receive buffer posted, DRIVER_OK. Also re-
 * initialises a device that was up (it is reset first). Negative, after a
 * "net: error: ..." line, when anything is missing or refused. */
int vnet_init(void) __attribute__((warn_unused_result));
/* Device reset (4.1.4.3 / 3.1.1): device_status 0, then read until it is 0. */
void vnet_reset(void);
uint8_t vnet_status(void);                 /* device_status, VIRTIO_STATUS_* */
const uint8_t *vnet_mac(void);             /* from the device configuration */
uint16_t vnet_link(void);                  /* virtio_net_config.status (LINK_UP = 1) */
uint64_t vnet_kicks(void);                 /* notifications written, both queues, ever */
uint64_t vnet_interrupts(void);            /* rx + tx + config interrupts, ever */
extern bool vnet_quiet;                    /* no "net: error/warning" lines */
/* Queue q's memory as vnet_init() placed it: the descriptor table (QMAX
 * entries), then the driver area at + 16 * QMAX. */
void *vnet_ring_mem(unsigned q);

/* Sends up to n frames as one batch: fill(ctx, k, frame) writes frame k
 * (k = 0..) into frame (room for VNET_TX_MAX bytes) and returns its length.
 * Takes completed slots back first; when the ring is full, sleeps once until
 * the device returns some (or any interrupt). Notifies at most once, and only
 * if the device asked (EVENT_IDX). Returns how many were sent: 0..n. */
typedef uint32_t vnet_fill_fn(void *ctx, unsigned k, uint8_t *frame);
unsigned vnet_send(unsigned n, vnet_fill_fn *fill, void *ctx);
/* Sleeps until `want` more transmit chains came back (or any interrupt). */
void vnet_tx_wait(unsigned want);
/* Waits until the device has returned every transmit chain; false after timeout_ms. */
bool vnet_tx_flush(uint64_t timeout_ms);

/* Hands the frames the device has written (at most VNET_RX_BUDGET) to
 * rx(ctx, frame, len, ok), re-posts their buffers as one batch and returns
 * how many used entries it took. ok is false (and len 0) for an entry that
 * is malformed: shorter than the header, longer than the buffer,
 * num_buffers != 1, or naming a buffer the device does not hold. */
typedef void vnet_rx_fn(void *ctx, const uint8_t *frame, uint32_t len, bool ok);
unsigned vnet_poll(vnet_rx_fn *rx, void *ctx);
/* Sleeps until the receive interrupt (or any other) unless a frame is
 * already there; spins briefly instead when the device refused the vector. */
void vnet_wait_rx(void);

/* Hand-made transmit chains, for net-corrupt. vnet_raw_take() takes n free
 * descriptors (waiting up to a second), each preset to a valid readable
 * 64-byte buffer without NEXT; the caller edits d[] (links included) and
 * vnet_raw_post() makes id[0] available and notifies. vnet_raw_returned() is
 * true once the device has put id[0] in the used ring. */
#define VNET_RAW_MAX 4
struct vnet_raw {
    unsigned n;
    uint16_t id[VNET_RAW_MAX];
    volatile struct virtq_desc *d[VNET_RAW_MAX];
};
bool vnet_raw_take(struct vnet_raw *r, unsigned n);
void vnet_raw_post(const struct vnet_raw *r);
bool vnet_raw_returned(const struct vnet_raw *r);
/* Corrupts the transmit ring on purpose: avail->idx = the last published
 * index + queue size + beyond, then a notification. Returns the index written. */
uint16_t vnet_raw_avail_jump(uint16_t beyond);

/* net.c: test frames. Ethernet header (dst, own MAC, NET_ETH_TYPE), then
 * struct net_payload, then filler byte (seq * 31 + i) & 0xff at frame offset i.
 * sum is FNV-1a (32-bit) over the payload from `magic` to the end of the
 * frame, with the sum field taken as 0. */
#define NET_ETH_TYPE   0x88b5          /* IEEE 802 local experimental ethertype 1 */
#define NET_ETH_ANNOUNCE 0x88b6        /* local experimental ethertype 2: a receiver says it is there */
#define NET_MAGIC      0x48545349u     /* "ISTH" in memory (little-endian) */
struct net_payload {
    uint32_t magic;
    uint32_t seq;
    uint32_t len;                      /* the frame's length, virtio header not included */
    uint32_t sum;
} __attribute__((packed));
uint32_t net_test_frame(uint8_t *f, uint32_t seq, uint32_t len);
/* vnet_init() and "net: up mac=...", interrupts on; false when init failed. */
bool net_up(void);
void __attribute__((noreturn)) net_idle(void);   /* HLT forever, interrupts on */

#endif
