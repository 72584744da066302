/* What each exit means for the guest; see exits.h. Port I/O, second-level
 * faults, MSRs and CPUID go to whatever device claimed them in the partition's
 * registry (vmm/vdev.h); this file names no device. Unclaimed, a port reads
 * all-ones and ignores writes (as an empty ISA bus would), counted and logged
 * once per partition run; an MSR is #GP; a fault stops the partition. */
#include "vmm/exits.h"
#include "vmm/shadow_vcpu.h"
#include "vmm/vcpuid.h"
#include "vmm/vdev.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/cpuid.h"
#include "arch/x86/hw/vectors.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/log_limit.h"
#include "kernel/lib/string.h"
#include "kernel/core/time.h"

static const struct vcpu_backend *be(void) { return vcpu_backend; }

static void inject_exc(struct vm_vcpu *vc, u8 vector, bool has_error)
{
    struct vcpu_event ev = { VEVENT_EXCEPTION, vector, has_error, 0, 0 };
    if (be()->inject(&vc->v, &ev) < 0)
        part_fail(vc, "cannot inject exception %u: another event is pending", vector);
}

void inject_gp(struct vm_vcpu *vc) { inject_exc(vc, X86_EXC_GP, true); }
void inject_ud(struct vm_vcpu *vc) { inject_exc(vc, X86_EXC_UD, false); }

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

static void handle_io(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct partition *p = vc->part;
    if (e->io.string) {
        part_fail(vc, "string I/O (INS/OUTS) on port %#x is not supported", e->io.port);
        return;
    }
    u64 *rax = &vc->v.regs.gpr[GPR_RAX];
    u32 mask = e->io.size == 4 ? 0xffffffffu : e->io.size == 2 ? 0xffffu : 0xffu;
    u32 value = e->io.in ? 0 : (u32)*rax & mask;
    const struct vdev_claim *c = vdev_find(p->vdev.pio, p->vdev.npio, e->io.port);
    enum vdev_result r = c ? ((vdev_pio_fn)c->fn)(vc, c->dev, e->io.port, e->io.size, e->io.in, &value)
                           : VDEV_UNCLAIMED;
    if (r != VDEV_DONE) {
        if (!vc->stats.io_ignored)
            log_limited(p->id, LOGR_PORT, LOG_WARN, "part",
                        "%s: vCPU %u: %s of port %#x goes nowhere (reads all-ones, writes ignored; "
                        "further ones are only counted)",
                        p->cfg->name, vc->v.index, e->io.in ? "read" : "write", e->io.port);
        vc->stats.io_ignored++;
        value = 0xffffffffu;
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

/* RDMSR/WRMSR of the MSR in RCX, by whichever device claimed it; #GP for the
 * rest, as a CPU that lacks the MSR would do. */
static void handle_msr(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct partition *p = vc->part;
    u64 *r = vc->v.regs.gpr;
    u32 index = e->msr.index;
    u64 val = e->msr.write ? (r[GPR_RDX] << 32) | (u32)r[GPR_RAX] : 0;
    const struct vdev_claim *c = vdev_find(p->vdev.msr, p->vdev.nmsr, index);
    enum vdev_result res = c ? ((vdev_msr_fn)c->fn)(vc, c->dev, index, e->msr.write, &val) : VDEV_GP;
    if (res != VDEV_DONE) {
        if (vc->stats.msr_gp++ < 4)
            log_limited(p->id, LOGR_MSR, LOG_INFO, "part", "%s: vCPU %u: %s of MSR %#x refused with #GP", p->cfg->name,
                        vc->v.index, e->msr.write ? "write" : "read", index);
        inject_gp(vc);
        return;
    }
    if (!e->msr.write) {
        r[GPR_RAX] = (u32)val;
        r[GPR_RDX] = val >> 32;
    }
    advance(vc, e, 2);
}

static void handle_cpuid(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct partition *p = vc->part;
    u64 *r = vc->v.regs.gpr;
    u32 leaf = (u32)r[GPR_RAX], sub = (u32)r[GPR_RCX];
    struct cpuid_regs h = cpuid(leaf, sub);
    struct vcpuid_host host = { h.eax, h.ebx, h.ecx, h.edx };
    struct vcpuid_ctx ctx = {
        .apic_id = vc->v.apic_id,
        .vcpus = p->nvcpus,
        .tsc_khz = (u32)tsc_khz,
        .apic_timer_khz = vc->lapic.timer_khz,
        .vendor = be()->vendor == VCPU_VENDOR_INTEL ? VCPUID_VENDOR_INTEL : VCPUID_VENDOR_AMD,
        .shadow = p->shadowed,
        .invpcid_ud = vc->v.invpcid_ud,
    };
    u32 out[4];
    vcpuid_filter(leaf, sub, &host, &ctx, out);
    const struct vdev_claim *c = vdev_find(p->vdev.cpuid, p->vdev.ncpuid, leaf);
    if (c)
        ((vdev_cpuid_fn)c->fn)(vc, c->dev, leaf, sub, out);
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
        .ram = p->ram_ranges,
        .nram = p->nram_ranges,
        .mem = &p->gmem,
        .cpl = be()->get_cpl(&vc->v),
        .console = console_out,
        .ctx = p,
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
    part_hc_env(p, &env, &hb_info);
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
    struct cpuid_regs d = cpuid(CPUID_LEAF_XSAVE, 0);
    u64 supported = ((u64)d.edx << 32) | d.eax;
    if (!(cpuid(CPUID_LEAF_FEATURES, 0).ecx & CPUID_1_ECX_XSAVE) || !(be()->get_cr(&vc->v, 4) & CR4_OSXSAVE)) {
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
    if (!(read_cr4() & CR4_OSXSAVE))
        write_cr4(read_cr4() | CR4_OSXSAVE);
    __asm__ volatile("xsetbv" : : "a"((u32)val), "d"((u32)(val >> 32)), "c"(0) : "memory");
    advance(vc, e, 3);
}

static void handle_nothing(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    (void)vc;
    (void)e;
}

static void handle_pause(struct vm_vcpu *vc, const struct vcpu_exit *e) { advance(vc, e, 1); }

static void handle_hlt(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    advance(vc, e, 1);
    vc->halt_any = false;
    vc->run_state = VRUN_HALTED;
}

static void handle_slpt_fault(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct partition *p = vc->part;
    const struct vdev_claim *c = vdev_find(p->vdev.mmio, p->vdev.nmmio, e->fault.gpa.v);
    if (c && ((vdev_mmio_fn)c->fn)(vc, c->dev, e) == VDEV_DONE)
        return;
    part_fail(vc, "%s%s%s access to guest-physical %#llx outside its memory (%s)", e->fault.read ? "read" : "",
              e->fault.write ? "write" : "", e->fault.fetch ? "fetch" : "", (unsigned long long)e->fault.gpa.v,
              p->shadowed ? "shadow page fault" : be()->slpt_fault_name);
}

static void handle_triple_fault(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    (void)e;
    part_fail(vc, "triple fault (shutdown)");
}

static void handle_exception(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    if (e->exception.vector == X86_EXC_PF && vc->part->shadowed) {
        shadow_handle_pf(vc, e);
        return;
    }
    part_fail(vc, "exception %u intercepted (error %#x)", e->exception.vector, e->exception.error);
}

static void handle_invalid_state(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    part_fail(vc, "VM entry refused the guest state (%s code %#llx)", be()->name, (unsigned long long)e->vendor_code);
}

typedef void (*exit_handler)(struct vm_vcpu *vc, const struct vcpu_exit *e);

/* One handler per vendor-neutral reason; a reason without one stops the partition. */
static const exit_handler handlers[VEXIT_COUNT] = {
    [VEXIT_NONE] = handle_nothing,
    [VEXIT_EXTINT] = handle_nothing,      /* the host took its interrupt on the way out */
    [VEXIT_INTR_WINDOW] = handle_nothing, /* delivery happens before the next entry */
    [VEXIT_INIT] = handle_nothing,        /* a physical INIT: the guest's INITs are IPIs we route */
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
