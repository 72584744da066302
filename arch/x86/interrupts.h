/* Interrupt and exception dispatch. */
#ifndef ISTHMUS_ARCH_X86_INTERRUPTS_H
#define ISTHMUS_ARCH_X86_INTERRUPTS_H

#include "kernel/lib/types.h"

/* What arch/x86/entry.asm pushes, lowest address first. */
struct int_frame {
    u64 r15, r14, r13, r12, r11, r10, r9, r8, rbp, rdi, rsi, rdx, rcx, rbx, rax;
    u64 vector, error;
    u64 rip, cs, rflags, rsp, ss;
};

/* Interrupt vectors the hypervisor uses. */
#define VEC_TIMER    0x20
#define VEC_WAKE     0xf0 /* IPI: look at your work mailbox */
#define VEC_SPURIOUS 0xff

typedef void (*irq_handler_fn)(struct int_frame *f);

/* Every vector's entry stub (entry.asm) calls this with the saved frame. */
void interrupt_dispatch(struct int_frame *f);
void irq_register(u8 vector, irq_handler_fn fn);

#endif
