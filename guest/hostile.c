/* The hostile scenario: a guest that tries what a partition must not be able
 * to do, one announced step at a time, printing what came of each. What the
 * hypervisor should do: ignore or stop (I/O), #GP (MSRs), drop (IPIs to
 * foreign APIC IDs), refuse (bad hypercalls), refuse a BAR over RAM however
 * often it is asked (and not log every refusal), stop (triple fault). */
#include "guest/pci.h"
#include "guest/tg.h"
#include "guest/x86.h"

static bool skipped(const char *step)
{
    const char *p = tg.opt.skip;
    size_t n = strlen(step);
    while (*p) {
        const char *q = p;
        while (*q && *q != ',')
            q++;
        if ((size_t)(q - p) == n && !memcmp(p, step, n))
            return true;
        p = *q ? q + 1 : q;
    }
    return false;
}

/* ---------------------------------------------------------------- I/O ports */
static const struct {
    uint16_t port;
    uint8_t width;
    uint32_t value;
    const char *what;
} io_writes[] = {
    { 0xcf8, 4, 0x80000000, "PCI config address: bus 0 device 0 function 0" },
    { 0xcfc, 4, 0x00000000, "PCI config data" },
    { 0x64, 1, 0xfe, "keyboard controller: pulse reset" },
    { 0xcf9, 1, 0x06, "reset control: hard reset" },
    { 0x70, 1, 0x0f, "RTC index: shutdown status" },
    { 0x71, 1, 0x00, "RTC data" },
};

static void step_io(void)
{
    say("hostile: step 1: I/O ports that are not mine");
    for (unsigned i = 0; i < ARRAY_SIZE(io_writes); i++) {
        const char *op = io_writes[i].width == 4 ? "outl" : "outb";
        say("hostile: %s 0x%x <- 0x%x (%s)", op, io_writes[i].port, io_writes[i].value, io_writes[i].what);
        if (io_writes[i].width == 4)
            outl(io_writes[i].port, io_writes[i].value);
        else
            outb(io_writes[i].port, (uint8_t)io_writes[i].value);
        say("hostile: %s 0x%x -> survived", op, io_writes[i].port);
    }
    for (unsigned i = 0; i < ARRAY_SIZE(io_writes); i++) {
        uint16_t port = io_writes[i].port;
        if (io_writes[i].width == 4) {
            say("hostile: inl 0x%x", port);
            say("hostile: inl 0x%x -> 0x%x", port, inl(port));
        } else {
            say("hostile: inb 0x%x", port);
            say("hostile: inb 0x%x -> 0x%x", port, inb(port));
        }
    }
}

/* ---------------------------------------------------------------- MSRs */
/* trap.c skips a RDMSR/WRMSR that raises #GP while gp_recover is set, and
 * counts it; the registers then keep the values given here. */
static bool msr_read(uint32_t msr, uint64_t *v)
{
    uint32_t before = gp_count, lo = 0, hi = 0;
    __asm__ volatile("rdmsr" : "+a"(lo), "+d"(hi) : "c"(msr) : "memory");
    *v = (uint64_t)hi << 32 | lo;
    return gp_count == before;
}

static bool msr_write(uint32_t msr, uint64_t v)
{
    uint32_t before = gp_count;
    __asm__ volatile("wrmsr" :: "a"((uint32_t)v), "d"((uint32_t)(v >> 32)), "c"(msr) : "memory");
    return gp_count == before;
}

static void try_rdmsr(uint32_t msr)
{
    uint64_t v;
    if (msr_read(msr, &v))
        say("hostile: rdmsr 0x%x -> 0x%lx", msr, v);
    else
        say("hostile: rdmsr 0x%x -> #GP", msr);
}

#define CR0_NW_BIT (1ULL << 29)
#define CR0_CD_BIT (1ULL << 30)

/* CR0 with NW set and CD clear: #GP(0) on hardware (SDM Vol. 3A 2.5), which a
 * hypervisor that intercepts the write must give too, not stop the guest.
 * The MOV is the 3-byte 0f 22 c0 (RAX), skipped by the hook. */
static volatile bool cr0_gp;
extern const char hostile_cr0_insn[];

static bool cr0_hook(struct trap_frame *f)
{
    if (f->vector != 13 || f->rip != (uintptr_t)hostile_cr0_insn)
        return false;
    cr0_gp = true;
    f->rip += 3;
    return true;
}

static void step_cr0(void)
{
    /* On AMD-V nothing of the hypervisor's sees the write (CR0 writes are not
     * intercepted): the CPU checks it, and QEMU's TCG does not, so the probe
     * would only test the emulator. */
    if (tg.use_vmmcall) {
        say("hostile: cr0 probe skipped: an AMD CPU checks CR0 writes itself, nothing intercepts them");
        return;
    }
    uint64_t cr0;
    __asm__ volatile("mov %%cr0, %0" : "=r"(cr0));
    uint64_t bad = (cr0 | CR0_NW_BIT) & ~CR0_CD_BIT;
    exception_hook = cr0_hook;
    __asm__ volatile(".globl hostile_cr0_insn\nhostile_cr0_insn: mov %%rax, %%cr0" ::"a"(bad) : "memory");
    exception_hook = NULL;
    uint64_t now;
    __asm__ volatile("mov %%cr0, %0" : "=r"(now));
    say("hostile: cr0 0x%lx (NW without CD) -> %s, cr0 now 0x%lx", bad, cr0_gp ? "#GP" : "taken", now);
}

static void step_msr(void)
{
    static const struct {
        uint32_t msr;
        uint64_t value;
        const char *what;
    } msrs[] = {
        { 0x3a, 0x5, "IA32_FEATURE_CONTROL: lock, VMX outside SMX" },
        { 0x174, 0x8, "IA32_SYSENTER_CS" },
        { 0x12345678, 0x0, "not implemented anywhere" },
    };
    say("hostile: step 2: MSRs");
    gp_recover = true;
    for (unsigned i = 0; i < ARRAY_SIZE(msrs); i++) {
        say("hostile: msr 0x%x (%s)", msrs[i].msr, msrs[i].what);
        try_rdmsr(msrs[i].msr);
        bool ok = msr_write(msrs[i].msr, msrs[i].value);
        say("hostile: wrmsr 0x%x <- 0x%lx -> %s", msrs[i].msr, msrs[i].value, ok ? "ok" : "#GP");
        if (ok)
            try_rdmsr(msrs[i].msr);
    }
    gp_recover = false;
    step_cr0();
}

/* ---------------------------------------------------------------- IPIs */
static bool is_mine(uint32_t apic)
{
    return cpu_index_of(apic) >= 0;
}

static void ipi(uint32_t dest, uint32_t icr, const char *what)
{
    uint32_t before = hostile_ipis;
    say("hostile: ipi %s to APIC ID 0x%x", what, dest);
    bool idle = apic_send_ipi(dest, icr);
    /* Let anything it delivered to this vCPU arrive. */
    uint64_t end = tsc_after_ms(20);
    sti();
    while (!tsc_passed(end))
        pause();
    cli();
    say("hostile: ipi %s to APIC ID 0x%x -> %s, vector 0x%x arrived here %u times", what, dest,
        idle ? "sent" : "still pending after 10 ms", VEC_HOSTILE, hostile_ipis - before);
}

static void step_ipi(void)
{
    say("hostile: step 3: IPIs to APIC IDs that are not mine");
    ipi(0x7f, ICR_FIXED | ICR_ASSERT | VEC_HOSTILE, "fixed vector 0x40");
    ipi(0xff, ICR_FIXED | ICR_ASSERT | VEC_HOSTILE, "fixed vector 0x40 (broadcast)");
    uint32_t target = 1;
    while (target < 0xff && is_mine(target))
        target++;
    if (target != 1)
        say("hostile: APIC ID 1 is mine, sending the INIT to APIC ID 0x%x instead", target);
    if (target < 0xff)
        ipi(target, ICR_INIT | ICR_ASSERT, "INIT");
}

/* ---------------------------------------------------------------- hypercalls */
static void hc(const char *what, uint64_t nr, uint64_t a1, uint64_t a2)
{
    int64_t r = hypercall(nr, a1, a2, 0, 0);
    say("hostile: hypercall %s -> %ld", what, r);
}

static void step_hypercalls(void)
{
    static const char good[] = "tg: hostile: a good console write\n";
    static const char partial[] = "tg: hostile: FAIL: partial write\n";
    static struct isthmus_partition_info info_buf[2] __attribute__((aligned(8)));
    say("hostile: step 4: malformed hypercalls");
    if (!tg.isthmus) {
        say("hostile: not on Isthmus, no hypercalls");
        return;
    }
    uint64_t outside = ALIGN_UP(tg.ram_end, GiB) + GiB;
    /* The last bytes of RAM, with a line in them that would show a
     * hypervisor that prints part of a buffer it should have refused. */
    uint64_t tail = tg.ram_end - (sizeof(partial) - 1);
    memcpy((void *)(uintptr_t)tail, partial, sizeof(partial) - 1);

    hc("abi_version", HC_ABI_VERSION, 0, 0);
    hc("console_write good", HC_CONSOLE_WRITE, (uintptr_t)good, sizeof(good) - 1);
    hc("number 0xdead", 0xdead, 0, 0);
    hc("number 0xffffffffffffffff", ~0ull, 0, 0);
    hc("console_write buffer outside RAM", HC_CONSOLE_WRITE, outside, 16);
    hc("console_write length HC_CONSOLE_MAX+1", HC_CONSOLE_WRITE, (uintptr_t)good, HC_CONSOLE_MAX + 1);
    hc("console_write buffer past the end of RAM", HC_CONSOLE_WRITE, tail, 64);
    hc("partition_info unaligned", HC_PARTITION_INFO, (uintptr_t)info_buf + 1, 0);
    hc("partition_info outside RAM", HC_PARTITION_INFO, outside, 0);
    hc("partition_info past the end of RAM", HC_PARTITION_INFO, tg.ram_end - 40, 0);
    hc("networking 0x100", HC_NET_FIRST, 0, 0);
    hc("networking 0x1ff", HC_NET_LAST, 0, 0);
    hc("heartbeat 0x2ff", HC_HEARTBEAT_LAST, 0, 0);
    /* Defined, but this partition is in no failover group. */
    hc("hb_info outside a group", HC_HB_INFO, outside, 0);
    hc("hb_beat outside a group", HC_HB_BEAT, 1, 0);
    hc("hb_beat role 7", HC_HB_BEAT, 7, 0);
}

/* ---------------------------------------------------------------- BAR moves */
/* The first function on its bus (its NIC, when it has one) gets its memory
 * BAR0 moved over this partition's own RAM, again and again, with decoding
 * on: each move is refused and the register keeps its place. What the
 * hypervisor's console shows of it is the point: a few lines, not one per try. */
#define BAR_TRIES 200
#define BAR_RAM   0x200000u

static void step_bar(void)
{
    say("hostile: step 5: BAR0 of 00:01.0 over my RAM, %u times", BAR_TRIES);
    if ((pci_cfg_read(1, 0) & 0xffff) == 0xffff) {
        say("hostile: bar: no function at 00:01.0");
        return;
    }
    uint32_t bar = pci_cfg_read(1, 0x10);
    if (bar & 1) {
        say("hostile: bar: BAR0 of 00:01.0 is an I/O BAR");
        return;
    }
    uint16_t cmd = (uint16_t)pci_cfg_read(1, 4);
    pci_cfg_write16(1, 4, (uint16_t)(cmd | PCI_CMD_MEM));
    unsigned kept = 0;
    for (unsigned i = 0; i < BAR_TRIES; i++) {
        pci_cfg_write(1, 0x10, BAR_RAM);
        kept += pci_cfg_read(1, 0x10) == bar;
    }
    pci_cfg_write16(1, 4, cmd);
    say("hostile: bar: BAR0 0x%x moved over RAM at 0x%x %u times -> refused %u", bar & ~0xfu, BAR_RAM, BAR_TRIES,
        kept);
}

/* ---------------------------------------------------------------- triple fault */
static void step_triple_fault(void)
{
    say("hostile: step 6: triple fault");
    say("hostile: triple fault now");
    triple_fault();
    trap_load();
    say("hostile: FAIL: survived a triple fault");
}

void scenario_hostile(void)
{
    static const struct {
        const char *name;
        void (*run)(void);
    } steps[] = {
        { "io", step_io }, { "msr", step_msr }, { "ipi", step_ipi }, { "hc", step_hypercalls },
        { "bar", step_bar }, { "tf", step_triple_fault },
    };
    for (unsigned i = 0; i < ARRAY_SIZE(steps); i++) {
        if (skipped(steps[i].name))
            say("hostile: step %u (%s) skipped", i + 1, steps[i].name);
        else
            steps[i].run();
    }
    say("hostile: done");
    halt_forever();
}
