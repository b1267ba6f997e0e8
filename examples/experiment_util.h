/* Helpers shared by the experiment programs (accuracy, objectives_experiment,
 * sampling_experiment, images): library calls and allocation that exit on
 * failure, a seeded RNG of their own, CPU time, medians, comma-separated
 * lists, and the random Gaussian mixtures the accuracy and objectives
 * experiments train on. */
#ifndef HOSM_EXPERIMENT_UTIL_H
#define HOSM_EXPERIMENT_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hosm.h>

/* Exits with the library's message when a call fails (HOSM_STOPPED, a
 * callback's request, is not a failure). */
#define TRY(call)                                                                            \
    do {                                                                                     \
        int try_st_ = (call);                                                                \
        if (try_st_ < 0) {                                                                   \
            fprintf(stderr, "%s:%d: %s: %s (%s)\n", __FILE__, __LINE__, #call,               \
                    hosm_strerror(try_st_), hosm_last_errmsg());                             \
            exit(1);                                                                         \
        }                                                                                    \
    } while (0)

/* splitmix64 with a Box-Muller spare. */
typedef struct {
    uint64_t s;
    int has;
    double spare;
} xrng;

static inline uint64_t xrng_next(xrng *r)
{
    uint64_t z = (r->s += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

static inline double xrng_uniform(xrng *r) /* (0, 1) */
{
    return ((double)(xrng_next(r) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

static inline double xrng_normal(xrng *r)
{
    if (r->has) {
        r->has = 0;
        return r->spare;
    }
    double u = xrng_uniform(r), v = xrng_uniform(r), rad = sqrt(-2.0 * log(u));
    r->spare = rad * sin(6.283185307179586 * v);
    r->has = 1;
    return rad * cos(6.283185307179586 * v);
}

static inline void *xmalloc(size_t n)
{
    void *p = malloc(n ? n : 1);
    if (!p) {
        fprintf(stderr, "out of memory (%zu bytes)\n", n);
        exit(1);
    }
    return p;
}

/* The process's CPU time in seconds. */
static inline double cpu_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The median of v[0..n) (sorts v). */
static inline double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

/* Is name an element of the comma-separated list? */
static inline int in_list(const char *list, const char *name)
{
    size_t len = strlen(name);
    for (const char *p = list; (p = strstr(p, name)); p += len)
        if ((p == list || p[-1] == ',') && (p[len] == ',' || p[len] == 0))
            return 1;
    return 0;
}

/* A mixture of k Gaussians in D dimensions drawn from seed: weights
 * 1 : 2 : ... : k; means from N(0, s^2 I) with s = 4 / sqrt(2D), so that two
 * means are about 4 apart in every D; covariances Q diag(l) Q^T (exactly
 * symmetric) with Q a random rotation (Gram-Schmidt, twice, on the rows of
 * a Gaussian matrix) and l log-uniform in [0.02, 0.5]. */
static inline int random_mixture(int64_t k, int64_t D, uint64_t seed, hosm_mixture **out)
{
    xrng r = {seed, 0, 0.0};
    double *w = xmalloc(sizeof(double) * (size_t)k), *mu = xmalloc(sizeof(double) * k * D);
    double *cov = xmalloc(sizeof(double) * k * D * D), *q = xmalloc(sizeof(double) * D * D);
    double *l = xmalloc(sizeof(double) * D);
    const double s = 4.0 / sqrt(2.0 * (double)D);
    for (int64_t c = 0; c < k; c++) {
        w[c] = c + 1.0;
        for (int64_t a = 0; a < D; a++)
            mu[c * D + a] = s * xrng_normal(&r);
        for (int64_t i = 0; i < D; i++) {
            double *qi = q + i * D;
            for (;;) {
                for (int64_t a = 0; a < D; a++)
                    qi[a] = xrng_normal(&r);
                for (int pass = 0; pass < 2; pass++)
                    for (int64_t j = 0; j < i; j++) {
                        double dot = 0.0;
                        for (int64_t a = 0; a < D; a++)
                            dot += qi[a] * q[j * D + a];
                        for (int64_t a = 0; a < D; a++)
                            qi[a] -= dot * q[j * D + a];
                    }
                double nn = 0.0;
                for (int64_t a = 0; a < D; a++)
                    nn += qi[a] * qi[a];
                if (nn > 1e-6) {
                    for (int64_t a = 0; a < D; a++)
                        qi[a] /= sqrt(nn);
                    break;
                }
            }
            l[i] = exp(log(0.02) + (log(0.5) - log(0.02)) * xrng_uniform(&r));
        }
        double *cc = cov + c * D * D;
        for (int64_t a = 0; a < D; a++)
            for (int64_t b = a; b < D; b++) {
                double v = 0.0;
                for (int64_t i = 0; i < D; i++)
                    v += q[i * D + a] * l[i] * q[i * D + b];
                cc[a * D + b] = cc[b * D + a] = v;
            }
    }
    int st = hosm_mixture_new(out, k, D, w, mu, cov);
    free(w);
    free(mu);
    free(cov);
    free(q);
    free(l);
    return st;
}

#endif
