/* The partition's CMOS clock at ports 0x70/0x71: the register model is
 * vmm/dev/vrtc.c, the time the hypervisor's wall clock (kernel/core/time.c,
 * from the firmware at boot, advanced by the TSC). Guests without the KVM
 * clock (vmm/dev/kvmclock.c) read the date here, as Linux's default
 * get_wallclock (mach_get_cmos_time) does. The index and data ports are a
 * two-step protocol, so the partition's vCPUs share one register file under
 * a lock, as they share one chip on a PC. */
#include "vmm/dev/vrtc.h"
#include "vmm/partition.h"
#include "vmm/vdev.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/core/time.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/spinlock.h"

struct rtc_dev {
    spinlock_t lock;
    struct vrtc regs;
};

static struct rtc_dev rtcs[CONFIG_MAX_PARTITIONS];

static enum vdev_result rtc_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    (void)vc;
    struct rtc_dev *r = dev;
    if (size != 1) {
        if (in)
            *val = 0xffffffffu; /* an 8-bit part: wider accesses find nothing */
        return VDEV_DONE;
    }
    spin_lock(&r->lock);
    if (in)
        *val = vrtc_read(&r->regs, port, wallclock_ns(rdtsc()));
    else
        vrtc_write(&r->regs, port, (u8)*val);
    spin_unlock(&r->lock);
    return VDEV_DONE;
}

static int rtc_attach(struct partition *p, char *err, size_t errlen)
{
    struct rtc_dev *r = &rtcs[p->id];
    r->lock = (spinlock_t)SPINLOCK_INIT;
    vrtc_init(&r->regs);
    int rc = vdev_claim_pio(p, VRTC_PORT_INDEX, PC_RTC_PORTS, rtc_pio, r, "rtc");
    return rc < 0 ? kerr_fmt(err, errlen, rc, "cannot claim the CMOS clock's ports") : 0;
}

VDEV_REGISTER(rtc, .name = "rtc", .order = 0, .attach = rtc_attach);
