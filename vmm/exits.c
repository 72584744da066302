/* What each exit means for the guest; see exits.h. Port I/O: the virtual UART
 * at 0x3F8, every other port reads all-ones and ignores writes (as an empty
 * ISA bus would), counted and logged once per partition run. */
#include "vmm/exits.h"
#include "vmm/shadow_vcpu.h"
#include "vmm/vcpuid.h"
#include "vmm/dev/vnic.h"
#include "vmm/ha/failover.h"
#include "arch/x86/apic.h"
#include "arch/x86/hw/cpu.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"

#define XCR0_X87 BIT(0)
#define XCR0_SSE BIT(1)
#define XCR0_AVX BIT(2)
#define XCR0_OPMASK BIT(5)
#define XCR0_ZMM_HI256 BIT(6)
#define XCR0_HI16_ZMM BIT(7)
#define XCR0_PKRU BIT(9)
#define CR4_OSXSAVE_BIT BIT(18)

static const struct vcpu_backend *be(void) { return vcpu_backend; }

static void inject_exc(struct vm_vcpu *vc, u8 vector, bool has_error)
{
    struct vcpu_event ev = { VEVENT_EXCEPTION, vector, has_error, 0, 0 };
    if (be()->inject(&vc->v, &ev) < 0)
        part_fail(vc, "cannot inject exception %u: another event is pending", vector);
}

void inject_gp(struct vm_vcpu *vc) { inject_exc(vc, 13, true); }
void inject_ud(struct vm_vcpu *vc) { inject_exc(vc, 6, false); }

int guest_read(struct partition *p, gpa_t g, void *out, u32 len)
{
    for (u32 i = 0; i < p->nram_ranges; i++) {
        const struct hc_mem_range *r = &p->ram_ranges[i];
        if (g.v >= r->start && g.v < r->end && len <= r->end - g.v)
            return gmem_read(&p->gmem, g.v, out, len) < 0 ? -EFAULT : 0;
    }
    return -EFAULT;
}

static void advance(struct vm_vcpu *vc, const struct vcpu_exit *e, u64 fallback)
{
    be()->advance_rip(&vc->v, e->insn_len ? e->insn_len : fallback);
}

/* Port access to the partition's virtual PCI bus, or to an I/O BAR of one of
 * its devices (passed to the hardware: the BAR never moves off its host ports). */
static bool pci_io(struct vm_vcpu *vc, u16 port, u8 size, bool in, u32 out, u32 *value)
{
    struct partition *p = vc->part;
    spin_lock(&p->pci_lock);
    u32 v = out;
    bool bus = vpci_port(&p->vpci, port, size, in, &v);
    bool dev = !bus && vpci_io_passthrough(&p->vpci, port, size);
    spin_unlock(&p->pci_lock);
    if (bus) {
        *value = v;
        return true;
    }
    if (!dev)
        return false;
    vc->stats.pci_io++;
    if (in)
        *value = size == 4 ? inl(port) : size == 2 ? inw(port) : inb(port);
    else if (size == 4)
        outl(port, out);
    else if (size == 2)
        outw(port, (u16)out);
    else
        outb(port, (u8)out);
    return true;
}

#define ACPI_SLEEP_EN        BIT(5)           /* sleep control register (table 4.21) */
#define ACPI_SLEEP_TYP_MASK  (7u << 2)
#define ACPI_SLEEP_TYP_SHIFT 2

static void handle_io(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct partition *p = vc->part;
    if (e->io.string) {
        part_fail(vc, "string I/O (INS/OUTS) on port %#x is not supported", e->io.port);
        return;
    }
    u64 *rax = &vc->v.regs.gpr[GPR_RAX];
    u32 mask = e->io.size == 4 ? 0xffffffffu : e->io.size == 2 ? 0xffffu : 0xffu;
    u32 value = 0xffffffffu;
    if (e->io.port == LAYOUT_SLEEP_CTL_PORT || e->io.port == LAYOUT_SLEEP_STS_PORT) {
        /* Hardware-reduced ACPI sleep registers (4.8.3.7): SLP_EN with \_S5's
         * type powers off; other sleep states are not offered (no \_S1-\_S4)
         * and are ignored; the status register reads 0 (no wake). */
        u32 v = (u32)*rax & mask;
        value = 0;
        if (!e->io.in && e->io.port == LAYOUT_SLEEP_CTL_PORT && (v & ACPI_SLEEP_EN) &&
            ((v & ACPI_SLEEP_TYP_MASK) >> ACPI_SLEEP_TYP_SHIFT) == LAYOUT_SLP_TYP_S5) {
            advance(vc, e, 0);
            part_poweroff(vc);
            return;
        }
    } else if (vuart_owns(e->io.port)) {
        spin_lock(&p->lock);
        value = vuart_access(&p->uart, e->io.port, e->io.size, e->io.in, (u32)*rax & mask);
        spin_unlock(&p->lock);
    } else if (p->vpci_ready && pci_io(vc, e->io.port, e->io.size, e->io.in, (u32)*rax & mask, &value)) {
        /* the partition's PCI bus or one of its devices' I/O BARs */
    } else {
        if (!vc->stats.io_ignored)
            log_warn("part", "%s: vCPU %u: %s of port %#x goes nowhere (reads all-ones, writes ignored; "
                     "further ones are only counted)", p->cfg->name, vc->v.index,
                     e->io.in ? "read" : "write", e->io.port);
        vc->stats.io_ignored++;
    }
    if (e->io.in) {
        /* 32-bit results zero the upper half of RAX, narrower ones merge. */
        if (e->io.size == 4)
            *rax = value;
        else
            *rax = (*rax & ~(u64)mask) | (value & mask);
    }
    advance(vc, e, 0);
    if (!e->insn_len)
        part_fail(vc, "I/O exit without an instruction length");
}

static void handle_cpuid(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct partition *p = vc->part;
    u64 *r = vc->v.regs.gpr;
    u32 leaf = (u32)r[GPR_RAX], sub = (u32)r[GPR_RCX];
    struct cpuid_regs h = cpuid(leaf, sub);
    struct vcpuid_host host = { h.eax, h.ebx, h.ecx, h.edx };
    struct vcpuid_ctx ctx = {
        .apic_id = vc->v.apic_id, .vcpus = p->nvcpus, .tsc_khz = (u32)tsc_khz,
        .apic_timer_khz = vc->lapic.timer_khz,
        .vendor = be() == &vmx_backend ? VCPUID_VENDOR_INTEL : VCPUID_VENDOR_AMD,
        .shadow = p->shadowed,
    };
    u32 out[4];
    vcpuid_filter(leaf, sub, &host, &ctx, out);
    r[GPR_RAX] = out[VCPUID_EAX];
    r[GPR_RBX] = out[VCPUID_EBX];
    r[GPR_RCX] = out[VCPUID_ECX];
    r[GPR_RDX] = out[VCPUID_EDX];
    advance(vc, e, 2);
}

static void console_out(void *ctx, const u8 *s, u32 n)
{
    struct partition *p = ctx;
    spin_lock(&p->lock);
    console_ring_put(&p->console, s, n);
    spin_unlock(&p->lock);
}

static void handle_hypercall(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct partition *p = vc->part;
    u64 *r = vc->v.regs.gpr;
    struct hc_env env = {
        .ram = p->ram_ranges, .nram = p->nram_ranges, .mem = &p->gmem,
        .cpl = be()->get_cpl(&vc->v), .console = console_out, .ctx = p,
    };
    struct isthmus_partition_info *i = &env.info;
    i->abi = (HC_ABI_MAJOR << 16) | HC_ABI_MINOR;
    i->partition_id = p->id;
    kstrlcpy(i->name, p->cfg->name, sizeof(i->name));
    i->vcpus = p->nvcpus;
    i->vcpu_index = vc->v.index;
    i->memory_bytes = part_ram_bytes(p);
    i->node = (u32)p->node;
    i->tsc_khz = tsc_khz;
    i->apic_timer_khz = vc->lapic.timer_khz;
    struct isthmus_hb_info hb_info;
    failover_hc_env(p, &env, &hb_info);
    const u64 args[4] = { r[GPR_RDI], r[GPR_RSI], r[GPR_RDX], r[GPR_R10] };
    enum hc_action act;
    s64 ret = hypercall_dispatch(&env, r[GPR_RAX], args, &act);
    vc->stats.hypercalls++;
    if (ret < 0)
        vc->stats.hypercall_errors++;
    r[GPR_RAX] = (u64)ret;
    advance(vc, e, 3);
    if (act == HC_ACT_HALT) {
        vc->halt_any = true;
        vc->run_state = VRUN_HALTED;
    }
}

/* The guest's XCR0 lives in this CPU's XCR0 (one vCPU per CPU; the hypervisor
 * uses no extended state). Values the host cannot hold are #GP, as on hardware. */
static void handle_xsetbv(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    u64 *r = vc->v.regs.gpr;
    u64 val = (r[GPR_RDX] << 32) | (u32)r[GPR_RAX];
    struct cpuid_regs d = cpuid(0xd, 0);
    u64 supported = ((u64)d.edx << 32) | d.eax;
    if (!(cpuid(1, 0).ecx & BIT(26)) || !(be()->get_cr(&vc->v, 4) & CR4_OSXSAVE_BIT)) {
        inject_ud(vc);
        return;
    }
    /* Only combinations the SDM (Vol. 1 13.3) says XSETBV accepts get to the real
     * instruction: a #GP there would be the host's. Components other than these
     * (MPX, AMX, CET, ...) are refused. */
    u64 avx512 = XCR0_OPMASK | XCR0_ZMM_HI256 | XCR0_HI16_ZMM;
    bool bad = (u32)r[GPR_RCX] != 0 || !(val & XCR0_X87) || (val & ~supported) ||
               (val & ~(XCR0_X87 | XCR0_SSE | XCR0_AVX | avx512 | XCR0_PKRU)) ||
               ((val & XCR0_AVX) && !(val & XCR0_SSE)) ||
               ((val & avx512) && ((val & avx512) != avx512 || !(val & XCR0_AVX)));
    if (bad) {
        inject_gp(vc);
        return;
    }
    if (!(read_cr4() & CR4_OSXSAVE_BIT))
        write_cr4(read_cr4() | CR4_OSXSAVE_BIT);
    __asm__ volatile("xsetbv" : : "a"((u32)val), "d"((u32)(val >> 32)), "c"(0) : "memory");
    advance(vc, e, 3);
}

static void handle_nothing(struct vm_vcpu *vc, const struct vcpu_exit *e) { (void)vc; (void)e; }

static void handle_pause(struct vm_vcpu *vc, const struct vcpu_exit *e) { advance(vc, e, 1); }

static void handle_hlt(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    advance(vc, e, 1);
    vc->halt_any = false;
    vc->run_state = VRUN_HALTED;
}

static void handle_slpt_fault(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    if (e->fault.gpa.v >= LAYOUT_APIC_PAGE && e->fault.gpa.v < LAYOUT_APIC_PAGE + PAGE_SIZE) {
        handle_apic_access(vc, e);
        return;
    }
    if (vnic_mmio(vc, e))
        return;
    part_fail(vc, "%s%s%s access to guest-physical %#llx outside its memory (%s)",
              e->fault.read ? "read" : "", e->fault.write ? "write" : "", e->fault.fetch ? "fetch" : "",
              (unsigned long long)e->fault.gpa.v, vc->part->shadowed ? "shadow page fault"
              : be() == &vmx_backend ? "EPT violation" : "NPT violation");
}

static void handle_triple_fault(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    (void)e;
    part_fail(vc, "triple fault (shutdown)");
}

static void handle_exception(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    if (e->exception.vector == 14 && vc->part->shadowed) {
        shadow_handle_pf(vc, e);
        return;
    }
    part_fail(vc, "exception %u intercepted (error %#x)", e->exception.vector, e->exception.error);
}

static void handle_invalid_state(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    part_fail(vc, "VM entry refused the guest state (%s code %#llx)", be()->name,
              (unsigned long long)e->vendor_code);
}

typedef void (*exit_handler)(struct vm_vcpu *vc, const struct vcpu_exit *e);

/* One handler per vendor-neutral reason; a reason without one stops the partition. */
static const exit_handler handlers[VEXIT_COUNT] = {
    [VEXIT_NONE] = handle_nothing,
    [VEXIT_EXTINT] = handle_nothing,         /* the host took its interrupt on the way out */
    [VEXIT_INTR_WINDOW] = handle_nothing,    /* delivery happens before the next entry */
    [VEXIT_INIT] = handle_nothing,           /* a physical INIT: the guest's INITs are IPIs we route */
    [VEXIT_SIPI] = handle_nothing,
    [VEXIT_PAUSE] = handle_pause,
    [VEXIT_HLT] = handle_hlt,
    [VEXIT_IO] = handle_io,
    [VEXIT_CPUID] = handle_cpuid,
    [VEXIT_MSR] = handle_msr,
    [VEXIT_HYPERCALL] = handle_hypercall,
    [VEXIT_XSETBV] = handle_xsetbv,
    [VEXIT_SLPT_FAULT] = handle_slpt_fault,
    [VEXIT_TRIPLE_FAULT] = handle_triple_fault,
    [VEXIT_EXCEPTION] = handle_exception,
    [VEXIT_INVALID_STATE] = handle_invalid_state,
    [VEXIT_CR_ACCESS] = handle_cr_access,
    [VEXIT_INVLPG] = handle_invlpg,
};

void handle_exit(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    exit_handler h = (unsigned)e->reason < VEXIT_COUNT ? handlers[e->reason] : NULL;
    if (h) {
        h(vc, e);
        return;
    }
    part_fail(vc, "unhandled exit: %s (%s exit code %#llx)", vcpu_exit_name(e->reason), be()->name,
              (unsigned long long)e->vendor_code);
}
