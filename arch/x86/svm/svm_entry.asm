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

%define R_RAX 0
%define R_RCX 8
%define R_RDX 16
%define R_RBX 24
%define R_RSP 32
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

global svm_vmrun
svm_vmrun:
    push rbx
    push rbp
    push r12
    push r13
    push r14
    push r15
    push rdx                    ; regs
    push rsi                    ; host VMCB
    push rdi                    ; guest VMCB

    mov rax, rsi
    vmsave                      ; host's hidden state -> host VMCB
    mov rax, rdi
    vmload                      ; guest's hidden state <- guest VMCB

    mov rax, rdx                ; load guest GPRs (RAX and RSP live in the VMCB)
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
    mov rax, [rsp]              ; guest VMCB
    vmrun

    ; Back in the host with the host's RSP: save the guest's GPRs.
    push rax                    ; scratch (guest RAX is in the VMCB already)
    mov rax, [rsp + 24]         ; regs
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
    pop rax

    pop rax                     ; guest VMCB
    vmsave                      ; guest's hidden state -> guest VMCB
    pop rax                     ; host VMCB
    vmload                      ; host's hidden state back (GS base: this_cpu())
    pop rdx
    pop r15
    pop r14
    pop r13
    pop r12
    pop rbp
    pop rbx
    ret

section .note.GNU-stack noalloc noexec nowrite progbits
