/*
 * Timing helpers shared by the benchmark programs: the calling thread's
 * CPU time (other load on a shared machine does not count as ours) and
 * the median of a few runs.
 */
#ifndef SLIM_BENCH_STATS_H
#define SLIM_BENCH_STATS_H

#include <stdint.h>
#include <stdlib.h>
#include <time.h>

/* CPU time of the calling thread, in nanoseconds. */
static inline uint64_t bench_cpu_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static inline int bench_cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v). */
static inline double bench_median(double *v, size_t n) {
    qsort(v, n, sizeof v[0], bench_cmp_double);
    return v[n / 2];
}

#endif
