; One guest entry on VT-x (SDM Vol. 3C ch. 26-27). VM exit restores the host's
; RSP and RIP from the VMCS, so HOST_RSP is written here, right before entry,
; with the stack as vmx_exit_point expects it; everything else in the host state
; was written once at set-up.
;
; int vmx_enter(struct vcpu_regs *regs /* rdi */, int launched /* esi */);
; Returns 0 after a VM exit, 1 when VMLAUNCH/VMRESUME itself failed (see
; VM-instruction error).

bits 64
default rel
section .text

%include "guest_regs.inc"
%define VMCS_HOST_RSP 0x6c14

global vmx_enter
global vmx_exit_point
vmx_enter:
    PUSH_CALLEE_SAVED
    push rdi                    ; regs, found at [rsp] after the exit

    mov rax, VMCS_HOST_RSP
    vmwrite rax, rsp

    mov eax, esi                ; launched?
    test eax, eax
    mov rax, rdi
    LOAD_GUEST_GPRS rax
    mov rax, [rax + R_RAX]      ; mov leaves the flags of `test` alone
    jnz .resume
    vmlaunch
    jmp .failed
.resume:
    vmresume
.failed:
    pop rdi
    POP_CALLEE_SAVED
    mov eax, 1
    ret

vmx_exit_point:
    push rax
    mov rax, [rsp + 8]          ; regs
    pop qword [rax + R_RAX]
    SAVE_GUEST_GPRS rax
    pop rdi
    POP_CALLEE_SAVED
    xor eax, eax
    ret

section .note.GNU-stack noalloc noexec nowrite progbits
