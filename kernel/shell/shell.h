/* The management shell on the serial console (prompt "isthmus> "). Commands are
 * registered anywhere with SHELL_COMMAND() (kernel/lib/shell_core.h). */
#ifndef ISTHMUS_KERNEL_SHELL_H
#define ISTHMUS_KERNEL_SHELL_H

#include "kernel/lib/types.h"

#define SHELL_PROMPT "isthmus> "

/* Runs the shell on this CPU forever. */
__noreturn void shell_run(void);
/* Runs one command line as if typed (used at boot for scripted commands). */
int shell_exec(char *line);
/* Work for CPU 0 while the shell waits for input: called on every wake-up
 * (each timer tick, 1 kHz) of the shell loop. */
void shell_set_idle_hook(void (*fn)(void));
/* Runs that work now: for commands that keep the shell for long (console),
 * so the heartbeat master and the reaping of powered-off partitions do not
 * wait for them to end. */
void shell_idle(void);

#endif
