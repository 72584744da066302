/* isthmus-mm: memory-management workloads for shadow paging in a Linux
 * partition (tests/boot/test_linux_shadow.py, bench/linux_paging.py;
 * docs/paging.md). Each prints one line "isthmus-mm: NAME ... ns N" with
 * its figures, so the same run reads the same way under nested paging.
 *
 *   isthmus-mm pingpong N     two processes on CPU 0 pass a byte over pipes
 *                             N times (2N context switches between two
 *                             address spaces)
 *   isthmus-mm forkexec N     fork, exec /bin/true, wait: N times
 *   isthmus-mm touch MIB      map MIB MiB, write every page, check, unmap
 *   isthmus-mm threads T S    T threads, each writing then checking its own
 *                             pages for S seconds while moving itself to
 *                             another CPU every round; reports any page that
 *                             did not hold what its thread wrote
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u

static uint64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

static int pingpong(long n)
{
    int ab[2], ba[2];
    if (pipe(ab) || pipe(ba)) {
        perror("isthmus-mm: pipe");
        return 1;
    }
    char c = 0;
    /* Both on one CPU (the child inherits it): every hand-over is a context
     * switch between the two address spaces. */
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(0, &set);
    if (sched_setaffinity(0, sizeof(set), &set) != 0)
        perror("isthmus-mm: sched_setaffinity");
    uint64_t t0 = now_ns();
    pid_t pid = fork();
    if (pid < 0) {
        perror("isthmus-mm: fork");
        return 1;
    }
    if (pid == 0) {
        for (long i = 0; i < n; i++)
            if (read(ab[0], &c, 1) != 1 || write(ba[1], &c, 1) != 1)
                _exit(1);
        _exit(0);
    }
    for (long i = 0; i < n; i++) {
        if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1) {
            perror("isthmus-mm: pingpong");
            return 1;
        }
    }
    int st = 0;
    waitpid(pid, &st, 0);
    printf("isthmus-mm: pingpong rounds %ld switches %ld ns %llu\n", n, 2 * n, (unsigned long long)(now_ns() - t0));
    return WIFEXITED(st) && WEXITSTATUS(st) == 0 ? 0 : 1;
}

static int forkexec(long n)
{
    uint64_t t0 = now_ns();
    long failed = 0;
    for (long i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            execl("/bin/busybox", "true", (char *)NULL);
            _exit(127);
        }
        int st = 0;
        if (pid < 0 || waitpid(pid, &st, 0) < 0 || !WIFEXITED(st) || WEXITSTATUS(st) != 0)
            failed++;
    }
    printf("isthmus-mm: forkexec processes %ld failed %ld ns %llu\n", n, failed, (unsigned long long)(now_ns() - t0));
    return failed != 0;
}

static int touch(long mib)
{
    size_t len = (size_t)mib << 20;
    uint64_t t0 = now_ns();
    uint8_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        perror("isthmus-mm: mmap");
        return 1;
    }
    for (size_t off = 0; off < len; off += PAGE)
        *(volatile uint64_t *)(p + off) = off ^ 0x5a5a5a5a5a5a5a5aull;
    long bad = 0;
    for (size_t off = 0; off < len; off += PAGE)
        bad += *(volatile uint64_t *)(p + off) != (off ^ 0x5a5a5a5a5a5a5a5aull);
    munmap(p, len);
    printf("isthmus-mm: touch mib %ld pages %zu bad %ld ns %llu\n", mib, len / PAGE, bad,
           (unsigned long long)(now_ns() - t0));
    return bad != 0;
}

struct worker {
    pthread_t t;
    int id, ncpus;
    uint64_t deadline;
    long rounds, bad, moves;
};

#define WORKER_PAGES 64

/* Writes a pattern of its own into its pages, moves to the next CPU, and
 * checks them: a stale translation on either CPU shows as a wrong word. */
static void *work(void *arg)
{
    struct worker *w = arg;
    size_t len = WORKER_PAGES * PAGE;
    uint64_t *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
        w->bad = -1;
        return NULL;
    }
    int cpu = w->id % w->ncpus;
    while (now_ns() < w->deadline) {
        uint64_t tag = ((uint64_t)w->id << 48) | (uint64_t)w->rounds;
        for (size_t i = 0; i < len / sizeof(uint64_t); i += PAGE / sizeof(uint64_t) / 4)
            p[i] = tag ^ i;
        cpu = (cpu + 1) % w->ncpus;
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        if (sched_setaffinity(0, sizeof(set), &set) == 0)
            w->moves++;
        for (size_t i = 0; i < len / sizeof(uint64_t); i += PAGE / sizeof(uint64_t) / 4)
            w->bad += p[i] != (tag ^ i);
        /* Unmap and map again now and then: the kernel shoots down TLBs. */
        if (w->rounds % 8 == 7) {
            munmap(p, len);
            p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
            if (p == MAP_FAILED) {
                w->bad = -1;
                return NULL;
            }
        }
        w->rounds++;
    }
    munmap(p, len);
    return NULL;
}

static int threads(long n, long seconds)
{
    if (n < 1 || n > 64)
        return 2;
    struct worker w[64];
    int ncpus = (int)sysconf(_SC_NPROCESSORS_ONLN);
    uint64_t deadline = now_ns() + (uint64_t)seconds * 1000000000ull;
    for (long i = 0; i < n; i++) {
        w[i] = (struct worker){ .id = (int)i, .ncpus = ncpus > 0 ? ncpus : 1, .deadline = deadline };
        if (pthread_create(&w[i].t, NULL, work, &w[i])) {
            perror("isthmus-mm: pthread_create");
            return 1;
        }
    }
    long rounds = 0, bad = 0, moves = 0;
    for (long i = 0; i < n; i++) {
        pthread_join(w[i].t, NULL);
        rounds += w[i].rounds;
        moves += w[i].moves;
        bad += w[i].bad < 0 ? 1000000 : w[i].bad;
    }
    printf("isthmus-mm: threads %ld cpus %d rounds %ld moves %ld bad %ld\n", n, ncpus, rounds, moves, bad);
    return bad != 0;
}

int main(int argc, char **argv)
{
    if (argc >= 3 && !strcmp(argv[1], "pingpong"))
        return pingpong(atol(argv[2]));
    if (argc >= 3 && !strcmp(argv[1], "forkexec"))
        return forkexec(atol(argv[2]));
    if (argc >= 3 && !strcmp(argv[1], "touch"))
        return touch(atol(argv[2]));
    if (argc >= 4 && !strcmp(argv[1], "threads"))
        return threads(atol(argv[2]), atol(argv[3]));
    fprintf(stderr, "usage: isthmus-mm pingpong N | forkexec N | touch MIB | threads T SECONDS\n");
    return 2;
}
