/* The exit path's logic on the host: vmm/exits.c dispatching through the device
 * registry (vmm/vdev.c) with a fake backend and fake devices, and the state
 * MSRs' value checks (vmm/dev/vmsr.h). What the handlers do to the guest's
 * registers, RIP, injected events and the partition's fate is checked; the
 * partition lifecycle is replaced by recorders (part_fail, part_poweroff). */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/exits.h"
#include "vmm/vdev.h"
#include "vmm/dev/vmsr.h"
#include "vmm/shadow_vcpu.h"
#include "vmm/vcpuid.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log_limit.h"
#include "tests/unit/stubs.h"

/* ---- a fake backend ---- */

static u64 advanced; /* bytes RIP moved */
static struct vcpu_event injected;
static int ninjected;

static void fb_advance(struct vcpu *v, u64 len)
{
    (void)v;
    advanced += len;
}
static int fb_inject(struct vcpu *v, const struct vcpu_event *ev)
{
    (void)v;
    injected = *ev;
    ninjected++;
    return 0;
}
static u64 fb_get_cr(struct vcpu *v, int cr)
{
    (void)v;
    return cr == 4 ? 0 : 0x80000011;
}
static u8 fb_get_cpl(struct vcpu *v)
{
    (void)v;
    return 0;
}

static const struct vcpu_backend fake_backend = {
    .name = "fake",
    .vendor = VCPU_VENDOR_AMD,
    .slpt_format = SLPT_NPT,
    .slpt_name = "NPT",
    .slpt_fault_name = "NPT violation",
    .advance_rip = fb_advance,
    .inject = fb_inject,
    .get_cr = fb_get_cr,
    .get_cpl = fb_get_cpl,
};
const struct vcpu_backend *vcpu_backend = &fake_backend;
u64 tsc_khz = 1000000;

const char *vcpu_exit_name(enum vcpu_exit_reason r)
{
    (void)r;
    return "reason";
}

/* ---- the partition lifecycle, recorded ---- */

static char failed[256];
static int poweroffs;

void part_fail(struct vm_vcpu *vc, const char *fmt, ...)
{
    (void)vc;
    va_list ap;
    va_start(ap, fmt);
    if (!failed[0])
        vsnprintf(failed, sizeof(failed), fmt, ap);
    va_end(ap);
}
void part_poweroff(struct vm_vcpu *vc)
{
    (void)vc;
    poweroffs++;
}
void part_hc_env(struct partition *p, struct hc_env *env, struct isthmus_hb_info *buf)
{
    (void)p;
    (void)env;
    (void)buf;
}
u64 part_ram_bytes(const struct partition *p)
{
    (void)p;
    return 0;
}

/* Shadow paging is not exercised here: reaching these is a failure. */
void handle_cr_access(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    (void)vc;
    (void)e;
    fail();
}
void handle_invlpg(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    (void)vc;
    (void)e;
    fail();
}
void shadow_handle_pf(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    (void)vc;
    (void)e;
    fail();
}
bool shadow_write_efer(struct vm_vcpu *vc, u64 v)
{
    (void)vc;
    (void)v;
    return true;
}

/* ---- fake devices ---- */

static struct config_partition cfg = { .name = "alpha" };
static struct partition part;
static struct vm_vcpu vcpu;

struct fake_dev {
    u32 calls;
    u16 port;
    u8 size;
    bool in;
    u32 value; /* returned for reads, recorded for writes */
    enum vdev_result result;
};

static enum vdev_result dev_pio(struct vm_vcpu *vc, void *dev, u16 port, u8 size, bool in, u32 *val)
{
    (void)vc;
    struct fake_dev *d = dev;
    d->calls++;
    d->port = port;
    d->size = size;
    d->in = in;
    if (in)
        *val = d->value;
    else
        d->value = *val;
    return d->result;
}

static enum vdev_result dev_msr(struct vm_vcpu *vc, void *dev, u32 index, bool write, u64 *val)
{
    (void)vc;
    struct fake_dev *d = dev;
    d->calls++;
    d->port = (u16)index;
    d->in = !write;
    if (!write)
        *val = 0x1122334455667788ULL;
    else
        d->value = (u32)*val;
    return d->result;
}

static enum vdev_result dev_mmio(struct vm_vcpu *vc, void *dev, const struct vcpu_exit *e)
{
    struct fake_dev *d = dev;
    d->calls++;
    d->value = (u32)e->fault.gpa.v;
    if (d->result == VDEV_DONE)
        vcpu_backend->advance_rip(&vc->v, 3);
    return d->result;
}

static void dev_cpuid(struct vm_vcpu *vc, void *dev, u32 leaf, u32 sub, u32 out[4])
{
    (void)vc;
    (void)sub;
    struct fake_dev *d = dev;
    d->calls++;
    d->value = leaf;
    out[VCPUID_EBX] = 0x4b4d564b;
}

static struct fake_dev dev_a, dev_b;

static int setup(void **state)
{
    (void)state;
    memset(&part, 0, sizeof(part));
    memset(&vcpu, 0, sizeof(vcpu));
    part.cfg = &cfg;
    part.nvcpus = 1;
    part.vcpu[0] = &vcpu;
    vcpu.part = &part;
    memset(&dev_a, 0, sizeof(dev_a));
    memset(&dev_b, 0, sizeof(dev_b));
    advanced = 0;
    ninjected = 0;
    failed[0] = '\0';
    poweroffs = 0;
    test_stubs_reset();
    log_limit_reset();
    return 0;
}

static void io_exit(struct vcpu_exit *e, u16 port, u8 size, bool in)
{
    memset(e, 0, sizeof(*e));
    e->reason = VEXIT_IO;
    e->insn_len = 2;
    e->io.port = port;
    e->io.size = size;
    e->io.in = in;
}

/* ---- port I/O ---- */

static void test_pio_claimed_read_merges(void **state)
{
    (void)state;
    assert_int_equal(vdev_claim_pio(&part, 0x3f8, 8, dev_pio, &dev_a, "a"), 0);
    dev_a.value = 0xabcd1234;
    struct vcpu_exit e;
    vcpu.v.regs.gpr[GPR_RAX] = 0xffffffff00000000ULL | 0x5555;
    io_exit(&e, 0x3fd, 1, true);
    handle_exit(&vcpu, &e);
    assert_int_equal(dev_a.calls, 1);
    assert_int_equal(dev_a.port, 0x3fd);
    /* 8-bit IN merges into AL; the rest of RAX stays. */
    assert_int_equal(vcpu.v.regs.gpr[GPR_RAX], 0xffffffff00005534ULL);
    assert_int_equal(advanced, 2);
    /* 32-bit IN zero-extends into RAX. */
    io_exit(&e, 0x3f8, 4, true);
    handle_exit(&vcpu, &e);
    assert_int_equal(vcpu.v.regs.gpr[GPR_RAX], 0xabcd1234ULL);
    assert_string_equal(failed, "");
}

static void test_pio_claimed_write_masks(void **state)
{
    (void)state;
    assert_int_equal(vdev_claim_pio(&part, 0x600, 2, dev_pio, &dev_a, "a"), 0);
    struct vcpu_exit e;
    vcpu.v.regs.gpr[GPR_RAX] = 0x12345678;
    io_exit(&e, 0x601, 2, false);
    handle_exit(&vcpu, &e);
    assert_int_equal(dev_a.value, 0x5678);
    assert_false(dev_a.in);
}

static void test_pio_unclaimed_reads_ones(void **state)
{
    (void)state;
    struct vcpu_exit e;
    vcpu.v.regs.gpr[GPR_RAX] = 0;
    io_exit(&e, 0x80, 2, true);
    handle_exit(&vcpu, &e);
    assert_int_equal(vcpu.v.regs.gpr[GPR_RAX], 0xffff);
    assert_int_equal(vcpu.stats.io_ignored, 1);
    assert_int_equal(advanced, 2);
    /* Logged once, then only counted. */
    handle_exit(&vcpu, &e);
    assert_int_equal(vcpu.stats.io_ignored, 2);
    assert_int_equal(test_log_count[LOG_WARN], 1);
    assert_string_equal(failed, "");
}

/* "Logged once" is once per vCPU per start: a guest that restarts over and
 * over (fresh vCPU counters each time) is held to its partition's limit. */
static void test_pio_restarts_do_not_rearm_the_log(void **state)
{
    (void)state;
    struct vcpu_exit e;
    io_exit(&e, 0x80, 1, false);
    for (int i = 0; i < 100; i++) {
        memset(&vcpu.stats, 0, sizeof(vcpu.stats));
        handle_exit(&vcpu, &e);
        assert_int_equal(vcpu.stats.io_ignored, 1);
    }
    assert_int_equal(test_log_count[LOG_WARN], LOG_LIMIT_BURST);
    struct log_limit_info in;
    log_limit_get(part.id, LOGR_PORT, &in);
    assert_int_equal(in.printed, LOG_LIMIT_BURST);
    assert_int_equal(in.suppressed, 100 - LOG_LIMIT_BURST);
    /* Another partition's lines are its own. */
    part.id = 1;
    memset(&vcpu.stats, 0, sizeof(vcpu.stats));
    handle_exit(&vcpu, &e);
    assert_int_equal(test_log_count[LOG_WARN], LOG_LIMIT_BURST + 1);
}

/* A device that finds the port not its own after all (a disabled I/O BAR). */
static void test_pio_device_declines(void **state)
{
    (void)state;
    dev_a.result = VDEV_UNCLAIMED;
    assert_int_equal(vdev_claim_pio(&part, 0xc000, 0x20, dev_pio, &dev_a, "a"), 0);
    struct vcpu_exit e;
    io_exit(&e, 0xc010, 1, true);
    handle_exit(&vcpu, &e);
    assert_int_equal(dev_a.calls, 1);
    assert_int_equal(vcpu.v.regs.gpr[GPR_RAX] & 0xff, 0xff);
    assert_int_equal(vcpu.stats.io_ignored, 1);
}

static void test_pio_string_and_no_length_fail(void **state)
{
    (void)state;
    struct vcpu_exit e;
    io_exit(&e, 0x3f8, 1, false);
    e.io.string = true;
    handle_exit(&vcpu, &e);
    assert_non_null(strstr(failed, "string I/O"));
    assert_int_equal(advanced, 0);
    failed[0] = '\0';
    io_exit(&e, 0x3f8, 1, false);
    e.insn_len = 0;
    handle_exit(&vcpu, &e);
    assert_non_null(strstr(failed, "instruction length"));
}

/* ---- MSRs ---- */

static void msr_exit(struct vcpu_exit *e, u32 index, bool write)
{
    memset(e, 0, sizeof(*e));
    e->reason = VEXIT_MSR;
    e->msr.index = index;
    e->msr.write = write;
}

static void test_msr_claimed(void **state)
{
    (void)state;
    assert_int_equal(vdev_claim_msr(&part, 0x4b564d00, 0x4b564d04, dev_msr, &dev_a, "a"), 0);
    struct vcpu_exit e;
    msr_exit(&e, 0x4b564d01, false);
    handle_exit(&vcpu, &e);
    assert_int_equal(vcpu.v.regs.gpr[GPR_RAX], 0x55667788);
    assert_int_equal(vcpu.v.regs.gpr[GPR_RDX], 0x11223344);
    assert_int_equal(advanced, 2); /* no length from the backend: RDMSR's */
    vcpu.v.regs.gpr[GPR_RAX] = 0xffffffff00000042ULL;
    vcpu.v.regs.gpr[GPR_RDX] = 0;
    msr_exit(&e, 0x4b564d04, true);
    handle_exit(&vcpu, &e);
    assert_int_equal(dev_a.value, 0x42);
    assert_int_equal(ninjected, 0);
}

static void test_msr_unclaimed_or_refused_is_gp(void **state)
{
    (void)state;
    struct vcpu_exit e;
    msr_exit(&e, 0x3a, true); /* IA32_FEATURE_CONTROL: nobody's */
    handle_exit(&vcpu, &e);
    assert_int_equal(ninjected, 1);
    assert_int_equal(injected.type, VEVENT_EXCEPTION);
    assert_int_equal(injected.vector, 13);
    assert_true(injected.has_error);
    assert_int_equal(advanced, 0); /* a fault does not retire the instruction */
    dev_b.result = VDEV_GP;
    assert_int_equal(vdev_claim_msr(&part, 0x10, 0x10, dev_msr, &dev_b, "b"), 0);
    msr_exit(&e, 0x10, true);
    handle_exit(&vcpu, &e);
    assert_int_equal(dev_b.calls, 1);
    assert_int_equal(ninjected, 2);
    assert_int_equal(vcpu.stats.msr_gp, 2);
}

/* ---- second-level faults ---- */

static void fault_exit(struct vcpu_exit *e, u64 g)
{
    memset(e, 0, sizeof(*e));
    e->reason = VEXIT_SLPT_FAULT;
    e->fault.gpa = gpa(g);
    e->fault.read = true;
}

static void test_mmio_dispatch(void **state)
{
    (void)state;
    assert_int_equal(vdev_claim_mmio(&part, gpa(0xfee00000), 0x1000, dev_mmio, &dev_a, "apic"), 0);
    assert_int_equal(vdev_claim_mmio(&part, gpa(0xc0000000), 0x1000000, dev_mmio, &dev_b, "pci"), 0);
    struct vcpu_exit e;
    fault_exit(&e, 0xfee00300);
    handle_exit(&vcpu, &e);
    assert_int_equal(dev_a.calls, 1);
    assert_int_equal(dev_a.value, 0xfee00300);
    assert_int_equal(dev_b.calls, 0);
    assert_int_equal(advanced, 3);
    fault_exit(&e, 0xc0ffffff);
    handle_exit(&vcpu, &e);
    assert_int_equal(dev_b.calls, 1);
    assert_string_equal(failed, "");
}

static void test_mmio_unclaimed_fails_with_reason(void **state)
{
    (void)state;
    dev_b.result = VDEV_UNCLAIMED;
    assert_int_equal(vdev_claim_mmio(&part, gpa(0xc0000000), 0x1000, dev_mmio, &dev_b, "pci"), 0);
    struct vcpu_exit e;
    fault_exit(&e, 0xc0000010);
    handle_exit(&vcpu, &e);
    assert_int_equal(dev_b.calls, 1);
    assert_non_null(strstr(failed, "0xc0000010"));
    assert_non_null(strstr(failed, "NPT violation"));
    failed[0] = '\0';
    fault_exit(&e, 0xc0000); /* ROM probing, outside the partition */
    handle_exit(&vcpu, &e);
    assert_non_null(strstr(failed, "read access to guest-physical 0xc0000"));
}

/* ---- CPUID, simple exits, unknown reasons ---- */

static void test_cpuid_claim_adjusts_answer(void **state)
{
    (void)state;
    assert_int_equal(vdev_claim_cpuid(&part, 0x40000000, 0x400000ff, dev_cpuid, &dev_a, "pv"), 0);
    struct vcpu_exit e = { .reason = VEXIT_CPUID };
    vcpu.v.regs.gpr[GPR_RAX] = 0x40000000;
    handle_exit(&vcpu, &e);
    assert_int_equal(dev_a.calls, 1);
    assert_int_equal(vcpu.v.regs.gpr[GPR_RBX], 0x4b4d564b);
    assert_int_equal(advanced, 2);
    vcpu.v.regs.gpr[GPR_RAX] = 0; /* leaf 0: nobody's claim */
    handle_exit(&vcpu, &e);
    assert_int_equal(dev_a.calls, 1);
}

static void test_hlt_pause_and_unknown(void **state)
{
    (void)state;
    struct vcpu_exit e = { .reason = VEXIT_HLT };
    handle_exit(&vcpu, &e);
    assert_int_equal(vcpu.run_state, VRUN_HALTED);
    assert_int_equal(advanced, 1);
    e.reason = VEXIT_PAUSE;
    handle_exit(&vcpu, &e);
    assert_int_equal(advanced, 2);
    e.reason = VEXIT_TRIPLE_FAULT;
    handle_exit(&vcpu, &e);
    assert_non_null(strstr(failed, "triple fault"));
    failed[0] = '\0';
    e.reason = VEXIT_UNHANDLED;
    e.vendor_code = 0x7b;
    handle_exit(&vcpu, &e);
    assert_non_null(strstr(failed, "unhandled exit"));
    assert_non_null(strstr(failed, "0x7b"));
    failed[0] = '\0';
    e.reason = (enum vcpu_exit_reason)1000; /* out of the table */
    handle_exit(&vcpu, &e);
    assert_non_null(strstr(failed, "unhandled exit"));
}

/* ---- the registry itself ---- */

static void test_claims_refuse_overlap_and_overflow(void **state)
{
    (void)state;
    assert_int_equal(vdev_claim_pio(&part, 0x3f8, 8, dev_pio, &dev_a, "uart"), 0);
    assert_int_equal(vdev_claim_pio(&part, 0x3ff, 1, dev_pio, &dev_b, "other"), -EEXIST);
    assert_non_null(strstr(test_log_buf, "uart"));
    assert_int_equal(vdev_claim_pio(&part, 0x3f0, 8, dev_pio, &dev_b, "below"), 0);
    assert_int_equal(vdev_claim_pio(&part, 0xfff0, 0x20, dev_pio, &dev_b, "wrap"), -EINVAL);
    assert_int_equal(vdev_claim_pio(&part, 0x100, 0, dev_pio, &dev_b, "empty"), -EINVAL);
    assert_int_equal(vdev_claim_msr(&part, 5, 4, dev_msr, &dev_b, "backwards"), -EINVAL);
    assert_int_equal(vdev_claim_mmio(&part, gpa(~0ULL - 10), 100, dev_mmio, &dev_b, "wrap"), -EINVAL);
    int rc = 0;
    for (u32 i = 0; i < VDEV_MAX_MSR + 1 && !rc; i++)
        rc = vdev_claim_msr(&part, 0x1000 + i, 0x1000 + i, dev_msr, &dev_b, "many");
    assert_int_equal(rc, -ENOSPC);
    assert_int_equal(part.vdev.nmsr, VDEV_MAX_MSR);
}

static char order_log[64];
static void log_order(char c)
{
    size_t n = strlen(order_log);
    order_log[n] = c;
    order_log[n + 1] = '\0';
}
static int attach_bus(struct partition *p, char *err, size_t len)
{
    (void)p;
    (void)err;
    (void)len;
    log_order('B');
    return 0;
}
static int attach_nic(struct partition *p, char *err, size_t len)
{
    (void)p;
    (void)err;
    (void)len;
    log_order('N');
    return 0;
}
static int attach_bad(struct partition *p, char *err, size_t len)
{
    (void)p;
    snprintf(err, len, "no room");
    log_order('X');
    return -ENOSPC;
}
static void detach_bus(struct partition *p)
{
    (void)p;
    log_order('b');
}
static void detach_nic(struct partition *p)
{
    (void)p;
    log_order('n');
}
static u64 deadline_5(struct vm_vcpu *vc)
{
    (void)vc;
    return 5;
}
static u64 deadline_0(struct vm_vcpu *vc)
{
    (void)vc;
    return 0;
}
static u64 deadline_9(struct vm_vcpu *vc)
{
    (void)vc;
    return 9;
}

/* Attach in order (a bus before its devices), detach in reverse, the earliest
 * deadline wins, a failing attach stops the start with its message. */
static void test_lifecycle_order(void **state)
{
    (void)state;
    const struct vdev_type types[] = {
        { .name = "nic", .order = 11, .attach = attach_nic, .detach = detach_nic, .deadline = deadline_9 },
        { .name = "bus", .order = 10, .attach = attach_bus, .detach = detach_bus, .deadline = deadline_5 },
        { .name = "idle", .order = 0, .deadline = deadline_0 },
    };
    vdev_use_types(types, 3);
    char err[64];
    order_log[0] = '\0';
    assert_int_equal(vdev_attach_all(&part, err, sizeof(err)), 0);
    vdev_detach_all(&part);
    assert_string_equal(order_log, "BNnb");
    assert_int_equal(vdev_deadline(&vcpu), 5);
    const struct vdev_type bad[] = { { .name = "bad", .order = 1, .attach = attach_bad },
                                     { .name = "bus", .order = 10, .attach = attach_bus } };
    vdev_use_types(bad, 2);
    order_log[0] = '\0';
    assert_int_equal(vdev_attach_all(&part, err, sizeof(err)), -ENOSPC);
    assert_string_equal(err, "no room");
    assert_string_equal(order_log, "X");
}

/* ---- the state MSRs' value checks ---- */

static void test_vmsr_values(void **state)
{
    (void)state;
    enum vcpu_msr m;
    assert_true(vmsr_state_index(0xc0000080, &m) && m == VMSR_EFER);
    assert_true(vmsr_state_index(0x277, &m) && m == VMSR_PAT);
    assert_true(vmsr_state_index(0xc0000102, &m) && m == VMSR_KERNEL_GS_BASE);
    assert_false(vmsr_state_index(0x3a, &m));
    /* EFER: SCE, LME, LMA, NXE only. */
    assert_true(vmsr_value_ok(VMSR_EFER, 0xd01));
    assert_false(vmsr_value_ok(VMSR_EFER, 0x1000)); /* SVME */
    assert_false(vmsr_value_ok(VMSR_EFER, 0x2));
    /* PAT: each byte a defined type (0, 1, 4-7). */
    assert_true(vmsr_value_ok(VMSR_PAT, 0x0007040600070406ULL));
    assert_false(vmsr_value_ok(VMSR_PAT, 0x0007040600070402ULL));
    assert_false(vmsr_value_ok(VMSR_PAT, 0x0800000000000000ULL));
    /* Addresses canonical. */
    assert_true(vmsr_value_ok(VMSR_LSTAR, 0xffffffff81000000ULL));
    assert_true(vmsr_value_ok(VMSR_FS_BASE, 0x00007fffffffffffULL));
    assert_false(vmsr_value_ok(VMSR_GS_BASE, 0x0000800000000000ULL));
    assert_false(vmsr_value_ok(VMSR_KERNEL_GS_BASE, 0xfff0000000000000ULL));
    /* Widths. */
    assert_true(vmsr_value_ok(VMSR_SYSENTER_CS, 0xffff));
    assert_false(vmsr_value_ok(VMSR_SYSENTER_CS, 0x10000));
    assert_true(vmsr_value_ok(VMSR_SFMASK, 0xffffffff));
    assert_false(vmsr_value_ok(VMSR_SFMASK, 0x100000000ULL));
    assert_true(vmsr_value_ok(VMSR_STAR, ~0ULL));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_pio_claimed_read_merges, setup),
        cmocka_unit_test_setup(test_pio_claimed_write_masks, setup),
        cmocka_unit_test_setup(test_pio_unclaimed_reads_ones, setup),
        cmocka_unit_test_setup(test_pio_restarts_do_not_rearm_the_log, setup),
        cmocka_unit_test_setup(test_pio_device_declines, setup),
        cmocka_unit_test_setup(test_pio_string_and_no_length_fail, setup),
        cmocka_unit_test_setup(test_msr_claimed, setup),
        cmocka_unit_test_setup(test_msr_unclaimed_or_refused_is_gp, setup),
        cmocka_unit_test_setup(test_mmio_dispatch, setup),
        cmocka_unit_test_setup(test_mmio_unclaimed_fails_with_reason, setup),
        cmocka_unit_test_setup(test_cpuid_claim_adjusts_answer, setup),
        cmocka_unit_test_setup(test_hlt_pause_and_unknown, setup),
        cmocka_unit_test_setup(test_claims_refuse_overlap_and_overflow, setup),
        cmocka_unit_test_setup(test_lifecycle_order, setup),
        cmocka_unit_test(test_vmsr_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
