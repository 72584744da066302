/* MMIO instruction decoder: a table of real encodings (bytes from nasm, meaning
 * checked with objdump -d), every combination of the prefixes that change the
 * decode, truncation at every length, unsupported instructions, the register
 * merge helpers, and random bytes under the sanitizers. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <sys/mman.h>

#include "vmm/insn_decode.h"
#include "kernel/lib/errno.h"
#include "arch/x86/hw/regs.h"
#include "tests/unit/stubs.h"
#include "tests/unit/xorshift.h"

enum { M16 = INSN_MODE_16, M32 = INSN_MODE_32, M64 = INSN_MODE_64 };
enum { RD = INSN_READ, WR = INSN_WRITE_REG, WI = INSN_WRITE_IMM };
enum { NO = INSN_EXT_NONE, ZX = INSN_EXT_ZERO, SX = INSN_EXT_SIGN };
enum { ES = INSN_SEG_ES, CS = INSN_SEG_CS, SS = INSN_SEG_SS, DS = INSN_SEG_DS, FS = INSN_SEG_FS, GS = INSN_SEG_GS };
#define NOB (-1) /* no base / no index */

struct enc {
    int mode;
    const char *hex;
    u8 len, dir, ext, acc, dst, reg;
    bool hb;
    u8 seg, asz;
    s8 base, index;
    u8 scale;
    s64 disp;
    u64 imm; /* imm for WI, moffs for the A0-A3 forms */
    bool rip;
};

static u32 parse_hex(const char *s, u8 *out)
{
    u32 n = 0;
    while (*s) {
        if (*s == ' ') {
            s++;
            continue;
        }
        unsigned v;
        assert_int_equal(sscanf(s, "%2x", &v), 1);
        out[n++] = (u8)v;
        s += 2;
    }
    return n;
}

static const struct enc table[] = {
    /* ---- 64-bit mode */
    /* mode hex                               len dir ext acc dst reg hb  seg asz base idx sc disp imm/moffs rip */
    { M64, "88 00", 2, WR, NO, 1, 1, 0, 0, DS, 8, 0, NOB, 1, 0, 0, 0 },        /* mov [rax],al */
    { M64, "88 64 8b 10", 4, WR, NO, 1, 1, 0, 1, DS, 8, 3, 1, 4, 0x10, 0, 0 }, /* mov [rbx+rcx*4+0x10],ah */
    { M64, "40 88 32", 3, WR, NO, 1, 1, 6, 0, DS, 8, 2, NOB, 1, 0, 0, 0 },     /* mov [rdx],sil */
    { M64, "45 88 08", 3, WR, NO, 1, 1, 9, 0, DS, 8, 8, NOB, 1, 0, 0, 0 },     /* mov [r8],r9b */
    { M64, "89 07", 2, WR, NO, 4, 4, 0, 0, DS, 8, 7, NOB, 1, 0, 0, 0 },        /* mov [rdi],eax */
    { M64, "48 89 86 78 56 34 12", 7, WR, NO, 8, 8, 0, 0, DS, 8, 6, NOB, 1, 0x12345678, 0, 0 },
    { M64, "66 45 89 3c 24", 5, WR, NO, 2, 2, 15, 0, DS, 8, 12, NOB, 1, 0, 0, 0 },            /* mov [r12],r15w */
    { M64, "89 4c 24 08", 4, WR, NO, 4, 4, 1, 0, SS, 8, 4, NOB, 1, 8, 0, 0 },                 /* mov [rsp+8],ecx */
    { M64, "89 55 00", 3, WR, NO, 4, 4, 2, 0, SS, 8, 5, NOB, 1, 0, 0, 0 },                    /* mov [rbp],edx */
    { M64, "41 89 5d 00", 4, WR, NO, 4, 4, 3, 0, DS, 8, 13, NOB, 1, 0, 0, 0 },                /* mov [r13],ebx */
    { M64, "89 05 fa 00 00 00", 6, WR, NO, 4, 4, 0, 0, DS, 8, NOB, NOB, 1, 0xfa, 0, 1 },      /* mov [rip+0xfa],eax */
    { M64, "4c 8b 2d 00 01 00 00", 7, RD, NO, 8, 8, 13, 0, DS, 8, NOB, NOB, 1, 0x100, 0, 1 }, /* mov r13,[rip+0x100] */
    { M64, "41 8b 05 f0 ff ff ff", 7, RD, NO, 4, 4, 0, 0, DS, 8, NOB, NOB, 1, -16, 0, 1 },    /* REX.B: still RIP */
    { M64, "8a 00", 2, RD, NO, 1, 1, 0, 0, DS, 8, 0, NOB, 1, 0, 0, 0 },
    { M64, "8a 3b", 2, RD, NO, 1, 1, 3, 1, DS, 8, 3, NOB, 1, 0, 0, 0 },    /* mov bh,[rbx] */
    { M64, "40 8a 39", 3, RD, NO, 1, 1, 7, 0, DS, 8, 1, NOB, 1, 0, 0, 0 }, /* mov dil,[rcx] */
    { M64, "8b 04 25 b0 00 e0 7e", 7, RD, NO, 4, 4, 0, 0, DS, 8, NOB, NOB, 1, 0x7ee000b0, 0, 0 },
    { M64, "4f 8b 54 e3 80", 5, RD, NO, 8, 8, 10, 0, DS, 8, 11, 12, 8, -0x80, 0, 0 }, /* mov r10,[r11+r12*8-0x80] */
    { M64, "66 8b 0c 02", 4, RD, NO, 2, 2, 1, 0, DS, 8, 2, 0, 1, 0, 0, 0 },           /* mov cx,[rdx+rax] */
    { M64, "42 8b 04 25 00 10 00 00", 8, RD, NO, 4, 4, 0, 0, DS, 8, NOB, 12, 1, 0x1000, 0,
      0 }, /* mov eax,[r12*1+0x1000] */
    { M64, "c6 00 5a", 3, WI, NO, 1, 1, 0, 0, DS, 8, 0, NOB, 1, 0, 0x5a, 0 },
    { M64, "66 c7 00 34 12", 5, WI, NO, 2, 2, 0, 0, DS, 8, 0, NOB, 1, 0, 0x1234, 0 },
    { M64, "c7 40 04 00 00 00 80", 7, WI, NO, 4, 4, 0, 0, DS, 8, 0, NOB, 1, 4, 0x80000000, 0 },
    { M64, "48 c7 00 ff ff ff ff", 7, WI, NO, 8, 8, 0, 0, DS, 8, 0, NOB, 1, 0, 0xffffffffffffffffULL, 0 },
    { M64, "48 c7 00 00 00 00 80", 7, WI, NO, 8, 8, 0, 0, DS, 8, 0, NOB, 1, 0, 0xffffffff80000000ULL, 0 },
    { M64, "48 c7 00 ff ff ff 7f", 7, WI, NO, 8, 8, 0, 0, DS, 8, 0, NOB, 1, 0, 0x7fffffff, 0 },
    { M64, "a0 88 77 66 55 44 33 22 11", 9, RD, NO, 1, 1, 0, 0, DS, 8, NOB, NOB, 1, 0, 0x1122334455667788ULL, 0 },
    { M64, "a1 88 77 66 55 44 33 22 11", 9, RD, NO, 4, 4, 0, 0, DS, 8, NOB, NOB, 1, 0, 0x1122334455667788ULL, 0 },
    { M64, "48 a1 88 77 66 55 44 33 22 11", 10, RD, NO, 8, 8, 0, 0, DS, 8, NOB, NOB, 1, 0, 0x1122334455667788ULL, 0 },
    { M64, "a2 88 77 66 55 44 33 22 11", 9, WR, NO, 1, 1, 0, 0, DS, 8, NOB, NOB, 1, 0, 0x1122334455667788ULL, 0 },
    { M64, "66 a3 88 77 66 55 44 33 22 11", 10, WR, NO, 2, 2, 0, 0, DS, 8, NOB, NOB, 1, 0, 0x1122334455667788ULL, 0 },
    { M64, "67 a1 44 33 22 11", 6, RD, NO, 4, 4, 0, 0, DS, 4, NOB, NOB, 1, 0, 0x11223344, 0 },
    { M64, "0f b6 06", 3, RD, ZX, 1, 4, 0, 0, DS, 8, 6, NOB, 1, 0, 0, 0 },    /* movzx eax,byte [rsi] */
    { M64, "4c 0f b7 0f", 4, RD, ZX, 2, 8, 9, 0, DS, 8, 7, NOB, 1, 0, 0, 0 }, /* movzx r9,word [rdi] */
    { M64, "66 0f b6 06", 4, RD, ZX, 1, 2, 0, 0, DS, 8, 6, NOB, 1, 0, 0, 0 }, /* movzx ax,byte [rsi] */
    { M64, "0f be 0e", 3, RD, SX, 1, 4, 1, 0, DS, 8, 6, NOB, 1, 0, 0, 0 },
    { M64, "0f be 26", 3, RD, SX, 1, 4, 4, 0, DS, 8, 6, NOB, 1, 0, 0, 0 },        /* movsx esp,[rsi]: no AH */
    { M64, "49 0f bf 56 04", 5, RD, SX, 2, 8, 2, 0, DS, 8, 14, NOB, 1, 4, 0, 0 }, /* movsx rdx,word [r14+4] */
    { M64, "64 8b 00", 3, RD, NO, 4, 4, 0, 0, FS, 8, 0, NOB, 1, 0, 0, 0 },
    { M64, "65 8b 04 25 10 00 00 00", 8, RD, NO, 4, 4, 0, 0, GS, 8, NOB, NOB, 1, 0x10, 0, 0 },
    { M64, "26 8b 00", 3, RD, NO, 4, 4, 0, 0, DS, 8, 0, NOB, 1, 0, 0, 0 }, /* ES ignored */
    { M64, "36 8b 00", 3, RD, NO, 4, 4, 0, 0, DS, 8, 0, NOB, 1, 0, 0, 0 }, /* SS ignored */
    { M64, "67 8b 00", 3, RD, NO, 4, 4, 0, 0, DS, 4, 0, NOB, 1, 0, 0, 0 }, /* mov eax,[eax] */
    { M64, "8b 44 00 40", 4, RD, NO, 4, 4, 0, 0, DS, 8, 0, 0, 1, 0x40, 0, 0 },
    { M64, "41 8b 04 24", 4, RD, NO, 4, 4, 0, 0, DS, 8, 12, NOB, 1, 0, 0, 0 },            /* [r12]: DS */
    { M64, "89 04 24", 3, WR, NO, 4, 4, 0, 0, SS, 8, 4, NOB, 1, 0, 0, 0 },                /* [rsp] */
    { M64, "43 89 04 2c", 4, WR, NO, 4, 4, 0, 0, DS, 8, 12, 13, 1, 0, 0, 0 },             /* [r12+r13] */
    { M64, "48 66 89 00", 4, WR, NO, 2, 2, 0, 0, DS, 8, 0, NOB, 1, 0, 0, 0 },             /* REX voided by 66 */
    { M64, "48 41 89 00", 4, WR, NO, 4, 4, 0, 0, DS, 8, 8, NOB, 1, 0, 0, 0 },             /* last REX wins */
    { M64, "66 48 c7 00 01 00 00 00", 8, WI, NO, 8, 8, 0, 0, DS, 8, 0, NOB, 1, 0, 1, 0 }, /* REX.W beats 66 */
    { M64, "2e 3e 26 64 66 67 48 8b 84 24 00 01 00 00", 14, RD, NO, 8, 8, 0, 0, FS, 4, 4, NOB, 1, 0x100, 0, 0 },

    /* ---- 32-bit protected mode */
    { M32, "89 08", 2, WR, NO, 4, 4, 1, 0, DS, 4, 0, NOB, 1, 0, 0, 0 },
    { M32, "88 45 fc", 3, WR, NO, 1, 1, 0, 0, SS, 4, 5, NOB, 1, -4, 0, 0 },
    { M32, "a3 00 03 e0 fe", 5, WR, NO, 4, 4, 0, 0, DS, 4, NOB, NOB, 1, 0, 0xfee00300, 0 },
    { M32, "8b 84 f3 00 10 00 00", 7, RD, NO, 4, 4, 0, 0, DS, 4, 3, 6, 8, 0x1000, 0, 0 },
    { M32, "66 8b 01", 3, RD, NO, 2, 2, 0, 0, DS, 4, 1, NOB, 1, 0, 0, 0 },
    { M32, "88 3c 24", 3, WR, NO, 1, 1, 3, 1, SS, 4, 4, NOB, 1, 0, 0, 0 }, /* mov [esp],bh */
    { M32, "c6 07 07", 3, WI, NO, 1, 1, 0, 0, DS, 4, 7, NOB, 1, 0, 7, 0 },
    { M32, "66 c7 07 ef be", 5, WI, NO, 2, 2, 0, 0, DS, 4, 7, NOB, 1, 0, 0xbeef, 0 },
    { M32, "c7 07 ef be ad de", 6, WI, NO, 4, 4, 0, 0, DS, 4, 7, NOB, 1, 0, 0xdeadbeef, 0 },
    { M32, "a0 78 56 34 12", 5, RD, NO, 1, 1, 0, 0, DS, 4, NOB, NOB, 1, 0, 0x12345678, 0 },
    { M32, "66 a3 34 12 00 00", 6, WR, NO, 2, 2, 0, 0, DS, 4, NOB, NOB, 1, 0, 0x1234, 0 },
    { M32, "0f b7 02", 3, RD, ZX, 2, 4, 0, 0, DS, 4, 2, NOB, 1, 0, 0, 0 },
    { M32, "66 0f be 02", 4, RD, SX, 1, 2, 0, 0, DS, 4, 2, NOB, 1, 0, 0, 0 },
    { M32, "36 8b 00", 3, RD, NO, 4, 4, 0, 0, SS, 4, 0, NOB, 1, 0, 0, 0 },
    { M32, "2e 8b 45 00", 4, RD, NO, 4, 4, 0, 0, CS, 4, 5, NOB, 1, 0, 0, 0 },
    { M32, "67 8b 00", 3, RD, NO, 4, 4, 0, 0, DS, 2, 3, 6, 1, 0, 0, 0 },      /* [bx+si] */
    { M32, "67 8b 46 06", 4, RD, NO, 4, 4, 0, 0, SS, 2, 5, NOB, 1, 6, 0, 0 }, /* [bp+6] */
    { M32, "67 88 15", 3, WR, NO, 1, 1, 2, 0, DS, 2, 7, NOB, 1, 0, 0, 0 },    /* [di],dl */
    { M32, "8b 04 b5 10 00 00 00", 7, RD, NO, 4, 4, 0, 0, DS, 4, NOB, 6, 4, 0x10, 0, 0 },
    { M32, "67 a0 56 34", 4, RD, NO, 1, 1, 0, 0, DS, 2, NOB, NOB, 1, 0, 0x3456, 0 },
    { M32, "8b 05 78 56 34 12", 6, RD, NO, 4, 4, 0, 0, DS, 4, NOB, NOB, 1, 0x12345678, 0, 0 }, /* not RIP */
    { M32, "8b 0d 00 00 00 80", 6, RD, NO, 4, 4, 1, 0, DS, 4, NOB, NOB, 1, -0x80000000LL, 0, 0 },

    /* ---- 16-bit mode */
    { M16, "89 00", 2, WR, NO, 2, 2, 0, 0, DS, 2, 3, 6, 1, 0, 0, 0 },      /* [bx+si],ax */
    { M16, "88 46 00", 3, WR, NO, 1, 1, 0, 0, SS, 2, 5, NOB, 1, 0, 0, 0 }, /* [bp],al */
    { M16, "89 0e 34 12", 4, WR, NO, 2, 2, 1, 0, DS, 2, NOB, NOB, 1, 0x1234, 0, 0 },
    { M16, "8b 43 12", 3, RD, NO, 2, 2, 0, 0, SS, 2, 5, 7, 1, 0x12, 0, 0 },
    { M16, "66 8b 84 cc ed", 5, RD, NO, 4, 4, 0, 0, DS, 2, 6, NOB, 1, -0x1234, 0, 0 },
    { M16, "67 89 00", 3, WR, NO, 2, 2, 0, 0, DS, 4, 0, NOB, 1, 0, 0, 0 },
    { M16, "66 67 89 44 4b 10", 6, WR, NO, 4, 4, 0, 0, DS, 4, 3, 1, 2, 0x10, 0, 0 },
    { M16, "c6 07 11", 3, WI, NO, 1, 1, 0, 0, DS, 2, 3, NOB, 1, 0, 0x11, 0 },
    { M16, "c7 07 33 22", 4, WI, NO, 2, 2, 0, 0, DS, 2, 3, NOB, 1, 0, 0x2233, 0 },
    { M16, "66 c7 07 77 66 55 44", 7, WI, NO, 4, 4, 0, 0, DS, 2, 3, NOB, 1, 0, 0x44556677, 0 },
    { M16, "a0 34 12", 3, RD, NO, 1, 1, 0, 0, DS, 2, NOB, NOB, 1, 0, 0x1234, 0 },
    { M16, "66 a1 34 12", 4, RD, NO, 4, 4, 0, 0, DS, 2, NOB, NOB, 1, 0, 0x1234, 0 },
    { M16, "67 a2 78 56 34 12", 6, WR, NO, 1, 1, 0, 0, DS, 4, NOB, NOB, 1, 0, 0x12345678, 0 },
    { M16, "0f b6 07", 3, RD, ZX, 1, 2, 0, 0, DS, 2, 3, NOB, 1, 0, 0, 0 },
    { M16, "66 0f bf 07", 4, RD, SX, 2, 4, 0, 0, DS, 2, 3, NOB, 1, 0, 0, 0 },
    { M16, "26 8b 05", 3, RD, NO, 2, 2, 0, 0, ES, 2, 7, NOB, 1, 0, 0, 0 },
    { M16, "8b 02", 2, RD, NO, 2, 2, 0, 0, SS, 2, 5, 6, 1, 0, 0, 0 },   /* [bp+si] */
    { M16, "8a 27", 2, RD, NO, 1, 1, 0, 1, DS, 2, 3, NOB, 1, 0, 0, 0 }, /* mov ah,[bx] */
};

static void check_enc(const struct enc *e, const struct insn *in, const char *what)
{
    if (in->len != e->len || in->dir != e->dir || in->ext != e->ext || in->access_size != e->acc ||
        in->dst_size != e->dst || in->reg != e->reg || in->high_byte != e->hb || !in->is_mem || in->seg != e->seg ||
        in->addr_size != e->asz || in->base != e->base || in->index != e->index || in->scale != e->scale ||
        in->disp != e->disp || in->rip_relative != e->rip || (e->dir == WI ? in->imm : in->moffs) != e->imm) {
        fail_msg("%s [%s] mode %d: len %u dir %u ext %u acc %u dst %u reg %u hb %d seg %u asz %u "
                 "base %d index %d scale %u disp %lld imm %llx moffs %llx rip %d",
                 what, e->hex, e->mode, in->len, in->dir, in->ext, in->access_size, in->dst_size, in->reg,
                 in->high_byte, in->seg, in->addr_size, in->base, in->index, in->scale, (long long)in->disp,
                 (unsigned long long)in->imm, (unsigned long long)in->moffs, in->rip_relative);
    }
}

static void test_table(void **state)
{
    for (u32 i = 0; i < ARRAY_SIZE(table); i++) {
        const struct enc *e = &table[i];
        u8 b[32];
        u32 n = parse_hex(e->hex, b);
        assert_int_equal(n, e->len);
        struct insn in;
        int rc = insn_decode(b, n, (enum insn_mode)e->mode, &in);
        if (rc)
            fail_msg("[%s] rc %d", e->hex, rc);
        check_enc(e, &in, "exact");
        /* Trailing bytes do not change anything. */
        memset(b + n, 0x90, sizeof(b) - n);
        assert_int_equal(insn_decode(b, sizeof(b), (enum insn_mode)e->mode, &in), 0);
        check_enc(e, &in, "trailing");
        /* Every shorter prefix of the bytes is truncated. */
        for (u32 k = 0; k < n; k++) {
            rc = insn_decode(b, k, (enum insn_mode)e->mode, &in);
            if (rc != -EINVAL)
                fail_msg("[%s] cut at %u: rc %d", e->hex, k, rc);
            assert_true(in.len <= k);
        }
    }
}

/* Every combination of operand-size, address-size, segment and REX prefixes, in
 * two orders, over "mov eax,[rax]" (8B 00) and "mov [rax],al" (88 00). */
static void test_prefix_combinations(void **state)
{
    static const u8 segs[] = { 0, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65 };
    static const u8 rexes[] = { 0, 0x40, 0x41, 0x44, 0x48, 0x4c, 0x4f, 0x45 };
    u32 checked = 0;
    for (int mode = M16; mode <= M64; mode++)
        for (int op = 0; op < 2; op++)
            for (int o66 = 0; o66 < 2; o66++)
                for (int o67 = 0; o67 < 2; o67++)
                    for (u32 s = 0; s < ARRAY_SIZE(segs); s++)
                        for (u32 r = 0; r < (mode == M64 ? ARRAY_SIZE(rexes) : 1); r++)
                            for (int order = 0; order < 2; order++) {
                                u8 b[16];
                                u32 n = 0;
                                u8 legacy[3];
                                u32 nl = 0;
                                if (o66)
                                    legacy[nl++] = 0x66;
                                if (o67)
                                    legacy[nl++] = 0x67;
                                if (segs[s])
                                    legacy[nl++] = segs[s];
                                for (u32 k = 0; k < nl; k++)
                                    b[n++] = legacy[order ? nl - 1 - k : k];
                                u8 rex = rexes[r];
                                if (rex)
                                    b[n++] = rex;
                                b[n++] = op ? 0x88 : 0x8b;
                                b[n++] = 0x00;

                                struct insn in;
                                int rc = insn_decode(b, n, (enum insn_mode)mode, &in);
                                assert_int_equal(rc, 0);
                                assert_int_equal(in.len, n);
                                assert_int_equal(in.rex, rex);

                                u8 opsz, asz;
                                if (mode == M64) {
                                    opsz = (rex & 8) ? 8 : o66 ? 2 : 4;
                                    asz = o67 ? 4 : 8;
                                } else if (mode == M32) {
                                    opsz = o66 ? 2 : 4;
                                    asz = o67 ? 2 : 4;
                                } else {
                                    opsz = o66 ? 4 : 2;
                                    asz = o67 ? 4 : 2;
                                }
                                assert_int_equal(in.op_size, opsz);
                                assert_int_equal(in.addr_size, asz);
                                assert_int_equal(in.access_size, op ? 1 : opsz);
                                assert_int_equal(in.dir, op ? INSN_WRITE_REG : INSN_READ);
                                assert_int_equal(in.reg, (rex & 4) ? 8 : 0);
                                assert_false(in.high_byte);
                                if (asz == 2) {
                                    assert_int_equal(in.base, 3); /* [bx+si] */
                                    assert_int_equal(in.index, 6);
                                } else {
                                    assert_int_equal(in.base, (rex & 1) ? 8 : 0);
                                    assert_int_equal(in.index, -1);
                                }
                                u8 seg = DS;
                                if (segs[s] && (mode != M64 || segs[s] >= 0x64)) {
                                    static const u8 map[256] = {
                                        [0x26] = ES, [0x2e] = CS, [0x36] = SS, [0x3e] = DS, [0x64] = FS, [0x65] = GS
                                    };
                                    seg = map[segs[s]];
                                }
                                assert_int_equal(in.seg, seg);
                                checked++;
                            }
    assert_int_equal(checked, 2 * (2 * 2 * 2 * 7 * 2) + 2 * 2 * 2 * 7 * 8 * 2);
}

static void test_unsupported(void **state)
{
    static const struct {
        int mode;
        const char *hex;
        u8 opcode;
        bool two;
        int rc;
    } cases[] = {
        { M64, "f0 89 00", 0x89, 0, -ENOTSUP }, /* lock mov: #UD */
        { M64, "f3 89 00", 0x89, 0, -ENOTSUP }, /* xrelease mov */
        { M64, "f2 8b 00", 0x8b, 0, -ENOTSUP },
        { M64, "f0", 0x00, 0, -EINVAL },        /* truncated before the opcode */
        { M64, "01 00", 0x01, 0, -ENOTSUP },    /* add */
        { M64, "ff 00", 0xff, 0, -ENOTSUP },    /* inc */
        { M64, "a4", 0xa4, 0, -ENOTSUP },       /* movsb */
        { M64, "f3 a5", 0xa5, 0, -ENOTSUP },    /* rep movsd */
        { M64, "0f 10 00", 0x10, 1, -ENOTSUP }, /* movups */
        { M64, "0f c3 00", 0xc3, 1, -ENOTSUP }, /* movnti */
        { M64, "0f", 0x00, 0, -EINVAL },
        { M64, "c6 f8 00", 0xc6, 0, -ENOTSUP },          /* xabort */
        { M64, "c7 f8 00 00 00 00", 0xc7, 0, -ENOTSUP }, /* xbegin */
        { M64, "c7 48 00 00", 0xc7, 0, -ENOTSUP },       /* C7 /1 */
        { M64, "c5 f9 6f 00", 0xc5, 0, -ENOTSUP },       /* VEX vmovdqa */
        { M64, "62 f1 7c 48 10 00", 0x62, 0, -ENOTSUP }, /* EVEX */
        { M32, "40", 0x40, 0, -ENOTSUP },                /* inc eax: no REX outside 64-bit */
        { M32, "41 89 00", 0x41, 0, -ENOTSUP },
        { M16, "0f b8 00", 0xb8, 1, -ENOTSUP },
        { M64, "90", 0x90, 0, -ENOTSUP },
    };
    for (u32 i = 0; i < ARRAY_SIZE(cases); i++) {
        u8 b[16];
        u32 n = parse_hex(cases[i].hex, b);
        struct insn in;
        int rc = insn_decode(b, n, (enum insn_mode)cases[i].mode, &in);
        if (rc != cases[i].rc)
            fail_msg("[%s]: rc %d", cases[i].hex, rc);
        if (rc == -ENOTSUP) {
            assert_int_equal(in.opcode, cases[i].opcode);
            assert_int_equal(in.two_byte, cases[i].two);
        }
    }
    /* Register operands decode, but say they are not memory. */
    u8 regop[] = { 0x88, 0xe0 }; /* mov al,ah */
    struct insn in;
    assert_int_equal(insn_decode(regop, 2, INSN_MODE_64, &in), 0);
    assert_false(in.is_mem);
    assert_int_equal(in.len, 2);
    u8 regimm[] = { 0x48, 0xc7, 0xc0, 1, 0, 0, 0 }; /* mov rax,1 */
    assert_int_equal(insn_decode(regimm, sizeof(regimm), INSN_MODE_64, &in), 0);
    assert_false(in.is_mem);
    assert_int_equal(in.len, 7);
    /* Bad arguments. */
    assert_int_equal(insn_decode(NULL, 2, INSN_MODE_64, &in), -EINVAL);
    assert_int_equal(insn_decode(regop, 2, (enum insn_mode)9, &in), -EINVAL);
}

/* 15 bytes is the limit: 14 prefixes + an opcode needing a ModRM is too long,
 * whatever the input length. */
static void test_length_limit(void **state)
{
    u8 b[32];
    memset(b, 0x66, sizeof(b));
    b[13] = 0x89;
    b[14] = 0x00;
    struct insn in;
    assert_int_equal(insn_decode(b, sizeof(b), INSN_MODE_64, &in), 0);
    assert_int_equal(in.len, 15);
    b[13] = 0x66;
    b[14] = 0x89;
    b[15] = 0x00;
    assert_int_equal(insn_decode(b, sizeof(b), INSN_MODE_64, &in), -EINVAL);
    assert_true(in.len <= INSN_MAX_LEN);
    memset(b, 0x2e, sizeof(b));
    assert_int_equal(insn_decode(b, sizeof(b), INSN_MODE_32, &in), -EINVAL);
    /* mov dword [fs:rsp+disp32], imm32 is 11 bytes after its prefixes: with 4
     * prefixes exactly 15, with 5 or more too long even though every byte is there. */
    u8 longer[] = { 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x2e, 0x64, 0xc7, 0x84, 0x24, 1, 2, 3, 4, 0x11, 0x22, 0x33, 0x44 };
    assert_int_equal(insn_decode(longer, sizeof(longer), INSN_MODE_64, &in), -EINVAL);
    assert_int_equal(insn_decode(longer + 1, sizeof(longer) - 1, INSN_MODE_64, &in), -EINVAL);
    assert_int_equal(insn_decode(longer + 2, sizeof(longer) - 2, INSN_MODE_64, &in), -EINVAL);
    assert_int_equal(insn_decode(longer + 3, sizeof(longer) - 3, INSN_MODE_64, &in), 0);
    assert_int_equal(in.len, 15);
    assert_int_equal(in.seg, INSN_SEG_FS);
    assert_int_equal(in.imm, 0x44332211);
    assert_int_equal(in.disp, 0x04030201);
}

static struct insn decode_ok(const char *hex, int mode)
{
    u8 b[16];
    u32 n = parse_hex(hex, b);
    struct insn in;
    assert_int_equal(insn_decode(b, n, (enum insn_mode)mode, &in), 0);
    return in;
}

static void test_apply_read(void **state)
{
    const u64 old = 0x1122334455667788ULL;
    struct insn in;
    in = decode_ok("8a 00", M64); /* mov al,[rax] */
    assert_int_equal(insn_apply_read(&in, old, 0xab), 0x11223344556677abULL);
    assert_int_equal(insn_apply_read(&in, old, 0xffffff01), 0x1122334455667701ULL);
    in = decode_ok("8a 20", M64); /* mov ah,[rax] */
    assert_true(in.high_byte);
    assert_int_equal(in.reg, 0);
    assert_int_equal(insn_apply_read(&in, old, 0xab), 0x112233445566ab88ULL);
    in = decode_ok("40 8a 20", M64); /* mov spl,[rax] */
    assert_false(in.high_byte);
    assert_int_equal(in.reg, 4);
    assert_int_equal(insn_apply_read(&in, old, 0xab), 0x11223344556677abULL);
    in = decode_ok("66 8b 00", M64); /* mov ax,[rax] */
    assert_int_equal(insn_apply_read(&in, old, 0x1234abcd), 0x112233445566abcdULL);
    in = decode_ok("8b 00", M64); /* mov eax,[rax] */
    assert_int_equal(insn_apply_read(&in, old, 0xffffffffdeadbeefULL), 0xdeadbeefULL);
    in = decode_ok("48 8b 00", M64);
    assert_int_equal(insn_apply_read(&in, old, 0xfedcba9876543210ULL), 0xfedcba9876543210ULL);
    in = decode_ok("0f b6 00", M64); /* movzx eax,byte */
    assert_int_equal(insn_apply_read(&in, old, 0x1ff), 0xff);
    in = decode_ok("66 0f b6 00", M64); /* movzx ax,byte */
    assert_int_equal(insn_apply_read(&in, old, 0xff), 0x11223344556600ffULL);
    in = decode_ok("48 0f b7 00", M64); /* movzx rax,word */
    assert_int_equal(insn_apply_read(&in, old, 0x8001), 0x8001);
    in = decode_ok("0f be 00", M64); /* movsx eax,byte */
    assert_int_equal(insn_apply_read(&in, old, 0x80), 0xffffff80ULL);
    assert_int_equal(insn_apply_read(&in, old, 0x7f), 0x7f);
    in = decode_ok("66 0f be 00", M64); /* movsx ax,byte */
    assert_int_equal(insn_apply_read(&in, old, 0x80), 0x112233445566ff80ULL);
    in = decode_ok("48 0f bf 00", M64); /* movsx rax,word */
    assert_int_equal(insn_apply_read(&in, old, 0x8000), 0xffffffffffff8000ULL);
    in = decode_ok("0f bf 00", M16); /* movsx ax,word in 16-bit mode */
    assert_int_equal(in.dst_size, 2);
    assert_int_equal(insn_apply_read(&in, old, 0x8000), 0x1122334455668000ULL);
    in = decode_ok("8a 3f", M16); /* mov bh,[bx] */
    assert_int_equal(in.reg, 3);
    assert_int_equal(insn_apply_read(&in, old, 0x5a), 0x1122334455665a88ULL);
}

static void test_store_value(void **state)
{
    const u64 r = 0x1122334455667788ULL;
    struct insn in;
    in = decode_ok("88 00", M64);
    assert_int_equal(insn_store_value(&in, r), 0x88);
    in = decode_ok("88 20", M64); /* mov [rax],ah */
    assert_int_equal(insn_store_value(&in, r), 0x77);
    in = decode_ok("66 89 00", M64);
    assert_int_equal(insn_store_value(&in, r), 0x7788);
    in = decode_ok("89 00", M64);
    assert_int_equal(insn_store_value(&in, r), 0x55667788);
    in = decode_ok("48 89 00", M64);
    assert_int_equal(insn_store_value(&in, r), r);
    in = decode_ok("c7 00 00 00 00 80", M64);
    assert_int_equal(insn_store_value(&in, r), 0x80000000);
    in = decode_ok("48 c7 00 00 00 00 80", M64);
    assert_int_equal(insn_store_value(&in, r), 0xffffffff80000000ULL);
    in = decode_ok("c6 00 fe", M64);
    assert_int_equal(insn_store_value(&in, r), 0xfe);
}

static u64 rs = 0x9e3779b97f4a7c15ULL;
static u64 rnd(void) { return xorshift64(&rs); }

/* Random bytes (biased towards the prefixes and opcodes we know, so the fuzz
 * reaches deep) must never crash; a success re-decodes identically from exactly
 * its own bytes and is truncated one byte shorter. */
static void test_fuzz(void **state)
{
    static const u8 interesting[] = { 0x66, 0x67, 0xf0, 0xf2, 0xf3, 0x26, 0x2e, 0x36, 0x3e, 0x64, 0x65, 0x40, 0x44,
                                      0x48, 0x4f, 0x88, 0x89, 0x8a, 0x8b, 0xc6, 0xc7, 0xa0, 0xa1, 0xa2, 0xa3, 0x0f,
                                      0xb6, 0xb7, 0xbe, 0xbf, 0x04, 0x05, 0x24, 0x25, 0x44, 0x84, 0x00, 0xff };
    u32 ok = 0, inval = 0, notsup = 0;
    for (u32 it = 0; it < 300000; it++) {
        u8 b[20];
        u32 n = (u32)(rnd() % (sizeof(b) + 1));
        for (u32 k = 0; k < sizeof(b); k++)
            b[k] = (rnd() % 2) ? interesting[rnd() % sizeof(interesting)] : (u8)rnd();
        /* Heap copy of exactly n bytes so that ASan catches any over-read. */
        u8 *h = malloc(n ? n : 1);
        memcpy(h, b, n);
        enum insn_mode mode = (enum insn_mode)(rnd() % 3);
        struct insn in;
        int rc = insn_decode(h, n, mode, &in);
        assert_true(in.len <= INSN_MAX_LEN);
        assert_true(in.len <= n);
        if (rc == 0) {
            ok++;
            assert_true(in.access_size == 1 || in.access_size == 2 || in.access_size == 4 || in.access_size == 8);
            assert_true(in.dst_size >= in.access_size && in.dst_size <= 8);
            assert_true(in.reg < 16);
            assert_true(in.len >= 1);
            struct insn again;
            assert_int_equal(insn_decode(h, in.len, mode, &again), 0);
            assert_memory_equal(&in, &again, sizeof(in));
            assert_int_equal(insn_decode(h, in.len - 1u, mode, &again), -EINVAL);
            (void)insn_apply_read(&in, rnd(), rnd());
            (void)insn_store_value(&in, rnd());
        } else if (rc == -EINVAL) {
            inval++;
        } else {
            assert_int_equal(rc, -ENOTSUP);
            notsup++;
        }
        free(h);
    }
    /* The generator reaches every outcome often. */
    assert_true(ok > 10000);
    assert_true(inval > 10000);
    assert_true(notsup > 10000);
}

/* ---------------------------------------------------------------- system instructions */

static void sys_ok(const u8 *b, u32 n, enum insn_mode mode, struct insn_sys *out)
{
    assert_int_equal(insn_decode_sys(b, n, mode, out), 0);
    assert_int_equal(out->len, n);
}

static void test_sys_mov_cr(void **state)
{
    (void)state;
    struct insn_sys s;
    static const u8 from_cr3_rax[] = { 0x0f, 0x20, 0xd8 }; /* mov %cr3,%rax */
    sys_ok(from_cr3_rax, 3, INSN_MODE_64, &s);
    assert_int_equal(s.kind, INSN_SYS_MOV_FROM_CR);
    assert_int_equal(s.cr, 3);
    assert_int_equal(s.gpr, 0);
    static const u8 to_cr3_r9[] = { 0x41, 0x0f, 0x22, 0xd9 }; /* mov %r9,%cr3 */
    sys_ok(to_cr3_r9, 4, INSN_MODE_64, &s);
    assert_int_equal(s.kind, INSN_SYS_MOV_TO_CR);
    assert_int_equal(s.cr, 3);
    assert_int_equal(s.gpr, 9);
    static const u8 to_cr0_eax[] = { 0x0f, 0x22, 0xc0 }; /* mov %eax,%cr0 (32-bit) */
    sys_ok(to_cr0_eax, 3, INSN_MODE_32, &s);
    assert_int_equal(s.cr, 0);
    assert_int_equal(s.gpr, 0);
    static const u8 from_cr4_edx[] = { 0x0f, 0x20, 0xe2 }; /* mov %cr4,%edx */
    sys_ok(from_cr4_edx, 3, INSN_MODE_32, &s);
    assert_int_equal(s.cr, 4);
    assert_int_equal(s.gpr, 2);
    /* ModRM.mod is ignored: 0F 20 18 is mov %cr3,%rax too. */
    static const u8 mod0[] = { 0x0f, 0x20, 0x18 };
    sys_ok(mod0, 3, INSN_MODE_64, &s);
    assert_int_equal(s.cr, 3);
    assert_int_equal(s.gpr, 0);
    static const u8 cr8[] = { 0x44, 0x0f, 0x20, 0xc0 }; /* mov %cr8,%rax */
    sys_ok(cr8, 4, INSN_MODE_64, &s);
    assert_int_equal(s.cr, 8);
    static const u8 clts[] = { 0x0f, 0x06 };
    sys_ok(clts, 2, INSN_MODE_64, &s);
    assert_int_equal(s.kind, INSN_SYS_CLTS);
}

static void test_sys_invlpg(void **state)
{
    (void)state;
    struct insn_sys s;
    u64 gpr[16] = { 0 };
    gpr[0] = 0x7f0000001000ULL;                   /* rax */
    gpr[3] = 0x1000;                              /* rbx */
    gpr[6] = 3;                                   /* rsi */
    static const u8 rax[] = { 0x0f, 0x01, 0x38 }; /* invlpg (%rax) */
    sys_ok(rax, 3, INSN_MODE_64, &s);
    assert_int_equal(s.kind, INSN_SYS_INVLPG);
    assert_true(s.mem.is_mem);
    assert_int_equal(insn_effective_address(&s.mem, gpr, 0x1003), 0x7f0000001000ULL);
    static const u8 sib[] = { 0x0f, 0x01, 0x7c, 0xb3, 0x10 }; /* invlpg 0x10(%rbx,%rsi,4) */
    sys_ok(sib, 5, INSN_MODE_64, &s);
    assert_int_equal(insn_effective_address(&s.mem, gpr, 0), 0x1000 + 12 + 0x10);
    static const u8 rip[] = { 0x0f, 0x01, 0x3d, 0x00, 0x01, 0x00, 0x00 }; /* invlpg 0x100(%rip) */
    sys_ok(rip, 7, INSN_MODE_64, &s);
    assert_int_equal(insn_effective_address(&s.mem, gpr, 0x5007), 0x5107);
    /* 32-bit address size truncates. */
    gpr[0] = 0xfffffff0ULL;
    static const u8 wrap[] = { 0x0f, 0x01, 0x78, 0x20 }; /* invlpg 0x20(%eax) */
    sys_ok(wrap, 4, INSN_MODE_32, &s);
    assert_int_equal(insn_effective_address(&s.mem, gpr, 0), 0x10);
}

static void test_sys_unsupported(void **state)
{
    (void)state;
    struct insn_sys s;
    static const u8 lmsw[] = { 0x0f, 0x01, 0xf0 }; /* lmsw %ax */
    assert_int_equal(insn_decode_sys(lmsw, 3, INSN_MODE_64, &s), -ENOTSUP);
    static const u8 invlpg_reg[] = { 0x0f, 0x01, 0xf8 }; /* swapgs, not invlpg */
    assert_int_equal(insn_decode_sys(invlpg_reg, 3, INSN_MODE_64, &s), -ENOTSUP);
    static const u8 mov[] = { 0x89, 0x07 };
    assert_int_equal(insn_decode_sys(mov, 2, INSN_MODE_64, &s), -ENOTSUP);
    static const u8 lock[] = { 0xf0, 0x0f, 0x20, 0xc0 };
    assert_int_equal(insn_decode_sys(lock, 4, INSN_MODE_64, &s), -ENOTSUP);
    static const u8 cut[] = { 0x0f, 0x01, 0x7c, 0xb3 };
    assert_int_equal(insn_decode_sys(cut, 4, INSN_MODE_64, &s), -EINVAL);
    assert_int_equal(insn_decode_sys(cut, 1, INSN_MODE_64, &s), -EINVAL);
    assert_int_equal(insn_decode_sys(NULL, 1, INSN_MODE_64, &s), -EINVAL);
}

/* ---- read-modify-write stores, checked against the host CPU ---- */

#define CPU_FLAGS (RFLAGS_CF | RFLAGS_PF | RFLAGS_AF | RFLAGS_ZF | RFLAGS_SF | RFLAGS_OF)

struct rmw_case {
    const char *name;
    u8 op;     /* enum insn_rmw_op */
    u8 opc[3]; /* opcode bytes (after prefixes), the ModRM follows */
    u8 nopc;
    int modrm_reg; /* ModRM.reg for the group forms, -1: the source register RSI */
    u8 imm_len;
    bool byte_form;
    u64 flags_defined;
};

static const struct rmw_case rmw_cases[] = {
    { "add", RMW_ADD, { 0x01 }, 1, -1, 0, false, CPU_FLAGS },
    { "addb", RMW_ADD, { 0x00 }, 1, -1, 0, true, CPU_FLAGS },
    { "or", RMW_OR, { 0x09 }, 1, -1, 0, false, CPU_FLAGS & ~RFLAGS_AF },
    { "and", RMW_AND, { 0x21 }, 1, -1, 0, false, CPU_FLAGS & ~RFLAGS_AF },
    { "andb", RMW_AND, { 0x20 }, 1, -1, 0, true, CPU_FLAGS & ~RFLAGS_AF },
    { "sub", RMW_SUB, { 0x29 }, 1, -1, 0, false, CPU_FLAGS },
    { "xor", RMW_XOR, { 0x31 }, 1, -1, 0, false, CPU_FLAGS & ~RFLAGS_AF },
    { "xchg", RMW_XCHG, { 0x87 }, 1, -1, 0, false, CPU_FLAGS },
    { "xchgb", RMW_XCHG, { 0x86 }, 1, -1, 0, true, CPU_FLAGS },
    { "cmpxchg", RMW_CMPXCHG, { 0x0f, 0xb1 }, 2, -1, 0, false, CPU_FLAGS },
    { "cmpxchgb", RMW_CMPXCHG, { 0x0f, 0xb0 }, 2, -1, 0, true, CPU_FLAGS },
    { "xadd", RMW_XADD, { 0x0f, 0xc1 }, 2, -1, 0, false, CPU_FLAGS },
    { "bts", RMW_BTS, { 0x0f, 0xab }, 2, -1, 0, false, RFLAGS_CF },
    { "btr", RMW_BTR, { 0x0f, 0xb3 }, 2, -1, 0, false, RFLAGS_CF },
    { "btc", RMW_BTC, { 0x0f, 0xbb }, 2, -1, 0, false, RFLAGS_CF },
    { "add imm8", RMW_ADD, { 0x83 }, 1, 0, 1, false, CPU_FLAGS },
    { "or imm", RMW_OR, { 0x81 }, 1, 1, 4, false, CPU_FLAGS & ~RFLAGS_AF },
    { "and imm8", RMW_AND, { 0x83 }, 1, 4, 1, false, CPU_FLAGS & ~RFLAGS_AF },
    { "sub imm", RMW_SUB, { 0x81 }, 1, 5, 4, false, CPU_FLAGS },
    { "xor imm8b", RMW_XOR, { 0x80 }, 1, 6, 1, true, CPU_FLAGS & ~RFLAGS_AF },
    { "bts imm", RMW_BTS, { 0x0f, 0xba }, 2, 5, 1, false, RFLAGS_CF },
    { "btr imm", RMW_BTR, { 0x0f, 0xba }, 2, 6, 1, false, RFLAGS_CF },
    { "btc imm", RMW_BTC, { 0x0f, 0xba }, 2, 7, 1, false, RFLAGS_CF },
};

/* Runs the instruction at code (ending in RET) on the host with RAX, RSI,
 * RFLAGS and the memory operand at RDI. Below the red zone: the pushes must
 * not clobber what the compiler keeps there. */
static void host_run(const u8 *code, u64 *rax, u64 *rsi, u64 *fl, u64 *mem)
{
    u64 a = *rax, si = *rsi, f = *fl;
    __asm__ volatile("sub $128, %%rsp\n\t"
                     "push %[f]\n\t"
                     "popfq\n\t"
                     "call *%[fn]\n\t"
                     "pushfq\n\t"
                     "pop %[f]\n\t"
                     "add $128, %%rsp"
                     : "+a"(a), "+S"(si), [f] "+r"(f)
                     : "D"(mem), [fn] "r"(code)
                     : "memory", "cc");
    *rax = a;
    *rsi = si;
    *fl = f;
}

static void test_rmw_against_cpu(void **state)
{
    (void)state;
    u8 *page = mmap(NULL, 4096, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (page == MAP_FAILED)
        skip();
    u64 rng = 0x5eed1234abcdULL;
    static const unsigned sizes[] = { 1, 2, 4, 8 };
    for (size_t ci = 0; ci < sizeof(rmw_cases) / sizeof(rmw_cases[0]); ci++) {
        const struct rmw_case *k = &rmw_cases[ci];
        for (unsigned si = 0; si < 4; si++) {
            unsigned size = sizes[si];
            if (k->byte_form != (size == 1))
                continue;
            for (int lock = 0; lock < 2; lock++) {
                for (int iter = 0; iter < 400; iter++) {
                    u8 code[16];
                    u32 n = 0;
                    if (lock)
                        code[n++] = 0xf0;
                    if (size == 2)
                        code[n++] = 0x66;
                    code[n++] = size == 8 ? 0x48 : 0x40; /* REX: SIL, not DH */
                    for (u8 i = 0; i < k->nopc; i++)
                        code[n++] = k->opc[i];
                    int reg = k->modrm_reg < 0 ? 6 : k->modrm_reg;
                    code[n++] = (u8)(reg << 3 | 7); /* [rdi], reg */
                    u64 imm = xorshift64(&rng);
                    if (k->op >= RMW_BTS && k->imm_len && iter % 2)
                        imm &= 0x1f;
                    unsigned imm_len = k->imm_len == 4 && size == 2 ? 2 : k->imm_len;
                    for (unsigned i = 0; i < imm_len; i++)
                        code[n++] = (u8)(imm >> (8 * i));
                    u32 insn_len = n;
                    code[n++] = 0xc3;
                    memcpy(page, code, n);

                    u64 gpr[16] = { 0 };
                    for (int r = 0; r < 16; r++)
                        gpr[r] = xorshift64(&rng);
                    if (iter % 3 == 0)
                        gpr[0] = gpr[6]; /* CMPXCHG: some equal compares */
                    u64 old = xorshift64(&rng);
                    if (iter % 3 == 0)
                        old = gpr[0];
                    if (k->op >= RMW_BTS && !k->imm_len)
                        gpr[6] = xorshift64(&rng) % (8 * size); /* offsets inside the operand */
                    u64 fl = RFLAGS_FIXED | (xorshift64(&rng) & CPU_FLAGS);

                    struct insn_rmw r;
                    assert_int_equal(insn_decode_rmw(code, insn_len, INSN_MODE_64, &r), 0);
                    assert_int_equal(r.in.len, insn_len);
                    assert_int_equal(r.op, k->op);
                    assert_int_equal(r.in.access_size, size);
                    assert_true(r.in.is_mem);
                    assert_int_equal(r.in.base, 7);
                    u64 emu_gpr[16], emu_fl = fl, emu_mem = 0;
                    memcpy(emu_gpr, gpr, sizeof(gpr));
                    assert_int_equal(insn_rmw_exec(&r, old, emu_gpr, &emu_fl, &emu_mem), 0);

                    u64 mem = old, rax = gpr[0], rsi = gpr[6], hfl = fl;
                    host_run(page, &rax, &rsi, &hfl, &mem);
                    u64 m = size == 8 ? ~0ULL : (1ULL << (8 * size)) - 1;
                    if ((mem & m) != emu_mem || rax != emu_gpr[0] || rsi != emu_gpr[6] ||
                        (hfl & k->flags_defined) != (emu_fl & k->flags_defined)) {
                        print_error("%s size %u lock %d: old %#llx rax %#llx rsi %#llx fl %#llx imm %#llx\n"
                                    "  cpu: mem %#llx rax %#llx rsi %#llx fl %#llx\n"
                                    "  emu: mem %#llx rax %#llx rsi %#llx fl %#llx\n",
                                    k->name, size, lock, (unsigned long long)old, (unsigned long long)gpr[0],
                                    (unsigned long long)gpr[6], (unsigned long long)fl, (unsigned long long)imm,
                                    (unsigned long long)(mem & m), (unsigned long long)rax, (unsigned long long)rsi,
                                    (unsigned long long)hfl, (unsigned long long)emu_mem,
                                    (unsigned long long)emu_gpr[0], (unsigned long long)emu_gpr[6],
                                    (unsigned long long)emu_fl);
                        fail();
                    }
                    for (int q = 1; q < 16; q++)
                        if (q != 6)
                            assert_int_equal(emu_gpr[q], gpr[q]);
                }
            }
        }
    }
    munmap(page, 4096);
}

static void test_rmw_refused(void **state)
{
    (void)state;
    struct insn_rmw r;
    static const u8 rep_stos[] = { 0xf3, 0x48, 0xab };
    assert_int_equal(insn_decode_rmw(rep_stos, sizeof(rep_stos), INSN_MODE_64, &r), -ENOTSUP);
    static const u8 mov_load[] = { 0x48, 0x8b, 0x07 };
    assert_int_equal(insn_decode_rmw(mov_load, sizeof(mov_load), INSN_MODE_64, &r), -ENOTSUP);
    static const u8 add_to_reg[] = { 0x48, 0x03, 0x07 }; /* add (%rdi), %rax: a read */
    assert_int_equal(insn_decode_rmw(add_to_reg, sizeof(add_to_reg), INSN_MODE_64, &r), -ENOTSUP);
    static const u8 add_regs[] = { 0x48, 0x01, 0xc7 }; /* add %rax, %rdi */
    assert_int_equal(insn_decode_rmw(add_regs, sizeof(add_regs), INSN_MODE_64, &r), -ENOTSUP);
    static const u8 cmp_imm[] = { 0x48, 0x83, 0x3f, 0x01 }; /* cmpq $1, (%rdi) */
    assert_int_equal(insn_decode_rmw(cmp_imm, sizeof(cmp_imm), INSN_MODE_64, &r), -ENOTSUP);
    static const u8 bt_imm[] = { 0x48, 0x0f, 0xba, 0x27, 0x01 }; /* bt: reads only */
    assert_int_equal(insn_decode_rmw(bt_imm, sizeof(bt_imm), INSN_MODE_64, &r), -ENOTSUP);
    static const u8 lock_mov[] = { 0xf0, 0x48, 0x89, 0x07 };
    assert_int_equal(insn_decode_rmw(lock_mov, sizeof(lock_mov), INSN_MODE_64, &r), -ENOTSUP);
    static const u8 cut[] = { 0xf0, 0x48, 0x0f, 0xb1 };
    assert_int_equal(insn_decode_rmw(cut, sizeof(cut), INSN_MODE_64, &r), -EINVAL);
    /* A plain MOV store is accepted as RMW_MOV. */
    static const u8 mov_store[] = { 0x48, 0x89, 0x37 };
    assert_int_equal(insn_decode_rmw(mov_store, sizeof(mov_store), INSN_MODE_64, &r), 0);
    assert_int_equal(r.op, RMW_MOV);
    u64 gpr[16] = { 0 }, fl = RFLAGS_FIXED, mem = 0;
    gpr[6] = 0x1234;
    assert_int_equal(insn_rmw_exec(&r, 99, gpr, &fl, &mem), 0);
    assert_int_equal(mem, 0x1234);
    assert_int_equal(fl, RFLAGS_FIXED);
    /* BTS with a register offset outside the operand: not at its address. */
    static const u8 bts[] = { 0x48, 0x0f, 0xab, 0x37 };
    assert_int_equal(insn_decode_rmw(bts, sizeof(bts), INSN_MODE_64, &r), 0);
    gpr[6] = 64;
    assert_int_equal(insn_rmw_exec(&r, 0, gpr, &fl, &mem), -ENOTSUP);
    gpr[6] = (u64)-1;
    assert_int_equal(insn_rmw_exec(&r, 0, gpr, &fl, &mem), -ENOTSUP);
    /* Random bytes never crash it. */
    u64 rng = 77;
    for (int i = 0; i < 200000; i++) {
        u8 b[INSN_MAX_LEN];
        for (unsigned j = 0; j < sizeof(b); j++)
            b[j] = (u8)xorshift64(&rng);
        if (insn_decode_rmw(b, (u32)(xorshift64(&rng) % (sizeof(b) + 1)), (enum insn_mode)(i % 3), &r) == 0) {
            assert_true(r.in.len >= 2 && r.in.len <= INSN_MAX_LEN);
            assert_true(r.in.is_mem);
            int rc = insn_rmw_exec(&r, xorshift64(&rng), gpr, &fl, &mem);
            assert_true(rc == 0 || rc == -ENOTSUP);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_prefix_combinations),
        cmocka_unit_test(test_unsupported),
        cmocka_unit_test(test_length_limit),
        cmocka_unit_test(test_apply_read),
        cmocka_unit_test(test_store_value),
        cmocka_unit_test(test_fuzz),
        cmocka_unit_test(test_sys_mov_cr),
        cmocka_unit_test(test_sys_invlpg),
        cmocka_unit_test(test_sys_unsupported),
        cmocka_unit_test(test_rmw_against_cpu),
        cmocka_unit_test(test_rmw_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
