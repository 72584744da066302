/* The net-corrupt scenario: what the virtio-net device does with a driver
 * that breaks the rules (virtio v1.2 2.7). Bad descriptor chains (an address
 * outside guest RAM, an oversized length, a loop) must come back through the
 * used ring with the device still working; a corrupt ring (the avail index
 * jumping by more than the queue size) must set DEVICE_NEEDS_RESET, from
 * which a reset and a new initialisation recover. */
#include "guest/tg.h"
#include "guest/vnet.h"
#include "guest/x86.h"

#define GOOD_FRAMES     10
#define CHAIN_WAIT_MS   500
#define RESET_WAIT_MS   2000
#define WAKE_MS         10          /* the APIC timer bounds every sleep */
#define OVERSIZE_LEN    0x100000u   /* far over any frame the device takes */
#define AVAIL_JUMP      7           /* avail->idx moves by queue size + this */

static uint32_t seq;

static uint32_t fill_good(void *c, unsigned k, uint8_t *frame)
{
    (void)c;
    return net_test_frame(frame, seq + k, (uint32_t)tg.opt.size);
}

/* GOOD_FRAMES test frames, continuing the sequence; true once the device has
 * taken them all back. */
static bool send_good(void)
{
    uint64_t until = tsc_after_ms(RESET_WAIT_MS);
    for (unsigned left = GOOD_FRAMES; left;) {
        unsigned n = vnet_send(left, fill_good, NULL);
        seq += n;
        left -= n;
        if (!n && tsc_passed(until))
            return false;
    }
    return vnet_tx_flush(RESET_WAIT_MS);
}

enum bad_chain { BAD_ADDR, BAD_LEN, BAD_LOOP, BAD_CHAINS };
static const char *const bad_name[BAD_CHAINS] = { "address", "length", "loop" };

/* Posts one bad chain; true when the device returned it without asking for a reset. */
static bool bad_chain(enum bad_chain kind)
{
    struct vnet_raw r;
    if (!vnet_raw_take(&r, kind == BAD_LOOP ? 2 : 1)) {
        say("net: corrupt FAIL: no free transmit descriptors for the %s chain", bad_name[kind]);
        return false;
    }
    switch (kind) {
    case BAD_ADDR:      /* the first page past the end of guest RAM */
        r.d[0]->addr = ALIGN_UP(tg.ram_end, 4096);
        break;
    case BAD_LEN:
        r.d[0]->len = OVERSIZE_LEN;
        break;
    default:            /* d0 -> d1 -> d0 -> ... */
        r.d[0]->flags = VIRTQ_DESC_F_NEXT;
        r.d[0]->next = r.id[1];
        r.d[1]->flags = VIRTQ_DESC_F_NEXT;
        r.d[1]->next = r.id[0];
        break;
    }
    vnet_raw_post(&r);
    uint64_t until = tsc_after_ms(CHAIN_WAIT_MS);
    bool back;
    while (!(back = vnet_raw_returned(&r)) && !tsc_passed(until))
        vnet_tx_wait(1);
    uint8_t st = vnet_status();
    if (!back)
        say("net: corrupt FAIL: the %s chain did not come back within %u ms", bad_name[kind], CHAIN_WAIT_MS);
    if (st & VIRTIO_STATUS_NEEDS_RESET)
        say("net: corrupt FAIL: the %s chain set NEEDS_RESET (status 0x%x)", bad_name[kind], st);
    return back && !(st & VIRTIO_STATUS_NEEDS_RESET);
}

void scenario_net_corrupt(void)
{
    if (!net_up())
        net_idle();
    apic_timer_periodic(WAKE_MS, VEC_TIMER);

    if (!send_good())
        say("net: corrupt FAIL: the good frames did not all come back within %u ms", RESET_WAIT_MS);
    say("net: corrupt sent %u good", GOOD_FRAMES);

    unsigned returned = 0;
    for (unsigned k = 0; k < BAD_CHAINS; k++)
        returned += bad_chain((enum bad_chain)k);
    say("net: corrupt bad-chains returned=%u status=0x%x", returned, vnet_status());

    vnet_raw_avail_jump(AVAIL_JUMP);
    uint64_t until = tsc_after_ms(RESET_WAIT_MS);
    uint8_t st;
    while (!((st = vnet_status()) & VIRTIO_STATUS_NEEDS_RESET) && !tsc_passed(until))
        delay_us(1000);
    if (!(st & VIRTIO_STATUS_NEEDS_RESET))
        say("net: corrupt FAIL: no NEEDS_RESET within %u ms", RESET_WAIT_MS);
    say("net: corrupt needs-reset status=0x%x", st);

    vnet_reset();
    if (vnet_init() < 0) {
        say("net: corrupt FAIL: the device did not come back after the reset");
        net_idle();
    }
    if (!send_good())
        say("net: corrupt FAIL: the good frames did not all come back within %u ms", RESET_WAIT_MS);
    say("net: corrupt recovered sent %u", GOOD_FRAMES);
    apic_timer_stop();
    net_idle();
}
