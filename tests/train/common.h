/* Small helpers shared by the train-suite tests: a test-side random number
 * generator (independent of the library's), check macros that count failures,
 * and a wall clock. Header-only so that each test stays one executable. */
#ifndef TRAIN_COMMON_H
#define TRAIN_COMMON_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hosm.h"

/* Under valgrind (memcheck runs these programs ~500 times slower) the
 * accuracy tests shorten their training: the memory checks see the same code
 * paths, and the accuracy bounds, which need the full training, are checked
 * by the normal run only. */
#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define UNDER_VALGRIND() 0
#endif

static int g_failures = 0;

#define CHECK(cond, ...)                                                       \
    do {                                                                       \
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

/* Prints a measured value against its bound and counts a failure when
 * measured > bound. */
static inline void check_le(const char *what, double measured, double bound)
{
    int ok = measured <= bound; /* NaN fails */
    printf("%-4s %-58s measured %.4g  bound %.4g\n", ok ? "ok" : "FAIL", what, measured,
           bound);
    if (!ok)
        g_failures++;
}

/* check_le, or, when skip is set, only a report of the measured value. */
static inline void check_le_unless(int skip, const char *what, double measured, double bound)
{
    if (!skip) {
        check_le(what, measured, bound);
        return;
    }
    printf("skip %-58s measured %.4g  (bound %.4g needs the full training; not under "
           "valgrind)\n",
           what, measured, bound);
}

static inline int finish(const char *name)
{
    if (g_failures) {
        printf("%s: %d check(s) FAILED\n", name, g_failures);
        return 1;
    }
    printf("%s: all checks passed\n", name);
    return 0;
}

static inline double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* Test-side RNG: splitmix64 (not the library's generator). */
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

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        printf("FATAL: out of memory\n");
        exit(1);
    }
    return p;
}

#endif
