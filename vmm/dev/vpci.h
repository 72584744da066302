/* A partition's virtual PCI bus: the only PCI a guest sees. Configuration
 * mechanism #1 (ports 0xCF8/0xCFC) on bus 0: a plain host bridge at 00:00.0,
 * then the partition's assigned devices at 00:01.0, 00:02.0, ... in the order
 * of its `devices` list. Nothing else of the machine's PCI is visible.
 *
 * For an assigned device (PCI 3.0 ch. 6, PCIe 5.0 ch. 7):
 *  - identity, class, subsystem and capability registers are read from it;
 *  - its BARs are virtual: the guest places them in its own physical space and
 *    the hypervisor maps that range onto the BAR's fixed host address (UC). The
 *    hardware BAR never moves. A placement over the partition's RAM or the
 *    reserved system range, over another of its BARs, past its physical address
 *    width, or not sharing the host page offset is refused: the register keeps
 *    its old value and the refusal is counted and logged (rate-limited). I/O BARs stay at their
 *    host ports and the guest's port accesses there reach the device;
 *  - the command register passes I/O, memory and bus-master enables through;
 *    INTx stays disabled (no INTx is delivered: Interrupt Pin reads 0);
 *  - MSI is virtual: the guest's address and data name one of its own vCPUs and
 *    a vector; the device is programmed with the physical APIC ID of that vCPU's
 *    CPU and a host vector the hypervisor forwards (vpci_ops.msi_route). One
 *    message per function (Multiple Message Capable reads 0);
 *  - MSI-X is virtual the same way, one route per table entry: the capability
 *    is the device's (table size, table and PBA where its BARs hold them) with
 *    enable and function mask the guest's. The page(s) of the BAR holding the
 *    table are left out of the BAR's mapping and trapped, wherever the guest
 *    puts the BAR: its accesses reach a shadow table. An entry the guest has
 *    unmasked in an enabled, unmasked function is routed (msi_route) and the
 *    device's entry programmed with the host message and unmasked; any other
 *    entry is masked in the device. At most VPCI_MSIX_MAX entries per function
 *    are usable; the rest stay masked;
 *  - writes elsewhere in the header, and to capability registers other than
 *    power management and PCIe device/link control, are dropped and counted;
 *  - no expansion ROM, no BIST, single function.
 *
 * An emulated function (the paravirtual NIC, net/vnet.h) sits on the same bus:
 * the bus keeps its command register and BARs as for an assigned device, but
 * its memory BARs are never mapped: every access traps and reaches the
 * function through vpci_mmio(). Its identity, status and capabilities
 * (including its own MSI-X) come from struct vpci_emu.
 *
 * Arch-neutral: the host's config space, the second-level mapping and MSI
 * routing come from struct vpci_ops, so host unit tests drive it with fakes. */
#ifndef ISTHMUS_VMM_VPCI_H
#define ISTHMUS_VMM_VPCI_H

#include "kernel/lib/types.h"
#include "drivers/pci.h"
#include "kernel/lib/gpa.h"
#include "arch/x86/hw/msi.h" /* MSI_ADDR_*, MSI_DATA_*: the message the guest programs */

#define VPCI_MAX_DEVS          8
#define VPCI_MAX_FORBIDDEN     4
#define VPCI_PORT_ADDR         0xcf8
#define VPCI_PORT_DATA         0xcfc
#define VPCI_PORT_RESET        0xcf9 /* PIIX/ICH reset control: a byte between the two */
#define VPCI_CF8_ENABLE        BIT(31)
/* The host bridge at 00:00.0: Red Hat's ID for a generic PCIe host bridge, a
 * device no operating system needs a driver for. */
#define VPCI_HOSTBRIDGE_VENDOR 0x1b36
#define VPCI_HOSTBRIDGE_DEVICE 0x0008

/* MSI capability (PCI 3.0 6.8.1). */
#define MSI_CTRL_ENABLE     BIT(0)
#define MSI_CTRL_MMC_MASK   (7u << 1)
#define MSI_CTRL_MME_MASK   (7u << 4)
#define MSI_CTRL_64BIT      BIT(7)
#define MSI_CTRL_PVM        BIT(8)
/* MSI-X capability (PCI 3.0 6.8.2); the table entry's layout is MSIX_ENTRY_*
 * in net/virtio.h. */
#define MSIX_CTRL_ENABLE    BIT(15)
#define MSIX_CTRL_MASKALL   BIT(14)
#define MSIX_CTRL_SIZE_MASK 0x7ffu /* table size - 1 */
#define MSIX_TABLE          4      /* table offset | BIR */
#define MSIX_PBA            8      /* pending-bit array offset | BIR */
#define MSIX_BIR_MASK       7u
/* The message address and data are x86's: arch/x86/hw/msi.h. */

/* MSI-X entries of a function its guest can use (the host has 160 forwarding
 * vectors per CPU, vmsi.h); a function with more has the rest kept masked. */
#define VPCI_MSIX_MAX 32
/* Routes (vpci_ops.msi_route): the MSI of the function in virtual slot s
 * (1-based) is route s; its MSI-X entry k is route vpci_msix_route(s, k). */
#define VPCI_ROUTES   (VPCI_MAX_DEVS + 1 + VPCI_MAX_DEVS * VPCI_MSIX_MAX)
static inline u32 vpci_msi_route(u32 slot) { return slot; }
static inline u32 vpci_msix_route(u32 slot, u32 k) { return VPCI_MAX_DEVS + 1 + (slot - 1) * VPCI_MSIX_MAX + k; }

struct vpci_ops {
    const struct pci_cfg_ops *cfg; /* the host's config space */
    /* Maps / unmaps guest-physical [g, g + len) onto host MMIO (uncached). */
    int (*map)(void *ctx, gpa_t g, hpa_t h, u64 len);
    int (*unmap)(void *ctx, gpa_t g, u64 len);
    /* Translates the guest's message (address, data) of `route` (an MSI or
     * an MSI-X entry, see VPCI_ROUTES) into what the device is programmed
     * with, replacing what the route had; negative (and nothing programmed)
     * when it names no vCPU of the partition or an unsupported delivery mode.
     * The one place where a guest's message becomes a host one. */
    int (*msi_route)(void *ctx, u32 route, u64 gaddr, u32 gdata, u64 *haddr, u32 *hdata);
    void (*msi_release)(void *ctx, u32 route);
    /* Makes the host MMIO [h, h + len) of a device reachable through
     * mmio_read32/mmio_write32 (uncached): the pages of its MSI-X table, from
     * vpci_add(). */
    int (*host_map)(void *ctx, hpa_t h, u64 len);
    u32 (*mmio_read32)(void *ctx, hpa_t h);
    void (*mmio_write32)(void *ctx, hpa_t h, u32 v);
    void *ctx;
};

/* An emulated function. cfg_read/cfg_write get every config dword except the
 * command register (low half), the BARs and the interrupt line, which the bus
 * keeps; set_command tells it the command register changed; bar_access serves
 * a trapped access of 1, 2, 4 or 8 bytes at offset off of BAR `bar`. */
struct vpci_emu {
    u32 (*cfg_read)(void *ctx, u16 off);
    void (*cfg_write)(void *ctx, u16 off, u32 bmask, u32 val);
    void (*set_command)(void *ctx, u16 cmd);
    void (*bar_access)(void *ctx, u32 bar, u64 off, u8 size, bool write, u64 *val);
    void *ctx;
};

struct vpci_bar {
    u8 kind; /* enum pci_bar_kind; the upper half of a 64-bit BAR is NONE */
    bool prefetch;
    u64 size;
    u64 host; /* host address or port: fixed */
    u32 reg;  /* what the guest's register holds */
    bool mapped;
    u64 mapped_at; /* guest-physical address of the live mapping */
};

struct vpci_stats {
    u64 cfg_reads, cfg_writes;
    u64 writes_dropped; /* to read-only or unsupported registers */
    u64 bar_refused;    /* BAR placements / memory enables refused */
    u64 msi_refused;    /* MSI enables naming no vCPU of the partition */
    u64 msi_routed;
    u64 msix_refused; /* MSI-X entries unmasked naming no vCPU of the partition */
    u64 msix_routed;
    u64 msix_bad; /* MSI-X table page accesses dropped: unaligned, odd sizes, PBA writes */
};

/* The guest's copy of an MSI-X table entry (PCI 3.0 6.8.2.6). */
struct vpci_msix_entry {
    u32 addr_lo, addr_hi, data, ctrl;
};

/* An assigned function's MSI-X, when it is shown (n > 0). */
struct vpci_msix {
    u16 ctrl;               /* guest view: enable, function mask */
    u16 n;                  /* entries the device has */
    u16 usable;             /* of those, the ones its guest can use */
    u8 bir, pba_bir;        /* BARs of the table and the PBA */
    u32 table, pba;         /* their offsets in those BARs */
    u64 trap_off, trap_len; /* the table's pages in BAR bir: trapped, not mapped */
    u32 live;               /* entries routed and unmasked in the device (bit k) */
    u32 refused;            /* entries refused since they last changed */
    struct vpci_msix_entry e[VPCI_MSIX_MAX];
};
STATIC_ASSERT(VPCI_MSIX_MAX <= 32, "live and refused are one bit per entry");

struct vpci_dev {
    struct pci_dev *hw; /* NULL for an emulated function */
    const struct vpci_emu *emu;
    u32 slot; /* virtual device number */
    struct vpci_bar bar[PCI_NUM_BARS];
    u16 cmd; /* the guest's command register */
    u8 int_line;
    u8 caps[PCI_MAX_CAPS]; /* visible capabilities, in list order */
    u32 ncaps;
    u8 msi;       /* MSI capability offset; 0 when none */
    u16 msi_ctrl; /* guest view: enable, 64-bit, per-vector masking */
    u32 msi_addr_lo, msi_addr_hi, msi_mask;
    u16 msi_data;
    bool msi_live; /* programmed into the device and enabled */
    u8 msix;       /* MSI-X capability offset; 0 when none */
    struct vpci_msix mx;
    u8 pm, pcie; /* capabilities whose control registers pass through */
    bool warned; /* a dropped write was logged for this device */
};

struct vpci {
    u32 cf8;
    u32 ndev;
    struct vpci_dev dev[VPCI_MAX_DEVS];
    struct vpci_ops ops;
    u64 phys_limit; /* guest-physical addresses must stay below */
    struct {
        u64 start, end;
    } forbidden[VPCI_MAX_FORBIDDEN];
    u32 nforbidden;
    const char *name; /* partition, for log messages */
    u32 part;         /* its id: the key of its log limits (kernel/core/log_limit.h) */
    struct vpci_stats stats;
};

/* An empty bus of partition `part` (its id, name). phys_limit: the guest's
 * physical address width as a limit. What the guest does wrong on it is
 * logged through the partition's log limits, and counted in vpci_stats. */
void vpci_init(struct vpci *v, const struct vpci_ops *ops, const char *name, u32 part, u64 phys_limit);
/* Guest-physical [start, end) where no BAR may go (RAM, system ranges). */
int vpci_forbid(struct vpci *v, u64 start, u64 end) __must_check;
/* Adds a probed type-0 function, gives its memory BARs guest addresses from
 * *next32 (32-bit BARs, below 4 GiB, up to limit32) or *next64 (64-bit BARs),
 * and quiesces it (decoding, bus mastering, MSI and MSI-X off, every MSI-X
 * entry masked). An MSI-X table the hypervisor cannot trap (not inside a
 * memory BAR, or not mappable) leaves the capability hidden and MSI-X off,
 * with a warning. Negative with a message when the bus is full or a BAR
 * cannot be placed or isolated. */
int vpci_add(struct vpci *v, struct pci_dev *hw, u64 *next32, u64 limit32, u64 *next64, char *err,
             size_t errlen) __must_check;
/* Adds an emulated function with 32-bit memory BARs of the given sizes (0 for
 * none; each a power of two, at least a page), placed like vpci_add's. */
int vpci_add_emu(struct vpci *v, const struct vpci_emu *emu, const u64 bar_size[PCI_NUM_BARS], u64 *next32, u64 limit32,
                 char *err, size_t errlen) __must_check;
/* What guest-physical g is on the bus while trapped: inside a decoded BAR of
 * an emulated function, inside the MSI-X table page(s) of a decoded BAR of an
 * assigned one, or neither. */
enum vpci_trap { VPCI_TRAP_NONE, VPCI_TRAP_EMU, VPCI_TRAP_MSIX };
enum vpci_trap vpci_trapped(const struct vpci *v, u64 g);
/* A trapped access to guest-physical [g, g + size): true when vpci_trapped()
 * says it is the bus's, which served it (*val read or written): the emulated
 * function, or the MSI-X emulation (which drops, with a count and a
 * rate-limited warning, what is not an aligned 4- or 8-byte access; a dropped
 * read is all-ones). The caller holds whatever lock serialises the bus. */
bool vpci_mmio(struct vpci *v, u64 g, u8 size, bool write, u64 *val);
/* Port access by the guest: true when the port is 0xCF8 (dword) or 0xCFC-0xCFF,
 * with *val read or written. */
bool vpci_port(struct vpci *v, u16 port, u8 size, bool in, u32 *val);
/* True when [port, port + size) lies in an enabled I/O BAR of one of the devices:
 * the access goes to the hardware. */
bool vpci_io_passthrough(const struct vpci *v, u16 port, u8 size);
/* Stops every device (decoding, bus mastering, MSI off, MSI-X off with every
 * entry masked), releases MSI and MSI-X routes and mappings. The devices stay
 * on the bus; used when the partition stops. */
void vpci_quiesce(struct vpci *v);

#endif
