/* Decoder for the memory-access instructions a guest uses on emulated device
 * registers (local APIC page, later virtio): MOV in all its r/m, immediate and
 * moffs forms, MOVZX and MOVSX (SDM Vol. 2 chapter 2 for the encoding, the MOV,
 * MOVZX and MOVSX pages of chapter 4 for the operations). The faulting address
 * comes from the exit information; this only says how long the instruction is,
 * what moves where and how wide. Everything else is -ENOTSUP with the opcode in
 * the output so the caller can log it and stop the partition.
 *
 * Registers are numbered as in ModRM/REX: 0 RAX, 1 RCX, 2 RDX, 3 RBX, 4 RSP,
 * 5 RBP, 6 RSI, 7 RDI, 8-15 R8-R15. */
#ifndef ISTHMUS_VMM_INSN_DECODE_H
#define ISTHMUS_VMM_INSN_DECODE_H

#include "kernel/lib/types.h"

#define INSN_MAX_LEN 15 /* SDM Vol. 2 2.3.11: longer is #GP/#UD */

/* CPU mode the instruction executes in: the default operand and address size
 * (CS.L / CS.D, SDM Vol. 1 3.6). */
enum insn_mode {
    INSN_MODE_16, /* real, virtual-8086, or CS.D = 0 */
    INSN_MODE_32, /* protected or compatibility with CS.D = 1 */
    INSN_MODE_64, /* 64-bit mode (CS.L = 1) */
};

enum insn_dir {
    INSN_READ,      /* memory -> register `reg` */
    INSN_WRITE_REG, /* register `reg` -> memory */
    INSN_WRITE_IMM, /* `imm` -> memory */
};

enum insn_ext {
    INSN_EXT_NONE, /* plain MOV: dst_size == access_size */
    INSN_EXT_ZERO, /* MOVZX */
    INSN_EXT_SIGN, /* MOVSX */
};

/* Segment register encoding (SDM Vol. 3A 3.4.2 / the Sreg field). */
enum insn_seg { INSN_SEG_ES, INSN_SEG_CS, INSN_SEG_SS, INSN_SEG_DS, INSN_SEG_FS, INSN_SEG_GS };

/* Prefix bits seen (informational; the decode already applied them). */
#define INSN_PFX_OPSIZE BIT(0) /* 66 */
#define INSN_PFX_ADSIZE BIT(1) /* 67 */
#define INSN_PFX_LOCK   BIT(2) /* F0: rejected */
#define INSN_PFX_REP    BIT(3) /* F2 / F3: rejected */
#define INSN_PFX_SEG    BIT(4) /* a segment override */

struct insn {
    u8 len;        /* total length in bytes, prefixes included */
    u8 opcode;     /* the opcode byte (after 0F for two-byte ones) */
    bool two_byte; /* opcode was 0F xx */
    u8 prefixes;   /* INSN_PFX_* */
    u8 rex;        /* the REX byte in effect (0x40-0x4F), or 0 */

    u8 dir;         /* enum insn_dir */
    u8 ext;         /* enum insn_ext */
    u8 access_size; /* bytes read or written in memory: 1, 2, 4 or 8 */
    u8 dst_size;    /* INSN_READ: bytes written to the register */
    u8 op_size;     /* effective operand size */
    u8 addr_size;   /* effective address size: 2, 4 or 8 */
    u8 reg;         /* register read or written, 0-15 (0 for moffs forms) */
    bool high_byte; /* the operand is bits 15:8 of reg 0-3 (AH, CH, DH, BH:
                                    * byte registers 4-7 without a REX prefix) */

    bool is_mem; /* false: register operand (ModRM mod = 3), no access */
    u8 seg;      /* enum insn_seg: the override, or DS / SS by default */
    bool has_modrm;
    u8 modrm;
    bool has_sib;
    u8 sib;
    s8 base;  /* base register 0-15, -1 none */
    s8 index; /* index register 0-15, -1 none */
    u8 scale; /* 1, 2, 4 or 8 */
    bool rip_relative;
    s64 disp;  /* displacement, sign-extended */
    u64 moffs; /* A0-A3: the absolute offset (zero-extended) */
    u64 imm;   /* INSN_WRITE_IMM: the value written, access_size wide
                                    * (imm32 sign-extended to 64 bits under REX.W) */
};

/* Decodes at most min(len, INSN_MAX_LEN) bytes. 0: *out describes the instruction;
 * -EINVAL: the bytes end before the instruction does (or it would exceed 15 bytes);
 * -ENOTSUP: a valid-looking but unsupported instruction (out->opcode / two_byte
 * say which; a LOCK or REP prefix, VEX, string moves, ...). out is always written. */
int insn_decode(const u8 *bytes, u32 len, enum insn_mode mode, struct insn *out) __must_check;

/* The register value after an INSN_READ that brought `mem` from memory: extends it
 * per the instruction, then merges it into `old` by x86 rules (8/16-bit writes keep
 * the other bits, AH/CH/DH/BH write bits 15:8, 32-bit writes zero bits 63:32). */
u64 insn_apply_read(const struct insn *in, u64 old, u64 mem);

/* The access_size-wide value an INSN_WRITE_REG or INSN_WRITE_IMM stores, given
 * the current value of register `reg` (ignored for INSN_WRITE_IMM). */
u64 insn_store_value(const struct insn *in, u64 reg_value);

/* Stores and read-modify-writes to memory, for emulating a guest's write to a
 * page the hypervisor write-protects (shadow paging's guest page tables): the
 * MOV stores above, ADD/OR/AND/SUB/XOR with a register or an immediate source,
 * XCHG, CMPXCHG, XADD, and BTS/BTR/BTC, each with or without LOCK (what
 * Linux's set_pte, ptep_get_and_clear, ptep_test_and_clear_young and the
 * boot-time fix-ups of head64.c compile to). String stores (REP STOS/MOVS)
 * and everything else are -ENOTSUP. */
enum insn_rmw_op {
    RMW_MOV,
    RMW_ADD,
    RMW_OR,
    RMW_AND,
    RMW_SUB,
    RMW_XOR,
    RMW_XCHG,
    RMW_CMPXCHG,
    RMW_XADD,
    RMW_BTS,
    RMW_BTR,
    RMW_BTC,
};

struct insn_rmw {
    struct insn in; /* the memory operand; access_size; reg: the register source
                      * (in.dir INSN_WRITE_REG) or in.imm (INSN_WRITE_IMM) */
    u8 op;          /* enum insn_rmw_op */
};

/* 0 and *out; -EINVAL when the bytes end first; -ENOTSUP otherwise (a register
 * destination, a read, an unsupported opcode). */
int insn_decode_rmw(const u8 *bytes, u32 len, enum insn_mode mode, struct insn_rmw *out) __must_check;

/* Executes r on the memory operand's current value `old` (access_size wide):
 * 0 with *mem the value to store, the general registers and the arithmetic
 * flags in *rflags updated as the CPU would (SDM Vol. 2 for each instruction;
 * flags the SDM leaves undefined are left unchanged, AF after logic cleared);
 * -ENOTSUP for a BTx whose register bit offset reaches outside the operand
 * (the access is then not at the operand's address). */
int insn_rmw_exec(const struct insn_rmw *r, u64 old, u64 gpr[16], u64 *rflags, u64 *mem) __must_check;

/* STOS (AA, AB) with or without REP: stores AL/AX/EAX/RAX at ES:rDI, moving
 * rDI by the size, up or down by RFLAGS.DF; with REP, rCX times. How
 * memset() and clear_page() store, including into page tables. */
struct insn_stos {
    u8 len;       /* bytes, prefixes included */
    u8 size;      /* element: 1, 2, 4 or 8 */
    u8 addr_size; /* rDI and rCX width: 2, 4 or 8 */
    bool rep;     /* F3 (F2 acts the same on STOS) */
};

/* 0 and *out; -EINVAL when the bytes end first; -ENOTSUP for anything else
 * (a segment override does not apply to STOS's ES destination and is
 * refused rather than ignored). */
int insn_decode_stos(const u8 *bytes, u32 len, enum insn_mode mode, struct insn_stos *out) __must_check;

/* The privileged instructions shadow paging intercepts, for CPUs that do not
 * decode them (AMD-V without decode assists): MOV from/to CRn (0F 20 / 0F 22),
 * CLTS (0F 06) and INVLPG m (0F 01 /7). */
enum insn_sys_kind { INSN_SYS_MOV_FROM_CR, INSN_SYS_MOV_TO_CR, INSN_SYS_CLTS, INSN_SYS_INVLPG };

struct insn_sys {
    u8 len;          /* total length in bytes */
    u8 kind;         /* enum insn_sys_kind */
    u8 cr;           /* MOV CRn: n (0-15, REX.R included) */
    u8 gpr;          /* MOV CRn: the general register, 0-15 */
    struct insn mem; /* INVLPG: its memory operand (is_mem, base, index...) */
};

/* 0 and *out; -EINVAL when the bytes end first; -ENOTSUP for anything else. */
int insn_decode_sys(const u8 *bytes, u32 len, enum insn_mode mode, struct insn_sys *out) __must_check;

/* The offset a memory operand addresses within its segment: base + index *
 * scale + displacement (or the moffs), RIP-relative from next_rip, truncated
 * to the address size. The caller adds the segment base. */
u64 insn_effective_address(const struct insn *in, const u64 gpr[16], u64 next_rip);

#endif
