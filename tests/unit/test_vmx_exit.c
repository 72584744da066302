/* The VT-x exit translation (arch/x86/vmx/vmx_exit.c) as a pure function: a
 * table of raw exits, written with the SDM's encodings (Vol. 3C appendix C for
 * the basic exit reasons, tables 28-3, 28-5 and 28-7 for the CR-access, I/O
 * and EPT-violation qualifications, 25.9.2 for the exit interruption
 * information) as numbers rather than vmcs.h's names, so that the names are
 * checked too. Each row is its own test; sweeps then check that every other
 * basic reason is unhandled and that VM-entry failures and the flag bits
 * 30:16 are taken as the SDM says. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "arch/x86/vmx/vmx_exit.h"

struct row {
    const char *name;
    struct vmx_exit_raw raw;
    struct vcpu_exit want; /* vendor_code is always raw.reason: checked, not written here */
    enum vmx_exit_route route;
};

#define PF_ADDR 0xffff800000001000ULL
#define GARBAGE 0xa5

/* Exit interruption information (25.9.2): vector 7:0, type 10:8 (2 NMI,
 * 3 hardware exception, 6 software exception), error code valid 11,
 * NMI unblocking by IRET 12, valid 31. */
#define INFO(type, vector, err) (0x80000000u | (type) << 8 | (err) << 11 | (vector))

static struct row rows[] = {
    /* ---- exceptions and NMIs (basic reason 0) ---- */
    { .name = "NMI for the host", .raw = { .reason = 0, .intr_info = 0x80000202 }, .want = { .reason = VEXIT_EXTINT } },
    { .name = "NMI for the host, NMI unblocking by IRET",
      .raw = { .reason = 0, .intr_info = 0x80001202 },
      .want = { .reason = VEXIT_EXTINT } },
    { .name = "#PF: error code and linear address",
      .raw = { .reason = 0, .qualification = PF_ADDR, .intr_info = INFO(3, 14, 1), .intr_error = 0x7 },
      .want = { .reason = VEXIT_EXCEPTION,
                .exception = { .vector = 14, .has_error = true, .error = 0x7, .address = PF_ADDR } } },
    { .name = "#PF: the encoded word 0x80000b0e",
      .raw = { .reason = 0, .qualification = 0x1000, .intr_info = 0x80000b0e, .intr_error = 0x10 },
      .want = { .reason = VEXIT_EXCEPTION,
                .exception = { .vector = 14, .has_error = true, .error = 0x10, .address = 0x1000 } } },
    { .name = "#GP(0x18)",
      .raw = { .reason = 0, .intr_info = 0x80000b0d, .intr_error = 0x18 },
      .want = { .reason = VEXIT_EXCEPTION, .exception = { .vector = 13, .has_error = true, .error = 0x18 } } },
    { .name = "#DF(0)",
      .raw = { .reason = 0, .intr_info = INFO(3, 8, 1) },
      .want = { .reason = VEXIT_EXCEPTION, .exception = { .vector = 8, .has_error = true } } },
    { .name = "#UD: no error code",
      .raw = { .reason = 0, .insn_len = 2, .intr_info = 0x80000306 },
      .want = { .reason = VEXIT_EXCEPTION, .insn_len = 2, .exception = { .vector = 6 } } },
    { .name = "#BP from INT3: software exception",
      .raw = { .reason = 0, .insn_len = 1, .intr_info = 0x80000603 },
      .want = { .reason = VEXIT_EXCEPTION, .insn_len = 1, .exception = { .vector = 3 } } },
    { .name = "#MC",
      .raw = { .reason = 0, .intr_info = INFO(3, 18, 0) },
      .want = { .reason = VEXIT_EXCEPTION, .exception = { .vector = 18 } } },

    /* ---- plain exits ---- */
    { .name = "external interrupt", .raw = { .reason = 1 }, .want = { .reason = VEXIT_EXTINT } },
    { .name = "preemption timer (the watchdog)", .raw = { .reason = 52 }, .want = { .reason = VEXIT_EXTINT } },
    { .name = "triple fault", .raw = { .reason = 2 }, .want = { .reason = VEXIT_TRIPLE_FAULT } },
    { .name = "INIT", .raw = { .reason = 3 }, .want = { .reason = VEXIT_INIT } },
    { .name = "SIPI: vector from qualification 7:0",
      .raw = { .reason = 4, .qualification = 0x9a },
      .want = { .reason = VEXIT_SIPI, .sipi = { 0x9a } } },
    { .name = "SIPI vector 0", .raw = { .reason = 4 }, .want = { .reason = VEXIT_SIPI } },
    { .name = "interrupt window", .raw = { .reason = 7 }, .want = { .reason = VEXIT_INTR_WINDOW } },
    { .name = "CPUID", .raw = { .reason = 10, .insn_len = 2 }, .want = { .reason = VEXIT_CPUID, .insn_len = 2 } },
    { .name = "HLT", .raw = { .reason = 12, .insn_len = 1 }, .want = { .reason = VEXIT_HLT, .insn_len = 1 } },
    { .name = "VMCALL", .raw = { .reason = 18, .insn_len = 3 }, .want = { .reason = VEXIT_HYPERCALL, .insn_len = 3 } },
    { .name = "PAUSE", .raw = { .reason = 40, .insn_len = 2 }, .want = { .reason = VEXIT_PAUSE, .insn_len = 2 } },
    { .name = "XSETBV", .raw = { .reason = 55, .insn_len = 3 }, .want = { .reason = VEXIT_XSETBV, .insn_len = 3 } },
    { .name = "INVLPG: the linear address is the qualification",
      .raw = { .reason = 14, .insn_len = 3, .qualification = 0xffff800012345678ULL },
      .want = { .reason = VEXIT_INVLPG, .insn_len = 3, .invlpg = { .va = 0xffff800012345678ULL, .known = true } } },

    /* ---- CR accesses (table 28-3: CR 3:0, type 5:4, LMSW operand 6, GPR 11:8, LMSW data 31:16) ---- */
    { .name = "MOV CR0, RAX",
      .raw = { .reason = 28, .insn_len = 3, .qualification = 0x000 },
      .want = { .reason = VEXIT_CR_ACCESS, .insn_len = 3, .cr = { .cr = 0, .write = true, .gpr = 0 } },
      .route = VMX_ROUTE_MOV_TO_CR },
    { .name = "MOV CR3, RBX",
      .raw = { .reason = 28, .insn_len = 3, .qualification = 0x303 },
      .want = { .reason = VEXIT_CR_ACCESS, .insn_len = 3, .cr = { .cr = 3, .write = true, .gpr = 3 } },
      .route = VMX_ROUTE_MOV_TO_CR },
    { .name = "MOV CR4, R15",
      .raw = { .reason = 28, .insn_len = 4, .qualification = 0xf04 },
      .want = { .reason = VEXIT_CR_ACCESS, .insn_len = 4, .cr = { .cr = 4, .write = true, .gpr = 15 } },
      .route = VMX_ROUTE_MOV_TO_CR },
    { .name = "MOV CR8, RCX",
      .raw = { .reason = 28, .insn_len = 4, .qualification = 0x108 },
      .want = { .reason = VEXIT_CR_ACCESS, .insn_len = 4, .cr = { .cr = 8, .write = true, .gpr = 1 } },
      .route = VMX_ROUTE_MOV_TO_CR },
    { .name = "MOV RSI, CR3",
      .raw = { .reason = 28, .insn_len = 3, .qualification = 0x613 },
      .want = { .reason = VEXIT_CR_ACCESS, .insn_len = 3, .cr = { .cr = 3, .write = false, .gpr = 6 } } },
    { .name = "MOV R9, CR0",
      .raw = { .reason = 28, .insn_len = 4, .qualification = 0x910 },
      .want = { .reason = VEXIT_CR_ACCESS, .insn_len = 4, .cr = { .cr = 0, .write = false, .gpr = 9 } } },
    { .name = "CLTS: a write of CR0, no register",
      .raw = { .reason = 28, .insn_len = 2, .qualification = 0x020 },
      .want = { .reason = VEXIT_CR_ACCESS, .insn_len = 2, .cr = { .cr = 0, .write = true, .clts = true, .gpr = -1 } } },
    { .name = "LMSW AX: not emulated",
      .raw = { .reason = 28, .insn_len = 3, .qualification = 0x00010030 },
      .want = { .reason = VEXIT_UNHANDLED, .insn_len = 3 } },
    { .name = "LMSW from memory: not emulated",
      .raw = { .reason = 28, .insn_len = 4, .qualification = 0x00010070 },
      .want = { .reason = VEXIT_UNHANDLED, .insn_len = 4 } },
    { .name = "MOV CR0, RAX with a flag bit (27, enclave): to the core",
      .raw = { .reason = 0x0800001c, .insn_len = 3, .qualification = 0x000 },
      .want = { .reason = VEXIT_CR_ACCESS, .insn_len = 3, .cr = { .cr = 0, .write = true, .gpr = 0 } } },

    /* ---- I/O (table 28-5: size-1 2:0, IN 3, string 4, REP 5, immediate 6, port 31:16) ---- */
    { .name = "OUT DX, AL to 0x3f8",
      .raw = { .reason = 30, .insn_len = 1, .qualification = 0x03f80000 },
      .want = { .reason = VEXIT_IO, .insn_len = 1, .io = { .port = 0x3f8, .size = 1 } } },
    { .name = "OUT 0x80, AL",
      .raw = { .reason = 30, .insn_len = 2, .qualification = 0x00800040 },
      .want = { .reason = VEXIT_IO, .insn_len = 2, .io = { .port = 0x80, .size = 1 } } },
    { .name = "IN AX, 0x71",
      .raw = { .reason = 30, .insn_len = 3, .qualification = 0x00710049 },
      .want = { .reason = VEXIT_IO, .insn_len = 3, .io = { .port = 0x71, .size = 2, .in = true } } },
    { .name = "IN EAX, DX from 0xcfc",
      .raw = { .reason = 30, .insn_len = 1, .qualification = 0x0cfc000b },
      .want = { .reason = VEXIT_IO, .insn_len = 1, .io = { .port = 0xcfc, .size = 4, .in = true } } },
    { .name = "REP OUTSB to 0x3f8",
      .raw = { .reason = 30, .insn_len = 2, .qualification = 0x03f80030 },
      .want = { .reason = VEXIT_IO, .insn_len = 2, .io = { .port = 0x3f8, .size = 1, .string = true, .rep = true } } },
    { .name = "REP INSD from 0x1f0",
      .raw = { .reason = 30, .insn_len = 2, .qualification = 0x01f0003b },
      .want = { .reason = VEXIT_IO,
                .insn_len = 2,
                .io = { .port = 0x1f0, .size = 4, .in = true, .string = true, .rep = true } } },
    { .name = "INSW from 0x60, no REP",
      .raw = { .reason = 30, .insn_len = 2, .qualification = 0x00600019 },
      .want = { .reason = VEXIT_IO, .insn_len = 2, .io = { .port = 0x60, .size = 2, .in = true, .string = true } } },
    { .name = "OUT DX, AL to 0xffff",
      .raw = { .reason = 30, .insn_len = 1, .qualification = 0xffff0000 },
      .want = { .reason = VEXIT_IO, .insn_len = 1, .io = { .port = 0xffff, .size = 1 } } },
    { .name = "OUT DX, AL with a flag bit (28, pending MTF)",
      .raw = { .reason = 0x1000001e, .insn_len = 1, .qualification = 0x03f80000 },
      .want = { .reason = VEXIT_IO, .insn_len = 1, .io = { .port = 0x3f8, .size = 1 } } },

    /* ---- MSRs: the index is the guest's ECX ---- */
    { .name = "RDMSR IA32_APIC_BASE: RCX 63:32 ignored",
      .raw = { .reason = 31, .insn_len = 2, .rcx = 0xdeadbeef0000001bULL },
      .want = { .reason = VEXIT_MSR, .insn_len = 2, .msr = { .index = 0x1b } } },
    { .name = "WRMSR EFER",
      .raw = { .reason = 32, .insn_len = 2, .rcx = 0xc0000080 },
      .want = { .reason = VEXIT_MSR, .insn_len = 2, .msr = { .index = 0xc0000080, .write = true } } },
    { .name = "WRMSR x2APIC ICR",
      .raw = { .reason = 32, .insn_len = 2, .rcx = 0x830 },
      .want = { .reason = VEXIT_MSR, .insn_len = 2, .msr = { .index = 0x830, .write = true } } },

    /* ---- EPT violations (table 28-7: R 0, W 1, X 2, readable 3, writable 4, executable 5,
     *      linear address valid 7, access to the translation 8) ---- */
    { .name = "EPT: read of an unmapped GPA (local APIC page)",
      .raw = { .reason = 48, .qualification = 0x181, .guest_phys = 0xfee00030 },
      .want = { .reason = VEXIT_SLPT_FAULT, .fault = { .gpa = { 0xfee00030 }, .read = true } } },
    { .name = "EPT: write to a read-only page above 4 GiB",
      .raw = { .reason = 48, .qualification = 0x18a, .guest_phys = 0x100002008ULL },
      .want = { .reason = VEXIT_SLPT_FAULT, .fault = { .gpa = { 0x100002008ULL }, .write = true, .present = true } } },
    { .name = "EPT: fetch from a read/write page",
      .raw = { .reason = 48, .qualification = 0x19c, .guest_phys = 0x12345678abcULL },
      .want = { .reason = VEXIT_SLPT_FAULT,
                .fault = { .gpa = { 0x12345678abcULL }, .fetch = true, .present = true } } },
    { .name = "EPT: read of an execute-only page",
      .raw = { .reason = 48, .qualification = 0x1a1, .guest_phys = 0x5000 },
      .want = { .reason = VEXIT_SLPT_FAULT, .fault = { .gpa = { 0x5000 }, .read = true, .present = true } } },
    { .name = "EPT: A/D update of an unmapped guest page-table entry (bit 8 clear)",
      .raw = { .reason = 48, .qualification = 0x083, .guest_phys = 0x7ff8 },
      .want = { .reason = VEXIT_SLPT_FAULT, .fault = { .gpa = { 0x7ff8 }, .read = true, .write = true } } },

    /* ---- VM-entry failures (bit 31): invalid guest state whatever the basic reason ---- */
    { .name = "VM-entry failure: invalid guest state",
      .raw = { .reason = 0x80000021 },
      .want = { .reason = VEXIT_INVALID_STATE } },
    { .name = "VM-entry failure: MSR loading",
      .raw = { .reason = 0x80000022 },
      .want = { .reason = VEXIT_INVALID_STATE } },
    { .name = "VM-entry failure: machine check",
      .raw = { .reason = 0x80000029 },
      .want = { .reason = VEXIT_INVALID_STATE } },
    { .name = "VM-entry failure: fields of other exits ignored",
      .raw = { .reason = 0x8000001c,
               .qualification = 0x000,
               .intr_info = 0x80000b0e,
               .guest_phys = 0x1000,
               .rcx = 0x1b },
      .want = { .reason = VEXIT_INVALID_STATE } },

    /* ---- what the translator does not know: unhandled, the code kept for the log ---- */
    { .name = "NMI window", .raw = { .reason = 8 }, .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "task switch",
      .raw = { .reason = 9, .qualification = 0x40000028 },
      .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "RDTSC", .raw = { .reason = 16, .insn_len = 2 }, .want = { .reason = VEXIT_UNHANDLED, .insn_len = 2 } },
    { .name = "MOV DR",
      .raw = { .reason = 29, .insn_len = 3, .qualification = 0x117 },
      .want = { .reason = VEXIT_UNHANDLED, .insn_len = 3 } },
    { .name = "invalid guest state without the entry-failure bit",
      .raw = { .reason = 33 },
      .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "EPT misconfiguration",
      .raw = { .reason = 49, .guest_phys = 0x1000 },
      .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "basic reason 0xffff", .raw = { .reason = 0xffff }, .want = { .reason = VEXIT_UNHANDLED } },
    { .name = "HLT with a flag bit (27, enclave)",
      .raw = { .reason = 0x0800000c, .insn_len = 1 },
      .want = { .reason = VEXIT_HLT, .insn_len = 1 } },
};

/* The basic reasons the translator knows (SDM appendix C numbers). */
static const u16 known[] = { 0, 1, 2, 3, 4, 7, 10, 12, 14, 18, 28, 30, 31, 32, 40, 48, 52, 55 };

#include "tests/unit/expect_exit.h"

/* Translates into a struct full of garbage: the translator must clear it. */
static enum vmx_exit_route translate(const struct vmx_exit_raw *raw, struct vcpu_exit *e)
{
    memset(e, GARBAGE, sizeof(*e));
    return vmx_translate_exit(raw, e);
}

/* A row's expected exit, bytes included (struct assignment need not copy padding). */
static void want_of(const struct row *r, u32 reason, struct vcpu_exit *want)
{
    memcpy(want, &r->want, sizeof(*want));
    want->vendor_code = reason;
}

static void run_row(void **state)
{
    const struct row *r = *state;
    struct vcpu_exit want, got;
    want_of(r, r->raw.reason, &want);
    enum vmx_exit_route route = translate(&r->raw, &got);
    expect_exit(r->name, &got, &want);
    if (route != r->route)
        fail_msg("%s: route %d, want %d", r->name, route, r->route);
}

/* Every row, whatever its reason, has a stale-looking value in every raw
 * field the reason does not use: none of them may show through. */
static void test_unused_fields_ignored(void **state)
{
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        const struct row *r = &rows[i];
        u16 basic = r->raw.reason & 0xffff;
        struct vmx_exit_raw raw = r->raw;
        if (basic != 0)
            raw.intr_info = 0x80000b0e, raw.intr_error = 0xffff;
        if (basic != 48)
            raw.guest_phys = 0xdead000;
        if (basic != 31 && basic != 32)
            raw.rcx = 0xc0000080;
        struct vcpu_exit want, got;
        want_of(r, r->raw.reason, &want);
        assert_int_equal(translate(&raw, &got), r->route);
        expect_exit(r->name, &got, &want);
    }
}

static bool is_known(u32 basic)
{
    for (size_t i = 0; i < ARRAY_SIZE(known); i++)
        if (known[i] == basic)
            return true;
    return false;
}

/* Every basic reason the translator does not know is unhandled, with the code
 * kept; the known ones are all in the table. */
static void test_unknown_reasons(void **state)
{
    for (u32 basic = 0; basic <= 0xffff; basic++) {
        struct vmx_exit_raw raw = { .reason = basic,
                                    .qualification = 0x0123456789abcdefULL,
                                    .insn_len = 5,
                                    .intr_info = 0x80000b0e,
                                    .guest_phys = 0x1000,
                                    .rcx = 0x1b };
        struct vcpu_exit e;
        enum vmx_exit_route route = translate(&raw, &e);
        bool in_table = false;
        for (size_t i = 0; i < ARRAY_SIZE(rows); i++)
            in_table |= rows[i].raw.reason == basic;
        if (is_known(basic)) {
            if (!in_table)
                fail_msg("basic reason %u is known but not in the table", basic);
            continue;
        }
        char name[40];
        snprintf(name, sizeof(name), "basic reason %u", basic);
        struct vcpu_exit want;
        memset(&want, 0, sizeof(want));
        want.reason = VEXIT_UNHANDLED;
        want.vendor_code = basic;
        want.insn_len = 5;
        expect_exit(name, &e, &want);
        assert_int_equal(route, VMX_ROUTE_CORE);
    }
}

/* Bit 31 makes every exit a VM-entry failure, whatever bits 30:0 hold. */
static void test_entry_failures(void **state)
{
    for (u32 basic = 0; basic <= 0xffff; basic++) {
        u32 reason = 0x80000000u | basic | (basic & 1 ? 0x08000000u : 0);
        struct vmx_exit_raw raw = { .reason = reason,
                                    .qualification = 0x20,
                                    .insn_len = 0,
                                    .intr_info = 0x80000202,
                                    .guest_phys = 0x1000,
                                    .rcx = 0x1b };
        struct vcpu_exit e, want;
        memset(&want, 0, sizeof(want));
        want.reason = VEXIT_INVALID_STATE;
        want.vendor_code = reason;
        assert_int_equal(translate(&raw, &e), VMX_ROUTE_CORE);
        expect_exit("VM-entry failure", &e, &want);
    }
}

/* Flag bits 30:16 (27 enclave, 28 pending MTF, 29 from VMX root, ...) do not
 * change what the basic reason means; only a MOV to CR with none of them
 * set is the backend's to complete. */
static void test_flag_bits(void **state)
{
    static const u32 flags[] = { BIT(16), BIT(26), BIT(27), BIT(28), BIT(29), BIT(30), 0x7fff0000u };
    for (size_t i = 0; i < ARRAY_SIZE(rows); i++) {
        const struct row *r = &rows[i];
        if (r->raw.reason & 0xffff0000u)
            continue;
        for (size_t f = 0; f < ARRAY_SIZE(flags); f++) {
            struct vmx_exit_raw raw = r->raw;
            raw.reason |= flags[f];
            struct vcpu_exit want, got;
            want_of(r, raw.reason, &want);
            assert_int_equal(translate(&raw, &got), VMX_ROUTE_CORE);
            expect_exit(r->name, &got, &want);
        }
    }
}

/* Only MOV to CR routes to the backend: the other CR accesses, for every CR
 * and register, go to the core as they are. */
static void test_cr_routes(void **state)
{
    for (u32 type = 0; type < 4; type++)
        for (u32 cr = 0; cr < 16; cr++)
            for (u32 gpr = 0; gpr < 16; gpr++) {
                u64 q = cr | type << 4 | gpr << 8 | (type == 3 ? 0xabcd0000u : 0);
                struct vmx_exit_raw raw = { .reason = 28, .qualification = q, .insn_len = 3 };
                struct vcpu_exit e;
                enum vmx_exit_route route = translate(&raw, &e);
                assert_int_equal(route, type == 0 ? VMX_ROUTE_MOV_TO_CR : VMX_ROUTE_CORE);
                if (type == 3) {
                    assert_int_equal(e.reason, VEXIT_UNHANDLED);
                    continue;
                }
                assert_int_equal(e.reason, VEXIT_CR_ACCESS);
                assert_int_equal(e.cr.cr, cr);
                assert_int_equal(e.cr.write, type != 1);
                assert_int_equal(e.cr.clts, type == 2);
                assert_int_equal(e.cr.gpr, type == 2 ? -1 : (int)gpr);
            }
}

/* I/O: every combination of the qualification's bits 5:0 with a few ports. */
static void test_io_bits(void **state)
{
    static const u16 ports[] = { 0, 0x60, 0x3f8, 0xcfc, 0xffff };
    static const u8 sizes[] = { 1, 2, 0, 4 }; /* by bits 1:0; 2 is not used by the CPU */
    for (size_t p = 0; p < ARRAY_SIZE(ports); p++)
        for (u32 low = 0; low < 0x80; low++) {
            if ((low & 7) == 2 || (low & 4))
                continue; /* sizes 1, 2 and 4 only (encodings 0, 1, 3) */
            u64 q = (u64)ports[p] << 16 | low;
            struct vmx_exit_raw raw = { .reason = 30, .qualification = q, .insn_len = 2 };
            struct vcpu_exit e;
            translate(&raw, &e);
            assert_int_equal(e.reason, VEXIT_IO);
            assert_int_equal(e.io.port, ports[p]);
            assert_int_equal(e.io.size, sizes[low & 3]);
            assert_int_equal(e.io.in, !!(low & BIT(3)));
            assert_int_equal(e.io.string, !!(low & BIT(4)));
            assert_int_equal(e.io.rep, !!(low & BIT(5)));
        }
}

/* EPT violations: every combination of bits 5:0, with bits 8:7 and 12 (NMI
 * unblocking) that change nothing here. */
static void test_ept_bits(void **state)
{
    for (u32 low = 0; low < 0x40; low++)
        for (u32 extra = 0; extra < 4; extra++) {
            static const u64 extras[] = { 0, 0x80, 0x180, 0x1000 };
            u64 q = low | extras[extra];
            struct vmx_exit_raw raw = { .reason = 48, .qualification = q, .guest_phys = 0xfffff000ULL | low };
            struct vcpu_exit e;
            translate(&raw, &e);
            assert_int_equal(e.reason, VEXIT_SLPT_FAULT);
            assert_int_equal(e.fault.gpa.v, 0xfffff000ULL | low);
            assert_int_equal(e.fault.read, !!(low & BIT(0)));
            assert_int_equal(e.fault.write, !!(low & BIT(1)));
            assert_int_equal(e.fault.fetch, !!(low & BIT(2)));
            assert_int_equal(e.fault.present, !!(low & (BIT(3) | BIT(4) | BIT(5))));
        }
}

/* Exceptions: the vector and the error-code-valid bit for every vector and
 * type; type 2 is an NMI, the host's. */
static void test_exception_info(void **state)
{
    for (u32 type = 0; type < 8; type++)
        for (u32 vector = 0; vector < 256; vector++)
            for (u32 err = 0; err < 2; err++) {
                struct vmx_exit_raw raw = {
                    .reason = 0, .qualification = 0xcafe000, .intr_info = INFO(type, vector, err), .intr_error = 0x1234
                };
                struct vcpu_exit e;
                translate(&raw, &e);
                if (type == 2) {
                    assert_int_equal(e.reason, VEXIT_EXTINT);
                    continue;
                }
                assert_int_equal(e.reason, VEXIT_EXCEPTION);
                assert_int_equal(e.exception.vector, vector);
                assert_int_equal(e.exception.has_error, err);
                assert_int_equal(e.exception.error, 0x1234);
                assert_int_equal(e.exception.address, 0xcafe000);
            }
}

/* Re-injection after an exit during event delivery (SDM 28.2.4, 27.6.1):
 * IDT-vectoring information has the exit interruption information's layout
 * (type 0 external interrupt, 2 NMI, 3 hardware exception, 4 software
 * interrupt, 5 privileged software exception, 6 software exception). */
static void test_reinjection_none(void **state)
{
    (void)state;
    /* Not valid: nothing, whatever the other fields hold. */
    struct vmx_entry_event ev = vmx_reinjection(0x00000b0e, 0x1234, 3);
    assert_int_equal(ev.info, 0);
    assert_int_equal(ev.error, 0);
    assert_int_equal(ev.insn_len, 0);
}

static void test_reinjection_hardware(void **state)
{
    (void)state;
    /* An external interrupt: vector and type, no length, no error code. */
    struct vmx_entry_event ev = vmx_reinjection(0x800000ec, 0xdead, 2);
    assert_int_equal(ev.info, 0x800000ec);
    assert_int_equal(ev.insn_len, 0);
    /* #PF with its error code. */
    ev = vmx_reinjection(0x80000b0e, 0x7, 3);
    assert_int_equal(ev.info, 0x80000b0e);
    assert_int_equal(ev.error, 0x7);
    assert_int_equal(ev.insn_len, 0);
    /* #GP(0): an error code of 0 is still delivered. */
    ev = vmx_reinjection(0x80000b0d, 0, 0);
    assert_int_equal(ev.info, 0x80000b0d);
    assert_int_equal(ev.error, 0);
    /* NMI. */
    ev = vmx_reinjection(0x80000202, 0, 1);
    assert_int_equal(ev.info, 0x80000202);
    assert_int_equal(ev.insn_len, 0);
}

static void test_reinjection_software(void **state)
{
    (void)state;
    /* INT3 (software exception 3, 1 byte), INTO (4, 1 byte), INT 0x80
     * (software interrupt, 2 bytes), INT1 (privileged software exception 1,
     * 1 byte): the length of the instruction goes with them. */
    struct vmx_entry_event ev = vmx_reinjection(0x80000603, 0, 1);
    assert_int_equal(ev.info, 0x80000603);
    assert_int_equal(ev.insn_len, 1);
    ev = vmx_reinjection(0x80000604, 0, 1);
    assert_int_equal(ev.insn_len, 1);
    ev = vmx_reinjection(0x80000480, 0, 2);
    assert_int_equal(ev.info, 0x80000480);
    assert_int_equal(ev.insn_len, 2);
    ev = vmx_reinjection(0x80000501, 0, 1);
    assert_int_equal(ev.info, 0x80000501);
    assert_int_equal(ev.insn_len, 1);
    /* With a prefix: the whole instruction. */
    ev = vmx_reinjection(0x80000421, 0, 3);
    assert_int_equal(ev.insn_len, 3);
}

/* Bit 12 of IDT-vectoring information is undefined and 30:13 reserved; the
 * VM-entry field must have them 0, for every vector and type. */
static void test_reinjection_bits(void **state)
{
    (void)state;
    for (u32 type = 0; type < 8; type++)
        for (u32 vector = 0; vector < 256; vector++)
            for (u32 err = 0; err < 2; err++) {
                u32 clean = INFO(type, vector, err);
                struct vmx_entry_event ev = vmx_reinjection(clean | 0x7ffff000u, 0x55, 7);
                assert_int_equal(ev.info, clean);
                assert_int_equal(ev.error, err ? 0x55 : 0);
                assert_int_equal(ev.insn_len, (type >= 4 && type <= 6) ? 7 : 0);
                assert_int_equal(vmx_intr_type_soft(clean), type >= 4 && type <= 6);
            }
}

static const struct CMUnitTest sweeps[] = {
    cmocka_unit_test(test_reinjection_none),
    cmocka_unit_test(test_reinjection_hardware),
    cmocka_unit_test(test_reinjection_software),
    cmocka_unit_test(test_reinjection_bits),
    cmocka_unit_test(test_unused_fields_ignored),
    cmocka_unit_test(test_unknown_reasons),
    cmocka_unit_test(test_entry_failures),
    cmocka_unit_test(test_flag_bits),
    cmocka_unit_test(test_cr_routes),
    cmocka_unit_test(test_io_bits),
    cmocka_unit_test(test_ept_bits),
    cmocka_unit_test(test_exception_info),
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
