; Entry into the hypervisor proper and the exception/interrupt entry stubs.
bits 64
default rel
section .text

extern hv_main
extern interrupt_dispatch

; hv_start(struct boot_info *bi /* rdi */, u64 stack_top /* rsi */)
; Leaves the firmware's stack (boot-services memory, about to be reused) for ours.
global hv_start
hv_start:
    cli
    mov rsp, rsi
    xor ebp, ebp
    push 0                      ; fake return address: stack traces end here
    jmp hv_main

; Every vector gets a stub that builds a struct int_frame (arch/x86/idt.h) and
; calls interrupt_dispatch(frame). Vectors without a CPU-pushed error code push 0.
%macro ISR 1
isr_%1:
%if (%1 == 8) || (%1 >= 10 && %1 <= 14) || (%1 == 17) || (%1 == 21) || (%1 == 29) || (%1 == 30)
%else
    push 0
%endif
    push %1
    jmp isr_common
%endmacro

%assign v 0
%rep 256
ISR v
%assign v v+1
%endrep

isr_common:
    push rax
    push rbx
    push rcx
    push rdx
    push rsi
    push rdi
    push rbp
    push r8
    push r9
    push r10
    push r11
    push r12
    push r13
    push r14
    push r15
    mov rdi, rsp
    cld
    ; Align the stack for the C ABI; the frame pointer keeps the old value.
    mov rbx, rsp
    and rsp, -16
    call interrupt_dispatch
    mov rsp, rbx
    pop r15
    pop r14
    pop r13
    pop r12
    pop r11
    pop r10
    pop r9
    pop r8
    pop rbp
    pop rdi
    pop rsi
    pop rdx
    pop rcx
    pop rbx
    pop rax
    add rsp, 16                 ; vector and error code
    iretq

; Absolute addresses need load-time relocation, so the table lives in
; relocatable data rather than .rodata.
section .data.rel.ro progbits alloc noexec write align=8
global isr_table
isr_table:
%assign v 0
%rep 256
    dq isr_ %+ v
%assign v v+1
%endrep

section .note.GNU-stack noalloc noexec nowrite progbits
