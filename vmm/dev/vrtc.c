/* See vrtc.h. */
#include "vmm/dev/vrtc.h"
#include "kernel/lib/calendar.h"

void vrtc_init(struct vrtc *r)
{
    r->index = 0;
    r->reg_b = VRTC_B_24H;
}

void vrtc_write(struct vrtc *r, u16 port, u8 val)
{
    if (port == VRTC_PORT_INDEX) {
        r->index = val & VRTC_INDEX_MASK; /* NMI masking is not the guest's to change */
        return;
    }
    /* Register B: the guest chooses BCD or binary and may set SET (which
     * would only stop updates while it writes the time, and the time is
     * read-only); 24-hour stays, interrupt enables stay off (no IRQ line). */
    if (r->index == VRTC_REG_B)
        r->reg_b = (u8)((val & (VRTC_B_SET | VRTC_B_DM_BINARY)) | VRTC_B_24H);
}

static u8 encode(const struct vrtc *r, u32 v)
{
    v %= 100;
    return (u8)((r->reg_b & VRTC_B_DM_BINARY) ? v : ((v / 10) << 4) | (v % 10));
}

u8 vrtc_read(const struct vrtc *r, u16 port, u64 unix_ns)
{
    if (port == VRTC_PORT_INDEX)
        return 0xff;
    u64 secs = unix_ns / CAL_NS_PER_SEC, sub = unix_ns % CAL_NS_PER_SEC;
    u64 sod = secs % CAL_SECS_PER_DAY;
    struct cal_date d = cal_civil_from_days((s64)(secs / CAL_SECS_PER_DAY));
    switch (r->index) {
    case VRTC_SEC: return encode(r, (u32)(sod % 60));
    case VRTC_MIN: return encode(r, (u32)(sod / 60 % 60));
    case VRTC_HOUR: return encode(r, (u32)(sod / 3600));
    case VRTC_WEEKDAY: return encode(r, d.weekday + 1u);
    case VRTC_DAY: return encode(r, d.day);
    case VRTC_MONTH: return encode(r, d.month);
    case VRTC_YEAR: return encode(r, (u32)d.year % 100);
    case VRTC_CENTURY: return encode(r, (u32)d.year / 100);
    case VRTC_REG_A:
        return (u8)(VRTC_A_DIV_32K | VRTC_A_RATE_1K | (sub >= CAL_NS_PER_SEC - VRTC_UIP_NS ? VRTC_A_UIP : 0));
    case VRTC_REG_B: return r->reg_b;
    case VRTC_REG_C: return 0; /* no interrupt flags: none are enabled */
    case VRTC_REG_D: return VRTC_D_VRT;
    default: return 0; /* alarms (never armed) and NVRAM */
    }
}
