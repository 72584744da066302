/* `vmtest`: runs a 26-byte guest through the vendor-neutral vCPU interface on
 * this CPU and checks that every exit comes back as expected: an OUT, a CPUID,
 * a hypercall, a write to unmapped guest memory, a HLT. It proves the backend,
 * the second-level page tables and the exit translation on this machine, and
 * leaves no memory behind. */
#include "vmm/selftest.h"
#include "arch/x86/vcpu.h"
#include "vmm/slpt.h"
#include "arch/x86/hw/cpu.h"
#include "arch/x86/hw/desc.h"
#include "kernel/core/console.h"
#include "kernel/lib/errno.h"
#include "kernel/core/mm.h"
#include "kernel/core/percpu.h"
#include "kernel/lib/string.h"
#include "arch/x86/virt.h"

#define CODE_GPA  0x1000
#define FAULT_GPA 0x400000
#define MARKER    0x12345678u

struct step {
    enum vcpu_exit_reason reason;
    u64 skip; /* bytes to step over when the exit has no length */
    const char *what;
};

static const struct step steps[] = {
    { VEXIT_IO, 2, "OUT 0x80, AL='A'" },
    { VEXIT_CPUID, 2, "CPUID" },
    { VEXIT_HYPERCALL, 3, "hypercall with RAX=0x12345678" },
    { VEXIT_SLPT_FAULT, 10, "write to unmapped guest-physical 0x400000" },
    { VEXIT_HLT, 1, "HLT" },
};

static int table_alloc(void *ctx, hpa_t *pa) { return mm_alloc(this_cpu()->node, 1, 1, 0, pa, NULL); }
static void table_free(void *ctx, hpa_t pa) { mm_release(pa, 1); }
static void *table_map(void *ctx, hpa_t pa) { return hpa_to_ptr(pa); }

static void build_code(u8 *p, bool intel)
{
    static const u8 head[] = {
        0xb0, 0x41,                   /* mov al, 'A' */
        0xe6, 0x80,                   /* out 0x80, al */
        0x31, 0xc0,                   /* xor eax, eax */
        0x0f, 0xa2,                   /* cpuid */
        0xb8, 0x78, 0x56, 0x34, 0x12, /* mov eax, MARKER */
    };
    static const u8 tail[] = {
        0xc7, 0x05, 0x00, 0x00, 0x40, 0x00, 0xef, 0xbe, 0xad, 0xde, /* mov dword [0x400000], 0xdeadbeef */
        0xf4,                                                       /* hlt */
    };
    memcpy(p, head, sizeof(head));
    p += sizeof(head);
    p[0] = 0x0f;
    p[1] = 0x01;
    p[2] = intel ? 0xc1 : 0xd9; /* vmcall / vmmcall */
    memcpy(p + 3, tail, sizeof(tail));
}

static void flat32(struct vcpu_boot_state *s, u64 rip)
{
    memset(s, 0, sizeof(*s));
    s->regs.rip = rip;
    s->regs.rflags = RFLAGS_FIXED;
    s->cr0 = CR0_PE | CR0_ET;
    struct vcpu_segment code = { 0x08, SEG_ATTRS_CODE32, 0xffffffff, 0 };
    struct vcpu_segment data = { 0x10, SEG_ATTRS_DATA32, 0xffffffff, 0 };
    s->cs = code;
    s->ds = s->es = s->fs = s->gs = s->ss = data;
    s->tr = (struct vcpu_segment){ 0x18, SEG_ATTRS_TSS, TSS64_LIMIT, 0 };
    s->ldtr = (struct vcpu_segment){ 0, SEG_ATTRS_LDT, 0xffff, 0 };
    s->gdtr = (struct vcpu_segment){ 0, 0, 0xffff, 0 };
    s->idtr = (struct vcpu_segment){ 0, 0, 0xffff, 0 };
}

static bool check(const struct vcpu *v, const struct step *st, const struct vcpu_exit *e)
{
    switch (st->reason) {
    case VEXIT_IO: return e->io.port == 0x80 && !e->io.in && e->io.size == 1 && (u8)v->regs.gpr[GPR_RAX] == 'A';
    case VEXIT_HYPERCALL: return (u32)v->regs.gpr[GPR_RAX] == MARKER;
    case VEXIT_SLPT_FAULT: return e->fault.gpa.v == FAULT_GPA && e->fault.write;
    default: return true;
    }
}

int vmtest_run(void)
{
    if (!vcpu_backend) {
        char d[160];
        virt_describe(d, sizeof(d));
        con_printf("vmtest: no vCPU backend on this machine (virtualization: %s)\n", d);
        return -ENODEV;
    }
    if (!virt_has_slpt()) {
        con_printf("vmtest: runs on nested paging (EPT/NPT), which this CPU does not have\n");
        return -ENOTSUP;
    }
    int err = vcpu_backend->cpu_enable();
    if (err) {
        con_printf("vmtest: cannot enable virtualization on this CPU: %s\n", strerror_short(err));
        return err;
    }
    bool intel = vcpu_backend->vendor == VCPU_VENDOR_INTEL;
    struct slpt t;
    struct slpt_ops ops = { table_alloc, table_free, table_map, NULL };
    hpa_t code;
    struct vcpu v;
    u32 ok = 0, i = 0;
    memset(&v, 0, sizeof(v));
    v.asid = 1;
    if ((err = mm_alloc(this_cpu()->node, 1, 1, 0, &code, NULL)) < 0)
        goto out;
    if ((err = slpt_init(&t, vcpu_backend->slpt_format, &ops, 0)) < 0)
        goto free_code;
    if ((err = slpt_map(&t, gpa(CODE_GPA), code, PAGE_SIZE, SLPT_R | SLPT_X, SLPT_WB)) < 0)
        goto free_slpt;
    build_code(hpa_to_ptr(code), intel);
    if ((err = vcpu_backend->create(&v)) < 0)
        goto free_slpt;
    struct vcpu_boot_state s;
    flat32(&s, CODE_GPA);
    vcpu_backend->load_state(&v, &s);
    vcpu_backend->set_slpt_root(&v, slpt_root(&t));

    for (int guard = 0; guard < 64 && i < ARRAY_SIZE(steps); guard++) {
        struct vcpu_exit e;
        if ((err = vcpu_backend->run(&v, &e)) < 0)
            break;
        if (e.reason == VEXIT_EXTINT)
            continue;
        const struct step *st = &steps[i++];
        bool good = e.reason == st->reason && check(&v, st, &e);
        con_printf("vmtest: exit %u: %-24s (%s code %#llx) at RIP %#llx: %s, expected %s\n", i,
                   vcpu_exit_name(e.reason), vcpu_backend->name, (unsigned long long)e.vendor_code,
                   (unsigned long long)v.regs.rip, good ? "ok" : "WRONG", st->what);
        if (!good)
            break;
        ok++;
        vcpu_backend->advance_rip(&v, e.insn_len ? e.insn_len : st->skip);
    }
    con_printf("vmtest: %u of %u exits as expected on %s: %s\n", ok, (u32)ARRAY_SIZE(steps), vcpu_backend->name,
               ok == ARRAY_SIZE(steps) ? "PASS" : "FAIL");
    vcpu_backend->destroy(&v);
free_slpt:
    slpt_destroy(&t);
free_code:
    mm_release(code, 1);
out:
    if (err) {
        con_printf("vmtest: failed: %s\n", strerror_short(err));
        return err;
    }
    return ok == ARRAY_SIZE(steps) ? 0 : -EIO;
}
