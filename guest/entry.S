/* Test guest entry: the PVH note, the 32-bit PVH entry that reaches long mode,
 * the real-mode trampoline for secondary vCPUs, and the interrupt stubs.
 *
 * Memory is identity-mapped (virtual = guest-physical) with 2 MiB pages for
 * the first 4 GiB, which covers the image, low memory for the trampoline, the
 * firmware's ACPI tables and the local APIC; mem.c maps anything above. */

#define GDT_CODE32 0x08
#define GDT_DATA   0x10
#define GDT_CODE64 0x18

#define CR0_PE   0x00000001
#define CR0_NW   0x20000000
#define CR0_CD   0x40000000
#define CR0_PG   0x80000000
#define CR4_PAE  0x00000020
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

/* Page-table entry bits (SDM Vol. 3A, 4.5 "4-level paging"). */
#define PTE_P    0x001      /* present */
#define PTE_RW   0x002      /* writable */
#define PTE_PWT  0x008      /* write-through  } with PWT: uncached (PAT entry 3) */
#define PTE_PCD  0x010      /* cache disable  } */
#define PTE_PS   0x080      /* 2 MiB page in a PD entry */

#define APIC_BASE 0xfee00000
#define STACK_SIZE 16384

/* ------------------------------------------------------------ the PVH note */
/* XEN_ELFNOTE_PHYS32_ENTRY: name "Xen", type 18, desc = the 32-bit entry.
 * The 4 zero bytes after the note are outside it (their own section, see the
 * linker script): QEMU's PVH loader reads the desc as a 64-bit value. */
    .section .note.Xen, "a"
    .p2align 2
    .long 4, 4, 18
    .asciz "Xen"
    .long pvh_entry
    .section .xen_note_pad, "a", @progbits
    .long 0

/* ------------------------------------------------------------ 32-bit entry */
    .section .text.entry, "ax"
    .code32
    .globl pvh_entry
pvh_entry:
    /* PVH: protected mode, paging off, flat segments, interrupts off,
     * EBX = struct hvm_start_info. */
    cli
    cld
    mov     %ebx, %esi
    lgdt    gdt_ptr
    ljmp    $GDT_CODE32, $1f
1:  mov     $GDT_DATA, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    mov     %eax, %fs
    mov     %eax, %gs

    /* The loader may or may not have zeroed .bss. */
    mov     $__bss_start, %edi
    mov     $__bss_end, %ecx
    sub     %edi, %ecx
    xor     %eax, %eax
    rep stosb
    mov     %esi, start_info
    mov     $bsp_stack + STACK_SIZE, %esp

    /* PML4[0] -> PDPT; PDPT[0..3] -> the four PDs; PD[i] = i * 2 MiB. */
    mov     $pdpt + PTE_P + PTE_RW, %eax
    mov     %eax, pml4
    mov     $pd + PTE_P + PTE_RW, %eax
    xor     %ecx, %ecx
2:  mov     %eax, pdpt(,%ecx,8)
    add     $4096, %eax
    inc     %ecx
    cmp     $4, %ecx
    jb      2b
    xor     %ecx, %ecx
3:  mov     %ecx, %eax
    shl     $21, %eax
    or      $PTE_P + PTE_RW + PTE_PS, %eax
    mov     %eax, pd(,%ecx,8)
    inc     %ecx
    cmp     $2048, %ecx
    jb      3b
    /* The local APIC's 2 MiB page uncached. */
    orl     $PTE_PCD + PTE_PWT, pd + (APIC_BASE >> 21) * 8

    call    enter_long_mode
    ljmp    $GDT_CODE64, $bsp_long

/* Shared by the BSP and the trampoline: PAE, our CR3, EFER.LME, paging. */
enter_long_mode:
    mov     %cr4, %eax
    or      $CR4_PAE, %eax
    mov     %eax, %cr4
    mov     $pml4, %eax
    mov     %eax, %cr3
    mov     $MSR_EFER, %ecx
    rdmsr
    or      $EFER_LME, %eax
    wrmsr
    mov     %cr0, %eax
    and     $~(CR0_CD | CR0_NW), %eax
    or      $CR0_PG | CR0_PE, %eax
    mov     %eax, %cr0
    ret

/* A secondary vCPU arrives here from the trampoline, in protected mode. */
ap_pm32:
    mov     $GDT_DATA, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    mov     %eax, %fs
    mov     %eax, %gs
    mov     $ap_boot_stack_top, %esp   /* only for the call below; see ap_long */
    call    enter_long_mode
    ljmp    $GDT_CODE64, $ap_long

    .code64
bsp_long:
    mov     $GDT_DATA, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    lea     bsp_stack + STACK_SIZE(%rip), %rsp
    xor     %ebp, %ebp
    mov     start_info(%rip), %edi
    call    tg_main
4:  cli
    hlt
    jmp     4b

/* Each secondary vCPU takes the next slot, and with it its own stack. Until
 * then they share ap_boot_stack, which only ever holds enter_long_mode's
 * return address: two vCPUs racing through it push the same value. */
ap_long:
    mov     $GDT_DATA, %eax
    mov     %eax, %ds
    mov     %eax, %es
    mov     %eax, %ss
    mov     $1, %eax
    lock xadd %eax, ap_next_slot(%rip)
    cmp     ap_slots(%rip), %eax
    jae     5f
    lea     ap_stack_tops(%rip), %rcx
    mov     (%rcx,%rax,8), %rsp
    xor     %ebp, %ebp
    mov     %eax, %edi
    call    ap_main
5:  cli
    hlt
    jmp     5b

/* ------------------------------------------------------------ trampoline */
/* Copied by smp.c to a page below 1 MiB; a SIPI starts the vCPU here in real
 * mode with CS = page >> 4, IP = 0. Position-independent: it only addresses
 * itself through CS and jumps to absolute addresses in the image. */
    .code16
    .globl trampoline_start, trampoline_end
trampoline_start:
    cli
    cld
    mov     %cs, %ax
    mov     %ax, %ds
    lgdtl   tramp_gdt_ptr - trampoline_start
    mov     %cr0, %eax
    or      $CR0_PE, %eax
    mov     %eax, %cr0
    ljmpl   $GDT_CODE32, $ap_pm32
    .p2align 2
tramp_gdt_ptr:
    .word   gdt_end - gdt - 1
    .long   gdt
trampoline_end:

/* ------------------------------------------------------------ interrupt stubs */
/* One 16-byte stub per vector: push a 0 error code where the CPU pushes none,
 * push the vector, join trap_common. trap.c finds stub v at trap_stubs + 16 v. */
    .code64
    .p2align 4
    .globl trap_stubs
trap_stubs:
    .set vec, 0
    .rept 256
    .p2align 4
    .if vec == 8 || (vec >= 10 && vec <= 14) || vec == 17 || vec == 21 || vec == 29 || vec == 30
    .else
    pushq   $0
    .endif
    pushq   $vec
    jmp     trap_common
    .set vec, vec + 1
    .endr

trap_common:
    push    %rax
    push    %rbx
    push    %rcx
    push    %rdx
    push    %rsi
    push    %rdi
    push    %rbp
    push    %r8
    push    %r9
    push    %r10
    push    %r11
    push    %r12
    push    %r13
    push    %r14
    push    %r15
    mov     %rsp, %rdi
    cld
    call    trap
    pop     %r15
    pop     %r14
    pop     %r13
    pop     %r12
    pop     %r11
    pop     %r10
    pop     %r9
    pop     %r8
    pop     %rbp
    pop     %rdi
    pop     %rsi
    pop     %rdx
    pop     %rcx
    pop     %rbx
    pop     %rax
    add     $16, %rsp
    iretq

/* ------------------------------------------------------------ data */
    .section .rodata
    .p2align 3
gdt:
    .quad 0
    .quad 0x00cf9a000000ffff        /* 0x08: 32-bit code, flat */
    .quad 0x00cf92000000ffff        /* 0x10: data, flat */
    .quad 0x00af9a000000ffff        /* 0x18: 64-bit code */
gdt_end:
gdt_ptr:
    .word gdt_end - gdt - 1
    .long gdt

    .data
    .p2align 2
    .globl ap_next_slot, ap_slots
ap_next_slot: .long 0               /* next secondary's slot (atomic) */
ap_slots:     .long 0               /* how many stacks smp.c prepared */

    .bss
    .p2align 12
    .globl pml4, pdpt, pd
pml4:   .skip 4096
pdpt:   .skip 4096
pd:     .skip 4 * 4096
    .globl bsp_stack, ap_stack_tops
bsp_stack: .skip STACK_SIZE
ap_boot_stack: .skip 64
ap_boot_stack_top:
    .p2align 3
ap_stack_tops: .skip 8 * 255
    .p2align 2
start_info: .skip 4

    .section .note.GNU-stack, "", @progbits
