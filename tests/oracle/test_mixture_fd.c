/* The mixture oracle's s1 and s2 against finite differences of its own
 * log-density (docs/math.md 9): s1 = grad log q_sigma, s2 = Hessian of log q_sigma.
 *
 * The differences are taken in double on hosm_mixture_log_density (which
 * returns doubles). The points lie on a grid of 2^-10 and the steps are 2^-8
 * and 2^-9, so every perturbed point is exact in float. Richardson
 * extrapolation of the central differences leaves a truncation error of
 * O(h^4) ~ 1e-10 and a rounding error of eps |log q| / h^2 ~ 1e-10, both far
 * below the float rounding of s1 and s2 (2^-24 ~ 6e-8 relative). The
 * tolerance, 1e-6 of the largest entry (at least 1) of the quantity at the
 * point, is 16 float roundings: it catches any mathematical error (the
 * controls show that moving sigma by 0.05 breaks it by orders of magnitude)
 * but not the conversion to float. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hosm.h"

#define TOL 1e-6
#define MAXD 5

static int failures;

static void check(int ok, const char *what)
{
    printf("  %s: %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

static uint64_t rng_state = 0x243f6a8885a308d3ULL;

static double urand(void)
{
    uint64_t z = (rng_state += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    z ^= z >> 31;
    return ((double)(z >> 11) + 0.5) * 0x1.0p-53;
}

static double nrand(void)
{
    return sqrt(-2.0 * log(urand())) * cos(6.283185307179586 * urand());
}

/* Round to the grid of 2^-10 (exact in float for |v| < 2^13). */
static double grid(double v)
{
    return round(v * 1024.0) / 1024.0;
}

/* Three components with means spread ~ 1.2 and covariances B B^T / D + 0.3 I:
 * overlapping enough that the responsibilities vary between the points. */
static hosm_mixture *make_mixture(int64_t D, double *means)
{
    const int64_t k = 3;
    double weights[3] = {0.5, 0.3, 0.2};
    double covs[3 * MAXD * MAXD];
    for (int64_t c = 0; c < k; c++) {
        double B[MAXD * MAXD];
        for (int64_t i = 0; i < D * D; i++)
            B[i] = 0.8 * nrand();
        for (int64_t i = 0; i < D; i++) {
            means[c * D + i] = 1.2 * nrand();
            for (int64_t j = 0; j < D; j++) {
                double s = i == j ? 0.3 : 0.0;
                for (int64_t m = 0; m < D; m++)
                    s += B[i * D + m] * B[j * D + m] / (double)D;
                covs[c * D * D + i * D + j] = s;
            }
        }
    }
    hosm_mixture *mix = NULL;
    int st = hosm_mixture_new(&mix, k, D, weights, means, covs);
    if (st != HOSM_OK) {
        printf("hosm_mixture_new failed: %s\n", hosm_last_errmsg());
        exit(1);
    }
    return mix;
}

static double logq(const hosm_mixture *mix, double sigma, const double *x, int64_t D)
{
    float xf[MAXD];
    for (int64_t i = 0; i < D; i++) {
        xf[i] = (float)x[i];
        if ((double)xf[i] != x[i]) {
            printf("internal error: a perturbed point is not exact in float\n");
            exit(1);
        }
    }
    double out;
    if (hosm_mixture_log_density(mix, sigma, xf, 1, &out) != HOSM_OK) {
        printf("hosm_mixture_log_density failed: %s\n", hosm_last_errmsg());
        exit(1);
    }
    return out;
}

/* f at x + a h e_i + b h e_j. */
static double fshift(const hosm_mixture *mix, double sigma, const double *x, int64_t D, int64_t i,
                     double a, int64_t j, double b, double h)
{
    double y[MAXD];
    for (int64_t m = 0; m < D; m++)
        y[m] = x[m];
    y[i] += a * h;
    y[j] += b * h;
    return logq(mix, sigma, y, D);
}

static double d1(const hosm_mixture *mix, double sigma, const double *x, int64_t D, int64_t i,
                 double h)
{
    return (fshift(mix, sigma, x, D, i, 1, i, 0, h) - fshift(mix, sigma, x, D, i, -1, i, 0, h)) /
           (2.0 * h);
}

static double d2(const hosm_mixture *mix, double sigma, const double *x, int64_t D, int64_t i,
                 int64_t j, double h)
{
    if (i == j)
        return (fshift(mix, sigma, x, D, i, 1, i, 0, h) - 2.0 * logq(mix, sigma, x, D) +
                fshift(mix, sigma, x, D, i, -1, i, 0, h)) /
               (h * h);
    return (fshift(mix, sigma, x, D, i, 1, j, 1, h) - fshift(mix, sigma, x, D, i, 1, j, -1, h) -
            fshift(mix, sigma, x, D, i, -1, j, 1, h) + fshift(mix, sigma, x, D, i, -1, j, -1, h)) /
           (4.0 * h * h);
}

/* Largest entry error over max(1, largest |reference| entry). */
static double rel_err(const float *got, const double *ref, int64_t n)
{
    double e = 0.0, s = 1.0;
    for (int64_t i = 0; i < n; i++) {
        e = fmax(e, fabs((double)got[i] - ref[i]));
        s = fmax(s, fabs(ref[i]));
    }
    return e / s;
}

static void run(int64_t D)
{
    double means[3 * MAXD];
    hosm_mixture *mix = make_mixture(D, means);
    /* Points: near a mean, between two means, and off to the side. */
    enum { NP = 4 };
    double pts[NP][MAXD];
    for (int64_t i = 0; i < D; i++) {
        pts[0][i] = grid(means[i] + 0.3 * nrand());
        pts[1][i] = grid(0.5 * (means[i] + means[D + i]));
        pts[2][i] = grid(0.4 * means[D + i] + 0.6 * means[2 * D + i] + 0.2 * nrand());
        pts[3][i] = grid(2.0 * nrand());
    }
    const double sigmas[] = {0.0, 0.3, 1.0};
    const double h = 0x1.0p-8;
    for (int si = 0; si < 3; si++) {
        const double sigma = sigmas[si];
        double worst1 = 0.0, worst2 = 0.0, ctrl1 = INFINITY, ctrl2 = INFINITY;
        for (int p = 0; p < NP; p++) {
            const double *x = pts[p];
            double ref1[MAXD], ref2[MAXD * MAXD];
            for (int64_t i = 0; i < D; i++)
                ref1[i] = (4.0 * d1(mix, sigma, x, D, i, h / 2) - d1(mix, sigma, x, D, i, h)) / 3.0;
            for (int64_t i = 0; i < D; i++)
                for (int64_t j = 0; j < D; j++)
                    ref2[i * D + j] =
                        (4.0 * d2(mix, sigma, x, D, i, j, h / 2) - d2(mix, sigma, x, D, i, j, h)) /
                        3.0;
            float xf[MAXD], s1[MAXD], s2[MAXD * MAXD], c1[MAXD], c2[MAXD * MAXD];
            for (int64_t i = 0; i < D; i++)
                xf[i] = (float)x[i];
            if (hosm_mixture_score(mix, sigma, xf, 1, s1) != HOSM_OK ||
                hosm_mixture_hessian(mix, sigma, xf, 1, s2) != HOSM_OK ||
                hosm_mixture_score(mix, sigma + 0.05, xf, 1, c1) != HOSM_OK ||
                hosm_mixture_hessian(mix, sigma + 0.05, xf, 1, c2) != HOSM_OK) {
                printf("query failed: %s\n", hosm_last_errmsg());
                exit(1);
            }
            worst1 = fmax(worst1, rel_err(s1, ref1, D));
            worst2 = fmax(worst2, rel_err(s2, ref2, D * D));
            ctrl1 = fmin(ctrl1, rel_err(c1, ref1, D));
            ctrl2 = fmin(ctrl2, rel_err(c2, ref2, D * D));
        }
        char buf[256];
        printf("D = %lld, sigma = %.2f (%d points):\n", (long long)D, sigma, NP);
        snprintf(buf, sizeof buf, "s1 vs FD of log q: max rel error %.3g <= %.0e", worst1, TOL);
        check(worst1 <= TOL, buf);
        snprintf(buf, sizeof buf, "s2 vs 2nd FD of log q: max rel error %.3g <= %.0e", worst2, TOL);
        check(worst2 <= TOL, buf);
        /* Controls: the same comparison at the wrong sigma must fail clearly. */
        snprintf(buf, sizeof buf, "control: s1 at sigma + 0.05, min rel error %.3g > 100 tol",
                 ctrl1);
        check(ctrl1 > 100 * TOL, buf);
        snprintf(buf, sizeof buf, "control: s2 at sigma + 0.05, min rel error %.3g > 100 tol",
                 ctrl2);
        check(ctrl2 > 100 * TOL, buf);
    }
    hosm_mixture_free(mix);
}

int main(void)
{
    run(1);
    run(2);
    run(5);
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
