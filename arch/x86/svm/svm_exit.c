/* SVM exit codes to struct vcpu_exit (see svm_exit.h): a pure function of the
 * raw exit fields. The encodings are vmcb.h's: APM Vol. 2 appendix C (exit
 * codes), 15.10.2 (IOIO EXITINFO1), 15.25.6 (nested page fault EXITINFO1) and
 * 15.33 (decode assists). Written for the subset QEMU's TCG offers too: no
 * NRIPS (instruction lengths then come from the exit kind), no decode assists. */
#include "arch/x86/svm/svm_exit.h"
#include "arch/x86/svm/vmcb.h"
#include "arch/x86/hw/vectors.h"
#include "arch/x86/vcpu.h"
#include "kernel/lib/string.h"

/* Lengths of the instructions whose exits we complete, for CPUs without NRIPS. */
static u64 fixed_len(u32 code)
{
    switch (code) {
    case SVM_EXIT_HLT: return 1;
    case SVM_EXIT_CPUID:
    case SVM_EXIT_MSR:
    case SVM_EXIT_INVD:
    case SVM_EXIT_WBINVD:
    case SVM_EXIT_PAUSE: return 2;
    case SVM_EXIT_VMMCALL:
    case SVM_EXIT_XSETBV:
    case SVM_EXIT_MONITOR:
    case SVM_EXIT_MWAIT: return 3;
    default: return 0;
    }
}

/* Exits that carry nothing beyond their reason. */
static const struct {
    u32 code;
    u8 reason;
} plain_exits[] = {
    { SVM_EXIT_INTR, VEXIT_EXTINT },
    { SVM_EXIT_NMI, VEXIT_EXTINT },
    { SVM_EXIT_SMI, VEXIT_EXTINT },
    { SVM_EXIT_HLT, VEXIT_HLT },
    { SVM_EXIT_CPUID, VEXIT_CPUID },
    { SVM_EXIT_VMMCALL, VEXIT_HYPERCALL },
    { SVM_EXIT_SHUTDOWN, VEXIT_TRIPLE_FAULT },
    { SVM_EXIT_INIT, VEXIT_INIT },
    { SVM_EXIT_VINTR, VEXIT_INTR_WINDOW },
    { SVM_EXIT_XSETBV, VEXIT_XSETBV },
    { SVM_EXIT_PAUSE, VEXIT_PAUSE },
    { SVM_EXIT_INVALID, VEXIT_INVALID_STATE },
};

void svm_translate_exit(const struct svm_exit_raw *raw, struct vcpu_exit *e)
{
    u32 code = (u32)raw->exitcode; /* TCG writes VMEXIT_INVALID as 0x00000000ffffffff */
    u64 i1 = raw->exitinfo1;
    memset(e, 0, sizeof(*e));
    e->vendor_code = raw->exitcode;
    e->insn_len = raw->nrips && raw->next_rip > raw->rip ? raw->next_rip - raw->rip : fixed_len(code);
    for (u32 i = 0; i < ARRAY_SIZE(plain_exits); i++)
        if (plain_exits[i].code == code) {
            e->reason = plain_exits[i].reason;
            return;
        }
    switch (code) {
    case SVM_EXIT_IOIO:
        e->reason = VEXIT_IO;
        e->io.port = (u16)(i1 >> SVM_IOIO_PORT_SHIFT);
        e->io.size = (i1 & SVM_IOIO_SZ32) ? 4 : (i1 & SVM_IOIO_SZ16) ? 2 : 1;
        e->io.in = i1 & SVM_IOIO_IN;
        e->io.string = i1 & SVM_IOIO_STR;
        e->io.rep = i1 & SVM_IOIO_REP;
        /* EXITINFO2 holds the next RIP for I/O intercepts even without NRIPS;
         * 15 bytes is the longest x86 instruction. */
        e->insn_len = raw->exitinfo2 > raw->rip && raw->exitinfo2 - raw->rip <= 15 ? raw->exitinfo2 - raw->rip : 0;
        break;
    case SVM_EXIT_MSR:
        e->reason = VEXIT_MSR;
        e->msr.index = (u32)raw->rcx;
        e->msr.write = i1 & SVM_MSR_WRITE;
        break;
    case SVM_EXIT_NPF:
        e->reason = VEXIT_SLPT_FAULT;
        e->fault.gpa = gpa(raw->exitinfo2);
        e->fault.present = i1 & SVM_NPF_PRESENT;
        e->fault.write = i1 & SVM_NPF_WRITE;
        e->fault.fetch = i1 & SVM_NPF_FETCH;
        e->fault.read = !e->fault.write && !e->fault.fetch;
        break;
    case SVM_EXIT_INVLPG:
        /* The operand's address only with decode assists (APM 15.33.4); else
         * the core decodes the instruction. */
        e->reason = VEXIT_INVLPG;
        e->invlpg.known = raw->decode_assists;
        e->invlpg.va = i1;
        break;
    default:
        if (code >= SVM_EXIT_EXCP_BASE && code < SVM_EXIT_EXCP_BASE + X86_NR_EXCEPTIONS) {
            e->reason = VEXIT_EXCEPTION;
            e->exception.vector = (u8)(code - SVM_EXIT_EXCP_BASE);
            e->exception.error = (u32)i1;
            e->exception.has_error = e->exception.vector == X86_EXC_PF;
            e->exception.address = raw->exitinfo2;
            break;
        }
        if (code < SVM_EXIT_CR0_WRITE + 16) {
            /* CRn reads 0x00-0x0f, writes 0x10-0x1f. With decode assists
             * EXITINFO1 bit 63 says MOV CR and bits 3:0 name the register. */
            e->reason = VEXIT_CR_ACCESS;
            e->cr.cr = code & 0xf;
            e->cr.write = code >= SVM_EXIT_CR0_WRITE;
            e->cr.gpr = raw->decode_assists && (i1 & SVM_CR_MOV) ? (s8)(i1 & SVM_CR_GPR_MASK) : -1;
            break;
        }
        e->reason = VEXIT_UNHANDLED;
        break;
    }
}
