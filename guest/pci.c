/* The pci scenario: what the partition's PCI bus shows through configuration
 * mechanism #1, and, for each device found, that its memory BAR answers where
 * the guest put it, that moving it over RAM is refused, that it can be moved
 * elsewhere, and (Intel 82574 / e1000e) that an MSI the device raises arrives
 * at this vCPU with the vector the guest chose. Then it ticks. */
#include "guest/pci.h"
#include "guest/tg.h"
#include "guest/x86.h"

#define CF8 0xcf8
#define CFC 0xcfc
#define PCI_STATUS_CAPS (1u << 20)    /* status bit 4, in the command/status dword */
#define PCI_CAP_PTR 0x34

/* e1000/e1000e registers (Intel 8254x/82574 manuals, 13.3/10.2). */
#define E1000_STATUS 0x0008
#define E1000_ICR 0x00c0
#define E1000_ICS 0x00c8
#define E1000_IMS 0x00d0
#define E1000_IMC 0x00d8
/* Transmit descriptor written back: a cause the device never raises by itself
 * here (the scenario sends nothing), unlike link status change, which QEMU's
 * e1000e raises when the link comes up after a reset. Set through ICS only. */
#define E1000_INT_TXDW (1u << 0)

volatile uint32_t msi_count;

/* The address port is one per bus, shared by the vCPUs: a pair of accesses
 * runs under a lock (the abuse scenario's two vCPUs both use it). */
static volatile uint32_t cfg_lock;
void pci_lock(void)
{
    while (__atomic_exchange_n(&cfg_lock, 1, __ATOMIC_ACQUIRE))
        pause();
}
void pci_unlock(void) { __atomic_store_n(&cfg_lock, 0, __ATOMIC_RELEASE); }

uint32_t pci_cfg_read(unsigned dev, unsigned off)
{
    pci_lock();
    outl(CF8, 0x80000000u | dev << 11 | (off & 0xfc));
    uint32_t v = inl(CFC);
    pci_unlock();
    return v;
}

void pci_cfg_write(unsigned dev, unsigned off, uint32_t v)
{
    pci_lock();
    outl(CF8, 0x80000000u | dev << 11 | (off & 0xfc));
    outl(CFC, v);
    pci_unlock();
}

static uint32_t cfg_address(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    return 0x80000000u | (bus & 0xff) << 16 | (dev & 0x1f) << 11 | (fn & 7) << 8 | (off & 0xfc);
}

uint32_t pci_cfg_read_bdf(unsigned bus, unsigned dev, unsigned fn, unsigned off)
{
    pci_lock();
    outl(CF8, cfg_address(bus, dev, fn, off));
    uint32_t v = inl(CFC);
    pci_unlock();
    return v;
}

void pci_cfg_write_bdf(unsigned bus, unsigned dev, unsigned fn, unsigned off, uint32_t v)
{
    pci_lock();
    outl(CF8, cfg_address(bus, dev, fn, off));
    outl(CFC, v);
    pci_unlock();
}

void pci_cfg_write16(unsigned dev, unsigned off, uint16_t v)
{
    uint32_t d = pci_cfg_read(dev, off);
    d = (off & 2) ? (d & 0xffff) | (uint32_t)v << 16 : (d & 0xffff0000u) | v;
    pci_cfg_write(dev, off, d);
}

/* Capabilities live above the 64-byte header; anything lower ends the list. */
static unsigned cap_ptr(uint32_t v) { return (v & 0xfc) >= 0x40 ? v & 0xfc : 0; }

unsigned pci_cap_first(unsigned dev)
{
    if (!(pci_cfg_read(dev, 4) & PCI_STATUS_CAPS))
        return 0;
    return cap_ptr(pci_cfg_read(dev, PCI_CAP_PTR));
}

unsigned pci_cap_next(unsigned dev, unsigned at) { return cap_ptr(pci_cfg_read(dev, at) >> 8); }

static unsigned find_cap(unsigned dev, uint8_t id, char *list, size_t n)
{
    unsigned found = 0, len = 0;
    list[0] = 0;
    unsigned at = pci_cap_first(dev);
    for (int k = 0; at && k < PCI_MAX_CAPS; k++, at = pci_cap_next(dev, at)) {
        uint32_t h = pci_cfg_read(dev, at);
        if (len + 4 < n)
            len += (unsigned)tg_snprintf(list + len, n - len, " %02x", h & 0xff);
        if ((h & 0xff) == id && !found)
            found = at;
    }
    return found;
}

/* BAR0 when it is a memory BAR: its guest address and size (sized with
 * decoding off, then restored). */
static bool bar0(unsigned dev, uint64_t *addr, uint64_t *size)
{
    uint32_t orig = pci_cfg_read(dev, 0x10);
    if (orig & 1)
        return false;
    bool is64 = (orig & 6) == 4;
    uint32_t hi = is64 ? pci_cfg_read(dev, 0x14) : 0;
    pci_cfg_write(dev, 0x10, 0xffffffffu);
    uint32_t mask = pci_cfg_read(dev, 0x10) & ~0xfu;
    pci_cfg_write(dev, 0x10, orig);
    if (!mask)
        return false;
    *addr = (orig & ~0xfull) | (uint64_t)hi << 32;
    *size = (uint64_t)(~mask + 1);
    return true;
}

static bool wait_msi(uint32_t want)
{
    uint64_t until = tsc_after_ms(1000);
    while (msi_count < want && !tsc_passed(until))
        pause();
    return msi_count >= want;
}

static void msi_test(unsigned dev, unsigned cap, uint64_t regs)
{
    uint32_t ctrl = pci_cfg_read(dev, cap) >> 16;
    bool is64 = ctrl & 0x80;
    pci_cfg_write(dev, cap + 4, 0xfee00000u | apic_id() << 12);
    if (is64)
        pci_cfg_write(dev, cap + 8, 0);
    pci_cfg_write16(dev, cap + (is64 ? 12 : 8), VEC_MSI);
    pci_cfg_write16(dev, cap + 2, (uint16_t)(ctrl | 1));
    say("pci: 00:%02x.0 MSI enabled: vector 0x%x to APIC ID %u (control 0x%x)", dev, VEC_MSI, apic_id(),
        pci_cfg_read(dev, cap) >> 16);
    mmio_write32(regs + E1000_IMC, 0xffffffffu);
    (void)mmio_read32(regs + E1000_ICR);
    mmio_write32(regs + E1000_IMS, E1000_INT_TXDW);
    for (uint32_t i = 1; i <= 3; i++) {
        mmio_write32(regs + E1000_ICS, E1000_INT_TXDW);
        bool ok = wait_msi(i);
        (void)mmio_read32(regs + E1000_ICR);   /* clears the cause */
        if (!ok) {
            say("pci: 00:%02x.0 MSI %u did not arrive", dev, i);
            break;
        }
    }
    say("pci: 00:%02x.0 MSI received %u", dev, msi_count);
    mmio_write32(regs + E1000_IMC, 0xffffffffu);
    pci_cfg_write16(dev, cap + 2, (uint16_t)(ctrl & ~1u));
}

static void device_test(unsigned dev, uint32_t id)
{
    uint64_t addr, size;
    if (!bar0(dev, &addr, &size)) {
        say("pci: 00:%02x.0 has no memory BAR0", dev);
        return;
    }
    say("pci: 00:%02x.0 BAR0 memory at 0x%lx, %lu KiB", dev, addr, size / KiB);
    mem_map(addr, size);
    pci_cfg_write16(dev, 4, PCI_CMD_MEM | PCI_CMD_MASTER);
    bool e1000 = (id & 0xffff) == 0x8086;
    uint32_t status = mmio_read32(addr + E1000_STATUS);
    say("pci: 00:%02x.0 BAR0 register 0x8 reads 0x%x", dev, status);

    /* Over RAM: refused, the register keeps its place. */
    uint64_t ram = 0x200000;
    pci_cfg_write(dev, 0x10, (uint32_t)ram);
    uint32_t now = pci_cfg_read(dev, 0x10) & ~0xfu;
    say("pci: 00:%02x.0 BAR0 move over RAM at 0x%lx %s (BAR0 0x%x)", dev, ram,
        now == (uint32_t)addr ? "refused" : "ACCEPTED", now);
    /* Somewhere free: the device answers there. */
    uint64_t to = ALIGN_UP(addr + size + 64 * MiB, size);
    if (to + size <= 0xfec00000ull) {
        pci_cfg_write(dev, 0x10, (uint32_t)to);
        mem_map(to, size);
        uint32_t there = mmio_read32(to + E1000_STATUS);
        say("pci: 00:%02x.0 BAR0 moved to 0x%lx: register 0x8 reads 0x%x there (%s)", dev, to, there,
            there == status ? "same" : "different");
        pci_cfg_write(dev, 0x10, (uint32_t)addr);
    }
    char caps[64];
    unsigned msi = find_cap(dev, PCI_CAP_MSI, caps, sizeof(caps));
    say("pci: 00:%02x.0 capabilities:%s", dev, caps[0] ? caps : " none");
    if (e1000 && msi && (id >> 16) == 0x10d3)
        msi_test(dev, msi, addr);
    else
        say("pci: 00:%02x.0: no MSI test (%s)", dev, msi ? "not an 82574" : "no MSI capability");
    pci_cfg_write16(dev, 4, 0);
}

void scenario_pci(void)
{
    unsigned n = 0;
    uint32_t ids[32];
    for (unsigned dev = 0; dev < 32; dev++) {
        ids[dev] = pci_cfg_read(dev, 0);
        if ((ids[dev] & 0xffff) == 0xffff)
            continue;
        uint32_t cls = pci_cfg_read(dev, 8);
        uint8_t ht = (uint8_t)(pci_cfg_read(dev, 0xc) >> 16);
        say("pci: 00:%02x.0 %04x:%04x class %02x.%02x header %02x", dev, ids[dev] & 0xffff, ids[dev] >> 16,
            cls >> 24, (cls >> 16) & 0xff, ht);
        n++;
    }
    say("pci: %u function(s) on bus 0", n);
    sti();
    for (unsigned dev = 0; dev < 32; dev++)
        if ((ids[dev] & 0xffff) != 0xffff && (pci_cfg_read(dev, 8) >> 24) != 0x06)
            device_test(dev, ids[dev]);
    say("pci: done");
    tick_forever();
}
