/* libFuzzer target for the hypercall argument checks (vmm/hypercall.c): any call
 * number and any four register values, from any CPL, against a partition whose
 * RAM ranges (as the environment declares them, which may even claim more than
 * its memory holds) are fuzzed too. Guest memory is two host blocks of CHUNK
 * bytes, each its own heap block so ASan sees any access past one.
 *
 * Input: CTRL bytes: CPL, flags, the call number, four arguments, three RAM
 * ranges. Invariants, each a CHECK:
 *  - from CPL > 0 every call is -HC_EPERM and does nothing;
 *  - each call returns one of the values it is documented to, and halts only
 *    for HC_HALT;
 *  - hc_range_ok() agrees with a reference; a call that takes a buffer accepts it
 *    only when the reference says it lies in one RAM range;
 *  - HC_CONSOLE_WRITE hands the console exactly the guest's bytes, in pieces
 *    that each lie inside one host block; HC_PARTITION_INFO and HC_HB_INFO write
 *    exactly their structure at the given address and no other byte changes. */
#include "vmm/hypercall.h"
#include "tests/fuzz/fuzz.h"

#define CHUNK     0x2000
#define CTRL      (1 + 1 + 2 + 4 * 8 + 3 * 8)
#define F_CONSOLE 0x01 /* a console is attached */
#define F_HB      0x02 /* the partition is in a failover group */
#define F_HB_FN   0x04 /* ... with a beat callback */
#define F_NRAM    0x18 /* bits 4:3: RAM ranges 0..3 */

static u8 *blk[2];
static struct gmem gm;
static u8 before[2 * CHUNK], after[2 * CHUNK], seen[HC_CONSOLE_MAX];
static u32 nseen;
static u8 pattern[2 * CHUNK];

static void console(void *ctx, const u8 *p, u32 n)
{
    CHECK(ctx == &gm && n > 0 && nseen + n <= HC_CONSOLE_MAX);
    bool inside = false;
    for (u32 i = 0; i < 2; i++)
        inside |= p >= blk[i] && p + n <= blk[i] + CHUNK;
    CHECK(inside);
    memcpy(seen + nseen, p, n);
    nseen += n;
}

static u32 beat(void *ctx, u32 claimed)
{
    CHECK(ctx == &gm && claimed <= HB_ROLE_STANDBY);
    return claimed == HB_ROLE_STANDBY ? HB_ROLE_PRIMARY : claimed;
}

static bool ref_range_ok(const struct hc_mem_range *ram, u32 n, u64 g, u64 len)
{
    if (len == 0 || g + len < g)
        return false;
    for (u32 i = 0; i < n; i++)
        if (ram[i].start <= g && g + len <= ram[i].end)
            return true;
    return false;
}

static void snapshot(u8 *to)
{
    memcpy(to, blk[0], CHUNK);
    memcpy(to + CHUNK, blk[1], CHUNK);
}

/* Only [g, g + len) changed, and it now holds src. */
static void check_written(u64 g, const void *src, u64 len)
{
    snapshot(after);
    CHECK(g + len <= 2 * CHUNK && memcmp(after + g, src, len) == 0);
    CHECK(memcmp(after, before, g) == 0 && memcmp(after + g + len, before + g + len, 2 * CHUNK - g - len) == 0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CTRL)
        return 0;
    const u8 *p = data;
    u8 cpl = *p++, flags = *p++;
    u64 nr = fz_rd16(p);
    p += 2;
    if (nr & 0x8000)
        nr = ~0ULL - (nr & 0x7fff); /* now and then a huge call number */
    u64 args[4];
    for (u32 i = 0; i < 4; i++, p += 8)
        args[i] = fz_rd64(p);
    struct hc_mem_range ram[3];
    for (u32 i = 0; i < 3; i++, p += 8) /* le32 start, le32 length: may wrap, may be empty */
        ram[i] = (struct hc_mem_range){ fz_rd32(p), (u64)fz_rd32(p) + fz_rd32(p + 4) };
    /* Guest memory: a counter, with whatever follows at the start of each block. */
    for (u32 b = 0; b < 2; b++) {
        memcpy(blk[b], pattern + b * CHUNK, CHUNK);
        memcpy(blk[b], data + CTRL, MIN(size - CTRL, (size_t)CHUNK));
    }

    struct isthmus_hb_info hb;
    memset(&hb, 0x3c, sizeof(hb));
    struct hc_env e = {
        .ram = ram,
        .nram = (flags & F_NRAM) >> 3,
        .mem = &gm,
        .cpl = cpl % 4,
        .console = (flags & F_CONSOLE) ? console : NULL,
        .ctx = &gm,
        .hb_info = (flags & F_HB) ? &hb : NULL,
        .hb_beat = (flags & F_HB_FN) ? beat : NULL,
    };
    memset(&e.info, 0x5a, sizeof(e.info));
    e.info.abi = (HC_ABI_MAJOR << 16) | HC_ABI_MINOR;

    for (u32 i = 0; i < 4; i++) {
        u64 len = args[(i + 1) % 4] & 0x3fff;
        CHECK(hc_range_ok(&e, args[i], len) == ref_range_ok(ram, e.nram, args[i], len));
        CHECK(hc_range_ok(&e, args[i], args[(i + 1) % 4]) == ref_range_ok(ram, e.nram, args[i], args[(i + 1) % 4]));
    }

    enum hc_action act = (enum hc_action)7;
    nseen = 0;
    snapshot(before);
    s64 rc = hypercall_dispatch(&e, nr, args, &act);
    CHECK(act == ((nr == HC_HALT && e.cpl == 0) ? HC_ACT_HALT : HC_ACT_NONE));
    if (e.cpl != 0) {
        CHECK(rc == -HC_EPERM && nseen == 0);
        check_written(0, before, 0);
        return 0;
    }
    u64 a0 = args[0], a1 = args[1];
    switch (nr) {
    case HC_ABI_VERSION: CHECK(rc == ((HC_ABI_MAJOR << 16) | HC_ABI_MINOR)); break;
    case HC_HALT:
    case HC_YIELD: CHECK(rc == 0); break;
    case HC_CONSOLE_WRITE:
        if (a1 > HC_CONSOLE_MAX) {
            CHECK(rc == -HC_E2BIG && nseen == 0);
        } else if (a1 == 0) {
            CHECK(rc == 0 && nseen == 0);
        } else if (!ref_range_ok(ram, e.nram, a0, a1)) {
            CHECK(rc == -HC_EFAULT && nseen == 0);
        } else if (!e.console) {
            CHECK(rc == (s64)a1); /* nothing to read the bytes for */
        } else if (a0 + a1 > 2 * CHUNK) {
            /* Declared RAM the partition's memory does not hold: refused, after
             * what lay in memory (if anything) went out. */
            CHECK(rc == -HC_EFAULT && nseen < a1);
        } else {
            CHECK(rc == (s64)a1);
            CHECK(nseen == a1 && memcmp(seen, before + a0, a1) == 0);
        }
        check_written(0, before, 0);
        break;
    case HC_PARTITION_INFO:
    case HC_HB_INFO: {
        bool hbc = nr == HC_HB_INFO;
        u64 len = hbc ? sizeof(hb) : sizeof(e.info);
        if (hbc && !e.hb_info) {
            CHECK(rc == -HC_ENOENT);
        } else if (a0 & 7) {
            CHECK(rc == -HC_EINVAL);
        } else if (!ref_range_ok(ram, e.nram, a0, len) || a0 + len > 2 * CHUNK) {
            CHECK(rc == -HC_EFAULT);
        } else {
            CHECK(rc == 0);
            check_written(a0, hbc ? (const void *)&hb : (const void *)&e.info, len);
            break;
        }
        check_written(0, before, 0);
        break;
    }
    case HC_HB_BEAT:
        if (a0 > HB_ROLE_STANDBY)
            CHECK(rc == -HC_EINVAL);
        else
            CHECK(rc == (e.hb_beat ? beat(&gm, (u32)a0) : HB_ROLE_NONE));
        break;
    default: CHECK(rc == -HC_ENOSYS); break;
    }
    CHECK(nseen == 0 || nr == HC_CONSOLE_WRITE);
    return 0;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    for (u32 i = 0; i < sizeof(pattern); i++)
        pattern[i] = (u8)(i * 7 + i / 251);
    for (u32 i = 0; i < 2; i++) {
        blk[i] = malloc(CHUNK);
        CHECK(blk[i] && gmem_add(&gm, 0x100000 * (i + 1), blk[i], CHUNK, (s32)i) == 0);
    }
    return 0;
}
