/* The paging scenario: address spaces, CR3 switches, page-table edits with
 * INVLPG, and page faults on purpose, for the hypervisor's shadow page tables
 * (and for nested paging, to compare).
 *
 * `spaces` address spaces share the boot identity map (their PML4s are copies
 * of the boot one) and each maps `pages` private 4 KiB pages of its own at the
 * same window WIN, through its own PDPT, PD and PT (upper levels user-
 * accessible, so the leaf decides). Space 0 also maps the permission checks'
 * pages at PT entries 256 and up. Every fault a check provokes is caught
 * through exception_hook: a ring-0 access resumes at the recovery address its
 * asm recorded (and stack pointer, for a CALL); a ring-3 run (pg_user_run)
 * always ends in a fault, which resumes the kernel where pg_user_run left it.
 * Any other exception prints a FAIL line and halts (trap.c's report). */
#include "guest/tg.h"
#include "guest/x86.h"

#pragma GCC optimize("Os")     /* the image has a size limit (guest.mk) */

#define WIN      0x7f0000000000ul      /* PML4 entry 254, then PDPT, PD, PT entry 0 */
#define WIN_L4   254
#define VA(i)    (WIN + (uint64_t)(i) * PAGE)
#define PAGE     4096ull
#define PTE_P    0x001ull
#define PTE_RW   0x002ull
#define PTE_US   0x004ull
#define PTE_A    0x020ull
#define PTE_D    0x040ull
#define PTE_NX   (1ull << 63)
#define PTE_ADDR 0x000ffffffffff000ull
#define CR0_WP   (1ull << 16)
#define MSR_EFER 0xc0000080u
#define EFER_NXE (1ull << 11)
#define PF_P     0x1                   /* #PF error code: protection (page present) */
#define PF_W     0x2                   /*                 write */
#define PF_U     0x4                   /*                 CPL 3 */
#define PF_I     0x10                  /*                 instruction fetch */
#define MAX_SPACES 16
#define MAX_PAGES  256

/* Space 0's test pages (PT entries). T_EXIT stays not present: a ring-3 run
 * ends by reading it. */
enum { T_RO = 256, T_NX, T_X, T_UCODE, T_UDATA, T_USTACK, T_IDT, T_NOIDT, T_EXIT = 511 };

static struct {
    uint64_t spaces, pages, rounds;
    uint64_t cr3[MAX_SPACES];
    uint64_t *pt[MAX_SPACES];
    uint64_t orig_cr3, alt, nx;       /* nx: PTE_NX once EFER.NXE is on, else 0 */
    uint16_t kcs, kss;
    unsigned passed, failed;
} pg;

/* What the exception hook caught, and where a ring-0 check resumes. */
static struct {
    bool armed, hit, df_ok;             /* df_ok: a ring-0 #DF is expected too */
    uint64_t rip, rsp;                /* resume here; rsp 0: as it was */
    uint64_t vector, error, cr2, at, rbx;
} pf;
static volatile unsigned pf_taken;

/* Ring 3: pg_user_run(entry, user rsp, rdi, rsi, rdx) saves the kernel's
 * callee-saved registers, data segments and stack, and IRETs to entry at CPL
 * 3 with IF clear. The fault that ends the run resumes at pg_user_back on the
 * kernel stack (the hook sets RIP, CS, SS, RSP, RFLAGS), which returns. The
 * user code is copied to space 0's T_UCODE page: read or write (%rdi), then
 * read (%rsi), the not-present exit page. */
void pg_user_run(uint64_t entry, uint64_t rsp, uint64_t rdi, uint64_t rsi, uint64_t rdx);
extern char pg_user_back[], pg_user_code[], pg_user_read[], pg_user_write[], pg_user_end[];
uint64_t pg_kernel_rsp, pg_kernel_flags, pg_user_cs, pg_user_ss;
__asm__(".text\n"
        "pg_user_run:\n"
        "  push %rbx; push %rbp; push %r12; push %r13; push %r14; push %r15\n"
        "  mov %ds, %eax; push %rax; mov %es, %eax; push %rax\n"
        "  mov %fs, %eax; push %rax; mov %gs, %eax; push %rax\n"
        "  pushfq; popq pg_kernel_flags(%rip)\n"
        "  mov %rsp, pg_kernel_rsp(%rip)\n"
        "  pushq pg_user_ss(%rip); push %rsi; pushq $2; pushq pg_user_cs(%rip); push %rdi\n"
        "  mov %rdx, %rdi; mov %rcx, %rsi; mov %r8, %rdx; xor %ebx, %ebx\n"
        "  iretq\n"
        "pg_user_back:\n"
        "  pop %rax; mov %eax, %gs; pop %rax; mov %eax, %fs\n"
        "  pop %rax; mov %eax, %es; pop %rax; mov %eax, %ds\n"
        "  pop %r15; pop %r14; pop %r13; pop %r12; pop %rbp; pop %rbx\n"
        "  ret\n"
        "pg_user_code:\n"
        "pg_user_read: mov (%rdi), %rbx; mov (%rsi), %rax; ud2\n"
        "pg_user_write: mov %rdx, (%rdi); mov (%rsi), %rax; ud2\n"
        "pg_user_end:\n");

static bool pg_trap(struct trap_frame *f)
{
    bool user = (f->cs & 3) == 3;
    if (f->vector == 14)
        pf_taken++;
    if (!pf.armed || pf.hit || (f->vector != 14 && !user && !(f->vector == 8 && pf.df_ok))) {
        say_from_trap("paging: FAIL: unexpected exception %lu error 0x%lx at rip 0x%lx (cr2 0x%lx)", f->vector,
                      f->error, f->rip, read_cr2());
        return false;               /* trap.c reports it and halts */
    }
    pf.hit = true;
    pf.vector = f->vector;
    pf.error = f->error;
    pf.cr2 = f->vector == 14 ? read_cr2() : 0;
    pf.at = f->rip;
    pf.rbx = f->rbx;
    if (user) {
        f->rip = (uintptr_t)pg_user_back;
        f->cs = pg.kcs;
        f->ss = pg.kss;
        f->rsp = pg_kernel_rsp;
        f->rflags = pg_kernel_flags;
    } else {
        f->rip = pf.rip;
        if (pf.rsp)
            f->rsp = pf.rsp;
    }
    return true;
}

static uint64_t read_cr0(void)
{
    uint64_t v;
    __asm__ volatile("mov %%cr0, %0" : "=r"(v));
    return v;
}

static void write_cr0(uint64_t v) { __asm__ volatile("mov %0, %%cr0" :: "r"(v) : "memory"); }

static void invlpg(uint64_t va) { __asm__ volatile("invlpg (%0)" :: "r"(va) : "memory"); }

static uint64_t rdmsr(uint32_t msr)
{
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t)hi << 32 | lo;
}

static void wrmsr(uint32_t msr, uint64_t v)
{
    __asm__ volatile("wrmsr" :: "a"((uint32_t)v), "d"((uint32_t)(v >> 32)), "c"(msr) : "memory");
}

/* Word k of page p of space s (p >= 256: space 0's test pages; s 0xff: the
 * other page a PTE is pointed at), and the value round r writes to word 1. */
static uint64_t pat(uint64_t s, uint64_t p, uint64_t k) { return 0x5047000000000000ull | s << 40 | p << 24 | k; }
static uint64_t stamp(uint64_t s, uint64_t p, uint64_t r) { return 0x5200000000000000ull ^ s << 48 ^ p << 40 ^ r; }

static void check(bool ok, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void check(bool ok, const char *fmt, ...)
{
    char line[200];
    va_list ap;
    va_start(ap, fmt);
    tg_vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    if (ok)
        pg.passed++;
    else
        pg.failed++;
    say("paging: %s%s", ok ? "" : "FAIL: ", line);
}

static void value(const char *what, uint64_t got, uint64_t want)
{
    if (got == want)
        check(true, "%s: 0x%lx (expected)", what, got);
    else
        check(false, "%s: 0x%lx, expected 0x%lx", what, got, want);
}

/* One access through the current CR3, checked: op at va (a ring-3 op's exit
 * is VA(T_EXIT)) must raise #PF `error` at va (a fetch also at RIP va), or,
 * with error NOFAULT, succeed: the value read (OP_R, OP_UR) or then found in
 * the space-0 page behind va (OP_W, OP_UW) must be want. */
enum { OP_R, OP_W, OP_X, OP_UR, OP_UW, OP_UX };
#define NOFAULT 0xffu
static void probe(const char *what, unsigned op, uint64_t va, uint64_t arg, unsigned error, uint64_t want)
{
    uint64_t got = 0;
    pf.hit = false;
    pf.rsp = 0;
    pf.armed = true;
    barrier();
    if (op == OP_R)
        __asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, %1; mov (%2), %0; 1:"
                         : "+r"(got), "=m"(pf.rip) : "r"(va) : "rax", "memory");
    else if (op == OP_W)
        __asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, %0; mov %1, (%2); 1:"
                         : "=m"(pf.rip) : "r"(arg), "r"(va) : "rax", "memory");
    else if (op == OP_X)    /* a faulting fetch resumes after the CALL, stack as before */
        __asm__ volatile("lea 1f(%%rip), %%rax; mov %%rax, %0; mov %%rsp, %1; call *%2; 1:"
                         : "=m"(pf.rip), "=m"(pf.rsp) : "r"(va) : "rax", "memory", "cc");
    else if (op == OP_UX)
        pg_user_run(va, VA(T_USTACK) + PAGE, 0, VA(T_EXIT), 0);
    else
        pg_user_run(VA(T_UCODE) + (uint64_t)((op == OP_UR ? pg_user_read : pg_user_write) - pg_user_code),
                    VA(T_USTACK) + PAGE, va, VA(T_EXIT), arg);
    pf.armed = false;
    if ((op == OP_UR || op == OP_UW) && pf.hit && pf.vector == 14 && pf.error == PF_U && pf.cr2 == VA(T_EXIT)) {
        pf.hit = false;
        got = pf.rbx;
    }
    bool fetch = op == OP_X || op == OP_UX;
    if (pf.hit && (error == NOFAULT || pf.vector != 14 || pf.error != error || pf.cr2 != va || (fetch && pf.at != va)))
        check(false, "%s: exception %lu error 0x%lx at 0x%lx (rip 0x%lx), expected %s 0x%x", what, pf.vector,
              pf.error, pf.cr2, pf.at, error == NOFAULT ? "none," : "#PF error", error);
    else if (pf.hit)
        check(true, "%s: #PF error 0x%x at 0x%lx (expected)", what, error, va);
    else if (error != NOFAULT)
        check(false, "%s: no #PF", what);
    else if (op == OP_X)
        check(true, "%s: returned (expected)", what);
    else if (op == OP_R || op == OP_UR)
        value(what, got, want);
    else
        value(what, *(volatile uint64_t *)phys((pg.pt[0][(va - WIN) >> 12] & PTE_ADDR) | (va & 0xfff)), want);
}

static void parse_options(void)
{
    static const char *const keys[3] = { "spaces=", "rounds=", "pages=" };
    static const uint64_t max[3] = { MAX_SPACES, 1000000, MAX_PAGES };
    uint64_t *dst[3] = { &pg.spaces, &pg.rounds, &pg.pages };
    pg.spaces = 4;
    pg.rounds = 200;
    pg.pages = 4;
    for (const char *p = tg.cmdline; *p;) {
        char w[64];
        size_t n = 0;
        while (*p == ' ')
            p++;
        for (; *p && *p != ' '; p++)
            if (n + 1 < sizeof(w))
                w[n++] = *p;
        w[n] = 0;
        for (unsigned i = 0; i < 3; i++) {
            size_t kl = strlen(keys[i]);
            uint64_t v;
            if (n < kl || memcmp(w, keys[i], kl))
                continue;
            if (parse_u64(w + kl, &v) && v >= 1 && v <= max[i])
                *dst[i] = v;
            else
                say("paging: option %s must be 1..%lu, keeping %lu", keys[i], max[i], *dst[i]);
        }
    }
}

static uint64_t new_page(uint64_t s, uint64_t p)
{
    uint64_t *d = mem_alloc(PAGE);
    for (unsigned k = 0; k < 512; k++)
        d[k] = pat(s, p, k);
    return (uintptr_t)d;
}

static bool build(void)
{
    const uint64_t *boot = phys(pg.orig_cr3 & PTE_ADDR);
    if (boot[WIN_L4] & PTE_P) {
        check(false, "PML4 entry %u (0x%lx) is in use already", WIN_L4, WIN);
        return false;
    }
    for (uint64_t s = 0; s < pg.spaces; s++) {
        uint64_t *l4 = mem_alloc(PAGE), *l3 = mem_alloc(PAGE), *l2 = mem_alloc(PAGE), *l1 = mem_alloc(PAGE);
        memcpy(l4, boot, PAGE);
        l4[WIN_L4] = (uintptr_t)l3 | PTE_P | PTE_RW | PTE_US;
        l3[0] = (uintptr_t)l2 | PTE_P | PTE_RW | PTE_US;
        l2[0] = (uintptr_t)l1 | PTE_P | PTE_RW | PTE_US;
        for (uint64_t p = 0; p < pg.pages; p++)
            l1[p] = new_page(s, p) | PTE_P | PTE_RW | pg.nx;
        pg.cr3[s] = (uintptr_t)l4;
        pg.pt[s] = l1;
    }
    uint64_t *t = pg.pt[0];
    uint8_t *ret_nx = mem_alloc(PAGE), *ret_x = mem_alloc(PAGE), *code = mem_alloc(PAGE);
    ret_nx[0] = ret_x[0] = 0xc3;
    memcpy(code, pg_user_code, (size_t)(pg_user_end - pg_user_code));
    t[T_RO] = new_page(0, T_RO) | PTE_P | pg.nx;
    t[T_NX] = (uintptr_t)ret_nx | PTE_P | PTE_RW | pg.nx;
    t[T_X] = (uintptr_t)ret_x | PTE_P;
    t[T_UCODE] = (uintptr_t)code | PTE_P | PTE_US;
    t[T_UDATA] = new_page(0, T_UDATA) | PTE_P | PTE_RW | PTE_US | pg.nx;
    t[T_USTACK] = (uintptr_t)mem_alloc(PAGE) | PTE_P | PTE_RW | PTE_US | pg.nx;
    t[T_IDT] = (uintptr_t)mem_alloc(PAGE) | PTE_P | PTE_RW | pg.nx; /* T_NOIDT stays not present */
    pg.alt = new_page(0xff, 0);
    return true;
}

static void round_robin(void)
{
    uint64_t loads = 0, shown = 0;
    uint64_t t0 = rdtsc();
    for (uint64_t r = 0; r < pg.rounds; r++)
        for (uint64_t s = 0; s < pg.spaces; s++) {
            write_cr3(pg.cr3[s]);
            loads++;
            uint64_t bad = 0, at = 0, got = 0, want = 0;
            for (uint64_t p = 0; p < pg.pages; p++) {
                volatile uint64_t *w = phys(VA(p));
                static const unsigned ks[5] = { 0, 255, 511, 1, 1 };
                for (unsigned i = 0; i < 5; i++) {
                    if (i == 4)
                        w[1] = stamp(s, p, r);
                    uint64_t e = i < 3 ? pat(s, p, ks[i]) : i == 4 ? stamp(s, p, r) : r ? stamp(s, p, r - 1)
                                                                                        : pat(s, p, 1);
                    uint64_t v = w[ks[i]];
                    if (v != e && !bad++)
                        at = VA(p) + ks[i] * 8, got = v, want = e;
                }
            }
            if (!bad) {
                pg.passed++;
                continue;
            }
            pg.failed++;
            if (shown++ < 8)
                say("paging: FAIL: round %lu space %lu: 0x%lx reads 0x%lx, expected 0x%lx", r, s, at, got, want);
        }
    uint64_t t1 = rdtsc();
    write_cr3(pg.orig_cr3);
    if (shown > 8)
        say("paging: FAIL: %lu more round-robin failures not shown", shown - 8);
    say("paging: switched %lu address spaces %lu rounds: %lu CR3 loads, %lu ns per switch", pg.spaces, pg.rounds,
        loads, (t1 - t0) * 1000000 / tg.tsc_khz / loads);
}

/* Page-table edits in space 0 (INVLPG), in space 1 from space 0 (a CR3 load
 * to see them), and the accessed and dirty bits. */
static void edits(void)
{
    uint64_t *pte = &pg.pt[0][0], orig = *pte;
    write_cr3(pg.cr3[0]);
    probe("space 0 page 0", OP_R, WIN, 0, NOFAULT, pat(0, 0, 0));
    *pte = pg.alt | PTE_P | PTE_RW | pg.nx;
    invlpg(WIN);
    probe("PTE moved to another page, invlpg", OP_R, WIN, 0, NOFAULT, pat(0xff, 0, 0));
    *pte = orig;
    invlpg(WIN);
    probe("PTE moved back, invlpg", OP_R, WIN, 0, NOFAULT, pat(0, 0, 0));
    *pte = orig & ~PTE_P;
    invlpg(WIN);
    probe("read of an unmapped page", OP_R, WIN, 0, 0, 0);
    *pte = orig;
    invlpg(WIN);
    probe("mapped again, invlpg", OP_R, WIN, 0, NOFAULT, pat(0, 0, 0));

    if (pg.spaces > 1) {
        uint64_t *pte1 = &pg.pt[1][0], orig1 = *pte1;
        *pte1 = pg.alt | PTE_P | PTE_RW | pg.nx;
        write_cr3(pg.cr3[1]);
        probe("space 1 PTE moved from space 0, CR3 load", OP_R, WIN, 0, NOFAULT, pat(0xff, 0, 0));
        write_cr3(pg.cr3[0]);
        *pte1 = orig1;
        write_cr3(pg.cr3[1]);
        probe("space 1 PTE moved back from space 0, CR3 load", OP_R, WIN, 0, NOFAULT, pat(1, 0, 0));
        write_cr3(pg.cr3[0]);
    }

    uint64_t p = pg.pages - 1, *ad = &pg.pt[0][p];
    *ad &= ~(PTE_A | PTE_D);
    invlpg(VA(p));
    probe("read after clearing accessed, dirty", OP_R, VA(p) + 16, 0, NOFAULT, pat(0, p, 2));
    value("accessed, dirty bits after the read", *ad & (PTE_A | PTE_D), PTE_A);
    probe("write to that page", OP_W, VA(p) + 16, 0x7777, NOFAULT, 0x7777);
    value("accessed, dirty bits after the write", *ad & (PTE_A | PTE_D), PTE_A | PTE_D);
    write_cr3(pg.orig_cr3);
}

struct desc_ptr {
    uint16_t limit;
    uint64_t base;
} __attribute__((packed));

/* A #PF whose delivery finds its own gate on a page that is not present: a
 * #PF during a #PF's delivery, which the CPU (under shadow paging, the
 * hypervisor on its behalf) turns into #DF with error code 0, delivered
 * through gate 8. An IDT copy straddles T_IDT and T_NOIDT so that gates 0-11
 * are on the present page and the rest on the other; interrupts are off
 * meanwhile. */
#define IDT_GATE 16
static void double_fault_check(void)
{
    struct desc_ptr old, now;
    uint64_t flags;
    __asm__ volatile("sidt %0" : "=m"(old));
    uint64_t base = VA(T_NOIDT) - 12 * IDT_GATE;
    memcpy((void *)(uintptr_t)base, phys(old.base), 12 * IDT_GATE);
    now = (struct desc_ptr){ (uint16_t)(256 * IDT_GATE - 1), base };
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) :: "memory");
    pf.hit = false;
    pf.armed = pf.df_ok = true;
    barrier();
    __asm__ volatile("lidt %2; lea 1f(%%rip), %%rax; mov %%rax, %0; mov %%rsp, %1; mov (%3), %%rax; 1: lidt %4"
                     : "=m"(pf.rip), "=m"(pf.rsp) : "m"(now), "r"(VA(T_EXIT)), "m"(old) : "rax", "memory");
    pf.armed = pf.df_ok = false;
    __asm__ volatile("pushq %0; popfq" :: "r"(flags) : "memory", "cc");
    if (pf.hit && pf.vector == 8 && pf.error == 0)
        check(true, "double fault: #PF while delivering a #PF gave #DF error 0 (expected)");
    else if (pf.hit)
        check(false, "double fault: exception %lu error 0x%lx (rip 0x%lx), expected #DF error 0", pf.vector, pf.error,
              pf.at);
    else
        check(false, "double fault: no exception at all reading 0x%lx", (uint64_t)VA(T_EXIT));
}

/* SWAPGS exchanges GS.base and IA32_KERNEL_GS_BASE without an exit: a
 * later RDMSR of either must show the exchange (the hypervisor may answer
 * it from what was written last). Interrupts off meanwhile. */
#define MSR_GS_BASE        0xc0000101u
#define MSR_KERNEL_GS_BASE 0xc0000102u
static void swapgs_check(void)
{
    uint64_t flags, gs = rdmsr(MSR_GS_BASE), kgs = rdmsr(MSR_KERNEL_GS_BASE);
    const uint64_t a = 0xffff800012340000ull, b = 0x00007f0056780000ull;
    __asm__ volatile("pushfq; popq %0; cli" : "=r"(flags) :: "memory");
    wrmsr(MSR_GS_BASE, a);
    wrmsr(MSR_KERNEL_GS_BASE, b);
    __asm__ volatile("swapgs" ::: "memory");
    uint64_t now_gs = rdmsr(MSR_GS_BASE), now_kgs = rdmsr(MSR_KERNEL_GS_BASE);
    wrmsr(MSR_GS_BASE, gs);
    wrmsr(MSR_KERNEL_GS_BASE, kgs);
    __asm__ volatile("pushq %0; popfq" :: "r"(flags) : "memory", "cc");
    value("GS.base after SWAPGS", now_gs, b);
    value("IA32_KERNEL_GS_BASE after SWAPGS", now_kgs, a);
}

/* Ring 0 in space 0: CR0.WP, NX, #DF. */
static void kernel_checks(void)
{
    uint64_t cr0 = read_cr0();
    write_cr3(pg.cr3[0]);
    write_cr0(cr0 | CR0_WP);
    probe("write to read-only page", OP_W, VA(T_RO), 0x1234, PF_P | PF_W, 0);
    probe("read of read-only page", OP_R, VA(T_RO), 0, NOFAULT, pat(0, T_RO, 0));
    write_cr0(cr0 & ~CR0_WP);
    probe("write to read-only page with CR0.WP=0", OP_W, VA(T_RO), 0x1234, NOFAULT, 0x1234);
    write_cr0(cr0 | CR0_WP);
    probe("call into executable page", OP_X, VA(T_X), 0, NOFAULT, 0);
    if (pg.nx)
        probe("fetch from NX page", OP_X, VA(T_NX), 0, PF_P | PF_I, 0);
    double_fault_check();
    swapgs_check();
    write_cr0(cr0);
    write_cr3(pg.orig_cr3);
}

static struct {
    uint32_t reserved0;
    uint64_t rsp0, rsp1, rsp2, reserved1, ist[7], reserved2;
    uint16_t reserved3, iomap;
} __attribute__((packed)) tss;
static uint64_t gdt[8] __attribute__((aligned(16)));

/* Ring 3 in space 0: a GDT with the boot descriptors, user code and data
 * (DPL 3) and a TSS whose RSP0 takes the fault that ends each run. */
static void user_checks(void)
{
    struct desc_ptr old, now;
    __asm__ volatile("sgdt %0" : "=m"(old));
    uint64_t n = ((uint64_t)old.limit + 1) / 8, b = (uintptr_t)&tss, l = sizeof(tss) - 1;
    if (n > ARRAY_SIZE(gdt) - 4) {
        check(false, "the GDT has %lu entries, no room for ring 3", n);
        return;
    }
    memcpy(gdt, phys(old.base), n * 8);
    gdt[n] = 0x00affa000000ffffull;         /* 64-bit code, DPL 3 */
    gdt[n + 1] = 0x00cff2000000ffffull;     /* data, DPL 3 */
    gdt[n + 2] = (l & 0xffff) | (b & 0xffffff) << 16 | 0x89ull << 40 | (l >> 16 & 0xf) << 48 | (b >> 24 & 0xff) << 56;
    gdt[n + 3] = b >> 32;                    /* the available 64-bit TSS */
    tss.rsp0 = (uintptr_t)mem_alloc(TG_STACK_SIZE) + TG_STACK_SIZE;
    tss.iomap = sizeof(tss);
    pg_user_cs = n * 8 | 3;
    pg_user_ss = (n + 1) * 8 | 3;
    now = (struct desc_ptr){ (uint16_t)((n + 4) * 8 - 1), (uintptr_t)gdt };
    __asm__ volatile("lgdt %2; ltr %w3; mov %%cs, %0; mov %%ss, %1"
                     : "=m"(pg.kcs), "=m"(pg.kss) : "m"(now), "r"((uint16_t)((n + 2) * 8)) : "memory");
    write_cr3(pg.cr3[0]);

    probe("user read of supervisor page", OP_UR, WIN, 0, PF_P | PF_U, 0);
    probe("user read of user page", OP_UR, VA(T_UDATA) + 8, 0, NOFAULT, pat(0, T_UDATA, 1));
    probe("user write to read-only user page", OP_UW, VA(T_UCODE) + 0x800, 0x5533, PF_P | PF_W | PF_U, 0);
    probe("user write to user page", OP_UW, VA(T_UDATA) + 16, 0x5577, NOFAULT, 0x5577);
    probe("user fetch from supervisor page", OP_UX, VA(T_X), 0, PF_P | PF_U | (pg.nx ? PF_I : 0), 0);

    write_cr3(pg.orig_cr3);
    __asm__ volatile("lgdt %0" :: "m"(old) : "memory");
}

void scenario_paging(void)
{
    uint32_t a, b, c, d;
    parse_options();
    pg.orig_cr3 = read_cr3();
    say("paging: %lu address spaces of %lu pages at 0x%lx, %lu rounds", pg.spaces, pg.pages, WIN, pg.rounds);
    exception_hook = pg_trap;

    uint64_t efer = rdmsr(MSR_EFER);
    cpuid(0x80000001, 0, &a, &b, &c, &d);
    if (d & (1u << 20)) {
        if (!(efer & EFER_NXE))
            wrmsr(MSR_EFER, efer | EFER_NXE);
        uint64_t now = rdmsr(MSR_EFER);
        check(now & EFER_NXE, "EFER 0x%lx: NXE %s", now, efer & EFER_NXE ? "was set" : "set now");
        if (now & EFER_NXE)
            pg.nx = PTE_NX;
    } else {
        say("paging: no NX (CPUID 0x80000001 EDX[20] clear), the NX check is left out");
    }

    if (build()) {
        round_robin();
        edits();
        kernel_checks();
        user_checks();
    }
    if (rdmsr(MSR_EFER) != efer)
        wrmsr(MSR_EFER, efer);
    exception_hook = NULL;
    say("paging: %u page faults taken", pf_taken);
    say("paging: done, %u checks passed, %u failed", pg.passed, pg.failed);
    tick_forever();
}
