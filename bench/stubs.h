/* Host stand-ins for the hypervisor services the data path calls (its log),
 * for the benchmarks. */
#ifndef ISTHMUS_BENCH_STUBS_H
#define ISTHMUS_BENCH_STUBS_H

/* Messages net/ logged: a benchmark run that logs (a NIC needing reset, say)
 * measured something other than the data path working. */
extern unsigned bench_log_count;

#endif
