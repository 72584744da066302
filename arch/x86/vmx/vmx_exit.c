/* VMX exit reasons to struct vcpu_exit (see vmx_exit.h): a pure function of
 * the raw exit fields. The encodings are vmcs.h's: SDM Vol. 3C appendix C
 * (basic exit reasons) and the exit-qualification tables 28-3, 28-5, 28-7. */
#include "arch/x86/vmx/vmx_exit.h"
#include "arch/x86/vmx/vmcs.h"
#include "arch/x86/vcpu.h"
#include "kernel/lib/string.h"

enum vmx_exit_route vmx_translate_exit(const struct vmx_exit_raw *raw, struct vcpu_exit *e)
{
    u32 reason = raw->reason;
    u64 q = raw->qualification;
    memset(e, 0, sizeof(*e));
    e->vendor_code = reason;
    e->insn_len = raw->insn_len;
    if (reason & VMX_EXIT_ENTRY_FAILED) {
        e->reason = VEXIT_INVALID_STATE;
        return VMX_ROUTE_CORE;
    }
    switch (reason & VMX_EXIT_BASIC_MASK) {
    /* A host interrupt, or the watchdog (the preemption timer): nothing for the guest. */
    case VMX_EXIT_EXTINT:
    case VMX_EXIT_PREEMPTION_TIMER: e->reason = VEXIT_EXTINT; break;
    case VMX_EXIT_EXCEPTION_NMI:
        if ((raw->intr_info & VMX_INTR_TYPE_MASK) == VMX_INTR_TYPE_NMI) { /* an NMI for the host */
            e->reason = VEXIT_EXTINT;
            break;
        }
        e->reason = VEXIT_EXCEPTION;
        e->exception.vector = (u8)raw->intr_info;
        e->exception.has_error = raw->intr_info & VMX_INTR_ERR_VALID;
        e->exception.error = raw->intr_error;
        e->exception.address = q; /* #PF: the linear address */
        break;
    case VMX_EXIT_CR_ACCESS: {
        /* LMSW is not emulated. */
        u32 type = VMX_CR_Q_TYPE(q);
        if (type == VMX_CR_LMSW) {
            e->reason = VEXIT_UNHANDLED;
            break;
        }
        e->reason = VEXIT_CR_ACCESS;
        e->cr.cr = (u8)VMX_CR_Q_CR(q);
        e->cr.write = type != VMX_CR_MOV_FROM;
        e->cr.clts = type == VMX_CR_CLTS;
        e->cr.gpr = type == VMX_CR_CLTS ? -1 : (s8)VMX_CR_Q_GPR(q);
        /* Only the plain exit reason: one with flag bits in 30:16 goes to the core. */
        if (type == VMX_CR_MOV_TO && reason == VMX_EXIT_CR_ACCESS)
            return VMX_ROUTE_MOV_TO_CR;
        break;
    }
    case VMX_EXIT_INVLPG:
        e->reason = VEXIT_INVLPG;
        e->invlpg.va = q;
        e->invlpg.known = true;
        break;
    case VMX_EXIT_TRIPLE_FAULT: e->reason = VEXIT_TRIPLE_FAULT; break;
    case VMX_EXIT_INIT: e->reason = VEXIT_INIT; break;
    case VMX_EXIT_SIPI:
        e->reason = VEXIT_SIPI;
        e->sipi.vector = (u8)q;
        break;
    case VMX_EXIT_INTR_WINDOW: e->reason = VEXIT_INTR_WINDOW; break;
    case VMX_EXIT_CPUID: e->reason = VEXIT_CPUID; break;
    case VMX_EXIT_HLT: e->reason = VEXIT_HLT; break;
    case VMX_EXIT_VMCALL: e->reason = VEXIT_HYPERCALL; break;
    case VMX_EXIT_IO:
        e->reason = VEXIT_IO;
        e->io.size = (u8)((q & VMX_IO_SIZE_MASK) + 1);
        e->io.in = q & VMX_IO_IN;
        e->io.string = q & VMX_IO_STRING;
        e->io.rep = q & VMX_IO_REP;
        e->io.port = (u16)(q >> VMX_IO_PORT_SHIFT);
        break;
    case VMX_EXIT_RDMSR:
    case VMX_EXIT_WRMSR:
        e->reason = VEXIT_MSR;
        e->msr.index = (u32)raw->rcx;
        e->msr.write = (reason & VMX_EXIT_BASIC_MASK) == VMX_EXIT_WRMSR;
        break;
    case VMX_EXIT_EPT_VIOLATION:
        e->reason = VEXIT_SLPT_FAULT;
        e->fault.gpa = gpa(raw->guest_phys);
        e->fault.read = q & VMX_EPT_READ;
        e->fault.write = q & VMX_EPT_WRITE;
        e->fault.fetch = q & VMX_EPT_FETCH;
        e->fault.present = q & VMX_EPT_PRESENT_MASK;
        break;
    case VMX_EXIT_XSETBV: e->reason = VEXIT_XSETBV; break;
    case VMX_EXIT_PAUSE: e->reason = VEXIT_PAUSE; break;
    default: e->reason = VEXIT_UNHANDLED; break;
    }
    return VMX_ROUTE_CORE;
}

/* SDM Vol. 3C 28.2.4 and 27.6.1: an exit during event delivery leaves the
 * event in the IDT-vectoring fields, and the VMM delivers it again through
 * the VM-entry ones. Only vector, type, error-code-valid and valid carry
 * over (bit 12 of the IDT-vectoring information is undefined, 30:13
 * reserved, and the VM-entry field's must be 0). A software interrupt or
 * exception (INT n, INT1, INT3, INTO) pushes a return address past its
 * instruction: the exit's instruction length is that instruction's
 * (28.2.5), and the entry needs it back, else the guest returns to the
 * wrong place (or the entry fails on a length of 0). */
struct vmx_entry_event vmx_reinjection(u32 idt_info, u32 idt_error, u32 exit_insn_len)
{
    struct vmx_entry_event ev = { 0, 0, 0 };
    if (!(idt_info & VMX_INTR_VALID))
        return ev;
    ev.info = idt_info & (VMX_INTR_VALID | VMX_INTR_ERR_VALID | VMX_INTR_TYPE_MASK | 0xffu);
    if (ev.info & VMX_INTR_ERR_VALID)
        ev.error = idt_error;
    if (vmx_intr_type_soft(ev.info))
        ev.insn_len = exit_insn_len;
    return ev;
}
