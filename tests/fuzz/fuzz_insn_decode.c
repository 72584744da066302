/* libFuzzer target for the MMIO instruction decoder (vmm/insn_decode.c), which
 * reads bytes at a guest's RIP: insn_decode() and insn_decode_sys() on arbitrary
 * bytes in each CPU mode, checked against a second decoder written here from the
 * SDM tables (Vol. 2A 2.1-2.2, tables 2-1 to 2-3) in a different shape.
 *
 * Input: byte 0 picks the mode, bytes 1-8 seed the register values, the rest
 * are the instruction bytes (the end of libFuzzer's buffer, so ASan sees any read
 * past them). Invariants, each a CHECK:
 *  - the result is 0, -EINVAL or -ENOTSUP, the length never exceeds the bytes
 *    given nor 15, and every field agrees with the reference decoder's;
 *  - an accepted instruction decodes the same from a copy of exactly its bytes
 *    (so nothing after it was read) and is -EINVAL one byte shorter;
 *  - the register-merge, store-value and effective-address helpers keep to the
 *    operand and address sizes.
 *
 * INSN_WRITE_SEEDS=dir ./fuzz_insn_decode writes seed inputs into dir and exits. */
#include "vmm/insn_decode.h"
#include "kernel/lib/errno.h"
#include "tests/fuzz/fuzz.h"

#define CTRL 9

/* ---------------------------------------------------------------- reference */

struct ref {
    int rc;
    u32 len; /* valid when rc == 0 */
    bool two_byte;
    u8 opcode, rex, prefixes, seg;
    u8 op_size, addr_size;
    /* ModRM operand */
    bool has_modrm, is_mem, has_sib, rip;
    u8 modrm, sib, scale;
    int base, index;
    s64 disp;
};

struct rcur {
    const u8 *b;
    u32 n, at;
};

static bool rbyte(struct rcur *c, u8 *v)
{
    if (c->at >= c->n)
        return false;
    *v = c->b[c->at++];
    return true;
}

/* n bytes little-endian, sign-extended from their width. */
static bool rsigned(struct rcur *c, u32 n, s64 *v)
{
    if (c->n - c->at < n)
        return false;
    u64 x = 0;
    for (u32 i = 0; i < n; i++)
        x |= (u64)c->b[c->at + i] << (8 * i);
    c->at += n;
    if (n == 1)
        *v = (s8)x;
    else if (n == 2)
        *v = (s16)x;
    else if (n == 4)
        *v = (s32)x;
    else
        *v = (s64)x;
    return true;
}

/* Prefixes and opcode: -EINVAL when the bytes run out. */
static int ref_prefixes(struct rcur *c, enum insn_mode mode, struct ref *r)
{
    int seg = -1;
    u8 b;
    for (;;) {
        if (!rbyte(c, &b))
            return -EINVAL;
        u8 bit = b == 0x66                  ? INSN_PFX_OPSIZE
                 : b == 0x67                ? INSN_PFX_ADSIZE
                 : b == 0xf0                ? INSN_PFX_LOCK
                 : (b == 0xf2 || b == 0xf3) ? INSN_PFX_REP
                                            : 0;
        int s = b == 0x26   ? INSN_SEG_ES
                : b == 0x2e ? INSN_SEG_CS
                : b == 0x36 ? INSN_SEG_SS
                : b == 0x3e ? INSN_SEG_DS
                : b == 0x64 ? INSN_SEG_FS
                : b == 0x65 ? INSN_SEG_GS
                            : -1;
        if (mode == INSN_MODE_64 && b >= 0x40 && b <= 0x4f) {
            r->rex = b; /* counts only if the opcode follows */
        } else if (bit || s >= 0) {
            r->prefixes |= bit;
            if (s >= 0)
                seg = s;
            r->rex = 0;
        } else {
            break;
        }
    }
    /* 64-bit mode ignores ES, CS, SS and DS overrides (Vol. 1 3.3.7.1). */
    if (seg == INSN_SEG_FS || seg == INSN_SEG_GS || (seg >= 0 && mode != INSN_MODE_64)) {
        r->prefixes |= INSN_PFX_SEG;
        r->seg = (u8)seg;
    }
    if (b == 0x0f) {
        r->two_byte = true;
        if (!rbyte(c, &b))
            return -EINVAL;
    }
    r->opcode = b;
    bool p66 = r->prefixes & INSN_PFX_OPSIZE, p67 = r->prefixes & INSN_PFX_ADSIZE;
    /* Vol. 1 table 3-4 and 64-bit mode's REX.W. */
    if (mode == INSN_MODE_64) {
        r->op_size = (r->rex & 8) ? 8 : p66 ? 2 : 4;
        r->addr_size = p67 ? 4 : 8;
    } else {
        bool d = mode == INSN_MODE_32;
        r->op_size = d != p66 ? 4 : 2;
        r->addr_size = d != p67 ? 4 : 2;
    }
    return 0;
}

/* ModRM, SIB and displacement. */
static int ref_modrm(struct rcur *c, enum insn_mode mode, struct ref *r)
{
    if (!rbyte(c, &r->modrm))
        return -EINVAL;
    r->has_modrm = true;
    u32 mod = r->modrm >> 6, rm = r->modrm & 7, disp = 0;
    r->base = r->index = -1;
    r->scale = 1;
    if (mod == 3)
        return 0;
    r->is_mem = true;
    bool ss = false;
    if (r->addr_size == 2) {
        /* Table 2-1: BX+SI, BX+DI, BP+SI, BP+DI, SI, DI, BP (disp16 alone with mod 0), BX. */
        static const int b16[8] = { 3, 3, 5, 5, 6, 7, 5, 3 }, i16[8] = { 6, 7, 6, 7, -1, -1, -1, -1 };
        disp = mod == 1 ? 1 : mod == 2 ? 2 : 0;
        if (mod == 0 && rm == 6) {
            disp = 2;
        } else {
            r->base = b16[rm];
            r->index = i16[rm];
            ss = r->base == 5;
        }
    } else {
        disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
        int base = (int)rm;
        if (rm == 4) {
            /* Table 2-3. */
            if (!rbyte(c, &r->sib))
                return -EINVAL;
            r->has_sib = true;
            r->scale = (u8)(1 << (r->sib >> 6));
            int idx = ((r->sib >> 3) & 7) + ((r->rex & 2) ? 8 : 0);
            r->index = idx == 4 ? -1 : idx;
            base = r->sib & 7;
            if (base == 5 && mod == 0) {
                base = -1;
                disp = 4;
            }
        } else if (rm == 5 && mod == 0) {
            base = -1;
            disp = 4;
            r->rip = mode == INSN_MODE_64;
        }
        if (base >= 0)
            r->base = base + ((r->rex & 1) ? 8 : 0);
        ss = r->base == 4 || r->base == 5;
    }
    if (disp && !rsigned(c, disp, &r->disp))
        return -EINVAL;
    if (!(r->prefixes & INSN_PFX_SEG))
        r->seg = ss ? INSN_SEG_SS : INSN_SEG_DS;
    return 0;
}

struct ref_mov {
    u8 dir, ext, access, dst;
    u32 imm_len;
    bool moffs;
};

static int ref_decode(const u8 *b, u32 n, enum insn_mode mode, struct ref *r, struct ref_mov *m)
{
    struct rcur c = { b, n < INSN_MAX_LEN ? n : INSN_MAX_LEN, 0 };
    memset(r, 0, sizeof(*r));
    memset(m, 0, sizeof(*m));
    r->seg = INSN_SEG_DS;
    r->base = r->index = -1;
    r->scale = 1;
    int rc = ref_prefixes(&c, mode, r);
    if (rc)
        return rc;
    u8 op = r->opcode, w = r->op_size;
    if (r->two_byte) {
        /* MOVZX / MOVSX r, r/m8 or r/m16. */
        if (op != 0xb6 && op != 0xb7 && op != 0xbe && op != 0xbf)
            return -ENOTSUP;
        *m = (struct ref_mov){ INSN_READ, op < 0xbe ? INSN_EXT_ZERO : INSN_EXT_SIGN, (op & 1) ? 2 : 1, w, 0, false };
    } else {
        switch (op) {
        case 0x88:
        case 0x89: *m = (struct ref_mov){ INSN_WRITE_REG, 0, op == 0x88 ? 1 : w, 0, 0, false }; break;
        case 0x8a:
        case 0x8b: *m = (struct ref_mov){ INSN_READ, 0, op == 0x8a ? 1 : w, 0, 0, false }; break;
        case 0xc6: *m = (struct ref_mov){ INSN_WRITE_IMM, 0, 1, 0, 1, false }; break;
        case 0xc7: *m = (struct ref_mov){ INSN_WRITE_IMM, 0, w, 0, w == 2 ? 2 : 4, false }; break;
        case 0xa0:
        case 0xa1: *m = (struct ref_mov){ INSN_READ, 0, op == 0xa0 ? 1 : w, 0, 0, true }; break;
        case 0xa2:
        case 0xa3: *m = (struct ref_mov){ INSN_WRITE_REG, 0, op == 0xa2 ? 1 : w, 0, 0, true }; break;
        default: return -ENOTSUP;
        }
        m->dst = m->access;
    }
    if (r->prefixes & (INSN_PFX_LOCK | INSN_PFX_REP))
        return -ENOTSUP;
    if (m->moffs) {
        r->is_mem = true;
        if (!rsigned(&c, r->addr_size, &r->disp)) /* the moffs, compared zero-extended below */
            return -EINVAL;
    } else {
        rc = ref_modrm(&c, mode, r);
        if (rc)
            return rc;
        if (m->dir == INSN_WRITE_IMM && ((r->modrm >> 3) & 7) != 0)
            return -ENOTSUP;
    }
    if (m->imm_len && c.n - c.at < m->imm_len)
        return -EINVAL;
    c.at += m->imm_len;
    r->len = c.at;
    return 0;
}

/* ---------------------------------------------------------------- checks */

static u64 mask(u32 size) { return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1; }

static void check_operand(const struct insn *in, const struct ref *r)
{
    CHECK(in->two_byte == r->two_byte && in->opcode == r->opcode && in->rex == r->rex);
    CHECK(in->prefixes == r->prefixes && in->seg == r->seg);
    CHECK(in->op_size == r->op_size && in->addr_size == r->addr_size);
    CHECK(in->has_modrm == r->has_modrm && in->is_mem == r->is_mem && in->has_sib == r->has_sib);
    if (r->has_modrm) {
        CHECK(in->modrm == r->modrm && in->sib == r->sib && in->rip_relative == r->rip);
        CHECK(in->base == r->base && in->index == r->index && in->scale == r->scale && in->disp == r->disp);
    }
}

/* The helpers on an accepted MOV. */
static void check_helpers(const struct insn *in, const u64 gpr[16], u64 v)
{
    u64 ea = insn_effective_address(in, gpr, v ^ 0x5555);
    CHECK((ea & ~mask(in->addr_size)) == 0);
    if (in->dir == INSN_READ) {
        u64 old = gpr[in->reg], nv = insn_apply_read(in, old, v);
        u64 val = v & mask(in->access_size);
        if (in->ext == INSN_EXT_SIGN && (val >> (8 * in->access_size - 1)))
            val |= ~mask(in->access_size);
        if (in->high_byte)
            CHECK(nv == ((old & ~0xff00ULL) | (val & 0xff) << 8));
        else if (in->dst_size == 4)
            CHECK(nv == (val & 0xffffffffULL)); /* 32-bit writes clear bits 63:32 */
        else
            CHECK(nv == ((old & ~mask(in->dst_size)) | (val & mask(in->dst_size))));
    } else {
        u64 st = insn_store_value(in, gpr[in->reg]);
        CHECK((st & ~mask(in->access_size)) == 0);
        if (in->dir == INSN_WRITE_IMM)
            CHECK(st == in->imm);
        else
            CHECK(st == (in->high_byte ? (gpr[in->reg] >> 8) & 0xff : gpr[in->reg] & mask(in->access_size)));
    }
}

static void check_mov(const u8 *b, u32 n, enum insn_mode mode, const u64 gpr[16], u64 v)
{
    struct insn in, again;
    struct ref r;
    struct ref_mov m;
    int rc = insn_decode(b, n, mode, &in);
    int want = ref_decode(b, n, mode, &r, &m);
    CHECK(rc == want);
    CHECK(in.len <= n && in.len <= INSN_MAX_LEN);
    if (rc)
        return;
    CHECK(in.len == r.len);
    check_operand(&in, &r);
    CHECK(in.dir == m.dir && in.ext == m.ext && in.access_size == m.access && in.dst_size == m.dst);
    if (m.moffs) {
        CHECK(in.moffs == ((u64)r.disp & mask(r.addr_size)) && in.reg == 0 && !in.high_byte && in.disp == 0);
    } else if (in.dir != INSN_WRITE_IMM) {
        u32 reg = ((r.modrm >> 3) & 7) + ((r.rex & 4) ? 8 : 0);
        bool hb = (in.dir == INSN_READ ? m.dst : m.access) == 1 && !r.rex && reg >= 4 && reg <= 7;
        CHECK(in.high_byte == hb && in.reg == (hb ? reg - 4 : reg));
    }
    if (m.imm_len) {
        s64 imm;
        struct rcur c = { b, r.len, r.len - m.imm_len };
        CHECK(rsigned(&c, m.imm_len, &imm));
        CHECK(in.imm == ((u64)imm & mask(m.access)));
    } else {
        CHECK(in.imm == 0);
    }

    /* Exactly its bytes: the same; one fewer: too short. */
    u8 *exact = malloc(in.len);
    CHECK(exact);
    memcpy(exact, b, in.len);
    CHECK(insn_decode(exact, in.len, mode, &again) == 0 && memcmp(&in, &again, sizeof(in)) == 0);
    CHECK(insn_decode(exact, in.len - 1, mode, &again) == -EINVAL);
    free(exact);
    check_helpers(&in, gpr, v);
}

static void check_sys(const u8 *b, u32 n, enum insn_mode mode)
{
    struct insn_sys s, again;
    struct ref r;
    struct rcur c = { b, n < INSN_MAX_LEN ? n : INSN_MAX_LEN, 0 };
    int rc = insn_decode_sys(b, n, mode, &s);
    CHECK(s.len <= n && s.len <= INSN_MAX_LEN);

    memset(&r, 0, sizeof(r));
    r.seg = INSN_SEG_DS;
    int want = ref_prefixes(&c, mode, &r);
    u8 m = 0;
    if (!want && (!r.two_byte || (r.prefixes & (INSN_PFX_LOCK | INSN_PFX_REP))))
        want = -ENOTSUP;
    else if (!want && r.opcode == 0x06)
        want = 0;
    else if (!want && (r.opcode == 0x20 || r.opcode == 0x22))
        want = rbyte(&c, &m) ? 0 : -EINVAL;
    else if (!want && r.opcode == 0x01)
        want = ref_modrm(&c, mode, &r) ? -EINVAL : (((r.modrm >> 3) & 7) == 7 && r.is_mem) ? 0 : -ENOTSUP;
    else if (!want)
        want = -ENOTSUP;
    CHECK(rc == want);
    if (rc)
        return;
    CHECK(s.len == c.at);
    switch (r.opcode) {
    case 0x06: CHECK(s.kind == INSN_SYS_CLTS); break;
    case 0x20:
    case 0x22:
        CHECK(s.kind == (r.opcode == 0x20 ? INSN_SYS_MOV_FROM_CR : INSN_SYS_MOV_TO_CR));
        CHECK(s.cr == ((m >> 3) & 7) + ((r.rex & 4) ? 8 : 0) && s.gpr == (m & 7) + ((r.rex & 1) ? 8 : 0));
        break;
    default:
        CHECK(s.kind == INSN_SYS_INVLPG);
        check_operand(&s.mem, &r);
        break;
    }
    u8 *exact = malloc(s.len);
    CHECK(exact);
    memcpy(exact, b, s.len);
    CHECK(insn_decode_sys(exact, s.len, mode, &again) == 0 && memcmp(&s, &again, sizeof(s)) == 0);
    CHECK(insn_decode_sys(exact, s.len - 1, mode, &again) == -EINVAL);
    free(exact);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < CTRL)
        return 0;
    enum insn_mode mode = (enum insn_mode)(data[0] % 3);
    u64 gpr[16], v = fz_rd64(data + 1);
    for (u32 i = 0; i < 16; i++)
        gpr[i] = (v + i) * 0x9e3779b97f4a7c15ULL;
    const u8 *b = data + CTRL;
    u32 n = (u32)MIN(size - CTRL, 64u);
    b += size - CTRL - n; /* the last n bytes: the buffer's end is theirs */
    check_mov(b, n, mode, gpr, v);
    check_sys(b, n, mode);
    return 0;
}

/* ---------------------------------------------------------------- seeds */

static void write_seed(const char *dir, u32 k, u8 mode, const char *hex)
{
    u8 buf[CTRL + 32] = { mode, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88 };
    size_t n = CTRL;
    for (const char *p = hex; *p && n < sizeof(buf);) {
        unsigned x;
        if (*p == ' ') {
            p++;
            continue;
        }
        CHECK(sscanf(p, "%2x", &x) == 1);
        buf[n++] = (u8)x;
        p += 2;
    }
    char name[32];
    snprintf(name, sizeof(name), "seed-%02u", k);
    fz_write_seed(dir, name, buf, n);
}

static void write_seeds(const char *dir)
{
    /* Real encodings (from tests/unit/test_insn_decode.c): every form, each mode. */
    static const struct {
        u8 mode;
        const char *hex;
    } s[] = {
        { 2, "88 64 8b 10" },
        { 2, "45 88 08" },
        { 2, "48 89 05 78 56 34 12" },
        { 2, "66 89 43 02" },
        { 2, "48 c7 80 00 03 00 00 ff ff ff ff" },
        { 2, "c6 04 25 00 10 00 00 7f" },
        { 2, "48 a1 88 77 66 55 44 33 22 11" },
        { 2, "67 a3 00 00 e0 fe" },
        { 2, "64 8b 04 25 30 00 00 00" },
        { 2, "44 0f b6 7d f0" },
        { 2, "48 0f bf 0c 24" },
        { 2, "41 8b 84 24 00 03 e0 fe" },
        { 2, "0f 20 d8" },
        { 2, "44 0f 22 c0" },
        { 2, "0f 01 38" },
        { 2, "0f 06" },
        { 1, "8b 15 20 03 e0 fe" },
        { 1, "66 c7 43 10 34 12" },
        { 1, "36 89 04 24" },
        { 1, "0f be 45 fc" },
        { 1, "67 8b 07" },
        { 1, "0f 01 7c 24 04" },
        { 0, "8b 07" },
        { 0, "c7 46 02 34 12" },
        { 0, "66 67 89 04 98" },
        { 0, "a0 34 12" },
        { 2, "f0 89 07" },
        { 2, "c7 f8 00 00 00 00" },
    };
    for (u32 k = 0; k < ARRAY_SIZE(s); k++)
        write_seed(dir, k, s[k].mode, s[k].hex);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    const char *dir = getenv("INSN_WRITE_SEEDS");
    if (dir) {
        write_seeds(dir);
        exit(0);
    }
    return 0;
}
