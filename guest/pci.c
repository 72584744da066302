/* The pci scenario: what the partition's PCI bus shows through configuration
 * mechanism #1, and, for each device found, that its memory BAR answers where
 * the guest put it, that moving it over RAM is refused, that it can be moved
 * elsewhere, and (Intel 82574 / e1000e) that an MSI the device raises arrives
 * at this vCPU with the vector the guest chose, and then that interrupts
 * raised through MSI-X arrive on the vector of the entry the device picks.
 * Then it ticks. */
#include "guest/pci.h"
#include "guest/tg.h"
#include "guest/x86.h"
#include "net/virtio.h"         /* MSIX_ENTRY_*: the MSI-X table entry */

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
#define E1000_IVAR 0x00e4       /* 82574 10.2.4.9: cause -> MSI-X vector */
/* Transmit descriptor written back: a cause the device never raises by itself
 * here (the scenario sends nothing), unlike link status change, which QEMU's
 * e1000e raises when the link comes up after a reset. Set through ICS only. */
#define E1000_INT_TXDW (1u << 0)
/* With MSI-X the 82574 signals queue causes, each on the vector IVAR names
 * for it (a 4-bit field: vector in bits 2:0, bit 3 valid): receive queue 0
 * in bits 3:0, transmit queue 0 in bits 11:8. Set through ICS only, cleared
 * by writing them to ICR. */
#define E1000_INT_RXQ0 (1u << 20)
#define E1000_INT_TXQ0 (1u << 22)
#define E1000_IVAR_VALID 0x8u
#define E1000_IVAR_RXQ0_SHIFT 0
#define E1000_IVAR_TXQ0_SHIFT 8

volatile uint32_t msi_count;
volatile uint32_t msix_count[2];

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

static bool wait_count(volatile uint32_t *count, uint32_t want, uint64_t ms)
{
    uint64_t until = tsc_after_ms(ms);
    while (*count < want && !tsc_passed(until))
        pause();
    return *count >= want;
}

static bool wait_msi(uint32_t want) { return wait_count(&msi_count, want, 1000); }

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

/* Where memory BAR `bir` is, as its registers say (32- or 64-bit). */
static uint64_t bar_at(unsigned dev, unsigned bir)
{
    uint32_t lo = pci_cfg_read(dev, 0x10 + 4 * bir);
    uint64_t a = lo & ~0xfull;
    if ((lo & 6) == 4 && bir < 5)
        a |= (uint64_t)pci_cfg_read(dev, 0x14 + 4 * bir) << 32;
    return a;
}

/* MSI-X table entry k: this vCPU, vector vec, fixed and edge. */
static void msix_entry(uint64_t tab, unsigned k, uint8_t vec, bool masked)
{
    uint64_t e = tab + k * MSIX_ENTRY_SIZE;
    mmio_write32(e + MSIX_ENTRY_ADDR_LO, MSI_ADDR(apic_id()));
    mmio_write32(e + MSIX_ENTRY_ADDR_HI, 0);
    mmio_write32(e + MSIX_ENTRY_DATA, vec);
    mmio_write32(e + MSIX_ENTRY_CTRL, masked ? MSIX_ENTRY_MASKED : 0);
}

/* Raises `cause` through ICS until `rounds` interrupts have arrived on the
 * entry IVAR routes it to, clearing it in ICR after each. */
static bool msix_raise(unsigned dev, uint64_t regs, unsigned k, uint32_t cause, uint32_t round)
{
    mmio_write32(regs + E1000_ICS, cause);
    bool ok = wait_count(&msix_count[k], round, 1000);
    mmio_write32(regs + E1000_ICR, cause);
    if (!ok)
        say("pci: 00:%02x.0 MSI-X entry %u interrupt %u did not arrive", dev, k, round);
    return ok;
}

/* Linux's order: enabled with the function masked, entries 0 and 1 written
 * and unmasked, the function unmasked. The e1000e then routes receive queue 0
 * to entry 0 and transmit queue 0 to entry 1; three of each are raised. Then
 * entry 1 is masked while its cause is raised (the device holds it in the
 * PBA) and unmasked (the device sends it then). MSI-X is left enabled, its
 * causes masked in the device, so the hypervisor shows its routes. */
static void msix_test(unsigned dev, unsigned cap, uint64_t regs)
{
    uint32_t ctrl = pci_cfg_read(dev, cap) >> 16;
    unsigned n = (ctrl & MSIX_TSIZE_MASK) + 1;
    uint32_t t = pci_cfg_read(dev, cap + 4), p = pci_cfg_read(dev, cap + 8);
    uint64_t tab = bar_at(dev, t & MSIX_BIR_MASK) + (t & ~MSIX_BIR_MASK);
    uint64_t pba = bar_at(dev, p & MSIX_BIR_MASK) + (p & ~MSIX_BIR_MASK);
    mem_map(tab, n * MSIX_ENTRY_SIZE);
    mem_map(pba, 8);
    say("pci: 00:%02x.0 MSI-X: %u entries, table BAR%u+0x%x, PBA BAR%u+0x%x", dev, n, t & MSIX_BIR_MASK,
        t & ~MSIX_BIR_MASK, p & MSIX_BIR_MASK, p & ~MSIX_BIR_MASK);
    if (n < 2) {
        say("pci: 00:%02x.0: no MSI-X test (fewer than 2 entries)", dev);
        return;
    }
    pci_cfg_write16(dev, cap + 2, (uint16_t)(ctrl | MSIX_CTRL_ENABLE | MSIX_CTRL_MASKALL));
    msix_entry(tab, 0, VEC_MSIX0, false);
    msix_entry(tab, 1, VEC_MSIX1, false);
    pci_cfg_write16(dev, cap + 2, (uint16_t)((ctrl | MSIX_CTRL_ENABLE) & ~MSIX_CTRL_MASKALL));
    say("pci: 00:%02x.0 MSI-X enabled: entry 0 vector 0x%x, entry 1 vector 0x%x to APIC ID %u (control 0x%x)", dev,
        VEC_MSIX0, VEC_MSIX1, apic_id(), pci_cfg_read(dev, cap) >> 16);
    /* The table reads back as written, by 8 bytes too; 2 bytes do not read. */
    uint64_t q = mmio_read64(tab + MSIX_ENTRY_DATA);
    uint16_t w = mmio_read16(tab + MSIX_ENTRY_DATA);
    say("pci: 00:%02x.0 MSI-X entry 0 reads data 0x%x control 0x%x (8 bytes), 0x%x (2 bytes)", dev, (uint32_t)q,
        (uint32_t)(q >> 32), w);

    mmio_write32(regs + E1000_IMC, 0xffffffffu);
    mmio_write32(regs + E1000_ICR, 0xffffffffu);
    mmio_write32(regs + E1000_IVAR, (E1000_IVAR_VALID | 0) << E1000_IVAR_RXQ0_SHIFT |
                                        (E1000_IVAR_VALID | 1) << E1000_IVAR_TXQ0_SHIFT);
    mmio_write32(regs + E1000_IMS, E1000_INT_RXQ0 | E1000_INT_TXQ0);
    bool ok = true;
    for (uint32_t i = 1; i <= 3 && ok; i++)
        ok = msix_raise(dev, regs, 0, E1000_INT_RXQ0, i) && msix_raise(dev, regs, 1, E1000_INT_TXQ0, i);
    say("pci: 00:%02x.0 MSI-X received: entry 0 %u, entry 1 %u", dev, msix_count[0], msix_count[1]);
    if (ok) {
        /* QEMU 7.2's e1000e may send a vector's message again when its
         * throttling timer (EITR) expires: let that land before counting. */
        delay_us(20000);
        uint32_t before = msix_count[1];
        mmio_write32(tab + MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL, MSIX_ENTRY_MASKED);
        mmio_write32(regs + E1000_ICS, E1000_INT_TXQ0);
        (void)wait_count(&msix_count[1], before + 1, 50);
        uint32_t held = msix_count[1] - before, pending = mmio_read32(pba);
        mmio_write32(tab + MSIX_ENTRY_SIZE + MSIX_ENTRY_CTRL, 0);
        bool sent = wait_count(&msix_count[1], before + 1, 1000);
        mmio_write32(regs + E1000_ICR, E1000_INT_TXQ0);
        say("pci: 00:%02x.0 MSI-X entry 1 masked: %u received, PBA 0x%x; unmasked: %s", dev, held, pending,
            sent ? "delivered" : "NOT delivered");
    }
    mmio_write32(regs + E1000_IMC, 0xffffffffu);
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
        uint32_t back = mmio_read32(addr + E1000_STATUS);
        say("pci: 00:%02x.0 BAR0 back at 0x%lx: register 0x8 reads 0x%x (%s)", dev, addr, back,
            back == status ? "same" : "different");
    }
    char caps[64];
    unsigned msix = find_cap(dev, PCI_CAP_MSIX, caps, sizeof(caps));
    unsigned msi = find_cap(dev, PCI_CAP_MSI, caps, sizeof(caps));
    say("pci: 00:%02x.0 capabilities:%s", dev, caps[0] ? caps : " none");
    bool i82574 = e1000 && (id >> 16) == 0x10d3;
    if (i82574 && msi)
        msi_test(dev, msi, addr);
    else
        say("pci: 00:%02x.0: no MSI test (%s)", dev, msi ? "not an 82574" : "no MSI capability");
    if (i82574 && msix)
        msix_test(dev, msix, addr);
    else
        say("pci: 00:%02x.0: no MSI-X test (%s)", dev, msix ? "not an 82574" : "no MSI-X capability");
    if (tg.opt.hold) {
        /* Still decoding, BAR0's first page read last (for the shadow
         * paging test, which looks at the leaf it got). */
        pci_cfg_write16(dev, 4, PCI_CMD_MEM);
        say("pci: 00:%02x.0 left decoding (hold): BAR0 register 0x8 reads 0x%x", dev, mmio_read32(addr + E1000_STATUS));
        return;
    }
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
