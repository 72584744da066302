/* isthmus-hb-agent: the failover agent of docs/failover.md for a stock Linux
 * partition, as a plain static program (no kernel module): it beats through
 * the heartbeat port (vmm/dev/hbport.c), which root may be given with
 * ioperm(), and runs a hook when it is told to change role.
 *
 *   isthmus-hb-agent [HOOK]
 *
 * HOOK (optional) is run as `HOOK primary|standby|none` before the agent acts
 * as the new role; its exit status is reported, and a primary beats to end the
 * takeover only after it returned. Lines for the operator go to stdout, one
 * write each ("isthmus-hb: ..."), so init may point it at /dev/kmsg.
 * Outside a failover group (interval 0) the agent says so and exits 0. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/io.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "vmm/hypercall_abi.h"

/* vmm/layout.h's LAYOUT_HB_PORT: the guest ABI, repeated here because the
 * agent builds against the guest side only (docs/failover.md lists it). */
#define HB_PORT          0x610
#define HB_PORT_COUNT    8
#define HB_PORT_BEAT     (HB_PORT + 0)
#define HB_PORT_INTERVAL (HB_PORT + 4)

static void say(const char *fmt, ...)
{
    char line[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(line, sizeof(line) - 1, fmt, ap);
    va_end(ap);
    if (n < 0)
        return;
    if ((size_t)n > sizeof(line) - 2)
        n = sizeof(line) - 2;
    line[n++] = '\n';
    ssize_t w = write(STDOUT_FILENO, line, (size_t)n);
    (void)w; /* nowhere to report a failing log */
}

static const char *role_name(uint32_t r)
{
    return r == HB_ROLE_PRIMARY ? "primary" : r == HB_ROLE_STANDBY ? "standby" : "none";
}

/* Runs the hook for a new role and waits for it. */
static void run_hook(const char *hook, uint32_t role)
{
    pid_t pid = fork();
    if (pid < 0) {
        say("isthmus-hb: cannot run %s: %s", hook, strerror(errno));
        return;
    }
    if (pid == 0) {
        execl(hook, hook, role_name(role), (char *)NULL);
        say("isthmus-hb: cannot run %s: %s", hook, strerror(errno));
        _exit(127);
    }
    int st;
    while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
        ;
    say("isthmus-hb: hook %s %s: exit %d", hook, role_name(role), WIFEXITED(st) ? WEXITSTATUS(st) : -1);
}

static uint32_t beat(uint32_t role)
{
    outl(role, HB_PORT_BEAT);
    return inl(HB_PORT_BEAT);
}

int main(int argc, char **argv)
{
    const char *hook = argc > 1 ? argv[1] : NULL;
    if (ioperm(HB_PORT, HB_PORT_COUNT, 1) < 0) {
        say("isthmus-hb: ioperm(0x%x): %s (the agent must run as root)", HB_PORT, strerror(errno));
        return 1;
    }
    uint32_t interval = inl(HB_PORT_INTERVAL);
    if (interval == 0 || interval == 0xffffffffu) {
        say("isthmus-hb: this partition is in no failover group; nothing to do");
        return 0;
    }
    /* Half the interval: a beat is missed only when more than half an
     * interval overdue, and this process may be scheduled late. */
    const struct timespec period = { interval / 2 / 1000, (long)(interval / 2 % 1000) * 1000000L };
    uint32_t role = HB_ROLE_NONE;
    say("isthmus-hb: beating every %u ms (interval %u ms)", interval / 2, interval);
    for (;;) {
        uint32_t told = beat(role);
        if (told > HB_ROLE_STANDBY) {
            say("isthmus-hb: the heartbeat port answered %u; stopping", told);
            return 1;
        }
        if (told != role) {
            say("isthmus-hb: role %s -> %s", role_name(role), role_name(told));
            if (hook)
                run_hook(hook, told);
            role = told;
            if (role == HB_ROLE_PRIMARY) {
                beat(role); /* ends the takeover (docs/failover.md) */
                say("isthmus-hb: serving as primary");
            }
        }
        nanosleep(&period, NULL);
    }
}
