; Application-processor start-up code, assembled as a flat binary and copied to
; a page P below 1 MiB (SIPI vector = P >> 12). The page after it holds the
; parameters the boot CPU fills in (struct trampoline_data in smp.c); nothing in
; this page is patched, so it can be mapped read-only + executable.
; SDM Vol. 3A 9.9 (mode switching) and 8.4.4 (MP initialisation).

%define D_CR3      0x00
%define D_STACK    0x08
%define D_ENTRY    0x10
%define D_PERCPU   0x18
%define D_STARTED  0x20
%define D_GDTR     0x28   ; u16 limit, u32 base (linear)
%define D_FAR32    0x30   ; u32 offset, u16 selector
%define D_FAR64    0x38   ; u32 offset, u16 selector
%define D_GDT      0x40   ; null, code32, data32, code64

%define SEL_CODE32 0x08
%define SEL_DATA32 0x10

bits 16
org 0
start16:
    cli
    cld
    mov ax, cs
    add ax, 0x100             ; the data page, as a real-mode segment
    mov ds, ax
    xor ebx, ebx
    mov bx, ax
    shl ebx, 4                ; ebx = linear address of the data page, kept across mode switches
    o32 lgdt [D_GDTR]
    mov eax, cr0
    ; INIT leaves CR0.CD and NW as they were (SDM Vol. 3A 10.1.1, table 10-1),
    ; and firmware may have left an AP with its caches off: turn them on.
    and eax, ~((1 << 30) | (1 << 29))   ; CD, NW
    or eax, 1                 ; PE
    mov cr0, eax
    jmp dword far [D_FAR32]

bits 32
global_pm32:
    mov ax, SEL_DATA32
    mov ds, ax
    mov es, ax
    mov ss, ax
    mov eax, cr4
    or eax, (1 << 5)          ; PAE
    mov cr4, eax
    mov eax, [ebx + D_CR3]
    mov cr3, eax
    mov ecx, 0xc0000080       ; EFER
    rdmsr
    or eax, (1 << 8) | (1 << 11)   ; LME, NXE (the page tables use NX)
    wrmsr
    mov eax, cr0
    or eax, (1 << 31) | (1 << 16)  ; PG, WP
    mov cr0, eax
    jmp far [ebx + D_FAR64]

bits 64
global_lm64:
    mov ebx, ebx              ; zero-extend: upper halves are undefined after the switch
    mov rsp, [rbx + D_STACK]
    mov rdi, [rbx + D_PERCPU]
    mov rax, [rbx + D_ENTRY]
    ; From here the data page may be reused for the next AP.
    mov dword [rbx + D_STARTED], 1
    xor ebp, ebp
    push 0
    jmp rax

align 4
; Offsets the boot CPU needs to build the far pointers.
dd 0x50414d54                 ; "TMAP" marker
dd global_pm32
dd global_lm64
