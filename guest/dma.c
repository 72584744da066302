/* The dma scenario: DMA through QEMU's educational PCI device (hw/misc/edu.c,
 * 1234:11e8), so a boot test can see where an assigned device's DMA lands
 * and where an IOMMU stops it. The guest finds the device, proves a round
 * trip inside its own memory, then does what its console tells it: `write
 * <addr>` (64 known bytes DMAed to <addr>), `read <addr>` (64 bytes DMAed from
 * <addr>, shown if they replaced a marker).
 *
 * The device: BAR0 registers 0x80 source, 0x88 destination, 0x90 count, 0x98
 * command (bit 0 start, reads 1 while busy; bit 1 direction, 1 = its buffer to
 * RAM; bit 2 interrupt, never used here), all 64-bit; a 4 KiB buffer at the
 * device-side address 0x40000. A transfer runs about 100 ms (virtual time)
 * after it is started; register writes while one runs are ignored. QEMU stops
 * with hw_error() (the whole machine, exit status 134) if the device side of
 * a transfer leaves its buffer, and QEMU 7.2's check is off by one: the
 * transfer must end before 0x41000 (0x40000 with count 4096 aborts, tried
 * with Debian's 7.2) and its count must not be 0. So every transfer here
 * starts at 0x40000 and moves 1 to 4095 bytes: edu_dma() is the only place
 * that starts one, and it refuses anything else. */
#include "guest/pci.h"
#include "guest/tg.h"
#include "guest/x86.h"

#define EDU_ID          0x11e81234u     /* device << 16 | vendor */
#define EDU_REG_ID      0x00            /* 0x010000ed: version 1.0, "ed" */
#define EDU_ID_VALUE    0x010000edu
#define EDU_REG_SRC     0x80
#define EDU_REG_DST     0x88
#define EDU_REG_CNT     0x90
#define EDU_REG_CMD     0x98
#define EDU_CMD_RUN     0x1
#define EDU_CMD_TO_RAM  0x2             /* device buffer -> RAM; clear: RAM -> device buffer */
#define EDU_BUF         0x40000ull      /* the buffer's device-side address */
#define EDU_XFER_MAX    4095u           /* see the top of the file */
#define DMA_TIMEOUT_MS  2000
#define PAGE            4096u
#define CMD_BYTES       64u             /* what write and read move */
#define LINE_MAX        120

/* Bytes of the round trip's source page: offset-dependent, so a shift or a
 * page of another source shows. */
#define RT_BYTE(i) ((uint8_t)((i) ^ ((i) >> 8) ^ 0xa5))

static const char write_text[] = "EDU-DMA-WRITE-";   /* repeated to 64 bytes: what `write` puts */
static const char marker_text[] = "EDU-DMA-UNREAD--"; /* repeated to 64 bytes: the buffer before `read` */

static uint64_t regs;                /* BAR0 */
static uint8_t *page_a, *page_b, *page_c, *page_w, *page_m;

/* Waits (TSC) until the device is not busy; false after DMA_TIMEOUT_MS. */
static bool edu_wait(void)
{
    uint64_t until = tsc_after_ms(DMA_TIMEOUT_MS);
    while (mmio_read64(regs + EDU_REG_CMD) & EDU_CMD_RUN) {
        if (tsc_passed(until))
            return false;
        delay_us(200);
    }
    return true;
}

/* One transfer between guest-physical `ram` and the start of the device's
 * buffer, waited for. False: a timeout (the previous transfer still running,
 * or this one not done in time), or a length edu must never see. */
static bool edu_dma(uint64_t ram, uint64_t len, bool to_ram)
{
    if (!len || len > EDU_XFER_MAX)
        return false;
    if (!edu_wait())
        return false;
    mmio_write64(regs + EDU_REG_SRC, to_ram ? EDU_BUF : ram);
    mmio_write64(regs + EDU_REG_DST, to_ram ? ram : EDU_BUF);
    mmio_write64(regs + EDU_REG_CNT, len);
    mmio_write64(regs + EDU_REG_CMD, EDU_CMD_RUN | (to_ram ? EDU_CMD_TO_RAM : 0));
    return edu_wait();
}

static uint64_t pa(const void *p) { return (uintptr_t)p; }

static void fill_text(uint8_t *d, const char *text, size_t n)
{
    size_t len = strlen(text);
    for (size_t i = 0; i < n; i++)
        d[i] = (uint8_t)text[i % len];
}

static void hex16(char *out, size_t size, const volatile uint8_t *p, size_t n)
{
    size_t len = 0;
    out[0] = 0;
    for (size_t i = 0; i < n && i < 16 && len < size; i++)
        len += (size_t)tg_snprintf(out + len, size - len, "%s%02x", i ? " " : "", p[i]);
}

/* The first edu function, searching bus 0 and the buses behind its bridges
 * (depth first, each bus once). */
static bool find_edu(unsigned bus, unsigned depth, bool *seen, unsigned *b, unsigned *d, unsigned *f)
{
    if (seen[bus] || depth > 8)
        return false;
    seen[bus] = true;
    for (unsigned dev = 0; dev < 32; dev++) {
        if ((pci_cfg_read_bdf(bus, dev, 0, 0) & 0xffff) == 0xffff)
            continue;
        unsigned fns = (pci_cfg_read_bdf(bus, dev, 0, 0xc) >> 16) & 0x80 ? 8 : 1;
        for (unsigned fn = 0; fn < fns; fn++) {
            uint32_t id = pci_cfg_read_bdf(bus, dev, fn, 0);
            if ((id & 0xffff) == 0xffff)
                continue;
            if (id == EDU_ID) {
                *b = bus, *d = dev, *f = fn;
                return true;
            }
            if (((pci_cfg_read_bdf(bus, dev, fn, 0xc) >> 16) & 0x7f) == 1) {     /* a PCI-PCI bridge */
                unsigned sec = (pci_cfg_read_bdf(bus, dev, fn, 0x18) >> 8) & 0xff;
                if (sec > bus && find_edu(sec, depth + 1, seen, b, d, f))
                    return true;
            }
        }
    }
    return false;
}

static void __attribute__((noreturn)) idle(void)
{
    for (;;)
        sti_hlt();
}

/* A: the pattern, B: zeros; A -> buffer -> B, EDU_XFER_MAX bytes; B's last
 * byte, one past the transfer, must stay 0. */
static void round_trip(void)
{
    for (unsigned i = 0; i < PAGE; i++)
        page_a[i] = RT_BYTE(i);
    memset(page_b, 0, PAGE);
    char what[96];
    tg_snprintf(what, sizeof(what), "0x%lx -> edu buffer -> 0x%lx, %u bytes", pa(page_a), pa(page_b), EDU_XFER_MAX);
    if (!edu_dma(pa(page_a), EDU_XFER_MAX, false)) {
        say("dma: own memory round trip FAILED: %s: timeout (RAM -> device)", what);
        return;
    }
    if (!edu_dma(pa(page_b), EDU_XFER_MAX, true)) {
        say("dma: own memory round trip FAILED: %s: timeout (device -> RAM)", what);
        return;
    }
    const volatile uint8_t *b = page_b;
    for (unsigned i = 0; i < EDU_XFER_MAX; i++) {
        if (b[i] != RT_BYTE(i)) {
            say("dma: own memory round trip FAILED: %s: offset %u reads 0x%02x, expected 0x%02x", what, i, b[i],
                RT_BYTE(i));
            return;
        }
    }
    if (b[EDU_XFER_MAX]) {
        say("dma: own memory round trip FAILED: %s: offset %u (past the transfer) reads 0x%02x, expected 0x00", what,
            EDU_XFER_MAX, b[EDU_XFER_MAX]);
        return;
    }
    say("dma: own memory round trip ok: %s", what);
}

/* write: the write text into the buffer from page W, then the buffer to addr. */
static void cmd_write(uint64_t addr)
{
    bool ok = edu_dma(pa(page_w), CMD_BYTES, false) && edu_dma(addr, CMD_BYTES, true);
    say("dma: write 0x%lx %u bytes: %s", addr, CMD_BYTES, ok ? "done" : "timeout");
}

/* read: the marker into the buffer from page M, addr into the buffer, the
 * buffer into page C (zeroed); C still the marker: nothing came. */
static void cmd_read(uint64_t addr)
{
    memset(page_c, 0, CMD_BYTES);
    if (!edu_dma(pa(page_m), CMD_BYTES, false) || !edu_dma(addr, CMD_BYTES, false) ||
        !edu_dma(pa(page_c), CMD_BYTES, true)) {
        say("dma: read 0x%lx: timeout", addr);
        return;
    }
    const volatile uint8_t *c = page_c;
    bool same = true;
    for (unsigned i = 0; i < CMD_BYTES; i++)
        same &= c[i] == page_m[i];
    if (same) {
        say("dma: read 0x%lx: unchanged", addr);
        return;
    }
    char hex[64];
    hex16(hex, sizeof(hex), c, 16);
    say("dma: read 0x%lx: changed: %s", addr, hex);
}

/* storm: STORM_WRITES writes to addr back to back (the device's fault
 * policy is tested with it: tests/boot/test_dma.py). */
#define STORM_WRITES 20
static void cmd_storm(uint64_t addr)
{
    unsigned done = 0;
    bool ok = edu_dma(pa(page_w), CMD_BYTES, false);
    for (unsigned i = 0; ok && i < STORM_WRITES; i++, done++)
        ok = edu_dma(addr, CMD_BYTES, true);
    say("dma: storm 0x%lx %u writes: %s", addr, done, ok ? "done" : "timeout");
}

/* "<verb> <number>", one space or more between, nothing after. */
static bool parse_command(const char *line, const char *verb, uint64_t *addr)
{
    size_t n = strlen(verb);
    if (memcmp(line, verb, n) || line[n] != ' ')
        return false;
    const char *p = line + n;
    while (*p == ' ')
        p++;
    char word[32];
    size_t k = 0;
    while (p[k] && p[k] != ' ' && k + 1 < sizeof(word)) {
        word[k] = p[k];
        k++;
    }
    word[k] = 0;
    for (p += k; *p == ' '; p++)
        ;
    return k && !*p && parse_u64(word, addr);
}

void scenario_dma(void)
{
    static bool seen[256];
    unsigned bus, dev, fn;
    if (!find_edu(0, 0, seen, &bus, &dev, &fn)) {
        say("dma: no edu device");
        idle();
    }
    uint32_t lo = pci_cfg_read_bdf(bus, dev, fn, 0x10);
    uint32_t hi = (lo & 7) == 4 ? pci_cfg_read_bdf(bus, dev, fn, 0x14) : 0;
    regs = (lo & ~0xfull) | (uint64_t)hi << 32;
    if ((lo & 1) || !regs) {
        say("dma: edu at %02x:%02x.%x has no memory BAR0 (0x%x)", bus, dev, fn, lo);
        idle();
    }
    /* Memory decoding and bus mastering on; the status half written as 0
     * leaves its write-1-to-clear bits alone. */
    uint32_t cmd = pci_cfg_read_bdf(bus, dev, fn, 4) & 0xffff;
    pci_cfg_write_bdf(bus, dev, fn, 4, cmd | PCI_CMD_MEM | PCI_CMD_MASTER);
    mem_map(regs, PAGE);
    say("dma: edu at %02x:%02x.%x BAR0 0x%lx", bus, dev, fn, regs);
    uint32_t id = mmio_read32(regs + EDU_REG_ID);
    if (id != EDU_ID_VALUE)
        say("dma: warning: BAR0 register 0 reads 0x%x, expected 0x%x", id, EDU_ID_VALUE);

    page_a = mem_alloc(PAGE);
    page_b = mem_alloc(PAGE);
    page_c = mem_alloc(PAGE);
    page_w = mem_alloc(PAGE);
    page_m = mem_alloc(PAGE);
    fill_text(page_w, write_text, CMD_BYTES);
    fill_text(page_m, marker_text, CMD_BYTES);
    console_input_init();

    char line[LINE_MAX];
    for (;;) {
        console_read_line(line, sizeof(line));
        uint64_t addr;
        if (streq(line, "roundtrip"))
            round_trip();
        else if (parse_command(line, "write", &addr))
            cmd_write(addr);
        else if (parse_command(line, "read", &addr))
            cmd_read(addr);
        else if (parse_command(line, "storm", &addr))
            cmd_storm(addr);
        else
            say("dma: unknown command '%s'", line);
    }
}
