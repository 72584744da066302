/* libFuzzer target for the guest page-table walker (vmm/guest_walk.c): every
 * table entry comes from guest memory, so every one is fuzzed. The walker reads
 * a fake guest-physical memory through its callback; a second walker written
 * here from the SDM (Vol. 3A 4.3-4.5), one straight function per paging mode,
 * says what each translation must give.
 *
 * Input: CTRL control bytes (paging mode and CR4.PSE, CR3, a virtual address, a
 * length to copy), then the guest's memory from guest-physical 0 (the end of
 * libFuzzer's buffer). Invariants, each a CHECK:
 *  - gwalk_translate() gives what the reference gives: the same error
 *    (-EFAULT, -ENOENT, -EINVAL) or the same guest-physical address, which keeps
 *    the page offset of the virtual one;
 *  - it reads only 4- or 8-byte entries at addresses aligned to their size, at
 *    most one per level, and never more than the memory has (the callback fails
 *    such reads, and ASan watches it);
 *  - gwalk_read() of up to 255 bytes equals translating and reading each byte
 *    on its own, error included, and none of its reads crosses a page;
 *  - gwalk_mode_of() picks the mode the control registers say.
 *
 * WALK_WRITE_SEEDS=dir ./fuzz_guest_walk writes seed inputs into dir and exits. */
#include "vmm/guest_walk.h"
#include "arch/x86/hw/pte.h"
#include "arch/x86/hw/regs.h"
#include "kernel/lib/errno.h"
#include "tests/fuzz/fuzz.h"

#define CTRL   18
#define C_MODE 0 /* bits 1:0 the mode, bit 2 CR4.PSE */
#define C_CR3  1 /* le64 */
#define C_VA   9 /* le64 */
#define C_LEN  17

static const u8 *mem;
static u64 mem_size;
static u32 reads; /* callback calls */
static bool in_translate;

static int rd(void *ctx, gpa_t g, void *out, u32 len)
{
    CHECK(ctx == &mem && len >= 1 && len <= PAGE_SIZE);
    CHECK((g.v & (PAGE_SIZE - 1)) + len <= PAGE_SIZE); /* no read crosses a page */
    if (in_translate)
        CHECK((len == 4 || len == 8) && g.v % len == 0);
    reads++;
    if (g.v >= mem_size || len > mem_size - g.v)
        return -EFAULT;
    memcpy(out, mem + g.v, len);
    return 0;
}

/* ---------------------------------------------------------------- reference */

static int entry32(u64 pa, u64 *e)
{
    *e = 0;
    if (pa + 4 > mem_size)
        return -EFAULT;
    *e = fz_rd32(mem + pa);
    return 0;
}

static int entry64(u64 pa, u64 *e)
{
    *e = 0;
    if (pa >= mem_size || 8 > mem_size - pa)
        return -EFAULT;
    *e = fz_rd64(mem + pa);
    return 0;
}

/* 32-bit paging: PDE, then a 4 MiB page (PSE, PSE-36) or PTE (4.3). */
static int ref_32(u64 cr3, bool pse, u32 va, u64 *pa)
{
    u64 pde, pte;
    if (entry32((cr3 & 0xfffff000) + ((va >> 22) * 4), &pde))
        return -EFAULT;
    if (!(pde & 1))
        return -ENOENT;
    if (pse && (pde & 0x80)) {
        *pa = (pde & 0xffc00000) + (((pde >> 13) & 0xff) << 32) + (va & 0x3fffff);
        return 0;
    }
    if (entry32((pde & 0xfffff000) + (((va >> 12) & 0x3ff) * 4), &pte))
        return -EFAULT;
    if (!(pte & 1))
        return -ENOENT;
    *pa = (pte & 0xfffff000) + (va & 0xfff);
    return 0;
}

/* One 8-byte level: the entry for va's index at `shift` in the table at `table`. */
static int level(u64 table, u64 va, u32 shift, u64 *e)
{
    if (entry64(table + ((va >> shift) & 511) * 8, e))
        return -EFAULT;
    return (*e & 1) ? 0 : -ENOENT;
}

#define ADDR 0x000ffffffffff000ULL

/* PAE: 4 PDPTEs at CR3 (32-byte aligned), then PD (2 MiB pages) and PT (4.4). */
static int ref_pae(u64 cr3, u32 va, u64 *pa)
{
    u64 e;
    int rc;
    if (entry64((cr3 & 0xffffffe0) + (va >> 30) * 8, &e))
        return -EFAULT;
    if (!(e & 1))
        return -ENOENT;
    if ((rc = level(e & ADDR, va, 21, &e)) != 0)
        return rc;
    if (e & 0x80) {
        *pa = (e & ADDR & ~0x1fffffULL) + (va & 0x1fffff);
        return 0;
    }
    if ((rc = level(e & ADDR, va, 12, &e)) != 0)
        return rc;
    *pa = (e & ADDR) + (va & 0xfff);
    return 0;
}

/* 4-level paging: canonical check, PML4 (PS reserved), PDPT (1 GiB pages), PD
 * (2 MiB pages), PT (4.5). */
static int ref_long(u64 cr3, u64 va, u64 *pa)
{
    u64 e;
    int rc;
    if ((u64)((s64)(va << 16) >> 16) != va)
        return -EINVAL;
    if ((rc = level(cr3 & ADDR, va, 39, &e)) != 0)
        return rc;
    if (e & 0x80)
        return -EINVAL;
    if ((rc = level(e & ADDR, va, 30, &e)) != 0)
        return rc;
    if (e & 0x80) {
        *pa = (e & ADDR & ~0x3fffffffULL) + (va & 0x3fffffff);
        return 0;
    }
    if ((rc = level(e & ADDR, va, 21, &e)) != 0)
        return rc;
    if (e & 0x80) {
        *pa = (e & ADDR & ~0x1fffffULL) + (va & 0x1fffff);
        return 0;
    }
    if ((rc = level(e & ADDR, va, 12, &e)) != 0)
        return rc;
    *pa = (e & ADDR) + (va & 0xfff);
    return 0;
}

static int ref_translate(const struct gwalk_env *e, u64 va, u64 *pa)
{
    switch (e->mode) {
    case GWALK_NONE: *pa = (u32)va; return 0;
    case GWALK_32: return ref_32(e->cr3, e->pse, (u32)va, pa);
    case GWALK_PAE: return ref_pae(e->cr3, (u32)va, pa);
    case GWALK_LONG4: return ref_long(e->cr3, va, pa);
    }
    return -EINVAL;
}

/* ---------------------------------------------------------------- checks */

static const u32 max_reads[] = { [GWALK_NONE] = 0, [GWALK_32] = 2, [GWALK_PAE] = 3, [GWALK_LONG4] = 4 };

static int check_translate(const struct gwalk_env *e, u64 va, u64 *pa)
{
    gpa_t g = gpa(0x5a5a);
    reads = 0;
    in_translate = true;
    int rc = gwalk_translate(e, va, &g);
    in_translate = false;
    int want = ref_translate(e, va, pa);
    CHECK(rc == want);
    CHECK(reads <= max_reads[e->mode]);
    if (rc == 0)
        CHECK(g.v == *pa && (g.v & 0xfff) == (va & 0xfff));
    else
        CHECK(g.v == 0x5a5a); /* nothing written on failure */
    return rc;
}

static void check_read(const struct gwalk_env *e, u64 va, u32 len)
{
    u8 out[256], want[256];
    int want_rc = 0;
    for (u32 i = 0; i < len && !want_rc; i++) {
        u64 pa;
        want_rc = ref_translate(e, va + i, &pa);
        if (!want_rc && pa >= mem_size)
            want_rc = -EFAULT;
        if (!want_rc)
            want[i] = mem[pa];
    }
    int rc = gwalk_read(e, va, out, len);
    CHECK(rc == want_rc);
    if (rc == 0)
        CHECK(memcmp(out, want, len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CTRL)
        return 0;
    mem = data + CTRL;
    mem_size = size - CTRL;
    struct gwalk_env e = { rd, &mem, (enum gwalk_mode)(data[C_MODE] & 3), fz_rd64(data + C_CR3),
                           (data[C_MODE] & 4) != 0 };
    u64 va = fz_rd64(data + C_VA), pa;

    /* The mode from the control registers. */
    u64 cr0 = (data[C_MODE] & 8) ? CR0_PG : 0, cr4 = (data[C_MODE] & 16) ? CR4_PAE : 0;
    u64 efer = (data[C_MODE] & 32) ? EFER_LMA : 0;
    enum gwalk_mode m = gwalk_mode_of(cr0 | CR0_PE, cr4, efer);
    CHECK(m == (!cr0 ? GWALK_NONE : efer ? GWALK_LONG4 : cr4 ? GWALK_PAE : GWALK_32));

    check_translate(&e, va, &pa);
    /* Neighbours: the next page, the last byte of the page, a large page away. */
    check_translate(&e, va + PAGE_SIZE, &pa);
    check_translate(&e, va | 0xfff, &pa);
    check_translate(&e, va ^ (1ULL << 21), &pa);
    check_read(&e, va, data[C_LEN]);
    return 0;
}

/* ---------------------------------------------------------------- seeds */

static u8 seed[CTRL + 0x8000];
static size_t seed_len;

static void s_begin(u8 mode, u64 cr3, u64 va, u8 len)
{
    memset(seed, 0, sizeof(seed));
    seed[C_MODE] = mode;
    memcpy(seed + C_CR3, &cr3, 8);
    memcpy(seed + C_VA, &va, 8);
    seed[C_LEN] = len;
    seed_len = CTRL + 0x6000;
    for (size_t i = 0x5000; i < 0x6000; i++)
        seed[CTRL + i] = (u8)(i * 13);
}

static void s_put64(u64 at, u64 v) { memcpy(seed + CTRL + at, &v, 8); }
static void s_put32(u64 at, u32 v) { memcpy(seed + CTRL + at, &v, 4); }

static void write_seeds(const char *dir)
{
    const u64 T = PTE_P | PTE_RW, L = PTE_P | PTE_RW | PTE_PS;
    /* 4-level: PML4 0x1000, PDPT 0x2000, PD 0x3000, PT 0x4000; va 0x205ff0 -> 0x5ff0,
     * a read that crosses into the next PTE's page. */
    s_begin(GWALK_LONG4 | 8 | 16 | 32, 0x1000, 0x205ff0, 40);
    s_put64(0x1000, 0x2000 | T);
    s_put64(0x2000, 0x3000 | T);
    s_put64(0x3000 + 8, 0x4000 | T);
    s_put64(0x4000 + 8 * 5, 0x5000 | T);
    s_put64(0x4000 + 8 * 6, 0x5000 | T);
    fz_write_seed(dir, "long4", seed, seed_len);
    /* A 2 MiB and a 1 GiB page, a high canonical address. */
    s_begin(GWALK_LONG4, 0x1000, 0xffff800000001234ULL, 16);
    s_put64(0x1000 + 8 * 256, 0x2000 | T);
    s_put64(0x2000, 0x3000 | T);
    s_put64(0x3000, 0x0 | L);
    s_put64(0x2000 + 8, 0x40000000 | L);
    fz_write_seed(dir, "long4-large", seed, seed_len);
    /* PAE: PDPTEs at 0x1020, PD 0x2000, PT 0x3000; va 0x1000 -> 0x5000. */
    s_begin(GWALK_PAE, 0x1020, 0x1800, 64);
    s_put64(0x1020, 0x2000 | PTE_P);
    s_put64(0x2000, 0x3000 | T);
    s_put64(0x3000 + 8, 0x5000 | T);
    s_put64(0x2000 + 8, 0x0 | L);
    fz_write_seed(dir, "pae", seed, seed_len);
    /* 32-bit: PD 0x1000, PT 0x2000, a 4 MiB page with PSE. */
    s_begin(GWALK_32 | 4, 0x1000, 0x3ffc, 8);
    s_put32(0x1000, 0x2000 | T);
    s_put32(0x2000 + 4 * 3, 0x5000 | T);
    s_put32(0x2000 + 4 * 4, 0x5000 | T);
    s_put32(0x1000 + 4, 0x0 | L | (1u << 13));
    fz_write_seed(dir, "32-pse", seed, seed_len);
    s_begin(GWALK_NONE, 0, 0x5ff8, 16);
    fz_write_seed(dir, "flat", seed, seed_len);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("WALK_WRITE_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}
