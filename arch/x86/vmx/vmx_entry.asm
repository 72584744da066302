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

%define R_RAX 0
%define R_RCX 8
%define R_RDX 16
%define R_RBX 24
%define R_RBP 40
%define R_RSI 48
%define R_RDI 56
%define R_R8  64
%define R_R9  72
%define R_R10 80
%define R_R11 88
%define R_R12 96
%define R_R13 104
%define R_R14 112
%define R_R15 120
%define VMCS_HOST_RSP 0x6c14

global vmx_enter
global vmx_exit_point
vmx_enter:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    push rdi                    ; regs, found at [rsp] after the exit

    mov rax, VMCS_HOST_RSP
    vmwrite rax, rsp

    mov eax, esi                ; launched?
    test eax, eax
    mov rax, rdi
    mov rcx, [rax + R_RCX]
    mov rdx, [rax + R_RDX]
    mov rbx, [rax + R_RBX]
    mov rbp, [rax + R_RBP]
    mov rsi, [rax + R_RSI]
    mov rdi, [rax + R_RDI]
    mov r8,  [rax + R_R8]
    mov r9,  [rax + R_R9]
    mov r10, [rax + R_R10]
    mov r11, [rax + R_R11]
    mov r12, [rax + R_R12]
    mov r13, [rax + R_R13]
    mov r14, [rax + R_R14]
    mov r15, [rax + R_R15]
    mov rax, [rax + R_RAX]      ; mov leaves the flags of `test` alone
    jnz .resume
    vmlaunch
    jmp .failed
.resume:
    vmresume
.failed:
    pop rdi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    mov eax, 1
    ret

vmx_exit_point:
    push rax
    mov rax, [rsp + 8]          ; regs
    pop qword [rax + R_RAX]
    mov [rax + R_RCX], rcx
    mov [rax + R_RDX], rdx
    mov [rax + R_RBX], rbx
    mov [rax + R_RBP], rbp
    mov [rax + R_RSI], rsi
    mov [rax + R_RDI], rdi
    mov [rax + R_R8],  r8
    mov [rax + R_R9],  r9
    mov [rax + R_R10], r10
    mov [rax + R_R11], r11
    mov [rax + R_R12], r12
    mov [rax + R_R13], r13
    mov [rax + R_R14], r14
    mov [rax + R_R15], r15
    pop rdi
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    xor eax, eax
    ret

section .note.GNU-stack noalloc noexec nowrite progbits
