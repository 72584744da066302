/* isthmus-hog: the "hangs" failure of the Linux failover tests and demo
 * (`isthmus-fail hang` in the initramfs, guest/linux/fail; docs/failover.md). One task per online CPU, pinned to
 * it, at the highest real-time priority, spinning forever. With the kernel's
 * real-time throttling turned off first (sched_rt_runtime_us = -1, which
 * isthmus-fail writes), nothing else in user space runs again: not the
 * service, not the shell, not the failover agent. The kernel itself still
 * takes interrupts and answers pings, which is what makes it a hang and not a
 * crash: only the missing heartbeats tell the hypervisor.
 *
 *   isthmus-hog        (never returns; reports on stdout before it starts)
 */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static void spin(int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    struct sched_param sp = { .sched_priority = sched_get_priority_max(SCHED_FIFO) };
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        fprintf(stderr, "isthmus-hog: cpu %d: sched_setaffinity: %s\n", cpu, strerror(errno));
    if (sched_setscheduler(0, SCHED_FIFO, &sp) != 0) {
        fprintf(stderr, "isthmus-hog: cpu %d: sched_setscheduler: %s\n", cpu, strerror(errno));
        _exit(1);
    }
    for (volatile unsigned long n = 0;; n++)
        ;
}

int main(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    printf("isthmus-hog: spinning at real-time priority %d on %ld CPU(s)\n",
           sched_get_priority_max(SCHED_FIFO), cpus);
    fflush(stdout);
    for (long cpu = 1; cpu < cpus; cpu++) {
        pid_t pid = fork();
        if (pid == 0)
            spin((int)cpu);
        if (pid < 0)
            fprintf(stderr, "isthmus-hog: fork: %s\n", strerror(errno));
    }
    spin(0);
    return 0;
}
