; One guest entry on AMD-V (APM Vol. 2, 15.5). VMRUN saves and restores only part
; of the host state (RIP, RSP, RAX, CR0/3/4, EFER, RFLAGS, segment registers'
; visible parts, GDTR/IDTR) in the host save area; the rest (FS/GS/TR/LDTR
; hidden state, KernelGsBase, STAR/LSTAR/CSTAR/SFMASK, SYSENTER MSRs) moves with
; VMSAVE/VMLOAD, and the general-purpose registers other than RAX and RSP are
; ours to switch.
;
; void svm_vmrun(u64 guest_vmcb_pa /* rdi */, u64 host_vmcb_pa /* rsi */,
;                struct vcpu_regs *regs /* rdx */);
; Called with GIF clear (CLGI) so no interrupt lands between the loads and VMRUN.

bits 64
default rel
section .text

%include "guest_regs.inc"

global svm_vmrun
svm_vmrun:
    PUSH_CALLEE_SAVED
    push rdx                    ; regs
    push rsi                    ; host VMCB
    push rdi                    ; guest VMCB

    mov rax, rsi
    vmsave                      ; host's hidden state -> host VMCB
    mov rax, rdi
    vmload                      ; guest's hidden state <- guest VMCB

    mov rax, rdx                ; load guest GPRs (RAX and RSP live in the VMCB)
    LOAD_GUEST_GPRS rax
    mov rax, [rsp]              ; guest VMCB
    vmrun

    ; Back in the host with the host's RSP: save the guest's GPRs.
    push rax                    ; scratch (guest RAX is in the VMCB already)
    mov rax, [rsp + 24]         ; regs
    SAVE_GUEST_GPRS rax
    pop rax

    pop rax                     ; guest VMCB
    vmsave                      ; guest's hidden state -> guest VMCB
    pop rax                     ; host VMCB
    vmload                      ; host's hidden state back (GS base: this_cpu())
    pop rdx
    POP_CALLEE_SAVED
    ret

section .note.GNU-stack noalloc noexec nowrite progbits
