/* What the element-wise micro-benchmarks (vmath_bench, normal_bench) share:
 * this thread's CPU time, their three options, and sorting for medians. */
#ifndef HOSM_BENCH_TIMING_UTIL_H
#define HOSM_BENCH_TIMING_UTIL_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* CPU time of this thread: on a shared machine, the time other processes
 * take from this one is not counted (their effect on the caches is). */
static inline double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
    const double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* --n N --runs R --min-ms M over the defaults in *n, *runs, *min_ms; 0, or
 * 2 after printing usage (with the defaults) for anything else or values out
 * of range. */
static inline int timing_options(int argc, char **argv, int64_t *n, int *runs, double *min_ms)
{
    const int64_t n0 = *n;
    const int runs0 = *runs;
    const double ms0 = *min_ms;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--n") && i + 1 < argc)
            *n = atoll(argv[++i]);
        else if (!strcmp(argv[i], "--runs") && i + 1 < argc)
            *runs = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--min-ms") && i + 1 < argc)
            *min_ms = atof(argv[++i]);
        else
            *n = 0; /* usage */
    }
    if (*n < 1 || *runs < 1 || *runs > 1000 || !(*min_ms > 0)) {
        fprintf(stderr, "usage: %s [--n %lld] [--runs %d] [--min-ms %g]\n", argv[0],
                (long long)n0, runs0, ms0);
        return 2;
    }
    return 0;
}

#endif
