/* Resetting one PCI function (drivers/pci_reset.c) over a fake configuration
 * space: which reset a function can have, that the reset is really asked for
 * (FLR bit, bridge control SBR pulse), how long it waits, and that the
 * configuration the hypervisor programmed (BARs, MSI, command) is written
 * back, command last. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <cmocka.h>

#include "drivers/pci_reset.h"
#include "kernel/lib/errno.h"

#define NFUN 4
static struct fun {
    u8 bus, dev;
    u32 cfg[64]; /* 256 bytes */
    bool gone_after_reset;
    bool present;
} F[NFUN];
static u64 waited;
static u32 flr_writes, sbr_pulses;
static u32 last_write_off; /* of the reset function, to see the command go last */
static u32 writes_after_reset;

static struct fun *find(u8 bus, u8 dev, u8 fn)
{
    for (u32 i = 0; i < NFUN; i++)
        if (F[i].present && F[i].bus == bus && F[i].dev == dev && fn == 0)
            return &F[i];
    return NULL;
}

/* What a reset does to a function: its registers back to power-on values. */
static void reset_fn(struct fun *f)
{
    for (u32 k = PCI_BAR0 / 4; k < PCI_BAR0 / 4 + PCI_NUM_BARS; k++)
        f->cfg[k] = 0;
    f->cfg[PCI_COMMAND / 4] &= 0xffff0000u;
    f->cfg[0x50 / 4] &= ~0x10000u; /* MSI enable (control at 0x52) */
    f->cfg[0x54 / 4] = 0;
    if (f->gone_after_reset)
        f->present = false;
}

static u32 rd(void *ctx, u16 seg, u8 bus, u8 dev, u8 fn, u16 off)
{
    struct fun *f = find(bus, dev, fn);
    return f ? f->cfg[off / 4] : 0xffffffffu;
}

static void wr(void *ctx, u16 seg, u8 bus, u8 dev, u8 fn, u16 off, u32 v)
{
    struct fun *f = find(bus, dev, fn);
    if (!f)
        return;
    if (off == 0x60 + PCIE_DEVCTL && (v & PCIE_DEVCTL_FLR)) {
        flr_writes++;
        reset_fn(f);
        writes_after_reset = 0;
        return;
    }
    if (off == PCI_BRIDGE_CONTROL && (f->cfg[off / 4] & PCI_BRIDGE_CTL_SBR) && !(v & PCI_BRIDGE_CTL_SBR)) {
        sbr_pulses++;
        for (u32 i = 0; i < NFUN; i++)
            if (F[i].present && F[i].bus == (u8)(f->cfg[PCI_BUS_NUMBERS / 4] >> 8))
                reset_fn(&F[i]);
        writes_after_reset = 0;
    }
    f->cfg[off / 4] = v;
    last_write_off = off;
    writes_after_reset++;
}

static const struct pci_cfg_ops OPS = { rd, NULL, wr };

static void delay(u64 us) { waited += us; }

static struct pci_list L;

/* An endpoint with MSI at 0x50 and, when flr, a PCIe capability at 0x60
 * offering FLR. */
static struct pci_dev *endpoint(u32 i, u8 bus, u8 dev, bool flr)
{
    struct fun *f = &F[i];
    memset(f, 0, sizeof(*f));
    f->present = true;
    f->bus = bus;
    f->dev = dev;
    f->cfg[0] = 0x11e81234;
    f->cfg[PCI_COMMAND / 4] = (u32)PCI_STATUS_CAPS << 16 | PCI_CMD_MEM | PCI_CMD_MASTER;
    f->cfg[PCI_BAR0 / 4] = 0xfe000000;
    f->cfg[PCI_BAR0 / 4 + 2] = 0xfd000004; /* 64-bit */
    f->cfg[PCI_BAR0 / 4 + 3] = 0x1;
    f->cfg[PCI_CAP_PTR / 4] = 0x50;
    f->cfg[0x50 / 4] = 0x00010000u | (flr ? 0x6000u : 0) | PCI_CAP_MSI; /* enabled */
    f->cfg[0x54 / 4] = 0xfee01000;
    f->cfg[0x58 / 4] = 0x41;
    if (flr) {
        f->cfg[0x60 / 4] = PCI_CAP_PCIE;
        f->cfg[(0x60 + PCIE_DEVCAP) / 4] = PCIE_DEVCAP_FLR;
        f->cfg[(0x60 + PCIE_DEVCTL) / 4] = 0x2810;
    }
    struct pci_dev *d = &L.dev[L.count++];
    memset(d, 0, sizeof(*d));
    d->bus = bus;
    d->dev = dev;
    return d;
}

static struct pci_dev *bridge(u32 i, u8 dev, u8 sec)
{
    struct fun *f = &F[i];
    memset(f, 0, sizeof(*f));
    f->present = true;
    f->dev = dev;
    f->cfg[PCI_BUS_NUMBERS / 4] = (u32)sec << 16 | (u32)sec << 8;
    f->cfg[PCI_BRIDGE_CONTROL / 4] = 0x00100000u; /* some other bridge control bit kept */
    struct pci_dev *d = &L.dev[L.count++];
    memset(d, 0, sizeof(*d));
    d->dev = dev;
    d->bridge = true;
    d->sec_bus = d->sub_bus = sec;
    return d;
}

static int setup(void **state)
{
    memset(F, 0, sizeof(F));
    memset(&L, 0, sizeof(L));
    waited = 0;
    flr_writes = sbr_pulses = 0;
    return 0;
}

static void assert_restored(const struct fun *f)
{
    assert_int_equal(f->cfg[PCI_BAR0 / 4], 0xfe000000);
    assert_int_equal(f->cfg[PCI_BAR0 / 4 + 2], 0xfd000004);
    assert_int_equal(f->cfg[PCI_BAR0 / 4 + 3], 0x1);
    assert_int_equal(f->cfg[0x54 / 4], 0xfee01000);
    assert_true(f->cfg[0x50 / 4] & 0x10000u); /* MSI enabled again */
    assert_int_equal(f->cfg[PCI_COMMAND / 4] & 0xffff, PCI_CMD_MEM | PCI_CMD_MASTER);
    assert_int_equal(last_write_off, PCI_COMMAND); /* last */
}

static void test_flr(void **state)
{
    struct pci_dev *d = endpoint(0, 0, 5, true);
    const struct pci_dev *b = NULL;
    char why[128];
    assert_int_equal(pci_reset_method(&OPS, &L, d, &b, why, sizeof(why)), PCI_RESET_FLR);
    enum pci_reset_how how;
    assert_int_equal(pci_reset_function(&OPS, &L, d, delay, &how, why, sizeof(why)), 0);
    assert_int_equal(how, PCI_RESET_FLR);
    assert_int_equal(flr_writes, 1);
    assert_int_equal(waited, PCI_RESET_RECOVER_US);
    assert_restored(&F[0]);
    /* Device control written back without the FLR bit. */
    assert_int_equal(F[0].cfg[(0x60 + PCIE_DEVCTL) / 4], 0x2810);
}

static void test_bus_reset(void **state)
{
    bridge(0, 2, 3);
    struct pci_dev *d = endpoint(1, 3, 0, false);
    const struct pci_dev *b = NULL;
    char why[128];
    assert_int_equal(pci_reset_method(&OPS, &L, d, &b, why, sizeof(why)), PCI_RESET_BUS);
    assert_ptr_equal(b, &L.dev[0]);
    enum pci_reset_how how;
    assert_int_equal(pci_reset_function(&OPS, &L, d, delay, &how, why, sizeof(why)), 0);
    assert_int_equal(how, PCI_RESET_BUS);
    assert_int_equal(sbr_pulses, 1);
    assert_int_equal(waited, PCI_RESET_HOLD_US + PCI_RESET_RECOVER_US);
    assert_int_equal(F[0].cfg[PCI_BRIDGE_CONTROL / 4], 0x00100000u); /* SBR off, the rest kept */
    assert_restored(&F[1]);
}

static void test_no_reset(void **state)
{
    char why[128];
    const struct pci_dev *b = NULL;
    enum pci_reset_how how;
    /* On a root bus without FLR. */
    struct pci_dev *d = endpoint(0, 0, 5, false);
    assert_int_equal(pci_reset_method(&OPS, &L, d, &b, why, sizeof(why)), PCI_RESET_NONE);
    assert_non_null(strstr(why, "root bus"));
    assert_int_equal(pci_reset_function(&OPS, &L, d, delay, &how, why, sizeof(why)), -ENOTSUP);
    assert_int_equal(waited, 0);
    /* Behind a bridge with a neighbour: a bus reset would reset it too. */
    bridge(1, 2, 3);
    struct pci_dev *e = endpoint(2, 3, 0, false);
    endpoint(3, 3, 1, false);
    assert_int_equal(pci_reset_method(&OPS, &L, e, &b, why, sizeof(why)), PCI_RESET_NONE);
    assert_non_null(strstr(why, "not alone behind bridge 00:02.0"));
    assert_int_equal(sbr_pulses + flr_writes, 0);
}

static void test_gone_after_reset(void **state)
{
    struct pci_dev *d = endpoint(0, 0, 5, true);
    F[0].gone_after_reset = true;
    assert_true(pci_answers(&OPS, d));
    char why[128];
    enum pci_reset_how how;
    assert_int_equal(pci_reset_function(&OPS, &L, d, delay, &how, why, sizeof(why)), -EIO);
    assert_non_null(strstr(why, "does not answer after the FLR"));
    assert_false(pci_answers(&OPS, d));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_flr, setup),
        cmocka_unit_test_setup(test_bus_reset, setup),
        cmocka_unit_test_setup(test_no_reset, setup),
        cmocka_unit_test_setup(test_gone_after_reset, setup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
