/* Helpers shared by the test suites: failure-counting checks, measured-vs-
 * bound reports, a wall clock, checked allocation, and a test-side random
 * number generator (independent of the library's). Header-only so that each
 * test stays one executable. */
#ifndef HOSM_TEST_UTIL_H
#define HOSM_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hosm.h"

static int g_failures = 0;
static int g_checks = 0;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        g_checks++;                                                            \
        if (!(cond)) {                                                         \
            g_failures++;                                                      \
            printf("FAIL %s:%d: ", __FILE__, __LINE__);                        \
            printf(__VA_ARGS__);                                               \
            printf("\n");                                                      \
        }                                                                      \
    } while (0)

/* A call that must succeed; on failure the test cannot go on. */
#define MUST(call)                                                             \
    do {                                                                       \
        int must_st_ = (call);                                                 \
        if (must_st_ != HOSM_OK) {                                             \
            printf("FATAL %s:%d: %s returned %d (%s): %s\n", __FILE__,         \
                   __LINE__, #call, must_st_, hosm_strerror(must_st_),         \
                   hosm_last_errmsg());                                        \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Prints a measured value against its upper bound; a failure when
 * measured > bound (NaN fails). */
static inline void check_le(const char *what, double measured, double bound)
{
    int ok = measured <= bound;
    g_checks++;
    printf("%-4s %-66s measured %.4g  bound <= %.4g\n", ok ? "ok" : "FAIL", what, measured,
           bound);
    if (!ok)
        g_failures++;
}

/* The same for a lower bound: a failure when measured < bound. */
static inline void check_ge(const char *what, double measured, double bound)
{
    int ok = measured >= bound;
    g_checks++;
    printf("%-4s %-66s measured %.4g  bound >= %.4g\n", ok ? "ok" : "FAIL", what, measured,
           bound);
    if (!ok)
        g_failures++;
}

static inline int finish(const char *name)
{
    if (g_failures) {
        printf("%s: %d of %d check(s) FAILED\n", name, g_failures, g_checks);
        return 1;
    }
    printf("%s: all %d checks passed\n", name, g_checks);
    return 0;
}

static inline double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        printf("FATAL: out of memory\n");
        exit(1);
    }
    return p;
}

/* ---- test-side RNG: splitmix64 ------------------------------------------ */
typedef struct {
    uint64_t s;
} trng;

static inline uint64_t trng_next(trng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

/* Uniform in (0, 1). */
static inline double trng_uniform(trng *r)
{
    return ((double)(trng_next(r) >> 11) + 0.5) * 0x1.0p-53;
}

static inline double trng_normal(trng *r)
{
    double u = trng_uniform(r), v = trng_uniform(r);
    return sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v);
}

#endif
