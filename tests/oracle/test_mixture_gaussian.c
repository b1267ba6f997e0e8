/* A single Gaussian N(mu, Sigma) against its closed forms (docs/math.md 9):
 *   log q_sigma = log N(x; mu, C),  s1 = -C^-1 (x - mu),  s2 = -C^-1,
 * with C = Sigma + sigma^2 I. Sigma = Q diag(lambda) Q^T for a Householder
 * reflection Q (symmetric and orthogonal), so C^-1 = Q diag(1 / (lambda +
 * sigma^2)) Q^T is known without any factorisation.
 *
 * Tolerances: the oracle works in double and rounds s1, s2 to float, so an
 * entry may differ from the exact value by half a float ulp (2^-24 of the
 * entry) plus the double error of the computation, bounded here by 1e-12 of
 * the largest entry (the condition numbers are below 60). The log-density is
 * returned in double: 1e-12 relative to max(1, |log q|). Mixtures of identical components and
 * rescaled weights must give the same values (weights are normalised). */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "hosm.h"

#define MAXD 5
#define ULP24 0x1.0p-24

static int failures;

static void check(int ok, const char *what)
{
    printf("  %s: %s\n", ok ? "ok  " : "FAIL", what);
    if (!ok)
        failures++;
}

/* Sigma = Q diag(lam) Q^T with Q = I - 2 v v^T / (v^T v). */
static void householder(int64_t D, double *Q)
{
    double v[MAXD], vv = 0.0;
    for (int64_t i = 0; i < D; i++) {
        v[i] = 1.0 + 0.5 * (double)i - 0.3 * (double)(i % 2);
        vv += v[i] * v[i];
    }
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < D; j++)
            Q[i * D + j] = (i == j ? 1.0 : 0.0) - 2.0 * v[i] * v[j] / vv;
}

/* Q diag(f) Q^T */
static void qdq(int64_t D, const double *Q, const double *f, double *out)
{
    for (int64_t i = 0; i < D; i++)
        for (int64_t j = 0; j < D; j++) {
            double s = 0.0;
            for (int64_t m = 0; m < D; m++)
                s += Q[i * D + m] * f[m] * Q[j * D + m];
            out[i * D + j] = s;
        }
}

/* Max over entries of |got - ref| / (2^-24 |ref| + 1e-12 max|ref|): <= 1 passes. */
static double ulp_ratio(const float *got, const double *ref, int64_t n)
{
    double scale = 0.0, worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        scale = fmax(scale, fabs(ref[i]));
    for (int64_t i = 0; i < n; i++) {
        double tol = ULP24 * fabs(ref[i]) + 1e-12 * scale;
        worst = fmax(worst, fabs((double)got[i] - ref[i]) / tol);
    }
    return worst;
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

static void run(int64_t D)
{
    double Q[MAXD * MAXD], lam[MAXD], Sigma[MAXD * MAXD], mu[MAXD];
    householder(D, Q);
    for (int64_t i = 0; i < D; i++) {
        lam[i] = 0.25 + 0.9 * (double)i * (double)i; /* 0.25 .. 14.65 */
        mu[i] = 0.5 - 0.75 * (double)i;
    }
    qdq(D, Q, lam, Sigma);
    const double one = 1.0;
    hosm_mixture *g = new_mix(1, D, &one, mu, Sigma);
    /* The same Gaussian twice, with unnormalised weights 3 and 1. */
    double w2[2] = {3.0, 1.0}, mu2[2 * MAXD], S2[2 * MAXD * MAXD];
    for (int64_t c = 0; c < 2; c++) {
        for (int64_t i = 0; i < D; i++)
            mu2[c * D + i] = mu[i];
        for (int64_t i = 0; i < D * D; i++)
            S2[c * D * D + i] = Sigma[i];
    }
    hosm_mixture *g2 = new_mix(2, D, w2, mu2, S2);
    const double w7 = 7.0;
    hosm_mixture *g7 = new_mix(1, D, &w7, mu, Sigma);

    enum { NP = 6 };
    float x[NP * MAXD];
    for (int p = 0; p < NP; p++)
        for (int64_t i = 0; i < D; i++)
            x[p * D + i] = (float)(mu[i] + 0.8 * (double)(p - 2) * cos(1.0 + (double)(p * D + i)));

    const double sigmas[] = {0.0, 0.1, 0.7, 3.0};
    for (int si = 0; si < 4; si++) {
        const double sigma = sigmas[si], s2 = sigma * sigma;
        double inv[MAXD], Cinv[MAXD * MAXD];
        double logdet = 0.0;
        for (int64_t i = 0; i < D; i++) {
            inv[i] = 1.0 / (lam[i] + s2);
            logdet += log(lam[i] + s2);
        }
        qdq(D, Q, inv, Cinv);
        float s1[NP * MAXD], h[NP * MAXD * MAXD], s1b[NP * MAXD], hb[NP * MAXD * MAXD];
        double lq[NP], lqb[NP], lqc[NP];
        if (hosm_mixture_score(g, sigma, x, NP, s1) || hosm_mixture_hessian(g, sigma, x, NP, h) ||
            hosm_mixture_log_density(g, sigma, x, NP, lq) ||
            hosm_mixture_score(g2, sigma, x, NP, s1b) ||
            hosm_mixture_hessian(g2, sigma, x, NP, hb) ||
            hosm_mixture_log_density(g2, sigma, x, NP, lqb) ||
            hosm_mixture_log_density(g7, sigma, x, NP, lqc)) {
            printf("query failed: %s\n", hosm_last_errmsg());
            exit(1);
        }
        double r1 = 0.0, r2 = 0.0, rl = 0.0, r1b = 0.0, r2b = 0.0, rlb = 0.0;
        for (int p = 0; p < NP; p++) {
            double dx[MAXD], ref1[MAXD], ref2[MAXD * MAXD], quad = 0.0;
            for (int64_t i = 0; i < D; i++)
                dx[i] = (double)x[p * D + i] - mu[i];
            for (int64_t i = 0; i < D; i++) {
                double s = 0.0;
                for (int64_t j = 0; j < D; j++)
                    s += Cinv[i * D + j] * dx[j];
                ref1[i] = -s;
                quad += dx[i] * s;
            }
            for (int64_t i = 0; i < D * D; i++)
                ref2[i] = -Cinv[i];
            double refl = -0.5 * ((double)D * log(2.0 * 3.14159265358979323846) + logdet + quad);
            r1 = fmax(r1, ulp_ratio(s1 + p * D, ref1, D));
            r2 = fmax(r2, ulp_ratio(h + p * D * D, ref2, D * D));
            r1b = fmax(r1b, ulp_ratio(s1b + p * D, ref1, D));
            r2b = fmax(r2b, ulp_ratio(hb + p * D * D, ref2, D * D));
            rl = fmax(rl, fabs(lq[p] - refl) / fmax(1.0, fabs(refl)));
            rlb = fmax(rlb, fmax(fabs(lqb[p] - refl), fabs(lqc[p] - refl)) / fmax(1.0, fabs(refl)));
        }
        char buf[256];
        printf("D = %lld, sigma = %.1f (%d points):\n", (long long)D, sigma, NP);
        snprintf(buf, sizeof buf, "s1 = -C^-1 (x - mu): error / tolerance %.3g <= 1", r1);
        check(r1 <= 1.0, buf);
        snprintf(buf, sizeof buf, "s2 = -C^-1: error / tolerance %.3g <= 1", r2);
        check(r2 <= 1.0, buf);
        snprintf(buf, sizeof buf, "log q = log N(x; mu, C): rel error %.3g <= 1e-12", rl);
        check(rl <= 1e-12, buf);
        snprintf(buf, sizeof buf, "two equal components (w 3:1): s1 error / tolerance %.3g <= 1",
                 r1b);
        check(r1b <= 1.0, buf);
        snprintf(buf, sizeof buf, "two equal components (w 3:1): s2 error / tolerance %.3g <= 1",
                 r2b);
        check(r2b <= 1.0, buf);
        snprintf(buf, sizeof buf,
                 "two equal components, weight 7: log q rel error %.3g <= 1e-12", rlb);
        check(rlb <= 1e-12, buf);
    }
    hosm_mixture_free(g);
    hosm_mixture_free(g2);
    hosm_mixture_free(g7);
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
