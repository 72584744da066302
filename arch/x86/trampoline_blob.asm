; The assembled trampoline, linked into the image as data to copy below 1 MiB.
section .rodata
global trampoline_start
global trampoline_end
trampoline_start:
    incbin "trampoline.bin"
trampoline_end:

section .note.GNU-stack noalloc noexec nowrite progbits
