/* Batches and threads: every query of n points must give, bit for bit, the
 * values of n one-point queries (the points of a call are processed in
 * blocks, and each point's arithmetic must not depend on its block or on its
 * neighbours), and concurrent queries on one const mixture from several
 * threads must give the same bits as serial ones (queries are reentrant). */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosm.h"

enum { K = 3, D = 3, N = 100, THREADS = 4, REPEAT = 5 };

static int failures;

static void check(int ok, const char *what)
{
    printf("  %s: %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

static void need(int st)
{
    if (st != HOSM_OK) {
        printf("call failed: %s\n", hosm_last_errmsg());
        exit(1);
    }
}

/* The five queries with one signature; out sizes in bytes per point. */
typedef int (*query_fn)(const hosm_mixture *, double, const float *, int64_t, void *);
static int q_logd(const hosm_mixture *m, double s, const float *x, int64_t n, void *o)
{
    return hosm_mixture_log_density(m, s, x, n, o);
}
static int q_score(const hosm_mixture *m, double s, const float *x, int64_t n, void *o)
{
    return hosm_mixture_score(m, s, x, n, o);
}
static int q_hess(const hosm_mixture *m, double s, const float *x, int64_t n, void *o)
{
    return hosm_mixture_hessian(m, s, x, n, o);
}
static int q_pmean(const hosm_mixture *m, double s, const float *x, int64_t n, void *o)
{
    return hosm_mixture_posterior_mean(m, s, x, n, o);
}
static int q_pcov(const hosm_mixture *m, double s, const float *x, int64_t n, void *o)
{
    return hosm_mixture_posterior_cov(m, s, x, n, o);
}

static const struct {
    query_fn f;
    const char *name;
    size_t bytes; /* per point */
} queries[] = {
    {q_logd, "log_density", sizeof(double)},
    {q_score, "score", D * sizeof(float)},
    {q_hess, "hessian", D * D * sizeof(float)},
    {q_pmean, "posterior_mean", D * sizeof(float)},
    {q_pcov, "posterior_cov", D * D * sizeof(float)},
};
enum { NQ = sizeof queries / sizeof queries[0] };

static hosm_mixture *mix;
static float pts[N * D];
static unsigned char *ref[NQ];

typedef struct {
    int mismatches;
} job;

static void *worker(void *arg)
{
    job *jb = arg;
    for (int r = 0; r < REPEAT; r++)
        for (int q = 0; q < NQ; q++) {
            unsigned char *out = malloc(N * queries[q].bytes);
            if (!out || queries[q].f(mix, 0.4, pts, N, out) != HOSM_OK ||
                memcmp(out, ref[q], N * queries[q].bytes) != 0)
                jb->mismatches++;
            free(out);
        }
    return NULL;
}

int main(void)
{
    const double w[K] = {0.3, 0.45, 0.25};
    const double mu[K * D] = {0.0, 0.5, -1.0, 1.5, -0.5, 0.0, -1.0, 1.0, 1.0};
    const double cov[K * D * D] = {1.0, 0.3,  0.0, 0.3, 0.8, -0.2, 0.0, -0.2, 0.5,
                                   0.4, 0.0,  0.1, 0.0, 0.6, 0.0,  0.1, 0.0,  0.9,
                                   2.0, -0.5, 0.3, -0.5, 1.0, 0.2, 0.3, 0.2,  0.7};
    need(hosm_mixture_new(&mix, K, D, w, mu, cov));
    need(hosm_mixture_sample(mix, 99, N, pts));

    printf("%d points in one call vs %d one-point calls (bitwise):\n", N, N);
    for (int q = 0; q < NQ; q++) {
        const size_t b = queries[q].bytes;
        ref[q] = malloc(N * b);
        unsigned char *one = malloc(N * b);
        if (!ref[q] || !one) {
            printf("out of memory\n");
            return 1;
        }
        need(queries[q].f(mix, 0.4, pts, N, ref[q]));
        for (int p = 0; p < N; p++)
            need(queries[q].f(mix, 0.4, pts + p * D, 1, one + p * b));
        int64_t diff = 0;
        for (int p = 0; p < N; p++)
            diff += memcmp(one + p * b, ref[q] + p * b, b) != 0;
        char buf[160];
        snprintf(buf, sizeof buf, "%s: %lld of %d points differ", queries[q].name,
                 (long long)diff, N);
        check(diff == 0, buf);
        free(one);
    }

    printf("%d threads x %d repeats of every query on one mixture:\n", THREADS, REPEAT);
    pthread_t th[THREADS];
    job jobs[THREADS];
    int started = 0;
    for (int t = 0; t < THREADS; t++) {
        jobs[t].mismatches = 0;
        if (pthread_create(&th[t], NULL, worker, &jobs[t]) == 0)
            started++;
        else
            break;
    }
    int mism = 0;
    for (int t = 0; t < started; t++) {
        pthread_join(th[t], NULL);
        mism += jobs[t].mismatches;
    }
    char buf[160];
    snprintf(buf, sizeof buf, "%d threads started", started);
    check(started == THREADS, buf);
    snprintf(buf, sizeof buf, "concurrent results differing from the serial ones: %d", mism);
    check(mism == 0, buf);

    for (int q = 0; q < NQ; q++)
        free(ref[q]);
    hosm_mixture_free(mix);
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
