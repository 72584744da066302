/* The partition's virtual PCI bus over a fake host function: what the guest
 * sees, BAR placement and refusals, MSI routing, the MSI-X table emulation,
 * quiescing. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "vmm/dev/vpci.h"
#include "net/virtio.h"
#include "kernel/core/log_limit.h"
#include "tests/unit/stubs.h"

/* ---- a fake host function: an e1000e-like NIC at 0000:81:00.0 ---- */

#define HOST_BAR0     0xfe800000ULL   /* 128 KiB memory */
#define HOST_BAR2     0xc000u         /* 32 ports */
#define HOST_BAR3     0x8000000000ULL /* 16 KiB, 64-bit */
#define CAP_PM        0x40
#define CAP_MSI       0x50
#define CAP_PCIE      0x70
#define CAP_MSIX      0xa0
/* MSI-X as QEMU's e1000e has it: 5 entries, the table at 0 of the 16 KiB BAR3
 * (here a 64-bit one), the PBA at 0x2000. */
#define MSIX_N        5
#define MSIX_TABLE_DW (0x0000u | 3)
#define MSIX_PBA_DW   (0x2000u | 3)

static u32 cfg[64];
static const u64 bar_size[6] = { 0x20000, 0, 32, 0x4000, 0, 0 };
static int writes;

static u32 fake_read(void *ctx, u16 seg, u8 bus, u8 dev, u8 fn, u16 off)
{
    (void)ctx;
    if (seg != 0 || bus != 0x81 || dev != 0 || fn != 0 || off > 0xfc)
        return 0xffffffff;
    return cfg[off / 4];
}

static void fake_write(void *ctx, u16 seg, u8 bus, u8 dev, u8 fn, u16 off, u32 v)
{
    (void)ctx;
    if (seg != 0 || bus != 0x81 || dev != 0 || fn != 0 || off > 0xfc)
        return;
    writes++;
    u32 i = off / 4;
    if (off == 0 || off == 8)
        return; /* read-only */
    if (off >= 0x10 && off < 0x28) {
        u32 b = (off - 0x10) / 4;
        if (b == 4) { /* upper half of BAR3 */
            cfg[i] = v & (u32)(~(bar_size[3] - 1) >> 32);
        } else if (!bar_size[b]) {
            cfg[i] = 0;
        } else {
            u32 flags = cfg[i] & (b == 2 ? 3u : 0xfu);
            cfg[i] = (v & (u32) ~(bar_size[b] - 1) & ~(b == 2 ? 3u : 0xfu)) | flags;
        }
        return;
    }
    if (off == PCI_COMMAND || off == CAP_PCIE + 8) {
        /* Status halves: write-one-to-clear. */
        cfg[i] = ((cfg[i] & 0xffff0000u) & ~(v & 0xffff0000u)) | (v & 0xffff);
        return;
    }
    cfg[i] = v;
}

static const struct pci_cfg_ops host = { fake_read, NULL, fake_write };

static void bar3_reset(void);

static void fake_reset(void)
{
    memset(cfg, 0, sizeof(cfg));
    cfg[0] = 0x10d38086;                                 /* 8086:10d3 */
    cfg[1] = 0x00100000u | PCI_CMD_MEM | PCI_CMD_MASTER; /* caps; firmware left it on */
    cfg[2] = 0x02000000;                                 /* Ethernet */
    cfg[3] = 0x00800000;                                 /* header type 0, multifunction bit */
    cfg[4] = (u32)HOST_BAR0;
    cfg[6] = HOST_BAR2 | 1;
    cfg[7] = (u32)HOST_BAR3 | PCI_BAR_MEM_64;
    cfg[8] = (u32)(HOST_BAR3 >> 32);
    cfg[11] = 0x00008086;
    cfg[13] = CAP_PM;
    cfg[15] = 0x0000010b; /* pin A, line 11 */
    cfg[CAP_PM / 4] = PCI_CAP_PM | CAP_MSI << 8;
    cfg[CAP_MSI / 4] = PCI_CAP_MSI | CAP_PCIE << 8 | (u32)(MSI_CTRL_64BIT | (1u << 1)) << 16;
    cfg[CAP_PCIE / 4] = PCI_CAP_PCIE | CAP_MSIX << 8;
    cfg[(CAP_PCIE + 8) / 4] = 0x00040000; /* device status: a RW1C bit set */
    cfg[CAP_MSIX / 4] = PCI_CAP_MSIX | (u32)(MSIX_CTRL_ENABLE | (MSIX_N - 1)) << 16;
    cfg[CAP_MSIX / 4 + 1] = MSIX_TABLE_DW;
    cfg[CAP_MSIX / 4 + 2] = MSIX_PBA_DW;
    writes = 0;
    bar3_reset();
}

/* ---- the fake function's BAR3 as the hypervisor reaches it ---- */

static u32 bar3[0x4000 / 4];
static int host_maps, lost_accesses;
static u64 host_mapped_at, host_mapped_len;

/* The firmware (or a previous owner) left every entry unmasked, pointing
 * somewhere. */
static void bar3_reset(void)
{
    memset(bar3, 0, sizeof(bar3));
    for (u32 k = 0; k < 64; k++) {
        bar3[k * 4] = 0xfee0f000u;
        bar3[k * 4 + 2] = 0x99;
    }
    host_maps = lost_accesses = 0;
    host_mapped_at = host_mapped_len = 0;
}

/* Reached only while the function decodes memory and the page is mapped. */
static u32 *bar3_at(hpa_t h)
{
    if (h < HOST_BAR3 || h >= HOST_BAR3 + sizeof(bar3) || (h & 3))
        fail_msg("host access at %#llx outside BAR3", (unsigned long long)h);
    if (!(cfg[1] & PCI_CMD_MEM) || h < host_mapped_at || h >= host_mapped_at + host_mapped_len) {
        lost_accesses++;
        return NULL;
    }
    return &bar3[(h - HOST_BAR3) / 4];
}

static int fake_host_map(void *ctx, hpa_t h, u64 len)
{
    (void)ctx;
    host_maps++;
    host_mapped_at = h;
    host_mapped_len = len;
    return 0;
}

static u32 fake_read32(void *ctx, hpa_t h)
{
    (void)ctx;
    u32 *p = bar3_at(h);
    return p ? *p : 0xffffffffu;
}

static void fake_write32(void *ctx, hpa_t h, u32 v)
{
    (void)ctx;
    u32 *p = bar3_at(h);
    if (p)
        *p = v;
}

/* The device's entry k: address, data, masked. */
static u32 hw_entry(u32 k, u32 field) { return bar3[(k * MSIX_ENTRY_SIZE + field) / 4]; }
static bool hw_masked(u32 k) { return hw_entry(k, MSIX_ENTRY_CTRL) & MSIX_ENTRY_MASKED; }
static u16 hw_msix_ctrl(void) { return (u16)(cfg[CAP_MSIX / 4] >> 16); }

/* ---- fake mapping and MSI routing ---- */

static struct {
    u64 g, h, len;
} maps[16];
static int nmaps, nunmaps, nreleases, nroutes;
static u32 last_route, last_release;

static int fake_map(void *ctx, gpa_t g, hpa_t h, u64 len)
{
    (void)ctx;
    maps[nmaps].g = g.v;
    maps[nmaps].h = h;
    maps[nmaps++].len = len;
    return 0;
}

static int fake_unmap(void *ctx, gpa_t g, u64 len)
{
    (void)ctx;
    for (int i = 0; i < nmaps; i++) {
        if (maps[i].g == g.v && maps[i].len == len) {
            maps[i] = maps[--nmaps];
            nunmaps++;
            return 0;
        }
    }
    fail_msg("unmap of %#llx that is not mapped", (unsigned long long)g.v);
    return -1;
}

/* The partition has vCPUs with APIC IDs 0 and 1, on host APIC IDs 4 and 6. */
static int fake_route(void *ctx, u32 route, u64 gaddr, u32 gdata, u64 *haddr, u32 *hdata)
{
    (void)ctx;
    last_route = route;
    nroutes++;
    u32 dest = (u32)(gaddr >> MSI_ADDR_DEST_SHIFT) & 0xff;
    if ((gaddr & 0xfff00000u) != MSI_ADDR_BASE || dest > 1 || ((gdata >> 8) & 7) > 1)
        return -1;
    *haddr = MSI_ADDR_BASE | (u64)(4 + 2 * dest) << MSI_ADDR_DEST_SHIFT;
    *hdata = 0x40 + (gdata & 0xff) % 16;
    return 0;
}

static void fake_release(void *ctx, u32 route)
{
    (void)ctx;
    last_release = route;
    nreleases++;
}

static const struct vpci_ops ops = {
    .cfg = &host,
    .map = fake_map,
    .unmap = fake_unmap,
    .msi_route = fake_route,
    .msi_release = fake_release,
    .host_map = fake_host_map,
    .mmio_read32 = fake_read32,
    .mmio_write32 = fake_write32,
};

#define RAM_END   0x40000000ULL
#define WIN32     0xc0000000ULL
#define WIN32_END 0xfec00000ULL
#define WIN64     0x1000000000ULL

static struct vpci bus;
static struct pci_dev dev;

static void add_dev(void)
{
    memset(&dev, 0, sizeof(dev));
    dev.bus = 0x81;
    dev.vendor = 0x8086;
    dev.device = 0x10d3;
    nmaps = nunmaps = nreleases = nroutes = 0;
    vpci_init(&bus, &ops, "nicpart", 2, 1ULL << 40);
    assert_int_equal(vpci_forbid(&bus, 0, RAM_END), 0);
    assert_int_equal(vpci_forbid(&bus, WIN32_END, 0x100000000ULL), 0);
    u64 n32 = WIN32, n64 = WIN64;
    char err[160];
    assert_int_equal(vpci_add(&bus, &dev, &n32, WIN32_END, &n64, err, sizeof(err)), 0);
}

static void make_bus(void)
{
    fake_reset();
    add_dev();
}

static void addr(u8 devno, u16 off)
{
    u32 a = VPCI_CF8_ENABLE | (u32)devno << 11 | off;
    assert_true(vpci_port(&bus, VPCI_PORT_ADDR, 4, false, &a));
}

static u32 rd(u8 devno, u16 off, u8 size)
{
    addr(devno, off & 0xfc);
    u32 v = 0;
    assert_true(vpci_port(&bus, (u16)(VPCI_PORT_DATA + (off & 3)), size, true, &v));
    return v;
}

static void wr(u8 devno, u16 off, u8 size, u32 v)
{
    addr(devno, off & 0xfc);
    assert_true(vpci_port(&bus, (u16)(VPCI_PORT_DATA + (off & 3)), size, false, &v));
}

static void test_bus_contents(void **state)
{
    (void)state;
    make_bus();
    /* 00:00.0 is the host bridge, 00:01.0 the device, nothing else. */
    assert_int_equal(rd(0, 0, 4), VPCI_HOSTBRIDGE_VENDOR | VPCI_HOSTBRIDGE_DEVICE << 16);
    assert_int_equal(rd(0, 0xb, 1), 0x06);
    assert_int_equal(rd(1, 0, 4), 0x10d38086);
    assert_int_equal(rd(1, 2, 2), 0x10d3);
    assert_int_equal(rd(1, 0xb, 1), 0x02);
    assert_int_equal(rd(2, 0, 4), 0xffffffff);
    assert_int_equal(rd(31, 0, 2), 0xffff);
    /* Other functions and buses: absent. */
    u32 a = VPCI_CF8_ENABLE | 1u << 11 | 1u << 8, v = 0;
    vpci_port(&bus, VPCI_PORT_ADDR, 4, false, &a);
    vpci_port(&bus, VPCI_PORT_DATA, 4, true, &v);
    assert_int_equal(v, 0xffffffff);
    a = VPCI_CF8_ENABLE | 0x81u << 16;
    vpci_port(&bus, VPCI_PORT_ADDR, 4, false, &a);
    vpci_port(&bus, VPCI_PORT_DATA, 4, true, &v);
    assert_int_equal(v, 0xffffffff);
    /* Disabled address register: nothing either. */
    a = 0;
    vpci_port(&bus, VPCI_PORT_ADDR, 4, false, &a);
    vpci_port(&bus, VPCI_PORT_DATA, 4, true, &v);
    assert_int_equal(v, 0xffffffff);
    /* Single function, no INTx, no ROM, quiesced, INTx off in the hardware. */
    assert_int_equal(rd(1, 0xe, 1), 0);
    assert_int_equal(rd(1, 0x3d, 1), 0);
    assert_int_equal(rd(1, 0x3c, 1), 0xff);
    assert_int_equal(rd(1, 0x30, 4), 0);
    assert_int_equal(rd(1, 4, 2), 0);
    assert_int_equal(cfg[1] & 0xffff, PCI_CMD_INTX_OFF);
    /* Other ports are not the bus's. */
    u32 x = 0;
    assert_false(vpci_port(&bus, 0xcf9, 1, false, &x)); /* reset control */
    assert_false(vpci_port(&bus, 0x3f8, 1, true, &x));
}

static void test_capability_list_shows_msix(void **state)
{
    (void)state;
    make_bus();
    assert_true(rd(1, 6, 2) & PCI_STATUS_CAPS);
    assert_int_equal(rd(1, 0x34, 1), CAP_PM);
    assert_int_equal(rd(1, CAP_PM + 1, 1), CAP_MSI);
    assert_int_equal(rd(1, CAP_MSI, 1), PCI_CAP_MSI);
    assert_int_equal(rd(1, CAP_MSI + 1, 1), CAP_PCIE);
    assert_int_equal(rd(1, CAP_PCIE + 1, 1), CAP_MSIX);
    assert_int_equal(rd(1, CAP_MSIX, 1), PCI_CAP_MSIX);
    assert_int_equal(rd(1, CAP_MSIX + 1, 1), 0);
    /* One message only; 64-bit address. */
    assert_int_equal(rd(1, CAP_MSI + 2, 2), MSI_CTRL_64BIT);
    /* MSI-X: the device's table size and structures, the guest's enable (off,
     * although the firmware left it on in the device). */
    assert_int_equal(rd(1, CAP_MSIX + 2, 2), MSIX_N - 1);
    assert_int_equal(rd(1, CAP_MSIX + 4, 4), MSIX_TABLE_DW);
    assert_int_equal(rd(1, CAP_MSIX + 8, 4), MSIX_PBA_DW);
    /* MSI-X is disabled and masked in the hardware, every entry masked: the
     * table was reached with decoding turned on for the moment only. */
    assert_false(hw_msix_ctrl() & MSIX_CTRL_ENABLE);
    assert_true(hw_msix_ctrl() & MSIX_CTRL_MASKALL);
    for (u32 k = 0; k < MSIX_N; k++)
        assert_true(hw_masked(k));
    assert_int_equal(lost_accesses, 0);
    assert_int_equal(cfg[1] & 0xffff, PCI_CMD_INTX_OFF);
    /* Only the table's page is reachable by the hypervisor. */
    assert_int_equal(host_maps, 1);
    assert_int_equal(host_mapped_at, HOST_BAR3);
    assert_int_equal(host_mapped_len, 0x1000);
}

/* A fresh bus with the logs cleared, memory decoding and MSI-X enabled. */
static void msix_enabled_bus(void)
{
    log_limit_reset();
    test_stubs_reset();
    make_bus();
    wr(1, 4, 2, PCI_CMD_MEM);
    wr(1, CAP_MSIX + 2, 2, MSIX_CTRL_ENABLE);
}

/* A table the hypervisor cannot trap (not in a memory BAR): hidden, as before. */
static void test_msix_hidden_when_untrappable(void **state)
{
    (void)state;
    log_limit_reset();
    test_stubs_reset();
    fake_reset();
    cfg[CAP_MSIX / 4 + 1] = 1; /* BAR1: not implemented */
    add_dev();
    assert_int_equal(rd(1, CAP_PCIE + 1, 1), 0);
    assert_int_equal(bus.dev[0].ncaps, 3);
    assert_false(hw_msix_ctrl() & MSIX_CTRL_ENABLE);
    assert_true(hw_msix_ctrl() & MSIX_CTRL_MASKALL);
    assert_non_null(strstr(test_log_buf, "its table is not inside one of its memory BARs: hidden"));
    /* Its control register is not the guest's. */
    wr(1, CAP_MSIX + 2, 2, MSIX_CTRL_ENABLE);
    assert_false(hw_msix_ctrl() & MSIX_CTRL_ENABLE);
    assert_int_equal(host_maps, 0);
}

static void test_capability_loop_is_bounded(void **state)
{
    (void)state;
    fake_reset();
    cfg[CAP_PCIE / 4] = PCI_CAP_PCIE | CAP_PM << 8; /* back to the first */
    memset(&dev, 0, sizeof(dev));
    dev.bus = 0x81;
    vpci_init(&bus, &ops, "loop", 2, 1ULL << 40);
    u64 n32 = WIN32, n64 = WIN64;
    char err[160];
    assert_int_equal(vpci_add(&bus, &dev, &n32, WIN32_END, &n64, err, sizeof(err)), 0);
    assert_int_equal(bus.dev[0].ncaps, 3);
    assert_int_equal(rd(1, CAP_PCIE + 1, 1), 0);
}

static void test_bar_placement_and_sizing(void **state)
{
    (void)state;
    make_bus();
    /* The 128 KiB BAR in the 32-bit window; the 64-bit one after it. */
    assert_int_equal(rd(1, 0x10, 4), (u32)WIN32);
    assert_int_equal(rd(1, 0x14, 4), 0);
    assert_int_equal(rd(1, 0x18, 4), HOST_BAR2 | 1);
    assert_int_equal(rd(1, 0x1c, 4), (u32)(WIN32 + 0x20000) | PCI_BAR_MEM_64);
    assert_int_equal(rd(1, 0x20, 4), 0);
    /* Sizing, then the old value back. */
    wr(1, 0x10, 4, 0xffffffff);
    assert_int_equal(rd(1, 0x10, 4), 0xfffe0000);
    wr(1, 0x10, 4, (u32)WIN32);
    wr(1, 0x1c, 4, 0xffffffff);
    wr(1, 0x20, 4, 0xffffffff);
    assert_int_equal(rd(1, 0x1c, 4), 0xffffc000 | PCI_BAR_MEM_64);
    assert_int_equal(rd(1, 0x20, 4), 0xffffffff);
    wr(1, 0x1c, 4, (u32)(WIN32 + 0x20000));
    wr(1, 0x20, 4, 0);
    wr(1, 0x18, 4, 0xffffffff);
    assert_int_equal(rd(1, 0x18, 4), 0xffffffe1);
    wr(1, 0x18, 4, HOST_BAR2);
    /* The hardware BARs never moved. */
    assert_int_equal(cfg[4], (u32)HOST_BAR0);
    assert_int_equal(cfg[7], (u32)HOST_BAR3 | PCI_BAR_MEM_64);
    assert_int_equal(nmaps, 0); /* decoding is off: nothing mapped yet */
}

static void test_memory_enable_maps_bars(void **state)
{
    (void)state;
    make_bus();
    wr(1, 4, 2, PCI_CMD_MEM | PCI_CMD_MASTER);
    assert_int_equal(rd(1, 4, 2), PCI_CMD_MEM | PCI_CMD_MASTER);
    assert_int_equal(cfg[1] & 0xffff, PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_INTX_OFF);
    assert_int_equal(nmaps, 2);
    assert_int_equal(maps[0].g, WIN32);
    assert_int_equal(maps[0].h, HOST_BAR0);
    assert_int_equal(maps[0].len, 0x20000);
    /* BAR3 without its first page, which holds the MSI-X table. */
    assert_int_equal(maps[1].g, WIN32 + 0x21000);
    assert_int_equal(maps[1].h, HOST_BAR3 + 0x1000);
    assert_int_equal(maps[1].len, 0x3000);
    /* A move to a free place while decoding: remapped there. */
    wr(1, 0x10, 4, 0xd0000000);
    assert_int_equal(rd(1, 0x10, 4), 0xd0000000);
    assert_int_equal(nunmaps, 1);
    assert_int_equal(nmaps, 2);
    assert_int_equal(maps[1].g, 0xd0000000);
    assert_int_equal(maps[1].h, HOST_BAR0);
    /* Decoding off: unmapped. */
    wr(1, 4, 2, 0);
    assert_int_equal(nmaps, 0);
    assert_int_equal(cfg[1] & 0xffff, PCI_CMD_INTX_OFF);
}

static void test_bar_moves_over_ram_are_refused(void **state)
{
    (void)state;
    make_bus();
    wr(1, 4, 2, PCI_CMD_MEM);
    u64 refused = bus.stats.bar_refused;
    /* Over the partition's RAM, the APIC range, another BAR, past 4 GiB... */
    wr(1, 0x10, 4, 0x00100000);
    assert_int_equal(rd(1, 0x10, 4), (u32)WIN32);
    wr(1, 0x10, 4, 0xfee00000);
    assert_int_equal(rd(1, 0x10, 4), (u32)WIN32);
    wr(1, 0x10, 4, (u32)(WIN32 + 0x20000));
    assert_int_equal(rd(1, 0x10, 4), (u32)WIN32);
    wr(1, 0x20, 4, 0x100); /* 64-bit BAR past the 40-bit limit */
    assert_int_equal(rd(1, 0x20, 4), 0);
    assert_int_equal(bus.stats.bar_refused, refused + 4);
    assert_int_equal(nmaps, 2);
    assert_int_equal(maps[0].g, WIN32);
    /* With decoding off the register takes anything, but decoding is then
     * refused while a BAR sits over RAM. */
    wr(1, 4, 2, 0);
    wr(1, 0x10, 4, 0x00200000);
    assert_int_equal(rd(1, 0x10, 4), 0x00200000);
    wr(1, 4, 2, PCI_CMD_MEM | PCI_CMD_MASTER);
    assert_int_equal(rd(1, 4, 2), PCI_CMD_MASTER);
    assert_int_equal(cfg[1] & 0xffff, PCI_CMD_MASTER | PCI_CMD_INTX_OFF);
    assert_int_equal(nmaps, 0);
    /* Leaving a size mask in place and enabling is refused too. */
    wr(1, 0x10, 4, 0xffffffff);
    wr(1, 4, 2, PCI_CMD_MEM);
    assert_int_equal(nmaps, 0);
    assert_int_equal(rd(1, 4, 2) & PCI_CMD_MEM, 0);
}

static int count_lines(const char *what)
{
    int n = 0;
    for (const char *p = test_log_buf; (p = strstr(p, what)); p++)
        n++;
    return n;
}

/* A guest that moves its BAR over its RAM in a loop (about 1,800 lines a
 * minute before, issue 15): every refusal is counted, a burst of them is
 * logged, then one a period, and the first line after says what was left out.
 * A new bus (the partition restarted) does not buy a new burst. */
static void test_bar_refusals_are_rate_limited(void **state)
{
    (void)state;
    log_limit_reset();
    test_stubs_reset();
    make_bus();
    wr(1, 4, 2, PCI_CMD_MEM);
    for (int i = 0; i < 1000; i++)
        wr(1, 0x10, 4, 0x00100000);
    assert_int_equal(bus.stats.bar_refused, 1000);
    assert_int_equal(rd(1, 0x10, 4), (u32)WIN32);
    assert_int_equal(count_lines(" refused: "), LOG_LIMIT_BURST);
    assert_int_equal(count_lines("refused: over the partition's RAM"), LOG_LIMIT_BURST);
    struct log_limit_info in;
    log_limit_get(2, LOGR_BAR, &in);
    assert_int_equal(in.printed, LOG_LIMIT_BURST);
    assert_int_equal(in.suppressed, 1000 - LOG_LIMIT_BURST);

    /* Restarted: a fresh bus, the same partition, no fresh burst. */
    make_bus();
    wr(1, 4, 2, PCI_CMD_MEM);
    wr(1, 0x10, 4, 0xfee00000);
    assert_int_equal(count_lines(" refused: "), LOG_LIMIT_BURST);

    /* A period later one line gets through, carrying the count. */
    test_now_us += 60000000 / LOG_LIMIT_PER_MIN;
    wr(1, 0x10, 4, 0x00100000);
    assert_int_equal(count_lines(" refused: "), LOG_LIMIT_BURST + 1);
    assert_non_null(strstr(test_log_buf, "refused: over the partition's RAM or reserved system range "
                                         "(996 similar lines suppressed)\n"));
    log_limit_get(2, LOGR_BAR, &in);
    assert_int_equal(in.pending, 0);
    assert_int_equal(in.suppressed, 996);

    /* Another partition's bus, and this one's other reasons, are not held. */
    vpci_init(&bus, &ops, "other", 3, 1ULL << 40);
    assert_int_equal(vpci_forbid(&bus, 0, RAM_END), 0);
    u64 n32 = WIN32, n64 = WIN64;
    char err[160];
    assert_int_equal(vpci_add(&bus, &dev, &n32, WIN32_END, &n64, err, sizeof(err)), 0);
    wr(1, 4, 2, PCI_CMD_MEM);
    wr(1, 0x10, 4, 0x00100000);
    assert_int_equal(count_lines(" refused: "), LOG_LIMIT_BURST + 2);
    assert_non_null(strstr(test_log_buf, "other: BAR 0"));
}

static void test_io_bar_stays_at_host_ports(void **state)
{
    (void)state;
    make_bus();
    assert_false(vpci_io_passthrough(&bus, HOST_BAR2, 4));
    wr(1, 4, 2, PCI_CMD_IO);
    assert_true(vpci_io_passthrough(&bus, HOST_BAR2, 4));
    assert_true(vpci_io_passthrough(&bus, HOST_BAR2 + 28, 4));
    assert_false(vpci_io_passthrough(&bus, HOST_BAR2 + 30, 4));
    assert_false(vpci_io_passthrough(&bus, HOST_BAR2 - 1, 1));
    wr(1, 0x18, 4, 0x1000);
    assert_int_equal(rd(1, 0x18, 4), HOST_BAR2 | 1);
    wr(1, 4, 2, 0);
    wr(1, 0x18, 4, 0x1000);
    wr(1, 4, 2, PCI_CMD_IO);
    assert_int_equal(rd(1, 4, 2), 0);
    assert_false(vpci_io_passthrough(&bus, 0x1000, 1));
}

static void test_msi_goes_to_the_owner(void **state)
{
    (void)state;
    make_bus();
    /* vCPU 1, vector 0x45, fixed. */
    wr(1, CAP_MSI + 4, 4, MSI_ADDR_BASE | 1u << MSI_ADDR_DEST_SHIFT);
    wr(1, CAP_MSI + 8, 4, 0);
    wr(1, CAP_MSI + 12, 2, 0x45);
    assert_int_equal(bus.stats.msi_routed, 0);
    wr(1, CAP_MSI + 2, 2, MSI_CTRL_ENABLE | MSI_CTRL_MME_MASK);
    assert_int_equal(bus.stats.msi_routed, 1);
    assert_int_equal(rd(1, CAP_MSI + 2, 2), MSI_CTRL_ENABLE | MSI_CTRL_64BIT);
    assert_int_equal(rd(1, CAP_MSI + 4, 4), MSI_ADDR_BASE | 1u << MSI_ADDR_DEST_SHIFT);
    assert_int_equal(rd(1, CAP_MSI + 12, 2), 0x45);
    /* The hardware holds the host CPU and vector, one message. */
    assert_int_equal(cfg[CAP_MSI / 4 + 1], MSI_ADDR_BASE | 6u << MSI_ADDR_DEST_SHIFT);
    assert_int_equal(cfg[CAP_MSI / 4 + 2], 0);
    assert_int_equal(cfg[CAP_MSI / 4 + 3], 0x45);
    assert_int_equal((cfg[CAP_MSI / 4] >> 16) & (MSI_CTRL_ENABLE | MSI_CTRL_MME_MASK), MSI_CTRL_ENABLE);
    /* Retargeted at a vCPU it does not have: disabled, released, counted. */
    wr(1, CAP_MSI + 4, 4, MSI_ADDR_BASE | 7u << MSI_ADDR_DEST_SHIFT);
    assert_int_equal(bus.stats.msi_refused, 1);
    assert_int_equal(nreleases, 1);
    assert_false((cfg[CAP_MSI / 4] >> 16) & MSI_CTRL_ENABLE);
    /* An NMI delivery mode is refused as well. */
    wr(1, CAP_MSI + 4, 4, MSI_ADDR_BASE);
    assert_int_equal(bus.stats.msi_routed, 2);
    wr(1, CAP_MSI + 12, 2, 0x400 | 0x45);
    assert_int_equal(bus.stats.msi_refused, 2);
    assert_false((cfg[CAP_MSI / 4] >> 16) & MSI_CTRL_ENABLE);
    /* Guest disables: nothing more to release. */
    wr(1, CAP_MSI + 2, 2, 0);
    assert_int_equal(nreleases, 2);
}

/* ---- MSI-X ---- */

#define TAB (WIN32 + 0x20000) /* where the guest finds BAR3, and so the table */

static u64 mr(u64 g, u8 size)
{
    u64 v = 0;
    assert_true(vpci_mmio(&bus, g, size, false, &v));
    return v;
}

static void mw(u64 g, u8 size, u64 v) { assert_true(vpci_mmio(&bus, g, size, true, &v)); }

/* The guest's entry k, written a dword at a time as Linux does. */
static void guest_entry(u64 tab, u32 k, u32 dest, u32 data, bool masked)
{
    u64 e = tab + k * MSIX_ENTRY_SIZE;
    mw(e + MSIX_ENTRY_ADDR_LO, 4, MSI_ADDR_BASE | dest << MSI_ADDR_DEST_SHIFT);
    mw(e + MSIX_ENTRY_ADDR_HI, 4, 0);
    mw(e + MSIX_ENTRY_DATA, 4, data);
    mw(e + MSIX_ENTRY_CTRL, 4, masked ? MSIX_ENTRY_MASKED : 0);
}

static void test_msix_entries_are_routed(void **state)
{
    (void)state;
    make_bus();
    wr(1, 4, 2, PCI_CMD_MEM | PCI_CMD_MASTER);
    /* Entry 1 to vCPU 1, vector 0x46, unmasked while MSI-X is off: kept in
     * the shadow, nothing routed, the device's entry untouched and masked. */
    guest_entry(TAB, 1, 1, 0x46, false);
    assert_int_equal(nroutes, 0);
    assert_true(hw_masked(1));
    assert_int_equal(hw_entry(1, MSIX_ENTRY_ADDR_LO), 0xfee0f000u);
    assert_int_equal(mr(TAB + 16, 4), MSI_ADDR_BASE | 1u << MSI_ADDR_DEST_SHIFT);
    assert_int_equal(mr(TAB + 16 + 8, 8), 0x46); /* data, then vector control 0 */
    assert_int_equal(mr(TAB + 12, 4), MSIX_ENTRY_MASKED);

    /* Enabled with the function masked (Linux's way), then unmasked. */
    wr(1, CAP_MSIX + 2, 2, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
    assert_int_equal(nroutes, 0);
    assert_int_equal(hw_msix_ctrl() & (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL), MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
    wr(1, CAP_MSIX + 2, 2, MSIX_CTRL_ENABLE);
    assert_int_equal(rd(1, CAP_MSIX + 2, 2), MSIX_CTRL_ENABLE | (MSIX_N - 1));
    assert_int_equal(hw_msix_ctrl() & (MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL), MSIX_CTRL_ENABLE);
    assert_int_equal(bus.stats.msix_routed, 1);
    assert_int_equal(last_route, vpci_msix_route(1, 1));
    assert_int_equal(hw_entry(1, MSIX_ENTRY_ADDR_LO), MSI_ADDR_BASE | 6u << MSI_ADDR_DEST_SHIFT);
    assert_int_equal(hw_entry(1, MSIX_ENTRY_ADDR_HI), 0);
    assert_int_equal(hw_entry(1, MSIX_ENTRY_DATA), 0x46);
    assert_false(hw_masked(1));
    assert_true(hw_masked(0));
    assert_true(hw_masked(2));
    /* The guest still reads its own message. */
    assert_int_equal(mr(TAB + 16, 4), MSI_ADDR_BASE | 1u << MSI_ADDR_DEST_SHIFT);

    /* Entry 0 in two 8-byte writes: vCPU 0, vector 0x41, unmasked. */
    mw(TAB, 8, MSI_ADDR_BASE);
    assert_int_equal(bus.stats.msix_routed, 1); /* still masked */
    mw(TAB + 8, 8, 0x41);
    assert_int_equal(bus.stats.msix_routed, 2);
    assert_int_equal(last_route, vpci_msix_route(1, 0));
    assert_int_equal(hw_entry(0, MSIX_ENTRY_ADDR_LO), MSI_ADDR_BASE | 4u << MSI_ADDR_DEST_SHIFT);
    assert_int_equal(hw_entry(0, MSIX_ENTRY_DATA), 0x41);
    assert_false(hw_masked(0));
    assert_int_equal(mr(TAB, 8), MSI_ADDR_BASE);

    /* Masking an entry masks the device's and gives its route back;
     * unmasking routes it again. */
    mw(TAB + 16 + 12, 4, MSIX_ENTRY_MASKED | 0xfffe0000u); /* reserved bits read 0 */
    assert_true(hw_masked(1));
    assert_int_equal(nreleases, 1);
    assert_int_equal(last_release, vpci_msix_route(1, 1));
    assert_int_equal(mr(TAB + 16 + 12, 4), MSIX_ENTRY_MASKED);
    mw(TAB + 16 + 12, 4, 0);
    assert_false(hw_masked(1));
    assert_int_equal(bus.stats.msix_routed, 3);
    /* A new vector while it is live: routed again, the device's entry
     * masked while it changes; the same value again changes nothing. */
    mw(TAB + 16 + 8, 4, 0x47);
    assert_int_equal(bus.stats.msix_routed, 4);
    assert_int_equal(nreleases, 2);
    assert_int_equal(hw_entry(1, MSIX_ENTRY_DATA), 0x47);
    assert_false(hw_masked(1));
    mw(TAB + 16 + 8, 4, 0x47);
    assert_int_equal(bus.stats.msix_routed, 4);

    /* The function masked: both entries masked and released; unmasked: both
     * routed again. */
    wr(1, CAP_MSIX + 2, 2, MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL);
    assert_true(hw_masked(0));
    assert_true(hw_masked(1));
    assert_int_equal(nreleases, 4);
    assert_true(hw_msix_ctrl() & MSIX_CTRL_MASKALL);
    wr(1, CAP_MSIX + 2, 2, MSIX_CTRL_ENABLE);
    assert_int_equal(bus.stats.msix_routed, 6);
    assert_false(hw_masked(0));
    /* Disabled with memory decoding already off: the device's MSI-X goes off
     * and its entries are masked all the same. */
    wr(1, 4, 2, PCI_CMD_MASTER);
    wr(1, CAP_MSIX + 2, 2, 0);
    assert_false(hw_msix_ctrl() & MSIX_CTRL_ENABLE);
    assert_true(hw_masked(0));
    assert_true(hw_masked(1));
    assert_int_equal(nreleases, 6);
    assert_int_equal(lost_accesses, 0);
    assert_int_equal(cfg[1] & 0xffff, PCI_CMD_MASTER | PCI_CMD_INTX_OFF);
    assert_int_equal(bus.stats.msix_refused, 0);
}

/* An entry naming no vCPU of the partition stays masked in the device, is
 * counted and logged once; it is tried again when it changes. */
static void test_msix_refused_entry(void **state)
{
    (void)state;
    msix_enabled_bus();
    guest_entry(TAB, 0, 7, 0x45, false);
    assert_int_equal(bus.stats.msix_refused, 1);
    assert_int_equal(bus.stats.msix_routed, 0);
    assert_true(hw_masked(0));
    assert_int_equal(hw_entry(0, MSIX_ENTRY_ADDR_LO), 0xfee0f000u);
    assert_int_equal(count_lines("MSI-X entry 0 of 00:01.0 (address 0xfee07000, data 0x45) names no vCPU"), 1);
    /* Other entries come and go: entry 0 is not tried (nor logged) again. */
    guest_entry(TAB, 1, 0, 0x42, false);
    guest_entry(TAB, 1, 0, 0x43, false);
    mw(TAB + 12, 4, 0); /* unmasked again, unchanged */
    assert_int_equal(bus.stats.msix_refused, 1);
    assert_int_equal(bus.stats.msix_routed, 2);
    assert_int_equal(count_lines("names no vCPU"), 1);
    /* An NMI is refused as well. */
    mw(TAB + 8, 4, 0x400 | 0x45);
    assert_int_equal(bus.stats.msix_refused, 2);
    /* Put right: routed and unmasked. */
    mw(TAB, 4, MSI_ADDR_BASE | 1u << MSI_ADDR_DEST_SHIFT);
    mw(TAB + 8, 4, 0x45);
    assert_int_equal(bus.stats.msix_refused, 3); /* the address alone, still NMI */
    assert_int_equal(bus.stats.msix_routed, 3);
    assert_false(hw_masked(0));
    assert_int_equal(hw_entry(0, MSIX_ENTRY_ADDR_LO), MSI_ADDR_BASE | 6u << MSI_ADDR_DEST_SHIFT);
}

/* Only aligned 4- and 8-byte accesses reach the table; the rest are dropped
 * (reads all-ones), counted, logged within the partition's limit. */
static void test_msix_bad_accesses(void **state)
{
    (void)state;
    msix_enabled_bus();
    guest_entry(TAB, 0, 0, 0x41, true);
    mw(TAB + 8, 2, 0x55);                          /* 2 bytes */
    mw(TAB + 13, 1, 0);                            /* a byte of vector control */
    assert_int_equal(mr(TAB + 2, 4), 0xffffffffu); /* unaligned */
    assert_int_equal(mr(TAB + 4, 8), ~0ULL);       /* unaligned 8 */
    assert_int_equal(mr(TAB + 12, 1), 0xff);
    assert_int_equal(bus.stats.msix_bad, 5);
    assert_int_equal(mr(TAB + 8, 4), 0x41);
    assert_int_equal(mr(TAB + 12, 4), MSIX_ENTRY_MASKED);
    assert_int_equal(bus.stats.msix_routed, 0);
    assert_int_equal(count_lines("(its MSI-X table page) dropped"), LOG_LIMIT_BURST);
    assert_non_null(strstr(test_log_buf, "2-byte write at offset 0x8 of BAR 3 of 00:01.0"));
    for (int i = 0; i < 100; i++)
        mw(TAB + 1, 4, 0);
    assert_int_equal(bus.stats.msix_bad, 105);
    assert_int_equal(count_lines("(its MSI-X table page) dropped"), LOG_LIMIT_BURST);
    /* Past the table in its page: what the device has there. */
    bar3[0x100 / 4] = 0x1234;
    assert_int_equal(mr(TAB + 0x100, 4), 0x1234);
}

/* A PBA in the table's page is read from the device; writes are dropped. */
static void test_msix_pba_in_the_table_page(void **state)
{
    (void)state;
    fake_reset();
    cfg[CAP_MSIX / 4 + 2] = 0x800 | 3;
    add_dev();
    wr(1, 4, 2, PCI_CMD_MEM);
    bar3[0x800 / 4] = 0x5;
    assert_int_equal(mr(TAB + 0x800, 4), 0x5);
    assert_int_equal(mr(TAB + 0x800, 8), 0x5);
    mw(TAB + 0x800, 4, 0);
    assert_int_equal(bar3[0x800 / 4], 0x5);
    assert_int_equal(bus.stats.msix_bad, 1);
}

/* The trapped page follows BAR3 wherever the guest moves it (in the 32-bit
 * window and above 4 GiB); the rest of the BAR is mapped around it. */
static void test_msix_trap_follows_the_bar(void **state)
{
    (void)state;
    make_bus();
    assert_int_equal(vpci_trapped(&bus, TAB), VPCI_TRAP_NONE); /* not decoding */
    wr(1, 4, 2, PCI_CMD_MEM);
    assert_int_equal(vpci_trapped(&bus, TAB), VPCI_TRAP_MSIX);
    assert_int_equal(vpci_trapped(&bus, TAB + 0xfff), VPCI_TRAP_MSIX);
    assert_int_equal(vpci_trapped(&bus, TAB + 0x1000), VPCI_TRAP_NONE);
    assert_int_equal(vpci_trapped(&bus, WIN32), VPCI_TRAP_NONE);
    u64 v = 0;
    assert_false(vpci_mmio(&bus, TAB + 0x1000, 4, false, &v));
    wr(1, CAP_MSIX + 2, 2, MSIX_CTRL_ENABLE);
    guest_entry(TAB, 0, 1, 0x41, false);
    assert_false(hw_masked(0));

    /* Moved while decoding: the old page is free, the new one traps, the
     * shadow table and the live entry go with it. */
    wr(1, 0x1c, 4, 0xd0000000);
    assert_int_equal(rd(1, 0x1c, 4), 0xd0000000 | PCI_BAR_MEM_64);
    assert_int_equal(nmaps, 2);
    assert_int_equal(maps[1].g, 0xd0001000);
    assert_int_equal(maps[1].h, HOST_BAR3 + 0x1000);
    assert_int_equal(maps[1].len, 0x3000);
    assert_int_equal(vpci_trapped(&bus, TAB), VPCI_TRAP_NONE);
    assert_int_equal(vpci_trapped(&bus, 0xd0000000), VPCI_TRAP_MSIX);
    assert_int_equal(mr(0xd0000000 + 8, 4), 0x41);
    assert_false(hw_masked(0));
    mw(0xd0000000 + 12, 4, MSIX_ENTRY_MASKED);
    assert_true(hw_masked(0));

    /* Above 4 GiB (moved with decoding off, as Linux moves BARs). */
    wr(1, 4, 2, 0);
    assert_int_equal(nmaps, 0);
    assert_int_equal(vpci_trapped(&bus, 0xd0000000), VPCI_TRAP_NONE);
    wr(1, 0x1c, 4, 0);
    wr(1, 0x20, 4, 0x10);
    wr(1, 4, 2, PCI_CMD_MEM);
    assert_int_equal(nmaps, 2);
    assert_int_equal(maps[1].g, 0x1000001000ULL);
    assert_int_equal(vpci_trapped(&bus, 0x1000000000ULL), VPCI_TRAP_MSIX);
    assert_int_equal(vpci_trapped(&bus, 0x1000001000ULL), VPCI_TRAP_NONE);
    assert_int_equal(mr(0x1000000000ULL + 8, 4), 0x41);
}

/* More entries than a guest may use: the rest read masked and stay so. */
static void test_msix_entries_past_the_cap(void **state)
{
    (void)state;
    log_limit_reset();
    test_stubs_reset();
    fake_reset();
    cfg[CAP_MSIX / 4] = PCI_CAP_MSIX | (u32)(VPCI_MSIX_MAX * 2 - 1) << 16;
    add_dev();
    assert_non_null(strstr(test_log_buf, "00:01.0 has 64 MSI-X entries; its guest can use the first 32, the others "
                                         "stay masked"));
    assert_int_equal(rd(1, CAP_MSIX + 2, 2), VPCI_MSIX_MAX * 2 - 1);
    for (u32 k = 0; k < VPCI_MSIX_MAX * 2; k++)
        assert_true(hw_masked(k));
    wr(1, 4, 2, PCI_CMD_MEM);
    wr(1, CAP_MSIX + 2, 2, MSIX_CTRL_ENABLE);
    u64 dropped = bus.stats.writes_dropped;
    guest_entry(TAB, 40, 0, 0x41, false);
    assert_int_equal(bus.stats.writes_dropped, dropped + 4);
    assert_int_equal(mr(TAB + 40 * 16 + 12, 4), MSIX_ENTRY_MASKED);
    assert_int_equal(mr(TAB + 40 * 16 + 8, 4), 0);
    assert_true(hw_masked(40));
    assert_int_equal(nroutes, 0);
    guest_entry(TAB, 31, 0, 0x41, false);
    assert_int_equal(last_route, vpci_msix_route(1, 31));
    assert_false(hw_masked(31));
}

static void test_dropped_and_passed_writes(void **state)
{
    (void)state;
    make_bus();
    u64 before = bus.stats.writes_dropped;
    int w = writes;
    wr(1, 0, 4, 0x12345678);    /* IDs */
    wr(1, 0x30, 4, 0xfffff800); /* ROM */
    wr(1, 0x90, 4, 0xdeadbeef); /* device-specific */
    wr(0, 0x04, 2, 7);          /* the host bridge */
    assert_int_equal(bus.stats.writes_dropped, before + 4);
    assert_int_equal(writes, w);
    assert_int_equal(cfg[0x90 / 4], 0);
    /* PCIe device control passes; the RW1C status bit set in the device is
     * not cleared by writing control alone. */
    wr(1, CAP_PCIE + 8, 2, 0x2810);
    assert_int_equal(cfg[(CAP_PCIE + 8) / 4], 0x00042810);
    /* Writing the status half clears what the guest asks. */
    wr(1, CAP_PCIE + 10, 2, 0x0004);
    assert_int_equal(cfg[(CAP_PCIE + 8) / 4], 0x2810);
    /* Interrupt line is the guest's own scratch byte. */
    wr(1, 0x3c, 1, 5);
    assert_int_equal(rd(1, 0x3c, 1), 5);
    assert_int_equal(cfg[15] & 0xff, 0x0b);
}

/* What every enumeration does, Linux's included: all-ones into each BAR and
 * the ROM BAR to size them, and the type-1 probe's byte at 0xCFB. Unimplemented
 * registers read zero, the writes are counted, and none of it is a warning;
 * a write that changes nothing a driver could expect still is. */
static void test_enumeration_probes_are_quiet(void **state)
{
    (void)state;
    log_limit_reset();
    test_stubs_reset();
    make_bus();
    u64 before = bus.stats.writes_dropped;
    for (u16 off = PCI_BAR0; off < PCI_BAR0 + 4 * PCI_NUM_BARS; off += 4)
        wr(1, off, 4, 0xffffffff);
    assert_int_equal(rd(1, PCI_BAR0 + 4, 4), 0); /* BAR1: not implemented */
    assert_int_equal(rd(1, PCI_BAR0 + 20, 4), 0);
    wr(1, PCI_ROM_BAR, 4, 0xfffff800);
    assert_int_equal(rd(1, PCI_ROM_BAR, 4), 0);
    assert_int_equal(bus.stats.writes_dropped, before + 3); /* BAR1, BAR5, ROM */

    u32 a = VPCI_CF8_ENABLE | 1u << 11;
    assert_true(vpci_port(&bus, VPCI_PORT_ADDR, 4, false, &a));
    u32 b = 1;
    assert_true(vpci_port(&bus, VPCI_PORT_ADDR + 3, 1, false, &b));
    assert_true(vpci_port(&bus, VPCI_PORT_ADDR + 2, 1, true, &b));
    assert_int_equal(b, 0xff);
    assert_true(vpci_port(&bus, VPCI_PORT_ADDR, 4, true, &b));
    assert_int_equal(b, a); /* CONFIG_ADDRESS kept */
    assert_null(strstr(test_log_buf, "dropped"));

    wr(1, 0, 4, 0x12345678); /* IDs: read-only, and a driver writing them is confused */
    assert_int_equal(count_lines("dropped (read-only"), 1);
}

static void test_quiesce(void **state)
{
    (void)state;
    make_bus();
    wr(1, 4, 2, PCI_CMD_MEM | PCI_CMD_MASTER | PCI_CMD_IO);
    wr(1, CAP_MSI + 4, 4, MSI_ADDR_BASE);
    wr(1, CAP_MSI + 2, 2, MSI_CTRL_ENABLE);
    wr(1, CAP_MSIX + 2, 2, MSIX_CTRL_ENABLE);
    guest_entry(TAB, 2, 1, 0x42, false);
    assert_false(hw_masked(2));
    assert_int_equal(nmaps, 2);
    vpci_quiesce(&bus);
    assert_int_equal(nmaps, 0);
    assert_int_equal(nreleases, 2);
    assert_int_equal(cfg[1] & 0xffff, PCI_CMD_INTX_OFF);
    assert_false((cfg[CAP_MSI / 4] >> 16) & MSI_CTRL_ENABLE);
    assert_false(vpci_io_passthrough(&bus, HOST_BAR2, 1));
    /* MSI-X off and masked in the device, its entry masked although decoding
     * was already off, the guest's view off; nothing traps any more. */
    assert_false(hw_msix_ctrl() & MSIX_CTRL_ENABLE);
    assert_true(hw_msix_ctrl() & MSIX_CTRL_MASKALL);
    assert_true(hw_masked(2));
    assert_int_equal(lost_accesses, 0);
    assert_int_equal(rd(1, CAP_MSIX + 2, 2), MSIX_N - 1);
    assert_int_equal(vpci_trapped(&bus, TAB), VPCI_TRAP_NONE);
    vpci_quiesce(&bus); /* idempotent */
    assert_int_equal(nreleases, 2);
}

static void test_unassignable_devices(void **state)
{
    (void)state;
    char err[160];
    u64 n32 = WIN32, n64 = WIN64;
    /* A bridge. */
    fake_reset();
    memset(&dev, 0, sizeof(dev));
    dev.bus = 0x81;
    dev.header_type = 1;
    vpci_init(&bus, &ops, "p", 2, 1ULL << 40);
    assert_true(vpci_add(&bus, &dev, &n32, WIN32_END, &n64, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "bridges"));
    /* A 256-byte BAR shares its page with whatever follows. */
    dev.header_type = 0;
    dev.bars_probed = true;
    dev.bar[0] = (struct pci_bar){ 0xfe801000, 0x100, PCI_BAR_MEM32, false };
    assert_true(vpci_add(&bus, &dev, &n32, WIN32_END, &n64, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "smaller than a page"));
    /* A BAR the firmware left without an address. */
    dev.bar[0] = (struct pci_bar){ 0, 0x1000, PCI_BAR_MEM32, false };
    assert_true(vpci_add(&bus, &dev, &n32, WIN32_END, &n64, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "no address"));
    /* A 32-bit BAR bigger than the window. */
    dev.bar[0] = (struct pci_bar){ 0x80000000, 0x80000000, PCI_BAR_MEM32, false };
    assert_true(vpci_add(&bus, &dev, &n32, WIN32_END, &n64, err, sizeof(err)) < 0);
    assert_non_null(strstr(err, "does not fit"));
    /* A full bus. */
    dev.bar[0] = (struct pci_bar){ 0xfe800000, 0x1000, PCI_BAR_MEM32, false };
    for (int i = 0; i < VPCI_MAX_DEVS; i++)
        assert_int_equal(vpci_add(&bus, &dev, &n32, WIN32_END, &n64, err, sizeof(err)), 0);
    assert_true(vpci_add(&bus, &dev, &n32, WIN32_END, &n64, err, sizeof(err)) < 0);
}

static void test_probe_bars(void **state)
{
    (void)state;
    fake_reset();
    struct pci_dev d = { .bus = 0x81 };
    assert_int_equal(pci_probe_bars(&host, &d), 0);
    assert_int_equal(d.bar[0].kind, PCI_BAR_MEM32);
    assert_int_equal(d.bar[0].base, HOST_BAR0);
    assert_int_equal(d.bar[0].size, 0x20000);
    assert_int_equal(d.bar[1].kind, PCI_BAR_NONE);
    assert_int_equal(d.bar[2].kind, PCI_BAR_KIND_IO);
    assert_int_equal(d.bar[2].base, HOST_BAR2);
    assert_int_equal(d.bar[2].size, 32);
    assert_int_equal(d.bar[3].kind, PCI_BAR_MEM64);
    assert_int_equal(d.bar[3].base, HOST_BAR3);
    assert_int_equal(d.bar[3].size, 0x4000);
    assert_int_equal(d.bar[4].kind, PCI_BAR_NONE);
    /* Everything restored, decoding included. */
    assert_int_equal(cfg[4], (u32)HOST_BAR0);
    assert_int_equal(cfg[8], (u32)(HOST_BAR3 >> 32));
    assert_int_equal(cfg[1] & 0xffff, PCI_CMD_MEM | PCI_CMD_MASTER);
    assert_int_equal(pci_find_cap(&host, &d, PCI_CAP_MSIX), CAP_MSIX);
    assert_int_equal(pci_find_cap(&host, &d, 0x13), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bus_contents),
        cmocka_unit_test(test_capability_list_shows_msix),
        cmocka_unit_test(test_msix_hidden_when_untrappable),
        cmocka_unit_test(test_capability_loop_is_bounded),
        cmocka_unit_test(test_bar_placement_and_sizing),
        cmocka_unit_test(test_memory_enable_maps_bars),
        cmocka_unit_test(test_bar_moves_over_ram_are_refused),
        cmocka_unit_test(test_bar_refusals_are_rate_limited),
        cmocka_unit_test(test_io_bar_stays_at_host_ports),
        cmocka_unit_test(test_msi_goes_to_the_owner),
        cmocka_unit_test(test_msix_entries_are_routed),
        cmocka_unit_test(test_msix_refused_entry),
        cmocka_unit_test(test_msix_bad_accesses),
        cmocka_unit_test(test_msix_pba_in_the_table_page),
        cmocka_unit_test(test_msix_trap_follows_the_bar),
        cmocka_unit_test(test_msix_entries_past_the_cap),
        cmocka_unit_test(test_dropped_and_passed_writes),
        cmocka_unit_test(test_enumeration_probes_are_quiet),
        cmocka_unit_test(test_quiesce),
        cmocka_unit_test(test_unassignable_devices),
        cmocka_unit_test(test_probe_bars),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
