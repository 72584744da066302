/* The VT-x exit translation as a pure function: vmx.c gathers the raw exit
 * fields from the VMCS into struct vmx_exit_raw, vmx_translate_exit() turns
 * them into struct vcpu_exit. It touches no hardware, so host unit tests
 * (tests/unit/test_vmx_exit.c) run it on the SDM's encodings. */
#ifndef ISTHMUS_ARCH_X86_VMX_VMX_EXIT_H
#define ISTHMUS_ARCH_X86_VMX_VMX_EXIT_H

#include "kernel/lib/types.h"
#include "arch/x86/vcpu.h"
#include "arch/x86/vmx/vmcs.h"

/* Everything the translation reads. The fields only some exits define hold
 * 0 for the others (vmx.c reads them only for those exits). */
struct vmx_exit_raw {
    u32 reason;        /* VMCS_EXIT_REASON: basic reason 15:0, VM-entry failure 31 */
    u64 qualification; /* VMCS_EXIT_QUALIFICATION */
    u32 insn_len;      /* VMCS_EXIT_INSN_LEN */
    u32 intr_info;     /* VMCS_EXIT_INTR_INFO: exception or NMI exits */
    u32 intr_error;    /* VMCS_EXIT_INTR_ERROR: exception or NMI exits */
    u64 guest_phys;    /* VMCS_GUEST_PHYSICAL_ADDRESS: EPT violations */
    u64 rcx;           /* the guest's RCX: the MSR that RDMSR / WRMSR name */
};

/* Where a translated exit goes. */
enum vmx_exit_route {
    VMX_ROUTE_CORE = 0,  /* to the core, as e */
    VMX_ROUTE_MOV_TO_CR, /* a MOV to CRn (e->cr), basic reason with no flag bits: vmx.c completes it
                          * itself when only VT-x's own CR0/CR4 bits made it exit, else e goes to the core */
};

/* Fills e (cleared first) from raw; no VMCS or other hardware access. */
enum vmx_exit_route vmx_translate_exit(const struct vmx_exit_raw *raw, struct vcpu_exit *e);

/* The event the next VM entry delivers again after an exit that cut its
 * delivery short: the three VM-entry fields to write. */
struct vmx_entry_event {
    u32 info;     /* VMCS_ENTRY_INTR_INFO; 0 when there is nothing to deliver */
    u32 error;    /* VMCS_ENTRY_EXCEPTION_ERROR: meaningful if info has VMX_INTR_ERR_VALID */
    u32 insn_len; /* VMCS_ENTRY_INSN_LEN: meaningful for the software types 4, 5 and 6 */
};

/* From the exit's IDT-vectoring information and error code and its
 * instruction length; no hardware access. */
struct vmx_entry_event vmx_reinjection(u32 idt_info, u32 idt_error, u32 exit_insn_len);

/* Whether an interruption type (VMX_INTR_TYPE_*) is a software one, whose
 * delivery needs the length of the instruction that raised it. */
static inline bool vmx_intr_type_soft(u32 info)
{
    u32 type = info & VMX_INTR_TYPE_MASK;
    return type == VMX_INTR_TYPE_SWINT || type == VMX_INTR_TYPE_PRIV || type == VMX_INTR_TYPE_SWEXC;
}

#endif
