/* The boot sequence of the hypervisor proper (kernel/init/main.c). */
#ifndef ISTHMUS_KERNEL_INIT_H
#define ISTHMUS_KERNEL_INIT_H

#include "kernel/core/bootinfo.h"

/* From arch/x86/entry.asm (hv_start), on the boot CPU, on the hypervisor's
 * own stack: brings the machine up and runs the shell. Never returns. */
__noreturn void hv_main(struct boot_info *bi);

#endif
