/* Helpers shared by the test suites, header-only so that each test stays one
 * executable:
 *  - failure-counting checks (CHECK, MUST), measured-vs-bound reports
 *    (check_le, check_ge; check_le_unless for bounds that need the full
 *    training, skipped under valgrind) and finish();
 *  - a wall clock, checked allocation;
 *  - a test-side random number generator (independent of the library's);
 *  - a dense symmetric eigensolver (cyclic Jacobi, in double) and a relative
 *    Frobenius error;
 *  - CRC-32, little-endian access and whole-file reads for file surgery;
 *  - a 2-D Gaussian problem and the error of a model's score against a
 *    linear (Gaussian) score. */
#ifndef HOSM_TEST_UTIL_H
#define HOSM_TEST_UTIL_H

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
 * by the normal run only. HAVE_VALGRIND_H comes from tests/meson.build. */
#ifdef HAVE_VALGRIND_H
#include <valgrind/valgrind.h>
#define UNDER_VALGRIND() (RUNNING_ON_VALGRIND != 0)
#else
#define UNDER_VALGRIND() 0
#endif

/* Unit roundoff of float32. */
/* The settings of format.md's file base (the defaults of format version 3,
 * where they differ from today's): a model with them has no CNFG section. */
#define FILE_BASE "raw_head=0 s2_objective=d2sm"

#define U32 (0x1.0p-24)

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

/* Uniform in (-a, a). */
static inline double trng_sym(trng *r, double a)
{
    return a * (2.0 * trng_uniform(r) - 1.0);
}

/* The 2 x 2 covariance R(theta) diag(a, b) R(theta)^T into c (row-major). */
static inline void rot_cov(double *c, double theta, double a, double b)
{
    const double co = cos(theta), si = sin(theta);
    c[0] = co * co * a + si * si * b;
    c[1] = c[2] = co * si * (a - b);
    c[3] = si * si * a + co * co * b;
}

/* ---- dense symmetric eigenproblems -------------------------------------- */

/* Eigen-decomposition of the symmetric n x n matrix a (row-major, not
 * modified) by cyclic Jacobi rotations in double: eigenvalues into w in
 * descending order and, if v is not NULL, unit eigenvectors into the columns
 * of v (v[i * n + j] = entry i of vector j). Sweeps run until the
 * off-diagonal mass is below 1e-28 of the total (eigenvalues then exact to
 * ~1e-14 relative to ||a||). */
static inline void jacobi_eig(int n, const double *a_in, double *w, double *v)
{
    double *a = xmalloc((size_t)n * n * sizeof *a);
    double *q = xmalloc((size_t)n * n * sizeof *q);
    memcpy(a, a_in, (size_t)n * n * sizeof *a);
    for (int i = 0; i < n * n; i++)
        q[i] = 0.0;
    for (int i = 0; i < n; i++)
        q[i * n + i] = 1.0;
    for (int sweep = 0; sweep < 60; sweep++) {
        double off = 0.0, tot = 0.0;
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++) {
                tot += a[i * n + j] * a[i * n + j];
                if (i != j)
                    off += a[i * n + j] * a[i * n + j];
            }
        if (off <= 1e-28 * tot)
            break;
        for (int p = 0; p < n - 1; p++)
            for (int r = p + 1; r < n; r++) {
                double apr = a[p * n + r];
                if (apr == 0.0)
                    continue;
                double app = a[p * n + p], arr = a[r * n + r];
                double theta = 0.5 * (arr - app) / apr;
                double t = (theta >= 0.0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(1.0 + theta * theta));
                double c = 1.0 / sqrt(1.0 + t * t), s = t * c;
                /* A <- J^T A J with J the rotation in the (p, r) plane. */
                for (int k = 0; k < n; k++) {
                    double akp = a[k * n + p], akr = a[k * n + r];
                    a[k * n + p] = c * akp - s * akr;
                    a[k * n + r] = s * akp + c * akr;
                }
                for (int k = 0; k < n; k++) {
                    double apk = a[p * n + k], ark = a[r * n + k];
                    a[p * n + k] = c * apk - s * ark;
                    a[r * n + k] = s * apk + c * ark;
                }
                for (int k = 0; k < n; k++) {
                    double qkp = q[k * n + p], qkr = q[k * n + r];
                    q[k * n + p] = c * qkp - s * qkr;
                    q[k * n + r] = s * qkp + c * qkr;
                }
            }
    }
    /* Sort descending (index order by value). */
    int *idx = xmalloc((size_t)n * sizeof *idx);
    for (int i = 0; i < n; i++)
        idx[i] = i;
    for (int i = 1; i < n; i++) {
        int t = idx[i], j = i;
        while (j > 0 && a[idx[j - 1] * n + idx[j - 1]] < a[t * n + t]) {
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = t;
    }
    for (int i = 0; i < n; i++)
        w[i] = a[idx[i] * n + idx[i]];
    if (v)
        for (int k = 0; k < n; k++)
            for (int j = 0; j < n; j++)
                v[k * n + j] = q[k * n + idx[j]];
    free(idx);
    free(a);
    free(q);
}

/* Smallest eigenvalue of a symmetric float matrix (n x n). */
static inline double min_eig_f(int n, const float *m)
{
    double *a = xmalloc((size_t)n * n * sizeof *a), *w = xmalloc((size_t)n * sizeof *w);
    for (int i = 0; i < n * n; i++)
        a[i] = m[i];
    jacobi_eig(n, a, w, NULL);
    double r = w[n - 1];
    free(a);
    free(w);
    return r;
}

/* ---- CRC-32 (IEEE 802.3, reflected 0xEDB88320: zlib's crc32) ------------- */
static inline uint32_t crc32_ieee(const uint8_t *p, size_t n)
{
    uint32_t c = 0xFFFFFFFFu;
    for (size_t i = 0; i < n; i++) {
        c ^= p[i];
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Little-endian field access in a file buffer. */
static inline uint64_t get_le(const uint8_t *p, int bytes)
{
    uint64_t v = 0;
    for (int i = bytes - 1; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

static inline void put_le(uint8_t *p, uint64_t v, int bytes)
{
    for (int i = 0; i < bytes; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* Rewrites the trailing CRC-32 of a whole file held in buf. */
static inline void fix_crc(uint8_t *buf, int64_t size)
{
    put_le(buf + size - 4, crc32_ieee(buf, (size_t)(size - 4)), 4);
}

/* The whole file at path (exits the test if it cannot be read). */
static inline uint8_t *read_all(const char *path, int64_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        printf("FATAL: cannot open %s\n", path);
        exit(1);
    }
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *b = xmalloc((size_t)n);
    if (fread(b, 1, (size_t)n, f) != (size_t)n) {
        printf("FATAL: cannot read %s\n", path);
        exit(1);
    }
    fclose(f);
    *size = n;
    return b;
}

/* Relative error sqrt(sum ||s - e||^2 / sum ||e||^2) of a 2-D model's score
 * at level 0 against e = -A (x - mu) (A 2 x 2 row-major) on n points. */
static inline double gauss2_score_error(hosm_model *m, const double *A, const double *mu,
                                        const float *x, int64_t n)
{
    float *s = xmalloc(sizeof(float) * 2 * (size_t)n);
    MUST(hosm_model_score(m, 0, x, n, s));
    double num = 0, den = 0;
    for (int64_t i = 0; i < n; i++)
        for (int a = 0; a < 2; a++) {
            double e = -(A[2 * a] * (x[2 * i] - mu[0]) + A[2 * a + 1] * (x[2 * i + 1] - mu[1]));
            num += (s[2 * i + a] - e) * (s[2 * i + a] - e);
            den += e * e;
        }
    free(s);
    return sqrt(num / den);
}

/* Data N(mu, Sigma) in 2-D (20000 training and 2000 test draws of the
 * oracle) and the two linear scores a model may learn from it: clean =
 * Sigma^-1 (score matching) and noisy = (Sigma + sigma^2 I)^-1 (DSM at
 * sigma = 0.5), each the A of gauss2_score_error. */
typedef struct {
    double mu[2], clean[4], noisy[4];
    int64_t n, nt;
    float *data, *test;
} gauss2_problem;

static inline void gauss2_problem_init(gauss2_problem *g)
{
    const double mu[2] = {0.5, -0.3}, cov[4] = {1.0, 0.4, 0.4, 0.5}, sigma = 0.5, w[1] = {1};
    hosm_mixture *mix;
    MUST(hosm_mixture_new(&mix, 1, 2, w, mu, cov));
    g->mu[0] = mu[0], g->mu[1] = mu[1];
    g->n = 20000, g->nt = 2000;
    g->data = xmalloc(sizeof(float) * 2 * (size_t)g->n);
    g->test = xmalloc(sizeof(float) * 2 * (size_t)g->nt);
    MUST(hosm_mixture_sample(mix, 1, g->n, g->data));
    MUST(hosm_mixture_sample(mix, 2, g->nt, g->test));
    hosm_mixture_free(mix);
    const double d = cov[0] * cov[3] - cov[1] * cov[2];
    const double c0 = cov[0] + sigma * sigma, c3 = cov[3] + sigma * sigma;
    const double e = c0 * c3 - cov[1] * cov[2];
    const double clean[4] = {cov[3] / d, -cov[1] / d, -cov[2] / d, cov[0] / d};
    const double noisy[4] = {c3 / e, -cov[1] / e, -cov[2] / e, c0 / e};
    memcpy(g->clean, clean, sizeof clean);
    memcpy(g->noisy, noisy, sizeof noisy);
}

static inline void gauss2_problem_free(gauss2_problem *g)
{
    free(g->data);
    free(g->test);
}

/* Relative Frobenius distance ||a - b|| / ||b|| of n floats. */
static inline double rel_frob_f(const float *a, const float *b, int64_t n)
{
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
        double d = (double)a[i] - b[i];
        num += d * d;
        den += (double)b[i] * b[i];
    }
    return sqrt(num / den);
}

#endif
