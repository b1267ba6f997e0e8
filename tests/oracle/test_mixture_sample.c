/* Exact sampling of the clean mixture: moments, mode frequencies and
 * reproducibility.
 *
 * Bound: every estimate from N = 200000 draws must lie within Z = 5 standard
 * errors of its exact value. Standard errors: sqrt(Sigma_ii / N) for a mean;
 * for a covariance entry, computed about the exact mean, sqrt(Var[(x_i -
 * m_i)(x_j - m_j)] / N) with the variance estimated from the same draws;
 * sqrt(w (1 - w) / N) for a component frequency. 29 z-scores are checked,
 * so a correct sampler fails with probability ~ 29 * 5.7e-7 ~ 2e-5
 * (and the seeds are fixed, so the outcome is deterministic). A control shows
 * that a shift of the mean by 0.05 (~ 15 standard errors) is detected. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hosm.h"

#define N 200000
#define Z 5.0
#define MAXD 3

static int failures;

static void check(int ok, const char *what)
{
    printf("  %s: %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

static hosm_mixture *new_mix(int64_t k, int64_t D, const double *w, const double *mu,
                             const double *cov)
{
    hosm_mixture *mix = NULL;
    if (hosm_mixture_new(&mix, k, D, w, mu, cov) != HOSM_OK) {
        printf("hosm_mixture_new failed: %s\n", hosm_last_errmsg());
        exit(1);
    }
    return mix;
}

static float *draw(const hosm_mixture *mix, uint64_t seed, int64_t n, int64_t D)
{
    float *x = malloc((size_t)(n * D) * sizeof *x);
    if (!x) {
        printf("out of memory\n");
        exit(1);
    }
    if (hosm_mixture_sample(mix, seed, n, x) != HOSM_OK) {
        printf("hosm_mixture_sample failed: %s\n", hosm_last_errmsg());
        exit(1);
    }
    return x;
}

/* Largest |z| of the sample mean and covariance (about the exact mean m)
 * of n draws against the exact m and C. */
static void moment_z(const float *x, int64_t n, int64_t D, const double *m, const double *C,
                     double *zmean, double *zcov)
{
    *zmean = 0.0;
    *zcov = 0.0;
    for (int64_t i = 0; i < D; i++) {
        double s = 0.0;
        for (int64_t p = 0; p < n; p++)
            s += (double)x[p * D + i];
        double se = sqrt(C[i * D + i] / (double)n);
        *zmean = fmax(*zmean, fabs(s / (double)n - m[i]) / se);
        for (int64_t j = i; j < D; j++) {
            double s1 = 0.0, s2 = 0.0;
            for (int64_t p = 0; p < n; p++) {
                double v = ((double)x[p * D + i] - m[i]) * ((double)x[p * D + j] - m[j]);
                s1 += v;
                s2 += v * v;
            }
            double c = s1 / (double)n;
            double sec = sqrt((s2 / (double)n - c * c) / (double)n);
            *zcov = fmax(*zcov, fabs(c - C[i * D + j]) / sec);
        }
    }
}

/* Exact mean and covariance of the mixture (weights normalised here). */
static void mixture_moments(int64_t k, int64_t D, const double *w, const double *mu,
                            const double *cov, double *m, double *C)
{
    double wsum = 0.0;
    for (int64_t c = 0; c < k; c++)
        wsum += w[c];
    for (int64_t i = 0; i < D; i++) {
        m[i] = 0.0;
        for (int64_t c = 0; c < k; c++)
            m[i] += w[c] / wsum * mu[c * D + i];
    }
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < D; j++) {
            double s = 0.0;
            for (int64_t c = 0; c < k; c++)
                s += w[c] / wsum * (cov[c * D * D + i * D + j] + mu[c * D + i] * mu[c * D + j]);
            C[i * D + j] = s - m[i] * m[j];
        }
}

static void moments_test(const char *name, int64_t k, int64_t D, const double *w,
                         const double *mu, const double *cov, uint64_t seed, int control)
{
    hosm_mixture *mix = new_mix(k, D, w, mu, cov);
    float *x = draw(mix, seed, N, D);
    double m[MAXD], C[MAXD * MAXD], zm, zc;
    mixture_moments(k, D, w, mu, cov, m, C);
    moment_z(x, N, D, m, C, &zm, &zc);
    char buf[256];
    printf("%s (k = %lld, D = %lld, %d draws):\n", name, (long long)k, (long long)D, N);
    snprintf(buf, sizeof buf, "sample mean vs exact mean: max |z| %.2f <= %.0f", zm, Z);
    check(zm <= Z, buf);
    snprintf(buf, sizeof buf, "sample covariance vs exact covariance: max |z| %.2f <= %.0f", zc,
             Z);
    check(zc <= Z, buf);
    if (control) {
        m[0] += 0.05;
        moment_z(x, N, D, m, C, &zm, &zc);
        snprintf(buf, sizeof buf, "control: mean shifted by 0.05 is detected, |z| %.1f > %.0f",
                 zm, Z);
        check(zm > Z, buf);
    }
    free(x);
    hosm_mixture_free(mix);
}

/* Far-apart components: classify each draw by its nearest mean and compare
 * the frequencies with the weights and each component's moments with its
 * own mean and covariance. */
static void modes_test(void)
{
    enum { K = 3, D = 2 };
    const double w[K] = {6.0, 3.0, 1.0}; /* normalised: 0.6, 0.3, 0.1 */
    const double mu[K * D] = {0.0, 0.0, 40.0, 0.0, 0.0, 40.0};
    const double cov[K * D * D] = {1.0, 0.5, 0.5, 2.0, 0.5, -0.3, -0.3, 1.5, 3.0, 0.0, 0.0, 0.2};
    hosm_mixture *mix = new_mix(K, D, w, mu, cov);
    float *x = draw(mix, 7, N, D);
    float *part[K];
    int64_t cnt[K] = {0, 0, 0};
    for (int c = 0; c < K; c++) {
        part[c] = malloc((size_t)(N * D) * sizeof(float));
        if (!part[c]) {
            printf("out of memory\n");
            exit(1);
        }
    }
    for (int64_t p = 0; p < N; p++) {
        int best = 0;
        double bd = INFINITY;
        for (int c = 0; c < K; c++) {
            double d = 0.0;
            for (int i = 0; i < D; i++) {
                double t = (double)x[p * D + i] - mu[c * D + i];
                d += t * t;
            }
            if (d < bd) {
                bd = d;
                best = c;
            }
        }
        memcpy(part[best] + cnt[best] * D, x + p * D, D * sizeof(float));
        cnt[best]++;
    }
    printf("well separated modes (k = 3, D = 2, %d draws):\n", N);
    char buf[256];
    double zf = 0.0, zm = 0.0, zc = 0.0;
    for (int c = 0; c < K; c++) {
        double wc = w[c] / 10.0, f = (double)cnt[c] / N;
        zf = fmax(zf, fabs(f - wc) / sqrt(wc * (1.0 - wc) / N));
        double a, b;
        moment_z(part[c], cnt[c], D, mu + c * D, cov + c * D * D, &a, &b);
        zm = fmax(zm, a);
        zc = fmax(zc, b);
        printf("  component %d: weight %.2f, frequency %.5f\n", c, wc, f);
    }
    snprintf(buf, sizeof buf, "component frequencies vs weights: max |z| %.2f <= %.0f", zf, Z);
    check(zf <= Z, buf);
    snprintf(buf, sizeof buf, "per-component means: max |z| %.2f <= %.0f", zm, Z);
    check(zm <= Z, buf);
    snprintf(buf, sizeof buf, "per-component covariances: max |z| %.2f <= %.0f", zc, Z);
    check(zc <= Z, buf);
    for (int c = 0; c < K; c++)
        free(part[c]);
    free(x);
    hosm_mixture_free(mix);
}

static void reproducibility_test(void)
{
    enum { K = 2, D = 3, M = 1000 };
    const double w[K] = {1.0, 2.0};
    const double mu[K * D] = {0.0, 1.0, 2.0, -1.0, 0.5, 0.0};
    const double cov[K * D * D] = {2.0, 0.3, 0.1, 0.3, 1.0, -0.2, 0.1, -0.2, 0.5,
                                   1.0, 0.0, 0.0, 0.0, 1.0, 0.0,  0.0, 0.0,  1.0};
    hosm_mixture *mix = new_mix(K, D, w, mu, cov);
    float *a = draw(mix, 12345, M, D);
    float *b = draw(mix, 12345, M, D);
    float *c = draw(mix, 12346, M, D);
    float *big = draw(mix, 12345, 10 * M, D);
    int64_t same = 0;
    for (int64_t i = 0; i < M * D; i++)
        same += a[i] == c[i];
    printf("reproducibility (%d draws):\n", M);
    check(memcmp(a, b, sizeof(float) * M * D) == 0, "same seed gives identical draws");
    char buf[256];
    snprintf(buf, sizeof buf, "different seed: %lld of %d values equal (must be < 1%%)",
             (long long)same, M * D);
    check(same < M * D / 100, buf);
    check(memcmp(a, big, sizeof(float) * M * D) == 0,
          "the first draws of a longer run equal a shorter run with the same seed");
    free(a);
    free(b);
    free(c);
    free(big);
    hosm_mixture_free(mix);
}

int main(void)
{
    {
        /* Overlapping components with correlated covariances; weights 2:1:1. */
        const double w[3] = {2.0, 1.0, 1.0};
        const double mu[3 * 3] = {0.0, 0.0, 0.0, 2.0, -1.0, 0.5, -1.5, 1.0, 1.0};
        const double cov[3 * 9] = {1.0, 0.6, -0.2, 0.6, 2.0, 0.3,  -0.2, 0.3, 0.7,
                                   0.5, 0.1, 0.0,  0.1, 0.4, -0.1, 0.0,  -0.1, 1.5,
                                   3.0, -1.0, 0.5, -1.0, 1.0, -0.2, 0.5, -0.2, 0.8};
        moments_test("overlapping mixture", 3, 3, w, mu, cov, 42, 1);
    }
    {
        const double w[2] = {0.3, 0.7};
        const double mu[2] = {-2.0, 1.0};
        const double cov[2] = {0.25, 1.5};
        moments_test("one-dimensional mixture", 2, 1, w, mu, cov, 43, 0);
    }
    modes_test();
    reproducibility_test();
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
