/* Shadow paging for a partition's vCPU; see shadow_vcpu.h. Control-register
 * checks follow SDM Vol. 3A 2.5 and the MOV CR / WRMSR pages: what the CPU
 * would refuse with #GP is refused with #GP here too. */
#include "vmm/shadow_vcpu.h"
#include "vmm/exits.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/desc.h"
#include "arch/x86/hw/vectors.h"
#include "arch/x86/virt.h"
#include "kernel/lib/errno.h"
#include "kernel/core/log.h"
#include "kernel/core/mm.h"
#include "kernel/lib/printf.h"
#include "kernel/lib/string.h"

#define SHADOW_PAGES (ALIGN_UP(sizeof(struct shadow), PAGE_SIZE) / PAGE_SIZE)

/* The same unemulated page-table write retried this often in a row is a
 * livelock, not a guest making progress (one retry per exit). */
#define UNEMULATED_REPEATS_MAX 1000

static const struct vcpu_backend *be(void) { return vcpu_backend; }

/* ---- the shadow MMU's view of the partition ---- */

static int sh_alloc(void *ctx, bool below_4g, hpa_t *pa)
{
    struct partition *p = ctx;
    /* PFA_ANY_NODE takes the lowest free page: below 4 GiB if any is. */
    int rc = mm_alloc(p->node, 1, 1, below_4g ? PFA_ANY_NODE : 0, pa, NULL);
    if (rc < 0)
        return rc;
    if (below_4g && *pa >= (1ULL << 32)) {
        mm_release(*pa, 1);
        return -ENOMEM;
    }
    return 0;
}

static void sh_free(void *ctx, hpa_t pa)
{
    (void)ctx;
    mm_release(pa, 1);
}

static void *sh_map(void *ctx, hpa_t pa)
{
    (void)ctx;
    return hpa_to_ptr(pa);
}

static int sh_gread(void *ctx, gpa_t g, void *out, u32 len) { return guest_read(ctx, g, out, len); }

static int sh_gwrite(void *ctx, gpa_t g, const void *in, u32 len)
{
    struct partition *p = ctx;
    for (u32 i = 0; i < p->nram_ranges; i++) {
        const struct hc_mem_range *r = &p->ram_ranges[i];
        if (g.v >= r->start && g.v < r->end && len <= r->end - g.v)
            return gmem_write(&p->gmem, g.v, in, len) < 0 ? -EFAULT : 0;
    }
    return -EFAULT;
}

static bool is_ram(const struct partition *p, u64 g)
{
    for (u32 i = 0; i < p->nram_ranges; i++)
        if (g >= p->ram_ranges[i].start && g < p->ram_ranges[i].end)
            return true;
    return false;
}

static int sh_gpa_to_hpa(void *ctx, gpa_t g, hpa_t *hpa, unsigned *perms)
{
    struct partition *p = ctx;
    gpa_t page = gpa(g.v & ~(u64)(PAGE_SIZE - 1));
    int rc = slpt_lookup(&p->slpt, page, hpa, perms, NULL);
    /* What the map holds beyond RAM is device memory (assigned BARs) or the
     * ROM area: uncacheable, as nested paging maps it. */
    if (rc == 0 && !is_ram(p, page.v))
        *perms |= SHADOW_PERM_UC;
    return rc;
}

/* The other vCPUs of the partition out of the guest, each at least once
 * since the call: their next entries flush their TLBs (every entry of a
 * shadowed vCPU does), and none walks a dropped table page any more. Runs
 * with p->shadow_lock held; a vCPU kicked out may then wait for that lock,
 * but has counted its exit first. */
static void sh_sync_cpus(void *ctx, int self)
{
    struct partition *p = ctx;
    u64 seen[CONFIG_MAX_PART_CPUS];
    bool wait[CONFIG_MAX_PART_CPUS];
    for (u32 i = 0; i < p->nvcpus; i++) {
        struct vm_vcpu *o = p->vcpu[i];
        wait[i] = false;
        if (!o || (int)i == self)
            continue;
        seen[i] = __atomic_load_n(&o->exit_seq, __ATOMIC_SEQ_CST);
        if (__atomic_load_n(&o->in_guest, __ATOMIC_SEQ_CST)) {
            wait[i] = true;
            vcpu_kick(o);
        }
    }
    for (u32 i = 0; i < p->nvcpus; i++) {
        struct vm_vcpu *o = p->vcpu[i];
        while (wait[i] && __atomic_load_n(&o->in_guest, __ATOMIC_SEQ_CST) &&
               __atomic_load_n(&o->exit_seq, __ATOMIC_SEQ_CST) == seen[i])
            cpu_relax();
    }
}

int shadow_part_init(struct partition *p, char *err, size_t errlen)
{
    u8 want = p->cfg->paging;
    bool nested_ok = virt_has_slpt();
    p->shadowed = want == PAGING_SHADOW || (want == PAGING_AUTO && !nested_ok);
    if (!p->shadowed) {
        if (!nested_ok)
            return kerr_fmt(err, errlen, -ENOTSUP, "paging = \"nested\" but the CPU has no EPT/NPT");
        return 0;
    }
    if (p->nvcpus > SHADOW_CPUS_MAX)
        return kerr_fmt(err, errlen, -ENOTSUP, "shadow paging supports up to %u vCPUs, not %u", SHADOW_CPUS_MAX,
                        p->nvcpus);
    u32 nroots = p->cfg->shadow_roots ? p->cfg->shadow_roots : SHADOW_ROOTS_DEFAULT;
    if (nroots < p->nvcpus)
        return kerr_fmt(err, errlen, -EINVAL, "shadow_roots = %u is fewer than its %u vCPUs (each runs on a root)",
                        nroots, p->nvcpus);
    hpa_t pa;
    int rc = mm_alloc(p->node, SHADOW_PAGES, 1, 0, &pa, NULL);
    if (rc < 0)
        return kerr_fmt(err, errlen, rc, "no memory for the shadow MMU");
    p->shadow = hpa_to_ptr(pa);
    p->shadow_lock = (spinlock_t)SPINLOCK_INIT;
    const struct shadow_ops ops = { sh_alloc, sh_free, sh_map, sh_gread, sh_gwrite, sh_gpa_to_hpa, sh_sync_cpus, p };
    rc = shadow_init(p->shadow, &ops, nroots, p->cfg->shadow_tables, p->nvcpus);
    if (rc < 0) {
        mm_release(pa, SHADOW_PAGES);
        p->shadow = NULL;
        return kerr_fmt(err, errlen, rc, "cannot set up the shadow MMU");
    }
    if (want == PAGING_AUTO)
        log_info("part", "%s: the CPU has no EPT/NPT: shadow paging", p->cfg->name);
    return 0;
}

void shadow_part_free(struct partition *p)
{
    if (!p->shadow)
        return;
    shadow_destroy(p->shadow);
    mm_release(ptr_to_hpa(p->shadow), SHADOW_PAGES);
    p->shadow = NULL;
}

int shadow_part_entry(struct partition *p, u32 vcpu, u64 va, u64 *entry)
{
    if (!p->shadowed || !p->shadow)
        return -ENOTSUP;
    if (vcpu >= p->nvcpus)
        return -ERANGE;
    spin_lock(&p->shadow_lock);
    *entry = shadow_entry(p->shadow, (int)vcpu, va);
    spin_unlock(&p->shadow_lock);
    return 0;
}

/* ---- the guest's paging registers ---- */

/* Loads the root for the guest's current state and both register views. */
static int apply(struct vm_vcpu *vc)
{
    const struct shadow_regs *g = &vc->paging;
    if (!(g->cr0 & CR0_PE) && !be()->shadow_real_mode && !virt_has_slpt()) {
        part_fail(vc,
                  "shadow paging on %s: the guest entered real mode (CR0.PE = 0), which it cannot run in "
                  "without unrestricted guest (an AP's start-up, for one)",
                  be()->name);
        return -ENOTSUP;
    }
    hpa_t root;
    enum shadow_mode mode;
    struct partition *p = vc->part;
    spin_lock(&p->shadow_lock);
    int rc = shadow_activate(p->shadow, (int)vc->v.index, g, &root, &mode);
    spin_unlock(&p->shadow_lock);
    if (rc == -ENOTSUP) {
        part_fail(vc, "shadow paging: the guest enabled %s, which shadow paging does not support",
                  (g->cr4 & CR4_PCIDE)  ? "PCIDs"
                  : (g->cr4 & CR4_LA57) ? "5-level paging"
                  : (g->cr4 & CR4_PKE)  ? "protection keys"
                  : (g->cr4 & CR4_PAE)  ? "PAE paging"
                                        : "32-bit paging");
        return rc;
    }
    if (rc < 0) {
        part_fail(vc, "shadow paging: no memory for shadow page tables");
        return rc;
    }
    /* The hardware pages even when the guest does not (an identity shadow),
     * with WP on so that write-protected guest page tables trap in ring 0
     * too, with PAE tables in either mode, and without global pages (every
     * entry flushes the vCPU's TLB anyway). NXE lets shadows forbid fetches. */
    struct vcpu_paging pg = {
        .cr0 = g->cr0,
        .cr3 = g->cr3,
        .cr4 = g->cr4,
        .efer = g->efer,
        .hw_cr0 = g->cr0 | CR0_PG | CR0_WP,
        .hw_cr3 = root,
        /* With paging off the identity shadow's pages are user pages: SMEP
         * and SMAP (which only mean something with paging) would refuse them. */
        .hw_cr4 = (g->cr4 | CR4_PAE) & ~(CR4_PGE | CR4_PSE | (mode == SHADOW_MODE_NONE ? CR4_SMEP | CR4_SMAP : 0)),
        .hw_efer = mode == SHADOW_MODE_LONG4 ? g->efer | EFER_LME | EFER_LMA | EFER_NXE
                                             : (g->efer & ~(EFER_LME | EFER_LMA)) | EFER_NXE,
        .slpt_root = virt_has_slpt() ? slpt_root(&p->slpt) : 0,
    };
    be()->set_paging(&vc->v, &pg);
    return 0;
}

int shadow_vcpu_enable(struct vm_vcpu *vc) { return be()->enable_shadow(&vc->v); }

int shadow_vcpu_start(struct vm_vcpu *vc, const struct vcpu_boot_state *s)
{
    vc->paging = (struct shadow_regs){ s->cr0, s->cr3, s->cr4, s->efer, s->regs.rflags };
    return apply(vc);
}

void shadow_gpa_map_changed(struct vm_vcpu *vc)
{
    spin_lock(&vc->part->shadow_lock);
    shadow_flush_all(vc->part->shadow, (int)vc->v.index);
    spin_unlock(&vc->part->shadow_lock);
    (void)apply(vc);
}

/* What MOV to CR0 may do: 0 and the new value applied, or -EINVAL for #GP. */
static int guest_write_cr0(struct shadow_regs *g, u64 val)
{
    if ((val >> 32) || ((val & CR0_PG) && !(val & CR0_PE)) || ((val & CR0_NW) && !(val & CR0_CD)))
        return -EINVAL;
    bool pg_on = (val & CR0_PG) && !(g->cr0 & CR0_PG), pg_off = !(val & CR0_PG) && (g->cr0 & CR0_PG);
    if (pg_on && (g->efer & EFER_LME)) {
        if (!(g->cr4 & CR4_PAE))
            return -EINVAL;
        g->efer |= EFER_LMA; /* long mode is active once paging is on (SDM 10.8.5) */
    }
    if (pg_off)
        g->efer &= ~EFER_LMA;
    g->cr0 = val | CR0_ET; /* ET is fixed to 1 */
    return 0;
}

static int guest_write_cr4(struct shadow_regs *g, u64 val)
{
    /* VMX and SMX belong to the hypervisor; PCIDs, protection keys and
     * 5-level paging are not shadowed (CPUID hides them). */
    if ((val >> 32) || (val & (CR4_VMXE | CR4_SMXE | CR4_PCIDE | CR4_LA57 | CR4_PKE)))
        return -EINVAL;
    if ((g->efer & EFER_LMA) && !(val & CR4_PAE))
        return -EINVAL;
    g->cr4 = val;
    return 0;
}

/* Fills in what the exit did not say (AMD-V without decode assists): the
 * instruction's length and register, from the instruction itself. */
static bool decode_cr(struct vm_vcpu *vc, const struct vcpu_exit *e, struct insn_sys *out, enum insn_mode *mode)
{
    u8 bytes[INSN_MAX_LEN];
    u32 n = guest_fetch_insn(vc, bytes, mode);
    if (!n || insn_decode_sys(bytes, n, *mode, out) < 0)
        return false;
    if (e->reason == VEXIT_INVLPG)
        return out->kind == INSN_SYS_INVLPG;
    if (e->cr.clts)
        return out->kind == INSN_SYS_CLTS;
    return out->cr == e->cr.cr && out->kind == (e->cr.write ? INSN_SYS_MOV_TO_CR : INSN_SYS_MOV_FROM_CR);
}

static enum insn_mode cur_mode(struct vm_vcpu *vc)
{
    struct vcpu_segment cs;
    be()->get_segment(&vc->v, VSEG_CS, &cs);
    return (vc->paging.efer & EFER_LMA) && (cs.attrib & SEG_ATTR_L) ? INSN_MODE_64 : INSN_MODE_32;
}

void handle_cr_access(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct shadow_regs *g = &vc->paging;
    int gpr = e->cr.gpr;
    u64 len = e->insn_len;
    enum insn_mode mode = cur_mode(vc);
    /* The SVM exit code may also be LMSW or SMSW (CR0) or a CLTS; only the
     * decoded instruction tells, so without decode assists it decides. */
    if (!vc->part->shadowed) {
        part_fail(vc, "control-register exit without shadow paging");
        return;
    }
    if ((gpr < 0 && !e->cr.clts) || !len) {
        struct insn_sys s;
        if (!decode_cr(vc, e, &s, &mode)) {
            part_fail(vc, "shadow paging: cannot emulate the %s of CR%u at RIP %#llx (only MOV CRn and CLTS are)",
                      e->cr.write ? "write" : "read", e->cr.cr, (unsigned long long)vc->v.regs.rip);
            return;
        }
        gpr = s.kind == INSN_SYS_CLTS ? -1 : s.gpr;
        len = s.len;
    }
    u64 *regs = vc->v.regs.gpr;
    u64 mask = mode == INSN_MODE_64 ? ~0ULL : 0xffffffffULL;
    if (!e->cr.write) {
        u64 val = e->cr.cr == 0 ? g->cr0 : e->cr.cr == 3 ? g->cr3 : e->cr.cr == 4 ? g->cr4 : 0;
        regs[gpr] = val & mask;
        vc->stats.cr_accesses++;
        be()->advance_rip(&vc->v, len);
        return;
    }
    struct shadow_regs next = *g;
    int rc = 0;
    switch (e->cr.cr) {
    case 0: rc = guest_write_cr0(&next, gpr < 0 ? g->cr0 & ~CR0_TS : regs[gpr] & mask); break;
    case 3:
        /* The no-flush bit means something only with PCIDs, which are off. */
        next.cr3 = regs[gpr] & mask & ~CR3_NOFLUSH;
        vc->stats.cr3_loads++;
        break;
    case 4: rc = guest_write_cr4(&next, regs[gpr] & mask); break;
    default: rc = -EINVAL; break;
    }
    if (e->cr.cr != 3)
        vc->stats.cr_accesses++;
    if (rc < 0) {
        inject_gp(vc);
        return;
    }
    *g = next;
    if (apply(vc) == 0)
        be()->advance_rip(&vc->v, len);
}

void handle_invlpg(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    u64 va = e->invlpg.va, len = e->insn_len;
    if (!vc->part->shadowed) {
        part_fail(vc, "INVLPG exit without shadow paging");
        return;
    }
    if (!e->invlpg.known || !len) {
        struct insn_sys s;
        enum insn_mode mode;
        if (!decode_cr(vc, e, &s, &mode)) {
            part_fail(vc, "shadow paging: cannot decode the INVLPG at RIP %#llx", (unsigned long long)vc->v.regs.rip);
            return;
        }
        len = s.len;
        if (!e->invlpg.known) {
            va = insn_effective_address(&s.mem, vc->v.regs.gpr, vc->v.regs.rip + len);
            /* Segment bases: only FS and GS count in 64-bit mode. */
            struct vcpu_segment seg;
            if (mode != INSN_MODE_64 || s.mem.seg == INSN_SEG_FS || s.mem.seg == INSN_SEG_GS) {
                static const enum vcpu_seg_reg segs[] = { VSEG_ES, VSEG_CS, VSEG_SS, VSEG_DS, VSEG_FS, VSEG_GS };
                be()->get_segment(&vc->v, segs[s.mem.seg % 6], &seg);
                va += seg.base;
            }
            if (mode != INSN_MODE_64)
                va &= 0xffffffffULL;
        }
    }
    spin_lock(&vc->part->shadow_lock);
    shadow_invlpg(vc->part->shadow, (int)vc->v.index, va);
    spin_unlock(&vc->part->shadow_lock);
    be()->advance_rip(&vc->v, len);
}

bool shadow_write_efer(struct vm_vcpu *vc, u64 val)
{
    struct shadow_regs *g = &vc->paging;
    /* LMA is the CPU's; LME may not change while paging is on. */
    u64 next = (val & ~EFER_LMA) | (g->efer & EFER_LMA);
    if ((g->cr0 & CR0_PG) && ((next ^ g->efer) & EFER_LME))
        return false;
    g->efer = next;
    (void)apply(vc); /* a failure stops the partition, with the reason */
    return true;
}

/* A STOS or REP STOS (memset, clear_page) into a tracked page: the elements
 * that land in this page are stored here, rDI and rCX moved on as the CPU
 * would; with count left, RIP stays and the rest runs (or faults) anew, as a
 * REP instruction may be interrupted and resumed. false when it is not a
 * STOS or a store fails (nothing is moved on then: the stores done are
 * repeated by whatever runs the instruction next, with the same value). */
static bool pt_stos(struct vm_vcpu *vc, gpa_t at, const u8 *bytes, u32 n, enum insn_mode mode)
{
    struct insn_stos st;
    if (insn_decode_stos(bytes, n, mode, &st) != 0)
        return false;
    u64 *regs = vc->v.regs.gpr;
    u64 amask = st.addr_size == 8 ? ~0ULL : (1ULL << (8 * st.addr_size)) - 1;
    u64 count = st.rep ? regs[GPR_RCX] & amask : 1;
    u64 off = at.v & (PAGE_SIZE - 1);
    if (count == 0 || off + st.size > PAGE_SIZE)
        return false;
    bool down = vc->v.regs.rflags & RFLAGS_DF;
    u64 room = down ? off / st.size + 1 : (PAGE_SIZE - off) / st.size;
    u64 k = count < room ? count : room;
    u64 val = regs[GPR_RAX];
    for (u64 i = 0; i < k; i++) {
        gpa_t a = gpa(down ? at.v - i * st.size : at.v + i * st.size);
        spin_lock(&vc->part->shadow_lock);
        int rc = shadow_pt_write(vc->part->shadow, (int)vc->v.index, a, &val, st.size);
        bool tracked = shadow_tracked(vc->part->shadow, a);
        spin_unlock(&vc->part->shadow_lock);
        if (rc != 0)
            return false;
        if (!tracked) {
            k = i + 1; /* released (a flood of writes): the rest runs natively */
            break;
        }
    }
    u64 step = k * st.size;
    u64 rdi = (down ? regs[GPR_RDI] - step : regs[GPR_RDI] + step) & amask;
    /* 16-bit registers keep their upper bits; 32-bit writes zero them. */
    regs[GPR_RDI] = st.addr_size == 2 ? (regs[GPR_RDI] & ~amask) | rdi : rdi;
    if (st.rep) {
        u64 rcx = (regs[GPR_RCX] - k) & amask;
        regs[GPR_RCX] = st.addr_size == 2 ? (regs[GPR_RCX] & ~amask) | rcx : rcx;
        if (rcx)
            return true;
    }
    be()->advance_rip(&vc->v, st.len);
    return true;
}

/* The guest wrote one of its page-table pages: the write is done here (and
 * the shadows that used the entry dropped), or, for an instruction that is
 * not emulated (string stores, SIMD), the page is released from write
 * protection instead. Emulated: MOV stores and the read-modify-writes of
 * insn_decode_rmw(), the registers and flags they change included; the
 * shadow MMU's state is not shared with any other writer meanwhile, so a
 * LOCKed instruction is as atomic as on the CPU. */
static void pt_write(struct vm_vcpu *vc, gpa_t at)
{
    struct shadow *sh = vc->part->shadow;
    u8 bytes[INSN_MAX_LEN] = { 0 };
    enum insn_mode mode;
    struct insn_rmw r;
    u32 n = guest_fetch_insn(vc, bytes, &mode);
    if (n && insn_decode_rmw(bytes, n, mode, &r) == 0 && (at.v & (PAGE_SIZE - 1)) + r.in.access_size <= PAGE_SIZE) {
        u64 old = 0, val = 0, gpr[GPR_COUNT], fl = vc->v.regs.rflags;
        memcpy(gpr, vc->v.regs.gpr, sizeof(gpr));
        /* The read and the write under one lock: a LOCKed instruction is
         * atomic against the other vCPUs' emulated writes. */
        spin_lock(&vc->part->shadow_lock);
        bool done = guest_read(vc->part, at, &old, r.in.access_size) == 0 &&
                    insn_rmw_exec(&r, old, gpr, &fl, &val) == 0 &&
                    shadow_pt_write(sh, (int)vc->v.index, at, &val, r.in.access_size) == 0;
        spin_unlock(&vc->part->shadow_lock);
        if (done) {
            memcpy(vc->v.regs.gpr, gpr, sizeof(gpr));
            vc->v.regs.rflags = fl;
            be()->advance_rip(&vc->v, r.in.len);
            vc->unemulated_repeats = 0;
            return;
        }
    }
    if (n && pt_stos(vc, at, bytes, n, mode)) {
        vc->unemulated_repeats = 0;
        return;
    }
    /* Released, the page is tracked again as soon as a walk reads it. When
     * the write's own address translates through the page, that is the
     * retried write's walk: the same fault forever. Say so instead. */
    u64 gfn = at.v >> PAGE_SHIFT;
    if (vc->unemulated_rip == vc->v.regs.rip && vc->unemulated_gfn == gfn) {
        if (++vc->unemulated_repeats >= UNEMULATED_REPEATS_MAX) {
            part_fail(vc,
                      "shadow paging: the instruction at RIP %#llx (bytes %02x %02x %02x %02x %02x %02x) writes "
                      "the page table at %#llx that maps it, and is not emulated",
                      (unsigned long long)vc->v.regs.rip, bytes[0], bytes[1], bytes[2], bytes[3], bytes[4], bytes[5],
                      (unsigned long long)at.v);
            return;
        }
    } else {
        vc->unemulated_rip = vc->v.regs.rip;
        vc->unemulated_gfn = gfn;
        vc->unemulated_repeats = 0;
    }
    spin_lock(&vc->part->shadow_lock);
    shadow_unprotect(sh, (int)vc->v.index, at);
    spin_unlock(&vc->part->shadow_lock);
}

/* The guest's own tables refuse an access: its #PF, combined with the event
 * the CPU was delivering when it faulted, if any, as SDM Vol. 3A 6.15 (table
 * 6-5) says: during a #PF's delivery a #DF (error code 0); during a #DF's a
 * triple fault (the partition stops, as for a shutdown exit); otherwise the
 * #PF first: an exception the instruction raises again when it is retried,
 * an external interrupt pending again in the local APIC. */
static void guest_page_fault(struct vm_vcpu *vc, u64 va, u32 pfec)
{
    struct vcpu_event ev = { VEVENT_EXCEPTION, X86_EXC_PF, true, pfec, va }, first;
    if (be()->take_pending(&vc->v, &first)) {
        if (first.type == VEVENT_EXCEPTION && first.vector == X86_EXC_DF) {
            part_fail(vc, "triple fault (a page fault at %#llx while delivering a double fault)",
                      (unsigned long long)va);
            return;
        }
        if (first.type == VEVENT_EXCEPTION && first.vector == X86_EXC_PF) {
            ev = (struct vcpu_event){ VEVENT_EXCEPTION, X86_EXC_DF, true, 0, 0 };
            vc->stats.double_faults++;
        } else if (first.type == VEVENT_EXTINT) {
            vlapic_unaccept(&vc->lapic, first.vector);
        }
    }
    if (be()->inject(&vc->v, &ev) < 0)
        part_fail(vc, "cannot inject the page fault at %#llx", (unsigned long long)va);
}

void shadow_handle_pf(struct vm_vcpu *vc, const struct vcpu_exit *e)
{
    struct shadow_fault f;
    u64 va = e->exception.address;
    vc->stats.pf_exits++;
    vc->paging.rflags = vc->v.regs.rflags;
    spin_lock(&vc->part->shadow_lock);
    int rc = shadow_page_fault(vc->part->shadow, (int)vc->v.index, &vc->paging, va, e->exception.error, &f);
    spin_unlock(&vc->part->shadow_lock);
    if (rc < 0) {
        part_fail(vc, "shadow paging: %s at %#llx",
                  rc == -EFAULT   ? "a guest page table lies outside its memory"
                  : rc == -ENOMEM ? "no memory for shadow page tables"
                                  : "a bad address",
                  (unsigned long long)va);
        return;
    }
    switch (f.result) {
    case SHADOW_FIXED: return;
    case SHADOW_GUEST_FAULT: guest_page_fault(vc, va, f.pfec); return;
    case SHADOW_MMIO: {
        struct vcpu_exit x = *e;
        x.reason = VEXIT_SLPT_FAULT;
        x.fault.gpa = f.gpa;
        x.fault.write = e->exception.error & PFEC_W;
        x.fault.fetch = e->exception.error & PFEC_I;
        x.fault.read = !x.fault.write && !x.fault.fetch;
        x.fault.present = false;
        handle_exit(vc, &x);
        return;
    }
    case SHADOW_PT_WRITE: pt_write(vc, f.gpa); return;
    }
}
