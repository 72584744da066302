/* Benchmark of the inter-partition NIC data path (net/), built for the host.
 * Not a test: it measures, and fails only when the data path lost something.
 *
 * Two partitions, A and B (bench/driver.h: guest memory on the heap, the
 * hypervisor's real NIC and switch code, a virtio-net driver written here),
 * on the same access VLAN with no rate limits. A sends to B.
 *
 * Timed mode (the default), --seconds per frame size (64, 1500 and 65536
 * bytes, or --size):
 *  - thread 1 is A's driver AND the data path, as in Isthmus, where the
 *    transmit pass runs on the sender's CPU inside its kick: it posts --batch
 *    frames, kicks only when the device asked (EVENT_IDX), reclaims what was
 *    sent, runs the retries the data path asks for when due, and waits for a
 *    transmit interrupt when its ring is full;
 *  - thread 2 is B's driver, NAPI style: up to 64 frames at a time, the first
 *    cache line of each read, buffers given back with a kick when the device
 *    asked; with nothing left it asks for an interrupt and waits for it;
 *  - pinned to two CPUs when the process has two.
 * Before each size, one core copies frames of that size from A's transmit
 * slots into B's receive slots, the very copy the data path makes over the
 * same memory, with the C library's memcpy and with the hypervisor's
 * (kernel/lib/string.c); the data path's byte rate is printed as a ratio of each.
 * A short warm-up is not measured.
 *
 * --single: one thread alternately sends a batch and receives it, for a fixed
 * --frames count: no timing in the loop, so callgrind's counts repeat
 * (bench/callgrind.sh). */
#define _GNU_SOURCE
#include <getopt.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench/driver.h"
#include "bench/stubs.h"

/* The hypervisor's own copy routine (kernel/lib/string.c, renamed by bench.mk so
 * that it replaces nothing of the C library's). */
void *hv_memcpy(void *dst, const void *src, size_t n);

#ifndef BENCH_DP_COPY
#define BENCH_DP_COPY "?" /* what the data path copies with (bench.mk) */
#endif

#define NAPI_BUDGET 64 /* frames the receiver takes before looking again */
#define WARMUP_NS   200000000ULL

static struct {
    double seconds;      /* data path, per size */
    double copy_seconds; /* each copy baseline, per size */
    bool single;
    u64 frames; /* --single */
    u32 sizes[8], nsizes;
    u32 batch; /* frames the sender posts per look at the device's wishes */
    u32 rx_offset;
    int cpu[2]; /* sender, receiver; -1: not pinned */
} opt = { 2.0, -1, false, 100000, { 64, 1500, 65536 }, 3, 64, 0, { -1, -1 } };

static struct part part[2];
#define A (&part[0]) /* sends */
#define B (&part[1]) /* receives */

static void pin(int cpu)
{
    if (cpu < 0)
        return;
    cpu_set_t s;
    CPU_ZERO(&s);
    CPU_SET(cpu, &s);
    if (pthread_setaffinity_np(pthread_self(), sizeof(s), &s))
        die("cannot pin a thread to CPU %d", cpu);
}

/* ---------------------------------------------------------------- set-up per frame size */

/* A fresh switch, both NICs up, and the switch taught where B is: B sends A
 * one frame, as a station answering ARP would. Without it every frame to B
 * would be an unknown unicast, flooded (and a flood is dropped, not held, at
 * a full receiver). */
static void setup(u32 size)
{
    /* Default ageing, unlimited link, the largest MTU: 64 KiB frames pass. */
    net_init(0, 0, VIRTIO_NET_MTU_MAX, now_ns());
    part_attach(A, 1);
    part_attach(B, 2);
    part_buffers(A, size, opt.rx_offset, B->mac);
    part_buffers(B, size, opt.rx_offset, A->mac);
    part_start(A);
    part_start(B);

    struct tx_stats ts = { 0 };
    struct rx_stats rs = { 0 };
    tx_send(B, 1, &ts);
    if (rx_poll(A, 1, &rs) != 1 || rs.bad)
        die("the first frame (B to A) did not arrive");
    tx_reclaim(B);
    if (net.sw.stats.learned != 1 || net.sw.stats.flooded != 1)
        die("the switch did not learn B's address");
}

static void teardown(void)
{
    net_disconnect(&A->nic); /* the partitions stop */
    net_disconnect(&B->nic);
}

/* ---------------------------------------------------------------- the copy baseline */

typedef void *(*copy_fn)(void *dst, const void *src, size_t n);

/* One core copying size bytes from each of A's transmit frames into each of
 * B's receive buffers, the copy the data path makes, over the same memory. */
static double copy_rate(copy_fn copy, u32 size, double seconds)
{
    u8 *dst[RING];
    const u8 *src[RING];
    const u32 nbuf = bench_buffers;
    for (u16 i = 0; i < nbuf; i++) {
        dst[i] = (u8 *)part_host(B, part_rx_slot(B, i)) + HDR;
        src[i] = (const u8 *)part_host(A, part_tx_slot(A, i)) + HDR;
    }
    u32 rounds = MAX(1u, (u32)(MiB(1) / ((u64)nbuf * size))); /* between looks at the clock */
    u64 bytes = 0, t0 = 0, deadline = 0;
    for (int warm = 1;; warm = 0) {
        for (u32 r = 0; r < rounds; r++)
            for (u16 i = 0; i < nbuf; i++)
                copy(dst[i], src[i], size);
        __asm__ volatile("" ::: "memory");
        u64 t = now_ns();
        if (warm) {
            t0 = t;
            deadline = t + (u64)(seconds * 1e9);
            continue;
        }
        bytes += (u64)rounds * nbuf * size;
        if (t >= deadline)
            return (double)bytes * 1e9 / (double)(t - t0);
    }
}

/* ---------------------------------------------------------------- the two CPUs' distance */

/* Nanoseconds for a cache line to go from the sender's CPU to the receiver's
 * and back: what every index the two threads share costs when it changes
 * hands. Printed with the results: on a virtual machine it depends on where
 * the host put the two vCPUs, and moves the two-thread figures with it. */
static u64 pingpong __aligned(64);

static void *pong(void *arg)
{
    pin(opt.cpu[1]);
    for (u64 i = 1; i < (u64)(uintptr_t)arg; i += 2) {
        while (__atomic_load_n(&pingpong, __ATOMIC_ACQUIRE) != i)
            cpu_relax();
        __atomic_store_n(&pingpong, i + 1, __ATOMIC_RELEASE);
    }
    return NULL;
}

static double round_trip_ns(void)
{
    const u64 trips = 100000;
    cpu_set_t all;
    sched_getaffinity(0, sizeof(all), &all);
    pin(opt.cpu[0]);
    pingpong = 0;
    pthread_t t;
    if (pthread_create(&t, NULL, pong, (void *)(uintptr_t)(2 * trips)))
        die("pthread_create");
    u64 t0 = now_ns();
    for (u64 i = 0; i < 2 * trips; i += 2) {
        __atomic_store_n(&pingpong, i + 1, __ATOMIC_RELEASE);
        while (__atomic_load_n(&pingpong, __ATOMIC_ACQUIRE) != i + 2)
            cpu_relax();
    }
    u64 t1 = now_ns();
    pthread_join(t, NULL);
    sched_setaffinity(0, sizeof(all), &all);
    return (double)(t1 - t0) / (double)trips;
}

/* ---------------------------------------------------------------- runs */

struct result {
    u32 size;
    double seconds;            /* measured */
    u64 frames, bytes;         /* received */
    u64 tx_kicks, rx_kicks;    /* notifies the devices counted */
    u64 tx_irqs, rx_irqs;      /* MSI-X messages they sent */
    double copy_libc, copy_hv; /* bytes/s */
    /* over the whole run */
    u64 run_frames;
    u64 drops, bad, lost_irqs, held, timer_runs, rx_sleeps, tx_sleeps, flooded, congestion;
};

struct snap {
    u64 t, frames, bytes, tx_kicks, rx_kicks, tx_irqs, rx_irqs;
};

static struct rx_stats rxs __aligned(64);
static struct tx_stats txs __aligned(64);
static volatile int stop;

static struct snap snapshot(void)
{
    return (struct snap){
        now_ns(),
        __atomic_load_n(&rxs.frames, __ATOMIC_RELAXED),
        __atomic_load_n(&rxs.bytes, __ATOMIC_RELAXED),
        __atomic_load_n(&A->nic.stats.notifies, __ATOMIC_RELAXED),
        __atomic_load_n(&B->nic.stats.notifies, __ATOMIC_RELAXED),
        __atomic_load_n(&A->nic.stats.interrupts, __ATOMIC_RELAXED),
        __atomic_load_n(&B->nic.stats.interrupts, __ATOMIC_RELAXED),
    };
}

/* What happened between two snapshots. */
static void measured(struct result *r, const struct snap *s0, const struct snap *s1)
{
    r->seconds = (double)(s1->t - s0->t) / 1e9;
    r->frames = s1->frames - s0->frames;
    r->bytes = s1->bytes - s0->bytes;
    r->tx_kicks = s1->tx_kicks - s0->tx_kicks;
    r->rx_kicks = s1->rx_kicks - s0->rx_kicks;
    r->tx_irqs = s1->tx_irqs - s0->tx_irqs;
    r->rx_irqs = s1->rx_irqs - s0->rx_irqs;
}

static void *sender(void *arg)
{
    pin(opt.cpu[0]);
    while (!stop) {
        tx_reclaim(A);
        tx_timer(A, &txs);
        if (!A->tx.nfree)
            tx_wait(A, &txs, &stop);
        else
            tx_send(A, opt.batch, &txs);
    }
    return arg;
}

static void *receiver(void *arg)
{
    pin(opt.cpu[1]);
    while (!stop)
        if (!rx_poll(B, NAPI_BUDGET, &rxs))
            rx_wait(B, &rxs, &stop);
    return arg;
}

static void run_timed(struct result *r)
{
    pthread_t t[2];
    stop = 0;
    if (pthread_create(&t[1], NULL, receiver, NULL) || pthread_create(&t[0], NULL, sender, NULL))
        die("pthread_create");
    struct timespec warm = { 0, (long)WARMUP_NS };
    nanosleep(&warm, NULL);
    struct snap s0 = snapshot();
    struct timespec run = { (time_t)opt.seconds, (long)((opt.seconds - (double)(time_t)opt.seconds) * 1e9) };
    nanosleep(&run, NULL);
    struct snap s1 = snapshot();
    stop = 1;
    pthread_join(t[0], NULL);
    pthread_join(t[1], NULL);
    measured(r, &s0, &s1);
}

/* One thread: send a batch (the transmit pass runs inside the kick), take
 * what arrived, and again, until opt.frames have arrived. */
static void run_single(struct result *r)
{
    struct snap s0 = snapshot();
    u64 idle = 0;
    while (rxs.frames < opt.frames) {
        tx_reclaim(A);
        tx_timer(A, &txs);
        u32 sent = tx_send(A, (u32)MIN((u64)opt.batch, opt.frames - txs.posted), &txs);
        u32 got = 0, n;
        while ((n = rx_poll(B, NAPI_BUDGET, &rxs)))
            got += n;
        if (got)
            rx_arm(B); /* drained: interrupts on, as a NAPI poll that completes */
        idle = sent || got ? 0 : idle + 1;
        if (idle > 100000000)
            die("--single: no progress after %llu frames", (unsigned long long)rxs.frames);
    }
    struct snap s1 = snapshot();
    measured(r, &s0, &s1);
}

static u64 sum(const u64 *v, u32 n)
{
    u64 s = 0;
    for (u32 i = 0; i < n; i++)
        s += v[i];
    return s;
}

static void run_size(u32 size, struct result *r)
{
    memset(r, 0, sizeof(*r));
    r->size = size;
    setup(size);
    memset(&rxs, 0, sizeof(rxs));
    memset(&txs, 0, sizeof(txs));

    if (opt.single) {
        run_single(r);
    } else {
        /* The copies on the sender's CPU, then the main thread lets go of it. */
        cpu_set_t all;
        sched_getaffinity(0, sizeof(all), &all);
        pin(opt.cpu[0]);
        if (opt.copy_seconds > 0) {
            r->copy_libc = copy_rate(memcpy, size, opt.copy_seconds);
            r->copy_hv = copy_rate(hv_memcpy, size, opt.copy_seconds);
        }
        sched_setaffinity(0, sizeof(all), &all);
        run_timed(r);
    }

    /* The whole run, now that nothing runs. */
    r->drops = sum(A->nic.stats.tx.drops, VNET_DROP_COUNT) + sum(B->nic.stats.rx.drops, VNET_DROP_COUNT);
    r->run_frames = rxs.frames;
    r->bad = rxs.bad;
    r->lost_irqs = rxs.lost_irqs + txs.lost_irqs;
    r->held = A->nic.stats.held_full;
    r->timer_runs = txs.timer_runs;
    r->rx_sleeps = rxs.sleeps;
    r->tx_sleeps = txs.sleeps;
    r->flooded = net.sw.stats.flooded - 1; /* but the frame that taught the switch */
    r->congestion = B->nic.stats.congestion;
    teardown();
}

/* ---------------------------------------------------------------- output */

static double per_k(u64 n, u64 frames) { return frames ? 1000.0 * (double)n / (double)frames : 0; }
static double gbit(double bytes_per_s) { return bytes_per_s * 8 / 1e9; }

/* 0 for a baseline that was not measured (--copy-seconds 0). */
static double of(double rate, double baseline) { return baseline > 0 ? rate / baseline : 0; }

static void cpu_model(char *buf, size_t len)
{
    snprintf(buf, len, "unknown CPU");
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f)
        return;
    char line[256];
    while (fgets(line, sizeof(line), f)) {
        char *colon = strchr(line, ':');
        if (!strncmp(line, "model name", 10) && colon) {
            snprintf(buf, len, "%s", colon + 2);
            buf[strcspn(buf, "\n")] = 0;
            break;
        }
    }
    fclose(f);
}

static void print_header(void)
{
    char cpu[128];
    cpu_model(cpu, sizeof(cpu));
    printf("Isthmus NIC data path on the host (the data path copies with %s)\n", BENCH_DP_COPY);
    printf("%s, %d CPUs; ", cpu, bench_ncpus);
    if (opt.single)
        printf("one thread (--single), %llu frames per size", (unsigned long long)opt.frames);
    else if (opt.cpu[0] >= 0)
        printf("sender + data path on CPU %d, receiver on CPU %d (a cache line's round trip between them: %.0f ns),\n"
               "%.1f s per size",
               opt.cpu[0], opt.cpu[1], round_trip_ns(), opt.seconds);
    else
        printf("threads not pinned, %.1f s per size", opt.seconds);
    printf("; ring %u, batch %u%s", RING, opt.batch, opt.rx_offset ? ", receive buffers offset" : "");
    if (bench_buffers != RING)
        printf(", %u buffers each side", bench_buffers);
    if (bench_rx_buf)
        printf(", receive buffers of %u bytes (mergeable)", bench_rx_buf);
    printf("\n\n");
}

static void print_results(const struct result *res, u32 n)
{
    if (!opt.single) {
        printf("Throughput (frame bytes without the virtio-net header), and one core's memcpy of the same\n"
               "sizes between the same buffers: C library (libc) and the hypervisor's (hv, kernel/lib/string.c)\n\n");
        printf("%7s %12s %9s %9s | %11s %7s | %11s %7s\n", "frame B", "frames/s", "Gbit/s", "ns/frame", "libc Gbit/s",
               "ratio", "hv Gbit/s", "ratio");
        for (u32 i = 0; i < n; i++) {
            const struct result *r = &res[i];
            double bps = (double)r->bytes / r->seconds, fps = (double)r->frames / r->seconds;
            printf("%7u %12.0f %9.2f %9.1f | %11.2f %7.3f | %11.2f %7.3f\n", r->size, fps, gbit(bps),
                   fps ? 1e9 / fps : 0, gbit(r->copy_libc), of(bps, r->copy_libc), gbit(r->copy_hv),
                   of(bps, r->copy_hv));
        }
        printf("\n");
    }
    printf("Exits-equivalent events per 1,000 frames%s: guest kicks (trapped notify writes)\n"
           "and MSI-X interrupts sent, transmit (tx) and receive (rx) queue\n\n",
           opt.single ? "" : ", over the measured window");
    printf("%7s %9s %9s %9s %9s\n", "frame B", "tx kicks", "rx kicks", "rx irqs", "tx irqs");
    for (u32 i = 0; i < n; i++) {
        const struct result *r = &res[i];
        printf("%7u %9.2f %9.2f %9.2f %9.2f\n", r->size, per_k(r->tx_kicks, r->frames), per_k(r->rx_kicks, r->frames),
               per_k(r->rx_irqs, r->frames), per_k(r->tx_irqs, r->frames));
    }
    printf("\nWhole run%s: frames received; lost (dropped, bad, flooded, interrupts lost: all should be 0);\n"
           "times the sender was held for a full receiver, retry timer runs, frames that found the\n"
           "receiver congested (under a quarter of its buffers left), the drivers' waits for an interrupt\n\n",
           opt.single ? "" : " (warm-up included)");
    printf("%7s %10s %8s %6s %6s %6s %8s %8s %10s %9s %9s\n", "frame B", "frames", "dropped", "bad", "flood", "lost",
           "held", "timer", "congested", "rx waits", "tx waits");
    for (u32 i = 0; i < n; i++) {
        const struct result *r = &res[i];
        printf("%7u %10llu %8llu %6llu %6llu %6llu %8llu %8llu %10llu %9llu %9llu\n", r->size,
               (unsigned long long)r->run_frames, (unsigned long long)r->drops, (unsigned long long)r->bad,
               (unsigned long long)r->flooded, (unsigned long long)r->lost_irqs, (unsigned long long)r->held,
               (unsigned long long)r->timer_runs, (unsigned long long)r->congestion, (unsigned long long)r->rx_sleeps,
               (unsigned long long)r->tx_sleeps);
    }
    if (!opt.single)
        return;
    printf("\n");
    for (u32 i = 0; i < n; i++)
        printf("%u-byte frames: %.1f ns per frame, both drivers and the data path on one core\n", res[i].size,
               1e9 * res[i].seconds / (double)res[i].frames);
}

/* ---------------------------------------------------------------- main */

static void usage(void)
{
    printf("usage: net_bench [--seconds S] [--size BYTES]... [--batch N] [--rx-offset N] [--rx-buf BYTES]\n"
           "                 [--buffers N] [--cpus S,R]\n"
           "       net_bench --single [--frames N] [--size BYTES]... [--batch N]\n"
           "  --seconds S     measure the data path S seconds per size (2); each copy baseline S/2\n"
           "  --size BYTES    frame size, 60..65536, repeatable (64, 1500 and 65536)\n"
           "  --batch N       frames the sender posts between looks at the device's wishes (64)\n"
           "  --rx-offset N   start receive buffers N bytes later (0..63), e.g. 4 so that the\n"
           "                  source and destination of the copy differ in alignment\n"
           "  --rx-buf BYTES  receive buffers of BYTES (64..65600), mergeable (VIRTIO_NET_F_MRG_RXBUF):\n"
           "                  a frame spans as many as it takes, as with Linux's or DPDK's drivers\n"
           "                  (default: one buffer of exactly one frame; no copy baseline with it)\n"
           "  --buffers N     transmit slots and posted receive buffers in use, 1..%u (%u): fewer\n"
           "                  keep the frames' memory in the caches, as DPDK's mempool cache does\n"
           "  --cpus S,R      the sender's and the receiver's CPU (the first two allowed)\n"
           "  --copy-seconds S  each copy baseline S seconds (--seconds / 2); 0 skips them\n"
           "  --single        one thread, a fixed number of frames (for callgrind)\n"
           "  --frames N      frames per size with --single (100000)\n",
           RING, RING);
}

static u64 number(const char *s, u64 min, u64 max, const char *what)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);
    if (!*s || *end || v < min || v > max)
        die("%s: %s is not in %llu..%llu", what, s, (unsigned long long)min, (unsigned long long)max);
    return v;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        { "seconds", required_argument, NULL, 't' }, { "size", required_argument, NULL, 's' },
        { "batch", required_argument, NULL, 'b' },   { "rx-offset", required_argument, NULL, 'o' },
        { "cpus", required_argument, NULL, 'c' },    { "single", no_argument, NULL, '1' },
        { "frames", required_argument, NULL, 'n' },  { "copy-seconds", required_argument, NULL, 'C' },
        { "rx-buf", required_argument, NULL, 'r' },  { "buffers", required_argument, NULL, 'B' },
        { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
    };
    bool sized = false;
    for (int c; (c = getopt_long(argc, argv, "", longopts, NULL)) != -1;) {
        switch (c) {
        case 't':
            opt.seconds = strtod(optarg, NULL);
            if (!(opt.seconds > 0 && opt.seconds <= 3600))
                die("--seconds: %s is not in (0, 3600]", optarg);
            break;
        case 's':
            if (!sized)
                opt.nsizes = 0;
            sized = true;
            if (opt.nsizes == ARRAY_SIZE(opt.sizes))
                die("too many --size");
            /* 60: an Ethernet minimum without FCS; 65536: the largest frame
             * the device takes (VNET_MAX_FRAME less a tag's room). */
            opt.sizes[opt.nsizes++] = (u32)number(optarg, 60, 65536, "--size");
            break;
        case 'b': opt.batch = (u32)number(optarg, 1, RING, "--batch"); break;
        case 'o': opt.rx_offset = (u32)number(optarg, 0, 63, "--rx-offset"); break;
        case 'r': bench_rx_buf = (u32)number(optarg, 64, 65536 + 64, "--rx-buf"); break;
        case 'B': bench_buffers = (u32)number(optarg, 1, RING, "--buffers"); break;
        case 'c':
            if (sscanf(optarg, "%d,%d", &opt.cpu[0], &opt.cpu[1]) != 2 || opt.cpu[0] < 0 || opt.cpu[1] < 0)
                die("--cpus: want two CPU numbers, as 0,1");
            break;
        case '1': opt.single = true; break;
        case 'n': opt.frames = number(optarg, 0, UINT64_MAX / 2, "--frames"); break;
        case 'C':
            opt.copy_seconds = strtod(optarg, NULL);
            if (!(opt.copy_seconds >= 0 && opt.copy_seconds <= 3600))
                die("--copy-seconds: %s is not in [0, 3600]", optarg);
            break;
        case 'h': usage(); return 0;
        default: usage(); return 2;
        }
    }
    if (optind < argc) {
        usage();
        return 2;
    }
    if (opt.copy_seconds < 0)
        opt.copy_seconds = opt.seconds / 2;
    if (bench_rx_buf) {
        for (u32 i = 0; i < opt.nsizes; i++)
            if ((HDR + opt.sizes[i] + bench_rx_buf - 1) / bench_rx_buf > MIN(VNET_MRG_MAX, bench_buffers))
                die("--rx-buf %u: a frame of %u bytes would span more than %u buffers", bench_rx_buf, opt.sizes[i],
                    MIN(VNET_MRG_MAX, bench_buffers));
        opt.copy_seconds = 0; /* the baseline copies whole frames into whole-frame slots */
    }

    cpu_set_t allowed;
    if (sched_getaffinity(0, sizeof(allowed), &allowed))
        die("sched_getaffinity");
    bench_ncpus = CPU_COUNT(&allowed);
    if (opt.cpu[0] < 0 && bench_ncpus >= 2) {
        for (int c = 0, k = 0; c < CPU_SETSIZE && k < 2; c++)
            if (CPU_ISSET(c, &allowed))
                opt.cpu[k++] = c;
    }
    if (opt.cpu[0] >= 0 && bench_ncpus < 2)
        opt.cpu[0] = opt.cpu[1] = -1;

    part_alloc(A, "A");
    part_alloc(B, "B");
    print_header();
    fflush(stdout);

    struct result res[ARRAY_SIZE(opt.sizes)];
    for (u32 i = 0; i < opt.nsizes; i++)
        run_size(opt.sizes[i], &res[i]);
    print_results(res, opt.nsizes);

    /* A benchmark of a data path that lost frames or interrupts, or logged,
     * measured a bug: say so and fail. */
    int rc = 0;
    for (u32 i = 0; i < opt.nsizes; i++) {
        const struct result *r = &res[i];
        if (!opt.single && !r->frames) {
            /* Nothing moved for a whole window: a lost wake-up in the data
             * path (as the one vnet_tx's fence fixes), not a slow machine. */
            fprintf(stderr, "net_bench: %u-byte frames: none arrived in the measured %.1f s (a stall)\n", r->size,
                    r->seconds);
            rc = 1;
        }
        if (r->drops || r->bad || r->lost_irqs || r->flooded) {
            fprintf(stderr, "net_bench: %u-byte frames: %llu dropped, %llu bad, %llu interrupts lost, %llu flooded\n",
                    r->size, (unsigned long long)r->drops, (unsigned long long)r->bad, (unsigned long long)r->lost_irqs,
                    (unsigned long long)r->flooded);
            rc = 1;
        }
    }
    if (bench_log_count) {
        fprintf(stderr, "net_bench: net/ logged %u messages (above)\n", bench_log_count);
        rc = 1;
    }
    return rc;
}
