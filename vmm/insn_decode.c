/* MMIO instruction decoder; see insn_decode.h. Encoding rules from SDM Vol. 2A
 * chapter 2: legacy prefixes (2.1.1), REX (2.2.1), ModRM/SIB and the 16- and
 * 32-bit addressing forms (tables 2-1, 2-2, 2-3), RIP-relative addressing
 * (2.2.1.6), operand/address-size attributes (Vol. 1 3.6, table 3-4). */
#include "vmm/insn_decode.h"
#include "kernel/lib/errno.h"
#include "kernel/lib/string.h"
#include "arch/x86/hw/regs.h" /* RFLAGS_* of insn_rmw_exec() */

/* Legacy prefixes (SDM Vol. 2A 2.1.1). */
#define PFX_OPSIZE 0x66
#define PFX_ADSIZE 0x67
#define PFX_LOCK   0xf0
#define PFX_REPNE  0xf2
#define PFX_REP    0xf3
#define PFX_ES     0x26
#define PFX_CS     0x2e
#define PFX_SS     0x36
#define PFX_DS     0x3e
#define PFX_FS     0x64
#define PFX_GS     0x65

/* REX (2.2.1): 0100WRXB, 64-bit mode only. */
#define REX_W 0x08 /* 64-bit operand size */
#define REX_R 0x04 /* ModRM.reg bit 3 */
#define REX_X 0x02 /* SIB.index bit 3 */
#define REX_B 0x01 /* ModRM.rm / SIB.base bit 3 */

#define OP_ESCAPE 0x0f

#define REG_RSP 4
#define REG_RBP 5

struct cursor {
    const u8 *b;
    u32 len; /* min(input length, INSN_MAX_LEN) */
    u32 pos;
};

static int get_u8(struct cursor *c, u8 *v)
{
    if (c->pos >= c->len)
        return -EINVAL;
    *v = c->b[c->pos++];
    return 0;
}

/* n little-endian bytes, zero-extended. */
static int get_le(struct cursor *c, unsigned n, u64 *v)
{
    if (n > c->len - c->pos)
        return -EINVAL;
    u64 x = 0;
    for (unsigned i = 0; i < n; i++)
        x |= (u64)c->b[c->pos + i] << (8 * i);
    c->pos += n;
    *v = x;
    return 0;
}

static u64 size_mask(unsigned size) { return size >= 8 ? ~0ULL : (1ULL << (8 * size)) - 1; }

static s64 sign_extend(u64 v, unsigned size)
{
    if (size >= 8)
        return (s64)v;
    unsigned shift = 64 - 8 * size;
    return (s64)(v << shift) >> shift;
}

/* ModRM, SIB and displacement (tables 2-1 .. 2-3). */
static int decode_modrm(struct cursor *c, struct insn *in, enum insn_mode mode)
{
    int rc = get_u8(c, &in->modrm);
    if (rc)
        return rc;
    in->has_modrm = true;
    unsigned mod = in->modrm >> 6, rm = in->modrm & 7;
    unsigned disp_len = 0;
    bool stack = false; /* addressing through rSP/rBP: SS by default */

    if (mod == 3) {
        in->is_mem = false;
        return 0;
    }
    in->is_mem = true;

    if (in->addr_size == 2) {
        static const s8 base16[8] = { 3, 3, REG_RBP, REG_RBP, 6, 7, REG_RBP, 3 };
        static const s8 index16[8] = { 6, 7, 6, 7, -1, -1, -1, -1 };
        if (mod == 0 && rm == 6) {
            disp_len = 2; /* [disp16], no base */
        } else {
            in->base = base16[rm];
            in->index = index16[rm];
            stack = in->base == REG_RBP;
            disp_len = mod == 1 ? 1 : mod == 2 ? 2 : 0;
        }
    } else {
        if (rm == 4) {
            rc = get_u8(c, &in->sib);
            if (rc)
                return rc;
            in->has_sib = true;
            unsigned idx = ((in->sib >> 3) & 7) | ((in->rex & REX_X) ? 8 : 0);
            unsigned base = in->sib & 7;
            in->scale = (u8)(1u << (in->sib >> 6));
            in->index = idx == REG_RSP ? -1 : (s8)idx; /* no index; r12 is valid */
            if (base == REG_RBP && mod == 0) {
                disp_len = 4; /* [index*scale + disp32] */
            } else {
                in->base = (s8)(base | ((in->rex & REX_B) ? 8 : 0));
            }
        } else if (rm == 5 && mod == 0) {
            disp_len = 4; /* 64-bit mode: [rip + disp32]; else [disp32] */
            in->rip_relative = mode == INSN_MODE_64;
        } else {
            in->base = (s8)(rm | ((in->rex & REX_B) ? 8 : 0));
        }
        stack = in->base == REG_RSP || in->base == REG_RBP;
        if (mod == 1)
            disp_len = 1;
        else if (mod == 2)
            disp_len = 4;
    }

    if (disp_len) {
        u64 d;
        rc = get_le(c, disp_len, &d);
        if (rc)
            return rc;
        in->disp = sign_extend(d, disp_len);
    }
    if (!(in->prefixes & INSN_PFX_SEG))
        in->seg = stack ? INSN_SEG_SS : INSN_SEG_DS;
    return 0;
}

/* The register in ModRM.reg as the data operand of size `size`. */
static void set_reg_operand(struct insn *in, unsigned size)
{
    unsigned r = ((in->modrm >> 3) & 7) | ((in->rex & REX_R) ? 8 : 0);
    if (size == 1 && !in->rex && r >= 4 && r <= 7) {
        in->high_byte = true; /* AH, CH, DH, BH */
        r -= 4;
    }
    in->reg = (u8)r;
}

/* Legacy prefixes, REX and the opcode byte(s): sets in's prefixes, rex, seg,
 * two_byte and opcode; 0 or -EINVAL when the bytes end first. */
static int decode_prefixes(struct cursor *c, struct insn *in, enum insn_mode mode)
{
    int seg_override = -1;
    u8 b;
    int rc;

    /* Prefixes. A REX counts only right before the opcode (2.2.1). */
    for (;;) {
        rc = get_u8(c, &b);
        if (rc)
            return rc;
        switch (b) {
        case PFX_OPSIZE: in->prefixes |= INSN_PFX_OPSIZE; break;
        case PFX_ADSIZE: in->prefixes |= INSN_PFX_ADSIZE; break;
        case PFX_LOCK: in->prefixes |= INSN_PFX_LOCK; break;
        case PFX_REPNE:
        case PFX_REP: in->prefixes |= INSN_PFX_REP; break;
        case PFX_ES: seg_override = INSN_SEG_ES; break;
        case PFX_CS: seg_override = INSN_SEG_CS; break;
        case PFX_SS: seg_override = INSN_SEG_SS; break;
        case PFX_DS: seg_override = INSN_SEG_DS; break;
        case PFX_FS: seg_override = INSN_SEG_FS; break;
        case PFX_GS: seg_override = INSN_SEG_GS; break;
        default:
            if (mode == INSN_MODE_64 && (b & 0xf0) == 0x40) {
                in->rex = b;
                continue;
            }
            goto opcode;
        }
        in->rex = 0; /* a legacy prefix after REX voids it */
    }

opcode:
    /* In 64-bit mode ES/CS/SS/DS overrides are ignored (Vol. 1 3.3.7.1). */
    if (seg_override >= 0 && (mode != INSN_MODE_64 || seg_override >= INSN_SEG_FS)) {
        in->prefixes |= INSN_PFX_SEG;
        in->seg = (u8)seg_override;
    }
    if (b == OP_ESCAPE) {
        in->two_byte = true;
        rc = get_u8(c, &b);
        if (rc)
            return rc;
    }
    in->opcode = b;
    return 0;
}

static void set_sizes(struct insn *in, enum insn_mode mode)
{
    bool opsize = in->prefixes & INSN_PFX_OPSIZE, adsize = in->prefixes & INSN_PFX_ADSIZE;
    switch (mode) {
    case INSN_MODE_64:
        in->op_size = (in->rex & REX_W) ? 8 : opsize ? 2 : 4;
        in->addr_size = adsize ? 4 : 8;
        break;
    case INSN_MODE_32:
        in->op_size = opsize ? 2 : 4;
        in->addr_size = adsize ? 2 : 4;
        break;
    default:
        in->op_size = opsize ? 4 : 2;
        in->addr_size = adsize ? 4 : 2;
        break;
    }
}

static void insn_reset(struct insn *in)
{
    memset(in, 0, sizeof(*in));
    in->base = in->index = -1;
    in->scale = 1;
    in->seg = INSN_SEG_DS;
}

/* Common to both decoders: checks the arguments, then prefixes, opcode and
 * operand/address sizes. */
static int begin(const u8 *bytes, u32 len, enum insn_mode mode, struct insn *in, struct cursor *c)
{
    insn_reset(in);
    *c = (struct cursor){ bytes, len < INSN_MAX_LEN ? len : INSN_MAX_LEN, 0 };
    if (!bytes || (mode != INSN_MODE_16 && mode != INSN_MODE_32 && mode != INSN_MODE_64))
        return -EINVAL;
    int rc = decode_prefixes(c, in, mode);
    if (!rc)
        set_sizes(in, mode);
    return rc;
}

int insn_decode(const u8 *bytes, u32 len, enum insn_mode mode, struct insn *out)
{
    struct insn *in = out;
    struct cursor c;
    int rc = begin(bytes, len, mode, in, &c);
    if (rc)
        goto out;
    u8 b = in->opcode;

    /* Only the forms in the header; classify before touching operands so that an
     * unsupported opcode is reported as such even when truncated. */
    bool modrm = true, moffs = false;
    unsigned imm_len = 0;
    if (!in->two_byte) {
        switch (b) {
        case 0x88:
            in->dir = INSN_WRITE_REG;
            in->access_size = 1;
            break;
        case 0x89:
            in->dir = INSN_WRITE_REG;
            in->access_size = in->op_size;
            break;
        case 0x8a:
            in->dir = INSN_READ;
            in->access_size = 1;
            break;
        case 0x8b:
            in->dir = INSN_READ;
            in->access_size = in->op_size;
            break;
        case 0xc6:
            in->dir = INSN_WRITE_IMM;
            in->access_size = 1;
            imm_len = 1;
            break;
        case 0xc7:
            in->dir = INSN_WRITE_IMM;
            in->access_size = in->op_size;
            imm_len = in->op_size == 2 ? 2 : 4;
            break;
        case 0xa0:
            in->dir = INSN_READ;
            in->access_size = 1;
            modrm = false;
            moffs = true;
            break;
        case 0xa1:
            in->dir = INSN_READ;
            in->access_size = in->op_size;
            modrm = false;
            moffs = true;
            break;
        case 0xa2:
            in->dir = INSN_WRITE_REG;
            in->access_size = 1;
            modrm = false;
            moffs = true;
            break;
        case 0xa3:
            in->dir = INSN_WRITE_REG;
            in->access_size = in->op_size;
            modrm = false;
            moffs = true;
            break;
        default: rc = -ENOTSUP; goto out;
        }
        in->dst_size = in->access_size;
    } else {
        switch (b) {
        case 0xb6:
            in->ext = INSN_EXT_ZERO;
            in->access_size = 1;
            break;
        case 0xb7:
            in->ext = INSN_EXT_ZERO;
            in->access_size = 2;
            break;
        case 0xbe:
            in->ext = INSN_EXT_SIGN;
            in->access_size = 1;
            break;
        case 0xbf:
            in->ext = INSN_EXT_SIGN;
            in->access_size = 2;
            break;
        default: rc = -ENOTSUP; goto out;
        }
        in->dir = INSN_READ;
        in->dst_size = in->op_size;
    }
    /* MOV with LOCK is #UD; REP/XACQUIRE/XRELEASE forms are not emulated. */
    if (in->prefixes & (INSN_PFX_LOCK | INSN_PFX_REP)) {
        rc = -ENOTSUP;
        goto out;
    }

    if (modrm) {
        rc = decode_modrm(&c, in, mode);
        if (rc)
            goto out;
        /* C6/C7 are MOV only with ModRM.reg = 0 (C6 F8 / C7 F8 are XABORT / XBEGIN). */
        if (in->dir == INSN_WRITE_IMM && ((in->modrm >> 3) & 7) != 0) {
            rc = -ENOTSUP;
            goto out;
        }
        if (in->dir != INSN_WRITE_IMM)
            set_reg_operand(in, in->dir == INSN_READ ? in->dst_size : in->access_size);
    } else if (moffs) {
        in->is_mem = true;
        rc = get_le(&c, in->addr_size, &in->moffs);
        if (rc)
            goto out;
        in->reg = 0; /* AL / AX / EAX / RAX */
    }

    if (imm_len) {
        u64 imm;
        rc = get_le(&c, imm_len, &imm);
        if (rc)
            goto out;
        in->imm = (u64)sign_extend(imm, imm_len) & size_mask(in->access_size);
    }
    in->len = (u8)c.pos;
    return 0;

out:
    in->len = (u8)c.pos; /* bytes consumed before the problem */
    return rc;
}

u64 insn_apply_read(const struct insn *in, u64 old, u64 mem)
{
    u64 v = mem & size_mask(in->access_size);
    if (in->ext == INSN_EXT_SIGN)
        v = (u64)sign_extend(v, in->access_size);
    switch (in->dst_size) {
    case 1:
        if (in->high_byte)
            return (old & ~0xff00ULL) | ((v & 0xff) << 8);
        return (old & ~0xffULL) | (v & 0xff);
    case 2: return (old & ~0xffffULL) | (v & 0xffff);
    case 4: return v & 0xffffffffULL; /* 32-bit destinations zero bits 63:32 (Vol. 1 3.4.1.1) */
    default: return v;
    }
}

u64 insn_store_value(const struct insn *in, u64 reg_value)
{
    if (in->dir == INSN_WRITE_IMM)
        return in->imm & size_mask(in->access_size);
    if (in->high_byte)
        return (reg_value >> 8) & 0xff;
    return reg_value & size_mask(in->access_size);
}

/* ---- read-modify-write stores (shadow paging's page-table writes) ---- */

/* ModRM.reg of the immediate groups 80/81/83 (SDM Vol. 2A table A-6, group 1):
 * the writing members; 2 ADC, 3 SBB and 7 CMP are not emulated (CMP does not
 * write and so never faults here). */
static int group1_op(unsigned reg)
{
    switch (reg) {
    case 0: return RMW_ADD;
    case 1: return RMW_OR;
    case 4: return RMW_AND;
    case 5: return RMW_SUB;
    case 6: return RMW_XOR;
    default: return -1;
    }
}

/* 0F BA group 8: 5 BTS, 6 BTR, 7 BTC (4 BT only reads). */
static int group8_op(unsigned reg) { return reg == 5 ? RMW_BTS : reg == 6 ? RMW_BTR : reg == 7 ? RMW_BTC : -1; }

int insn_decode_rmw(const u8 *bytes, u32 len, enum insn_mode mode, struct insn_rmw *out)
{
    memset(out, 0, sizeof(*out));
    struct insn *in = &out->in;
    struct cursor c;
    int rc = begin(bytes, len, mode, in, &c);
    if (rc)
        goto out;
    u8 b = in->opcode;
    bool byte_form = false;
    int group = 0; /* 1: group 1 (80/81/83), 8: group 8 (0F BA) */
    unsigned imm_len = 0;
    if (!in->two_byte) {
        switch (b) {
        case 0x88:
        case 0x89:
        case 0xa2:
        case 0xa3:
        case 0xc6:
        case 0xc7:
            /* The MOV stores: the MMIO decoder's forms (LOCK refused there). */
            rc = insn_decode(bytes, len, mode, in);
            out->op = RMW_MOV;
            if (!rc && (in->dir == INSN_READ || !in->is_mem))
                rc = -ENOTSUP;
            return rc;
        case 0x00:
        case 0x01: out->op = RMW_ADD; break;
        case 0x08:
        case 0x09: out->op = RMW_OR; break;
        case 0x20:
        case 0x21: out->op = RMW_AND; break;
        case 0x28:
        case 0x29: out->op = RMW_SUB; break;
        case 0x30:
        case 0x31: out->op = RMW_XOR; break;
        case 0x86:
        case 0x87: out->op = RMW_XCHG; break;
        case 0x80:
            group = 1;
            imm_len = 1;
            break;
        case 0x81:
            group = 1;
            imm_len = in->op_size == 2 ? 2 : 4;
            break;
        case 0x83:
            group = 1;
            imm_len = 1;
            break;
        default: rc = -ENOTSUP; goto out;
        }
        byte_form = b == 0x80 || (b < 0x80 && !(b & 1)) || b == 0x86;
    } else {
        switch (b) {
        case 0xb0:
        case 0xb1: out->op = RMW_CMPXCHG; break;
        case 0xc0:
        case 0xc1: out->op = RMW_XADD; break;
        case 0xab: out->op = RMW_BTS; break;
        case 0xb3: out->op = RMW_BTR; break;
        case 0xbb: out->op = RMW_BTC; break;
        case 0xba:
            group = 8;
            imm_len = 1;
            break;
        default: rc = -ENOTSUP; goto out;
        }
        byte_form = b == 0xb0 || b == 0xc0;
    }
    if (in->prefixes & INSN_PFX_REP) {
        rc = -ENOTSUP; /* XACQUIRE/XRELEASE hints, or invalid */
        goto out;
    }
    in->access_size = byte_form ? 1 : in->op_size;
    in->dst_size = in->access_size;
    if ((rc = decode_modrm(&c, in, mode)) != 0)
        goto out;
    if (!in->is_mem) {
        rc = -ENOTSUP; /* a register destination never faults on memory */
        goto out;
    }
    unsigned reg = (in->modrm >> 3) & 7;
    if (group) {
        int op = group == 1 ? group1_op(reg) : group8_op(reg);
        if (op < 0) {
            rc = -ENOTSUP;
            goto out;
        }
        out->op = (u8)op;
        in->dir = INSN_WRITE_IMM;
    } else {
        in->dir = INSN_WRITE_REG;
        set_reg_operand(in, in->access_size);
    }
    if (imm_len) {
        u64 imm;
        if ((rc = get_le(&c, imm_len, &imm)) != 0)
            goto out;
        in->imm = group == 8 ? imm : (u64)sign_extend(imm, imm_len) & size_mask(in->access_size);
    }
    in->len = (u8)c.pos;
    return 0;
out:
    in->len = (u8)c.pos;
    return rc;
}

#define ARITH_FLAGS (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

static bool even_parity(u64 v)
{
    v &= 0xff;
    v ^= v >> 4;
    v ^= v >> 2;
    v ^= v >> 1;
    return !(v & 1);
}

/* The flags of an addition a + b = res or a subtraction a - b = res
 * (SDM Vol. 1 appendix A), all six. */
static u64 arith_flags(u64 a, u64 b, u64 res, unsigned size, bool sub)
{
    u64 m = size_mask(size), sign = 1ULL << (8 * size - 1);
    a &= m;
    b &= m;
    res &= m;
    u64 f = 0;
    if (sub ? a < b : res < a)
        f |= RFLAGS_CF;
    if (sub ? ((a ^ b) & (a ^ res) & sign) : ((a ^ res) & (b ^ res) & sign))
        f |= RFLAGS_OF;
    if ((a ^ b ^ res) & 0x10)
        f |= RFLAGS_AF;
    if (!res)
        f |= RFLAGS_ZF;
    if (res & sign)
        f |= RFLAGS_SF;
    if (even_parity(res))
        f |= RFLAGS_PF;
    return f;
}

/* OR/AND/XOR: CF = OF = 0, SF/ZF/PF from the result, AF (undefined) 0. */
static u64 logic_flags(u64 res, unsigned size)
{
    u64 m = size_mask(size);
    res &= m;
    return (!res ? RFLAGS_ZF : 0) | ((res >> (8 * size - 1)) & 1 ? RFLAGS_SF : 0) | (even_parity(res) ? RFLAGS_PF : 0);
}

/* A register write of `size` bytes by x86 rules (insn_apply_read's merge). */
static void write_reg(const struct insn *in, u64 gpr[16], unsigned reg, bool high, u64 v)
{
    struct insn w = *in;
    w.ext = INSN_EXT_NONE;
    w.dst_size = w.access_size;
    w.high_byte = high;
    gpr[reg] = insn_apply_read(&w, gpr[reg], v);
}

int insn_rmw_exec(const struct insn_rmw *r, u64 old, u64 gpr[16], u64 *rflags, u64 *mem)
{
    const struct insn *in = &r->in;
    unsigned size = in->access_size;
    u64 m = size_mask(size);
    u64 src = insn_store_value(in, gpr[in->reg]); /* the imm, or the register */
    old &= m;
    u64 res = old, fl = *rflags;
    switch (r->op) {
    case RMW_MOV: res = src; break;
    case RMW_ADD:
        res = (old + src) & m;
        fl = (fl & ~ARITH_FLAGS) | arith_flags(old, src, res, size, false);
        break;
    case RMW_SUB:
        res = (old - src) & m;
        fl = (fl & ~ARITH_FLAGS) | arith_flags(old, src, res, size, true);
        break;
    case RMW_OR:
    case RMW_AND:
    case RMW_XOR:
        res = r->op == RMW_OR ? old | src : r->op == RMW_AND ? old & src : old ^ src;
        fl = (fl & ~ARITH_FLAGS) | logic_flags(res, size);
        break;
    case RMW_XCHG:
        res = src;
        write_reg(in, gpr, in->reg, in->high_byte, old);
        break;
    case RMW_XADD:
        res = (old + src) & m;
        fl = (fl & ~ARITH_FLAGS) | arith_flags(old, src, res, size, false);
        write_reg(in, gpr, in->reg, in->high_byte, old);
        break;
    case RMW_CMPXCHG: {
        u64 acc = gpr[0] & m; /* AL, AX, EAX or RAX */
        fl = (fl & ~ARITH_FLAGS) | arith_flags(acc, old, (acc - old) & m, size, true);
        if (acc == old) {
            res = src;
        } else {
            write_reg(in, gpr, 0, false, old); /* the CPU writes the old value back too */
        }
        break;
    }
    case RMW_BTS:
    case RMW_BTR:
    case RMW_BTC: {
        unsigned bits = 8 * size;
        u64 off;
        if (in->dir == INSN_WRITE_IMM) {
            off = in->imm & (bits - 1);
        } else {
            s64 o = sign_extend(gpr[in->reg] & m, size);
            if (o < 0 || o >= (s64)bits)
                return -ENOTSUP; /* the bit lies in another operand-sized unit */
            off = (u64)o;
        }
        u64 bit = 1ULL << off;
        fl = (fl & ~(u64)RFLAGS_CF) | ((old & bit) ? RFLAGS_CF : 0);
        res = r->op == RMW_BTS ? old | bit : r->op == RMW_BTR ? old & ~bit : old ^ bit;
        break;
    }
    default: return -ENOTSUP;
    }
    *rflags = fl;
    *mem = res & m;
    return 0;
}

int insn_decode_stos(const u8 *bytes, u32 len, enum insn_mode mode, struct insn_stos *out)
{
    memset(out, 0, sizeof(*out));
    struct insn in;
    struct cursor c;
    int rc = begin(bytes, len, mode, &in, &c);
    out->len = (u8)c.pos;
    if (rc)
        return rc;
    if (in.two_byte || (in.opcode != 0xaa && in.opcode != 0xab) || (in.prefixes & (INSN_PFX_LOCK | INSN_PFX_SEG)))
        return -ENOTSUP;
    out->size = in.opcode == 0xaa ? 1 : in.op_size;
    out->addr_size = in.addr_size;
    out->rep = (in.prefixes & INSN_PFX_REP) != 0;
    return 0;
}

int insn_decode_sys(const u8 *bytes, u32 len, enum insn_mode mode, struct insn_sys *out)
{
    memset(out, 0, sizeof(*out));
    struct insn *in = &out->mem;
    struct cursor c;
    int rc = begin(bytes, len, mode, in, &c);
    if (rc)
        goto out;
    if (!in->two_byte || (in->prefixes & (INSN_PFX_LOCK | INSN_PFX_REP))) {
        rc = -ENOTSUP;
        goto out;
    }
    switch (in->opcode) {
    case 0x06: out->kind = INSN_SYS_CLTS; break;
    case 0x20:
    case 0x22: {
        /* MOV CRn: ModRM.mod is ignored, the operand is always a register of
         * the mode's width (SDM Vol. 2B MOV-Move to/from Control Registers). */
        u8 m;
        if ((rc = get_u8(&c, &m)) != 0)
            goto out;
        out->kind = in->opcode == 0x20 ? INSN_SYS_MOV_FROM_CR : INSN_SYS_MOV_TO_CR;
        out->cr = (u8)(((m >> 3) & 7) | ((in->rex & REX_R) ? 8 : 0));
        out->gpr = (u8)((m & 7) | ((in->rex & REX_B) ? 8 : 0));
        break;
    }
    case 0x01:
        /* Group 7: only INVLPG m (/7 with a memory operand). */
        if ((rc = decode_modrm(&c, in, mode)) != 0)
            goto out;
        if (((in->modrm >> 3) & 7) != 7 || !in->is_mem) {
            rc = -ENOTSUP;
            goto out;
        }
        out->kind = INSN_SYS_INVLPG;
        break;
    default: rc = -ENOTSUP; goto out;
    }
    out->len = (u8)c.pos;
    return 0;
out:
    out->len = (u8)c.pos;
    return rc;
}

u64 insn_effective_address(const struct insn *in, const u64 gpr[16], u64 next_rip)
{
    u64 a = (u64)in->disp;
    if (in->moffs)
        a = in->moffs;
    if (in->rip_relative)
        a += next_rip;
    if (in->base >= 0)
        a += gpr[in->base];
    if (in->index >= 0)
        a += gpr[in->index] * in->scale;
    return a & size_mask(in->addr_size);
}
