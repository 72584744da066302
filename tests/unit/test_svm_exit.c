/* The AMD-V exit translation (arch/x86/svm/svm_exit.c) as a pure function: a
 * table of raw exits, written with the APM's encodings (Vol. 2 appendix C for
 * the exit codes, 15.10.2 for IOIO EXITINFO1, 15.25.6 for nested page fault
 * EXITINFO1, 15.33 for decode assists) as numbers rather than vmcb.h's names,
 * so that the names are checked too. Each row is its own test; sweeps then
 * check that every other code is unhandled, that codes compare on their low
 * 32 bits (QEMU's TCG writes VMEXIT_INVALID as 0x00000000ffffffff) and how
 * NRIPS and the I/O intercepts' EXITINFO2 give instruction lengths. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/svm/svm_exit.h"

struct row {
    const char *name;
    struct svm_exit_raw raw;
    struct vcpu_exit want; /* vendor_code is always raw.exitcode: checked, not written here */
};

#define RIP     0xffffffff81000100ULL /* the guest's RIP at the exit */
#define PF_ADDR 0xffff800000001000ULL
#define GARBAGE 0xa5
#define MOV_CR  (1ULL << 63) /* decode assists: EXITINFO1 of a MOV CR */

/* IOIO EXITINFO1 (15.10.2): IN 0, STR 2, REP 3, SZ8/16/32 6:4, A16/32/64 9:7,
 * segment 12:10, port 31:16. */
#define A64 0x200

static struct row rows[] = {
    /* ---- plain exits: lengths of their instructions without NRIPS ---- */
    { .name = "INTR", .raw = { .exitcode = 0x60, .rip = RIP }, .want = { .reason = VEXIT_EXTINT } },
    { .name = "NMI", .raw = { .exitcode = 0x61, .rip = RIP }, .want = { .reason = VEXIT_EXTINT } },
    { .name = "SMI", .raw = { .exitcode = 0x62, .rip = RIP }, .want = { .reason = VEXIT_EXTINT } },
    { .name = "INIT", .raw = { .exitcode = 0x63, .rip = RIP }, .want = { .reason = VEXIT_INIT } },
    { .name = "VINTR: the interrupt window",
      .raw = { .exitcode = 0x64, .rip = RIP },
      .want = { .reason = VEXIT_INTR_WINDOW } },
    { .name = "CPUID", .raw = { .exitcode = 0x72, .rip = RIP }, .want = { .reason = VEXIT_CPUID, .insn_len = 2 } },
    { .name = "PAUSE", .raw = { .exitcode = 0x77, .rip = RIP }, .want = { .reason = VEXIT_PAUSE, .insn_len = 2 } },
    { .name = "HLT", .raw = { .exitcode = 0x78, .rip = RIP }, .want = { .reason = VEXIT_HLT, .insn_len = 1 } },
    { .name = "SHUTDOWN", .raw = { .exitcode = 0x7f, .rip = RIP }, .want = { .reason = VEXIT_TRIPLE_FAULT } },
    { .name = "VMMCALL",
      .raw = { .exitcode = 0x81, .rip = RIP },
      .want = { .reason = VEXIT_HYPERCALL, .insn_len = 3 } },
    { .name = "XSETBV", .raw = { .exitcode = 0x8d, .rip = RIP }, .want = { .reason = VEXIT_XSETBV, .insn_len = 3 } },
    { .name = "VMEXIT_INVALID as the APM writes it (-1)",
      .raw = { .exitcode = 0xffffffffffffffffULL, .rip = RIP },
      .want = { .reason = VEXIT_INVALID_STATE } },
    { .name = "VMEXIT_INVALID as QEMU's TCG writes it (0x00000000ffffffff)",
      .raw = { .exitcode = 0x00000000ffffffffULL, .rip = RIP },
      .want = { .reason = VEXIT_INVALID_STATE } },

    /* ---- NRIPS: nRIP - RIP when nRIP is past RIP, else the fixed length ---- */
    { .name = "HLT, NRIPS",
      .raw = { .exitcode = 0x78, .rip = RIP, .next_rip = RIP + 1, .nrips = true },
      .want = { .reason = VEXIT_HLT, .insn_len = 1 } },
    { .name = "CPUID with prefixes, NRIPS: nRIP wins over the fixed length",
      .raw = { .exitcode = 0x72, .rip = RIP, .next_rip = RIP + 4, .nrips = true },
      .want = { .reason = VEXIT_CPUID, .insn_len = 4 } },
    { .name = "CPUID, NRIPS but nRIP 0: the fixed length",
      .raw = { .exitcode = 0x72, .rip = RIP, .next_rip = 0, .nrips = true },
      .want = { .reason = VEXIT_CPUID, .insn_len = 2 } },
    { .name = "VMMCALL, NRIPS but nRIP = RIP: the fixed length",
      .raw = { .exitcode = 0x81, .rip = RIP, .next_rip = RIP, .nrips = true },
      .want = { .reason = VEXIT_HYPERCALL, .insn_len = 3 } },
    { .name = "HLT, no NRIPS: a stale nRIP is ignored",
      .raw = { .exitcode = 0x78, .rip = RIP, .next_rip = RIP + 7 },
      .want = { .reason = VEXIT_HLT, .insn_len = 1 } },
    { .name = "INTR, NRIPS: nRIP taken when past RIP",
      .raw = { .exitcode = 0x60, .rip = RIP, .next_rip = RIP + 5, .nrips = true },
      .want = { .reason = VEXIT_EXTINT, .insn_len = 5 } },

    /* ---- IOIO: EXITINFO2 is the next RIP, with or without NRIPS ---- */
    { .name = "OUT DX, AL to 0x3f8",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x03f80010 | A64, .exitinfo2 = RIP + 1, .rip = RIP },
      .want = { .reason = VEXIT_IO, .insn_len = 1, .io = { .port = 0x3f8, .size = 1 } } },
    { .name = "OUT 0x80, AL",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x00800010 | A64, .exitinfo2 = RIP + 2, .rip = RIP },
      .want = { .reason = VEXIT_IO, .insn_len = 2, .io = { .port = 0x80, .size = 1 } } },
    { .name = "IN AX, 0x71",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x00710021 | A64, .exitinfo2 = RIP + 3, .rip = RIP },
      .want = { .reason = VEXIT_IO, .insn_len = 3, .io = { .port = 0x71, .size = 2, .in = true } } },
    { .name = "IN EAX, DX from 0xcfc",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x0cfc0041 | A64, .exitinfo2 = RIP + 1, .rip = RIP },
      .want = { .reason = VEXIT_IO, .insn_len = 1, .io = { .port = 0xcfc, .size = 4, .in = true } } },
    { .name = "REP OUTSB to 0x3f8 from DS",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x03f80c1c | A64, .exitinfo2 = RIP + 2, .rip = RIP },
      .want = { .reason = VEXIT_IO, .insn_len = 2, .io = { .port = 0x3f8, .size = 1, .string = true, .rep = true } } },
    { .name = "REP INSD from 0x1f0",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x01f0004d | A64, .exitinfo2 = RIP + 2, .rip = RIP },
      .want = { .reason = VEXIT_IO,
                .insn_len = 2,
                .io = { .port = 0x1f0, .size = 4, .in = true, .string = true, .rep = true } } },
    { .name = "INSW from 0x60, 32-bit addresses",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x00600125, .exitinfo2 = RIP + 2, .rip = RIP },
      .want = { .reason = VEXIT_IO, .insn_len = 2, .io = { .port = 0x60, .size = 2, .in = true, .string = true } } },
    { .name = "OUT DX, AL to 0xffff",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0xffff0010 | A64, .exitinfo2 = RIP + 1, .rip = RIP },
      .want = { .reason = VEXIT_IO, .insn_len = 1, .io = { .port = 0xffff, .size = 1 } } },
    { .name = "IOIO with NRIPS: EXITINFO2, not nRIP",
      .raw = { .exitcode = 0x7b,
               .exitinfo1 = 0x03f80010 | A64,
               .exitinfo2 = RIP + 1,
               .rip = RIP,
               .next_rip = RIP + 9,
               .nrips = true },
      .want = { .reason = VEXIT_IO, .insn_len = 1, .io = { .port = 0x3f8, .size = 1 } } },
    { .name = "IOIO: 15 bytes (the longest instruction) taken",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x03f80010 | A64, .exitinfo2 = RIP + 15, .rip = RIP },
      .want = { .reason = VEXIT_IO, .insn_len = 15, .io = { .port = 0x3f8, .size = 1 } } },
    { .name = "IOIO: 16 bytes is no instruction: 0",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x03f80010 | A64, .exitinfo2 = RIP + 16, .rip = RIP },
      .want = { .reason = VEXIT_IO, .io = { .port = 0x3f8, .size = 1 } } },
    { .name = "IOIO: EXITINFO2 = RIP: 0",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x03f80010 | A64, .exitinfo2 = RIP, .rip = RIP },
      .want = { .reason = VEXIT_IO, .io = { .port = 0x3f8, .size = 1 } } },
    { .name = "IOIO: EXITINFO2 before RIP: 0",
      .raw = { .exitcode = 0x7b, .exitinfo1 = 0x03f80010 | A64, .exitinfo2 = RIP - 1, .rip = RIP },
      .want = { .reason = VEXIT_IO, .io = { .port = 0x3f8, .size = 1 } } },

    /* ---- MSR: EXITINFO1 0 RDMSR, 1 WRMSR; the index is the guest's ECX ---- */
    { .name = "RDMSR IA32_APIC_BASE: RCX 63:32 ignored",
      .raw = { .exitcode = 0x7c, .exitinfo1 = 0, .rip = RIP, .rcx = 0xffffffff0000001bULL },
      .want = { .reason = VEXIT_MSR, .insn_len = 2, .msr = { .index = 0x1b } } },
    { .name = "WRMSR EFER",
      .raw = { .exitcode = 0x7c, .exitinfo1 = 1, .rip = RIP, .rcx = 0xc0000080 },
      .want = { .reason = VEXIT_MSR, .insn_len = 2, .msr = { .index = 0xc0000080, .write = true } } },
    { .name = "WRMSR with a prefix, NRIPS",
      .raw = { .exitcode = 0x7c, .exitinfo1 = 1, .rip = RIP, .next_rip = RIP + 3, .rcx = 0x830, .nrips = true },
      .want = { .reason = VEXIT_MSR, .insn_len = 3, .msr = { .index = 0x830, .write = true } } },

    /* ---- NPF: EXITINFO1 a #PF error code (P 0, RW 1, US 2, RSV 3, ID 4) and bits 32
     *      (final translation) / 33 (guest table walk); EXITINFO2 the GPA ---- */
    { .name = "NPF: read of an unmapped GPA (local APIC page)",
      .raw = { .exitcode = 0x400, .exitinfo1 = 0x100000004ULL, .exitinfo2 = 0xfee00030, .rip = RIP },
      .want = { .reason = VEXIT_SLPT_FAULT, .fault = { .gpa = { 0xfee00030 }, .read = true } } },
    { .name = "NPF: write to a read-only page above 4 GiB",
      .raw = { .exitcode = 0x400, .exitinfo1 = 0x100000007ULL, .exitinfo2 = 0x100002008ULL, .rip = RIP },
      .want = { .reason = VEXIT_SLPT_FAULT, .fault = { .gpa = { 0x100002008ULL }, .write = true, .present = true } } },
    { .name = "NPF: fetch from an unmapped page",
      .raw = { .exitcode = 0x400, .exitinfo1 = 0x100000010ULL, .exitinfo2 = 0x12345678abcULL, .rip = RIP },
      .want = { .reason = VEXIT_SLPT_FAULT, .fault = { .gpa = { 0x12345678abcULL }, .fetch = true } } },
    { .name = "NPF: fetch from a present no-execute page",
      .raw = { .exitcode = 0x400, .exitinfo1 = 0x100000011ULL, .exitinfo2 = 0x5000, .rip = RIP },
      .want = { .reason = VEXIT_SLPT_FAULT, .fault = { .gpa = { 0x5000 }, .fetch = true, .present = true } } },
    { .name = "NPF: read during a guest page-table walk",
      .raw = { .exitcode = 0x400, .exitinfo1 = 0x200000000ULL, .exitinfo2 = 0x7ff8, .rip = RIP },
      .want = { .reason = VEXIT_SLPT_FAULT, .fault = { .gpa = { 0x7ff8 }, .read = true } } },
    { .name = "NPF: reserved bit in a present entry",
      .raw = { .exitcode = 0x400, .exitinfo1 = 0x100000009ULL, .exitinfo2 = 0x9000, .rip = RIP },
      .want = { .reason = VEXIT_SLPT_FAULT, .fault = { .gpa = { 0x9000 }, .read = true, .present = true } } },

    /* ---- intercepted exceptions 0x40-0x5f: EXITINFO1 the error code, EXITINFO2 the #PF address ---- */
    { .name = "#PF: error code and address",
      .raw = { .exitcode = 0x4e, .exitinfo1 = 0x7, .exitinfo2 = PF_ADDR, .rip = RIP },
      .want = { .reason = VEXIT_EXCEPTION,
                .exception = { .vector = 14, .has_error = true, .error = 0x7, .address = PF_ADDR } } },
    { .name = "#PF: EXITINFO1 63:32 ignored",
      .raw = { .exitcode = 0x4e, .exitinfo1 = 0xffffffff00000015ULL, .exitinfo2 = 0x1000, .rip = RIP },
      .want = { .reason = VEXIT_EXCEPTION,
                .exception = { .vector = 14, .has_error = true, .error = 0x15, .address = 0x1000 } } },
    { .name = "#DE", .raw = { .exitcode = 0x40, .rip = RIP }, .want = { .reason = VEXIT_EXCEPTION } },
    { .name = "#UD",
      .raw = { .exitcode = 0x46, .rip = RIP },
      .want = { .reason = VEXIT_EXCEPTION, .exception = { .vector = 6 } } },
    /* Only #PF is marked as having an error code (only #PF and #MC are intercepted). */
    { .name = "#GP(0x18): the error code, not marked",
      .raw = { .exitcode = 0x4d, .exitinfo1 = 0x18, .rip = RIP },
      .want = { .reason = VEXIT_EXCEPTION, .exception = { .vector = 13, .error = 0x18 } } },
    { .name = "#MC",
      .raw = { .exitcode = 0x52, .rip = RIP },
      .want = { .reason = VEXIT_EXCEPTION, .exception = { .vector = 18 } } },
    { .name = "exception 31 (the last)",
      .raw = { .exitcode = 0x5f, .rip = RIP },
      .want = { .reason = VEXIT_EXCEPTION, .exception = { .vector = 31 } } },

    /* ---- CR accesses: reads 0x00-0x0f, writes 0x10-0x1f; the register with decode assists ---- */
    { .name = "CR0 read, no decode assists",
      .raw = { .exitcode = 0x00, .exitinfo1 = MOV_CR | 3, .rip = RIP },
      .want = { .reason = VEXIT_CR_ACCESS, .cr = { .cr = 0, .gpr = -1 } } },
    { .name = "MOV RBX, CR3 with decode assists",
      .raw = { .exitcode = 0x03, .exitinfo1 = MOV_CR | 3, .rip = RIP, .decode_assists = true },
      .want = { .reason = VEXIT_CR_ACCESS, .cr = { .cr = 3, .gpr = 3 } } },
    { .name = "MOV CR3, R15 with decode assists",
      .raw = { .exitcode = 0x13, .exitinfo1 = MOV_CR | 15, .rip = RIP, .decode_assists = true },
      .want = { .reason = VEXIT_CR_ACCESS, .cr = { .cr = 3, .write = true, .gpr = 15 } } },
    { .name = "CR0 write not by MOV (CLTS, LMSW), decode assists: no register",
      .raw = { .exitcode = 0x10, .exitinfo1 = 0, .rip = RIP, .decode_assists = true },
      .want = { .reason = VEXIT_CR_ACCESS, .cr = { .cr = 0, .write = true, .gpr = -1 } } },
    { .name = "MOV CR4, RAX, no decode assists: EXITINFO1 ignored",
      .raw = { .exitcode = 0x14, .exitinfo1 = MOV_CR | 0, .rip = RIP },
      .want = { .reason = VEXIT_CR_ACCESS, .cr = { .cr = 4, .write = true, .gpr = -1 } } },
    { .name = "MOV CR4, RAX with NRIPS",
      .raw = { .exitcode = 0x14, .rip = RIP, .next_rip = RIP + 3, .nrips = true },
      .want = { .reason = VEXIT_CR_ACCESS, .insn_len = 3, .cr = { .cr = 4, .write = true, .gpr = -1 } } },
    { .name = "CR8 write",
      .raw = { .exitcode = 0x18, .exitinfo1 = MOV_CR | 1, .rip = RIP, .decode_assists = true },
      .want = { .reason = VEXIT_CR_ACCESS, .cr = { .cr = 8, .write = true, .gpr = 1 } } },
    { .name = "CR15 write (the last CR code)",
      .raw = { .exitcode = 0x1f, .rip = RIP },
      .want = { .reason = VEXIT_CR_ACCESS, .cr = { .cr = 15, .write = true, .gpr = -1 } } },

    /* ---- INVLPG: the address only with decode assists ---- */
    { .name = "INVLPG, no decode assists: the core decodes",
      .raw = { .exitcode = 0x79, .rip = RIP },
      .want = { .reason = VEXIT_INVLPG } },
    { .name = "INVLPG with decode assists",
      .raw = { .exitcode = 0x79, .exitinfo1 = 0xffff800012345000ULL, .rip = RIP, .decode_assists = true },
      .want = { .reason = VEXIT_INVLPG, .invlpg = { .va = 0xffff800012345000ULL, .known = true } } },

    /* ---- codes compare on their low 32 bits ---- */
    { .name = "HLT with 0xffffffff in EXITCODE 63:32",
      .raw = { .exitcode = 0xffffffff00000078ULL, .rip = RIP },
      .want = { .reason = VEXIT_HLT, .insn_len = 1 } },
    { .name = "IOIO with 1 in EXITCODE 63:32",
      .raw = { .exitcode = 0x10000007bULL, .exitinfo1 = 0x0cfc0041 | A64, .exitinfo2 = RIP + 1, .rip = RIP },
      .want = { .reason = VEXIT_IO, .insn_len = 1, .io = { .port = 0xcfc, .size = 4, .in = true } } },

    /* ---- what the translator does not know: unhandled, the code kept for the log ---- */
    { .name = "DR0 read", .raw = { .exitcode = 0x20, .rip = RIP }, .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "DR15 write", .raw = { .exitcode = 0x3f, .rip = RIP }, .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "RSM", .raw = { .exitcode = 0x73, .rip = RIP }, .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "INVD: unhandled, with its length",
      .raw = { .exitcode = 0x76, .rip = RIP },
      .want = { .reason = VEXIT_UNHANDLED, .insn_len = 2 } },
    { .name = "task switch", .raw = { .exitcode = 0x7d, .rip = RIP }, .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "VMRUN", .raw = { .exitcode = 0x80, .rip = RIP }, .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "WBINVD: unhandled, with its length",
      .raw = { .exitcode = 0x89, .rip = RIP },
      .want = { .reason = VEXIT_UNHANDLED, .insn_len = 2 } },
    { .name = "MONITOR: unhandled, with its length",
      .raw = { .exitcode = 0x8a, .rip = RIP },
      .want = { .reason = VEXIT_UNHANDLED, .insn_len = 3 } },
    { .name = "MWAIT: unhandled, with its length",
      .raw = { .exitcode = 0x8b, .rip = RIP },
      .want = { .reason = VEXIT_UNHANDLED, .insn_len = 3 } },
    { .name = "AVIC incomplete IPI", .raw = { .exitcode = 0x401, .rip = RIP }, .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "VMGEXIT", .raw = { .exitcode = 0x403, .rip = RIP }, .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "VMEXIT_BUSY (-2)",
      .raw = { .exitcode = 0xfffffffffffffffeULL, .rip = RIP },
      .want = { .reason = VEXIT_UNHANDLED } },
};

#include "tests/unit/expect_exit.h"

/* Translates into a struct full of garbage: the translator must clear it. */
static void translate(const struct svm_exit_raw *raw, struct vcpu_exit *e)
{
    memset(e, GARBAGE, sizeof(*e));
    svm_translate_exit(raw, e);
}

/* A row's expected exit, bytes included (struct assignment need not copy padding). */
static void want_of(const struct row *r, u64 exitcode, struct vcpu_exit *want)
{
    memcpy(want, &r->want, sizeof(*want));
    want->vendor_code = exitcode;
}

static void run_row(void **state)
{
    const struct row *r = *state;
    struct vcpu_exit want, got;
    want_of(r, r->raw.exitcode, &want);
    translate(&r->raw, &got);
    expect_exit(r->name, &got, &want);
}

/* Whatever EXITCODE 63:32 hold, every row translates the same; vendor_code
 * keeps all 64 bits. */
static void test_low_32_bits(void **state)
{
    static const u64 highs[] = { 0, 0x00000001ULL << 32, 0x80000000ULL << 32, 0xffffffffULL << 32 };
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
        for (size_t h = 0; h < ARRAY_SIZE(highs); h++) {
            struct svm_exit_raw raw = rows[i].raw;
            raw.exitcode = (u32)raw.exitcode | highs[h];
            struct vcpu_exit want, got;
            want_of(&rows[i], raw.exitcode, &want);
            translate(&raw, &got);
            expect_exit(rows[i].name, &got, &want);
        }
}

/* The codes the translator knows: CR reads and writes, exceptions, the plain
 * exits, IOIO, MSR, NPF, INVLPG. */
static bool is_known(u32 code)
{
    static const u32 plain[] = { 0x60, 0x61, 0x62, 0x63, 0x64, 0x72, 0x77,  0x78,
                                 0x79, 0x7b, 0x7c, 0x7f, 0x81, 0x8d, 0x400, 0xffffffffu };
    if (code < 0x20 || (code >= 0x40 && code < 0x60))
        return true;
    for (size_t i = 0; i < ARRAY_SIZE(plain); i++)
        if (plain[i] == code)
            return true;
    return false;
}

/* Every code the translator does not know is unhandled, with the code kept
 * (all 64 bits); each known one outside the CR and exception ranges is in
 * the table. */
static void test_unknown_codes(void **state)
{
    static const u32 high_codes[] = { 0x401,       0x402,       0x403,       0x404,       0x1000,     0x7fffffffu,
                                      0x80000000u, 0xf0000000u, 0xfffffffdu, 0xfffffffeu, 0xffffffffu };
    u32 codes[0x500 + ARRAY_SIZE(high_codes)];
    size_t n = 0;
    for (u32 c = 0; c < 0x500; c++)
        codes[n++] = c;
    for (size_t i = 0; i < ARRAY_SIZE(high_codes); i++)
        codes[n++] = high_codes[i];
    for (size_t i = 0; i < n; i++) {
        u32 code = codes[i];
        if (is_known(code)) {
            if (code < 0x20 || (code >= 0x40 && code < 0x60))
                continue; /* every one in test_cr_codes, test_exception_codes */
            bool in_table = false;
            for (size_t r = 0; r < ARRAY_SIZE(rows); r++)
                in_table |= (u32)rows[r].raw.exitcode == code;
            if (!in_table)
                fail_msg("code %#x is known but not in the table", code);
            continue;
        }
        struct svm_exit_raw raw = { .exitcode = 0xabcd00000000ULL | code,
                                    .exitinfo1 = MOV_CR | 0x1b,
                                    .exitinfo2 = RIP + 1,
                                    .rip = RIP,
                                    .rcx = 0x1b,
                                    .decode_assists = true };
        struct vcpu_exit e;
        translate(&raw, &e);
        if (e.reason != VEXIT_UNHANDLED || e.vendor_code != raw.exitcode)
            fail_msg("code %#x: reason %d, vendor code %#llx", code, e.reason, (unsigned long long)e.vendor_code);
        /* Nothing but the length (the fixed one, for the instructions that have one) is set. */
        char name[40];
        snprintf(name, sizeof(name), "code %#x", code);
        struct vcpu_exit want;
        memset(&want, 0, sizeof(want));
        want.reason = VEXIT_UNHANDLED;
        want.vendor_code = raw.exitcode;
        want.insn_len = e.insn_len;
        expect_exit(name, &e, &want);
    }
}

/* IOIO: every combination of TYPE, STR, REP and the three sizes, with each
 * address size and segment, on a few ports. */
static void test_ioio_bits(void **state)
{
    static const u16 ports[] = { 0, 0x60, 0x3f8, 0xcfc, 0xffff };
    static const u8 sizes[] = { 1, 2, 4 };
    for (size_t p = 0; p < ARRAY_SIZE(ports); p++)
        for (u32 flags = 0; flags < 16; flags++) {
            if (flags & 2)
                continue; /* reserved */
            for (u32 sz = 0; sz < 3; sz++)
                for (u32 a = 0; a < 3; a++)
                    for (u32 seg = 0; seg < 6; seg++) {
                        u64 i1 = (u64)ports[p] << 16 | seg << 10 | (0x80u << a) | (0x10u << sz) | flags;
                        struct svm_exit_raw raw = {
                            .exitcode = 0x7b, .exitinfo1 = i1, .exitinfo2 = RIP + 2, .rip = RIP
                        };
                        struct vcpu_exit e;
                        translate(&raw, &e);
                        assert_int_equal(e.reason, VEXIT_IO);
                        assert_int_equal(e.insn_len, 2);
                        assert_int_equal(e.io.port, ports[p]);
                        assert_int_equal(e.io.size, sizes[sz]);
                        assert_int_equal(e.io.in, !!(flags & 1));
                        assert_int_equal(e.io.string, !!(flags & 4));
                        assert_int_equal(e.io.rep, !!(flags & 8));
                    }
        }
}

/* NPF: every combination of the error code's bits 4:0 with bits 32 and 33;
 * a read is what is neither a write nor a fetch. */
static void test_npf_bits(void **state)
{
    for (u64 low = 0; low < 0x20; low++)
        for (u64 high = 1; high < 4; high++) {
            struct svm_exit_raw raw = {
                .exitcode = 0x400, .exitinfo1 = high << 32 | low, .exitinfo2 = 0xfffff000ULL | low, .rip = RIP
            };
            struct vcpu_exit e;
            translate(&raw, &e);
            assert_int_equal(e.reason, VEXIT_SLPT_FAULT);
            assert_int_equal(e.insn_len, 0);
            assert_int_equal(e.fault.gpa.v, 0xfffff000ULL | low);
            assert_int_equal(e.fault.present, !!(low & 1));
            assert_int_equal(e.fault.write, !!(low & 2));
            assert_int_equal(e.fault.fetch, !!(low & 0x10));
            assert_int_equal(e.fault.read, !(low & 0x12));
        }
}

/* CR accesses: every code, register and decode-assist combination. */
static void test_cr_codes(void **state)
{
    for (u32 code = 0; code < 0x20; code++)
        for (u64 gpr = 0; gpr < 16; gpr++)
            for (u32 mode = 0; mode < 4; mode++) {
                bool da = mode & 1, mov = mode & 2;
                struct svm_exit_raw raw = {
                    .exitcode = code, .exitinfo1 = (mov ? MOV_CR : 0) | gpr, .rip = RIP, .decode_assists = da
                };
                struct vcpu_exit e;
                translate(&raw, &e);
                assert_int_equal(e.reason, VEXIT_CR_ACCESS);
                assert_int_equal(e.cr.cr, code & 0xf);
                assert_int_equal(e.cr.write, code >= 0x10);
                assert_false(e.cr.clts);
                assert_int_equal(e.cr.gpr, da && mov ? (int)gpr : -1);
            }
}

/* Exceptions: every vector, its error code and address. */
static void test_exception_codes(void **state)
{
    for (u32 vector = 0; vector < 32; vector++) {
        struct svm_exit_raw raw = {
            .exitcode = 0x40 + vector, .exitinfo1 = 0xffff0000fffeULL, .exitinfo2 = 0xcafe000, .rip = RIP
        };
        struct vcpu_exit e;
        translate(&raw, &e);
        assert_int_equal(e.reason, VEXIT_EXCEPTION);
        assert_int_equal(e.exception.vector, vector);
        assert_int_equal(e.exception.error, 0xfffe);
        assert_int_equal(e.exception.has_error, vector == 14);
        assert_int_equal(e.exception.address, 0xcafe000);
    }
}

static const struct CMUnitTest sweeps[] = {
    cmocka_unit_test(test_low_32_bits), cmocka_unit_test(test_unknown_codes), cmocka_unit_test(test_ioio_bits),
    cmocka_unit_test(test_npf_bits),    cmocka_unit_test(test_cr_codes),      cmocka_unit_test(test_exception_codes),
};

int main(void)
{
    struct CMUnitTest tests[ARRAY_SIZE(rows) + ARRAY_SIZE(sweeps)];
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
        tests[i] = (struct CMUnitTest){ .name = rows[i].name, .test_func = run_row, .initial_state = &rows[i] };
    for (size_t i = 0; i < ARRAY_SIZE(sweeps); i++)
        tests[ARRAY_SIZE(rows) + i] = sweeps[i];
    return cmocka_run_group_tests(tests, NULL, NULL);
}
