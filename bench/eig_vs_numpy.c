/*
 * eig_vs_numpy: CPU time of the symmetric eigensolver and of the clamped
 * dense posterior covariance of a full-s2 model; driven by eig_vs_numpy.py,
 * which runs numpy.linalg.eigh in between for the comparison.
 *
 *   usage: eig_vs_numpy eig D REPS   time hosmi_sym_eig on a random
 *                                    symmetric D x D matrix (entries N(0, 1))
 *          eig_vs_numpy cov D REPS   time hosm_model_posterior_cov(model, 0,
 *                                    x, 1, clamp = 1, out) for a model made
 *                                    with "s2=full hidden=64" at dimension D
 *
 * Prints one line "eig|cov D MEDIAN_MS" with the median process CPU time
 * (CLOCK_PROCESS_CPUTIME_ID, all threads) of REPS calls after one warm-up
 * call. The cov mode uses the public API only; the eig mode links the
 * internal library (hosm_internal_dep). The same source builds against
 * older trees whose hosmi_sym_eig returns void.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "hosm.h"
#include "linalg/linalg.h"

static double cpu_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Uniform in [-1, 1) from a fixed LCG: the inputs are the same every run. */
static double next_uniform(uint64_t *s)
{
    *s = *s * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*s >> 11) * 0x1.0p-52 - 1.0;
}

static double time_eig(int64_t n, int reps, double *times)
{
    double *a = malloc((size_t)(n * n) * sizeof(double)), *b = malloc((size_t)(n * n) * sizeof(double));
    double *w = malloc((size_t)n * sizeof(double)), *v = malloc((size_t)(n * n) * sizeof(double));
    if (!a || !b || !w || !v)
        return -1.0;
    uint64_t s = 12345;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j <= i; j++) {
            /* sum of 4 uniforms: roughly normal, variance 4/3 */
            double g = next_uniform(&s) + next_uniform(&s) + next_uniform(&s) + next_uniform(&s);
            a[i * n + j] = a[j * n + i] = g;
        }
    for (int r = 0; r <= reps; r++) {
        memcpy(b, a, (size_t)(n * n) * sizeof(double));
        double t0 = cpu_seconds();
        (void)hosmi_sym_eig(n, b, w, v);
        if (r > 0)
            times[r - 1] = cpu_seconds() - t0;
    }
    free(a);
    free(b);
    free(w);
    free(v);
    return 0.0;
}

static double time_cov(int64_t n, int reps, double *times)
{
    hosm_config *cfg;
    hosm_model *m;
    if (hosm_config_new(&cfg) || hosm_config_parse(cfg, "s2=full hidden=64") ||
        hosm_model_new(&m, n, cfg))
        return -1.0;
    hosm_config_free(cfg);
    float *x = malloc((size_t)n * sizeof(float)), *out = malloc((size_t)(n * n) * sizeof(float));
    if (!x || !out)
        return -1.0;
    uint64_t s = 777;
    for (int64_t i = 0; i < n; i++)
        x[i] = (float)next_uniform(&s);
    for (int r = 0; r <= reps; r++) {
        double t0 = cpu_seconds();
        if (hosm_model_posterior_cov(m, 0, x, 1, 1, out) != HOSM_OK)
            return -1.0;
        if (r > 0)
            times[r - 1] = cpu_seconds() - t0;
    }
    hosm_model_free(m);
    free(x);
    free(out);
    return 0.0;
}

int main(int argc, char **argv)
{
    if (argc != 4 || (strcmp(argv[1], "eig") && strcmp(argv[1], "cov"))) {
        fprintf(stderr, "usage: %s eig|cov D REPS\n", argv[0]);
        return 2;
    }
    const int64_t n = atoll(argv[2]);
    const int reps = atoi(argv[3]);
    if (n < 1 || n > 4096 || reps < 1 || reps > 1000) {
        fprintf(stderr, "D must be in [1, 4096] and REPS in [1, 1000]\n");
        return 2;
    }
    double *times = malloc((size_t)reps * sizeof(double));
    if (!times)
        return 1;
    double st = argv[1][0] == 'e' ? time_eig(n, reps, times) : time_cov(n, reps, times);
    if (st < 0) {
        fprintf(stderr, "failed: %s\n", hosm_last_errmsg());
        return 1;
    }
    qsort(times, (size_t)reps, sizeof(double), cmp_double);
    printf("%s %lld %.4f\n", argv[1], (long long)n, 1e3 * times[reps / 2]);
    free(times);
    return 0;
}
