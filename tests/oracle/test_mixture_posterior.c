/* Tweedie posterior moments of the mixture oracle (docs/math.md 2 and 9).
 *
 * 1. Consistency with s1 and s2 of the same oracle: posterior_mean =
 *    x + sigma^2 s1 and posterior_cov = sigma^4 s2 + sigma^2 I. Both sides are
 *    float roundings of double results, so entry (i) may differ by a float
 *    ulp of each side, scaled by what multiplies it: tolerance
 *    2^-23 (|x_i| + sigma^2 |s1_i| + |mean_i|) for the mean and
 *    2^-23 (|cov_ij| + sigma^4 |s2_ij|) + 1e-12 (sigma^4 max|s2| + sigma^2)
 *    for the covariance (the last term bounds the double rounding, which
 *    depends on the condition numbers, all below 100 here). Both matrices
 *    must be exactly symmetric, and the covariance positive semidefinite:
 *    its smallest eigenvalue (cyclic Jacobi in double) must be at least
 *    -D 2^-24 max|cov_ij|, the largest shift rounding to float can cause.
 *    At sigma = 0 the mean is x and the covariance 0, exactly.
 * 2. One Gaussian prior N(mu, Sigma): the posterior of x given x + sigma z is
 *    N(mu + Sigma C^-1 (x - mu), Sigma - Sigma C^-1 Sigma), C = Sigma +
 *    sigma^2 I, in closed form through Sigma = Q diag(lambda) Q^T. Tolerance:
 *    half a float ulp of the exact entry plus 1e-12 of the point's scale.
 * 3. Mixture prior, independently of any formula: the posterior moments by
 *    self-normalised importance sampling over 200000 exact prior draws
 *    (weights N(x; x_j, sigma^2 I)). Each estimate must lie within 5
 *    delta-method standard errors of the oracle; a control shows that the
 *    posterior mean at 1.3 sigma is rejected. */
#include <float.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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

static void need(int st)
{
    if (st != HOSM_OK) {
        printf("query failed: %s\n", hosm_last_errmsg());
        exit(1);
    }
}

/* Eigenvalues of the symmetric D x D matrix a (destroyed) by cyclic Jacobi. */
static void jacobi_eigenvalues(double *a, int64_t D, double *ev)
{
    for (int sweep = 0; sweep < 100; sweep++) {
        double off = 0.0, tot = 0.0;
        for (int64_t i = 0; i < D; i++)
            for (int64_t j = 0; j < D; j++) {
                tot += a[i * D + j] * a[i * D + j];
                if (i != j)
                    off += a[i * D + j] * a[i * D + j];
            }
        if (off <= 1e-30 * tot || off == 0.0)
            break;
        for (int64_t p = 0; p < D; p++)
            for (int64_t q = p + 1; q < D; q++) {
                double apq = a[p * D + q];
                if (apq == 0.0)
                    continue;
                double theta = (a[q * D + q] - a[p * D + p]) / (2.0 * apq);
                double t = (theta >= 0 ? 1.0 : -1.0) / (fabs(theta) + sqrt(theta * theta + 1.0));
                double c = 1.0 / sqrt(t * t + 1.0), s = t * c;
                for (int64_t m = 0; m < D; m++) { /* columns p, q */
                    double amp = a[m * D + p], amq = a[m * D + q];
                    a[m * D + p] = c * amp - s * amq;
                    a[m * D + q] = s * amp + c * amq;
                }
                for (int64_t m = 0; m < D; m++) { /* rows p, q */
                    double apm = a[p * D + m], aqm = a[q * D + m];
                    a[p * D + m] = c * apm - s * aqm;
                    a[q * D + m] = s * apm + c * aqm;
                }
            }
    }
    for (int64_t i = 0; i < D; i++)
        ev[i] = a[i * D + i];
}

/* Q = I - 2 v v^T / (v^T v), symmetric and orthogonal. */
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

static void jacobi_selfcheck(void)
{
    double Q[9], f[3] = {3.0, -1.0, 0.5}, A[9], ev[3];
    householder(3, Q);
    qdq(3, Q, f, A);
    jacobi_eigenvalues(A, 3, ev);
    double lo = fmin(ev[0], fmin(ev[1], ev[2])), hi = fmax(ev[0], fmax(ev[1], ev[2]));
    char buf[200];
    printf("eigenvalue helper:\n");
    snprintf(buf, sizeof buf, "finds eigenvalues -1 and 3 of a rotated diag(3, -1, 0.5): %.15g, "
             "%.15g", lo, hi);
    check(fabs(lo + 1.0) < 1e-12 && fabs(hi - 3.0) < 1e-12, buf);
}

/* ---- 1. consistency with s1 and s2 ------------------------------------- */

static void consistency(int64_t D)
{
    enum { K = 3, NP = 8 };
    double w[K] = {0.2, 0.5, 0.3}, mu[K * MAXD], cov[K * MAXD * MAXD];
    for (int64_t c = 0; c < K; c++)
        for (int64_t i = 0; i < D; i++) {
            mu[c * D + i] = 1.5 * sin(1.0 + (double)(3 * c + 7 * i));
            /* diag(0.4 + 0.3 c) + 0.5 u u^T, u_i = cos((c + 1)(i + 1) + c) */
            const double ui = cos((double)((c + 1) * (i + 1) + c));
            for (int64_t j = 0; j < D; j++) {
                const double uj = cos((double)((c + 1) * (j + 1) + c));
                cov[c * D * D + i * D + j] = (i == j ? 0.4 + 0.3 * (double)c : 0.0) + 0.5 * ui * uj;
            }
        }
    hosm_mixture *mix = new_mix(K, D, w, mu, cov);
    float x[NP * MAXD];
    for (int64_t p = 0; p < NP; p++)
        for (int64_t i = 0; i < D; i++)
            x[p * D + i] = (float)(2.0 * sin(0.7 * (double)p + 1.3 * (double)i));
    const double sigmas[] = {0.0, 0.2, 1.0, 5.0};
    for (int si = 0; si < 4; si++) {
        const double sigma = sigmas[si], s2 = sigma * sigma, s4 = s2 * s2;
        float s1[NP * MAXD], pm[NP * MAXD], h[NP * MAXD * MAXD], pc[NP * MAXD * MAXD];
        need(hosm_mixture_score(mix, sigma, x, NP, s1));
        need(hosm_mixture_hessian(mix, sigma, x, NP, h));
        need(hosm_mixture_posterior_mean(mix, sigma, x, NP, pm));
        need(hosm_mixture_posterior_cov(mix, sigma, x, NP, pc));
        double rmean = 0.0, rcov = 0.0, minev = INFINITY, maxev = 0.0, psd = INFINITY;
        int sym = 1, exact0 = 1;
        for (int64_t p = 0; p < NP; p++) {
            const float *xp = x + p * D, *g = s1 + p * D, *m = pm + p * D;
            const float *H = h + p * D * D, *P = pc + p * D * D;
            for (int64_t i = 0; i < D; i++) {
                double ref = (double)xp[i] + s2 * (double)g[i];
                double tol = FLT_EPSILON * (fabs(xp[i]) + s2 * fabs(g[i]) + fabs(m[i]));
                rmean = fmax(rmean, fabs((double)m[i] - ref) / tol);
                if (sigma == 0.0 && m[i] != xp[i])
                    exact0 = 0;
            }
            double hmax = 0.0, cmax = 0.0;
            for (int64_t i = 0; i < D * D; i++) {
                hmax = fmax(hmax, fabs(H[i]));
                cmax = fmax(cmax, fabs(P[i]));
            }
            double A[MAXD * MAXD], ev[MAXD];
            for (int64_t i = 0; i < D; i++)
                for (int64_t j = 0; j < D; j++) {
                    double ref = s4 * (double)H[i * D + j] + (i == j ? s2 : 0.0);
                    double tol = FLT_EPSILON * (fabs(P[i * D + j]) + s4 * fabs(H[i * D + j])) +
                                 1e-12 * (s4 * hmax + s2);
                    if (tol > 0.0)
                        rcov = fmax(rcov, fabs((double)P[i * D + j] - ref) / tol);
                    else if (P[i * D + j] != ref)
                        rcov = INFINITY;
                    if (H[i * D + j] != H[j * D + i] || P[i * D + j] != P[j * D + i])
                        sym = 0;
                    if (sigma == 0.0 && P[i * D + j] != 0.0f)
                        exact0 = 0;
                    A[i * D + j] = P[i * D + j];
                }
            jacobi_eigenvalues(A, D, ev);
            for (int64_t i = 0; i < D; i++) {
                minev = fmin(minev, ev[i]);
                maxev = fmax(maxev, ev[i]);
                /* Margin left to the bound, in units of the bound. */
                double bound = (double)D * ULP24 * cmax;
                psd = fmin(psd, bound > 0.0 ? (ev[i] + bound) / bound : (ev[i] >= 0 ? 1 : -1));
            }
        }
        char buf[256];
        printf("D = %lld, sigma = %.1f (%d points):\n", (long long)D, sigma, NP);
        snprintf(buf, sizeof buf, "posterior_mean = x + sigma^2 s1: error / tolerance %.3g <= 1",
                 rmean);
        check(rmean <= 1.0, buf);
        snprintf(buf, sizeof buf,
                 "posterior_cov = sigma^4 s2 + sigma^2 I: error / tolerance %.3g <= 1", rcov);
        check(rcov <= 1.0, buf);
        check(sym, "s2 and posterior_cov are exactly symmetric");
        snprintf(buf, sizeof buf,
                 "posterior_cov is PSD: eigenvalues in [%.3g, %.3g], smallest >= -D 2^-24 max|cov|",
                 minev, maxev);
        check(psd >= 0.0, buf);
        if (sigma == 0.0)
            check(exact0, "at sigma = 0 the posterior mean is x and the covariance 0, exactly");
    }
    hosm_mixture_free(mix);
}

/* ---- 2. single Gaussian prior: closed-form posterior -------------------- */

static double ulp_ratio(const float *got, const double *ref, int64_t n, double scale)
{
    double worst = 0.0;
    for (int64_t i = 0; i < n; i++)
        worst = fmax(worst, fabs((double)got[i] - ref[i]) / (ULP24 * fabs(ref[i]) + 1e-12 * scale));
    return worst;
}

static void gaussian_posterior(int64_t D)
{
    enum { NP = 5 };
    double Q[MAXD * MAXD], lam[MAXD], Sigma[MAXD * MAXD], mu[MAXD];
    householder(D, Q);
    for (int64_t i = 0; i < D; i++) {
        lam[i] = 0.3 + 1.7 * (double)i;
        mu[i] = 1.0 - 0.6 * (double)i;
    }
    qdq(D, Q, lam, Sigma);
    const double one = 1.0;
    hosm_mixture *g = new_mix(1, D, &one, mu, Sigma);
    float x[NP * MAXD];
    for (int64_t p = 0; p < NP; p++)
        for (int64_t i = 0; i < D; i++)
            x[p * D + i] = (float)(mu[i] + 1.5 * cos(2.1 * (double)p + 0.9 * (double)i));
    const double sigmas[] = {0.1, 0.8, 2.5};
    for (int si = 0; si < 3; si++) {
        const double sigma = sigmas[si], s2 = sigma * sigma;
        double shrink[MAXD], pvar[MAXD], K[MAXD * MAXD], Pref[MAXD * MAXD];
        for (int64_t i = 0; i < D; i++) {
            shrink[i] = lam[i] / (lam[i] + s2);      /* Sigma C^-1 */
            pvar[i] = lam[i] * s2 / (lam[i] + s2); /* Sigma - Sigma C^-1 Sigma */
        }
        qdq(D, Q, shrink, K);
        qdq(D, Q, pvar, Pref);
        float pm[NP * MAXD], pc[NP * MAXD * MAXD];
        need(hosm_mixture_posterior_mean(g, sigma, x, NP, pm));
        need(hosm_mixture_posterior_cov(g, sigma, x, NP, pc));
        double rm = 0.0, rc = 0.0, cscale = 0.0;
        for (int64_t i = 0; i < D * D; i++)
            cscale = fmax(cscale, fabs(Pref[i]));
        for (int64_t p = 0; p < NP; p++) {
            double mref[MAXD], scale = 0.0;
            for (int64_t i = 0; i < D; i++) {
                double s = mu[i];
                for (int64_t j = 0; j < D; j++)
                    s += K[i * D + j] * ((double)x[p * D + j] - mu[j]);
                mref[i] = s;
                scale = fmax(scale, fabs(s) + fabs(x[p * D + i]));
            }
            rm = fmax(rm, ulp_ratio(pm + p * D, mref, D, scale));
            rc = fmax(rc, ulp_ratio(pc + p * D * D, Pref, D * D, cscale));
        }
        char buf[256];
        printf("Gaussian prior, D = %lld, sigma = %.1f (%d points):\n", (long long)D, sigma, NP);
        snprintf(buf, sizeof buf,
                 "posterior mean = mu + Sigma C^-1 (x - mu): error / tolerance %.3g <= 1", rm);
        check(rm <= 1.0, buf);
        snprintf(buf, sizeof buf,
                 "posterior cov = Sigma - Sigma C^-1 Sigma: error / tolerance %.3g <= 1", rc);
        check(rc <= 1.0, buf);
    }
    hosm_mixture_free(g);
}

/* ---- 3. mixture prior: importance sampling ------------------------------ */

static void importance_sampling(void)
{
    enum { K = 3, D = 2, NS = 200000, NP = 4 };
    const double w[K] = {0.5, 0.3, 0.2};
    const double mu[K * D] = {-1.5, 0.0, 1.5, 0.5, 0.0, 2.0};
    const double cov[K * D * D] = {0.5, 0.2, 0.2, 0.4, 0.3, -0.1, -0.1, 0.6, 0.8, 0.0, 0.0, 0.2};
    hosm_mixture *mix = new_mix(K, D, w, mu, cov);
    float *xs = malloc(sizeof(float) * NS * D);
    double *a = malloc(sizeof(double) * NS);
    if (!xs || !a) {
        printf("out of memory\n");
        exit(1);
    }
    need(hosm_mixture_sample(mix, 2024, NS, xs));
    const float pts[NP * D] = {0.0f, 0.25f, -1.0f, 0.5f, 1.0f, 1.25f, 0.75f, -0.5f};
    const double sigmas[] = {0.5, 1.0};
    for (int si = 0; si < 2; si++) {
        const double sigma = sigmas[si];
        float pm[NP * D], pc[NP * D * D], pw[NP * D];
        need(hosm_mixture_posterior_mean(mix, sigma, pts, NP, pm));
        need(hosm_mixture_posterior_cov(mix, sigma, pts, NP, pc));
        need(hosm_mixture_posterior_mean(mix, 1.3 * sigma, pts, NP, pw));
        double zm = 0.0, zc = 0.0, zw = 0.0, ess_min = INFINITY;
        for (int p = 0; p < NP; p++) {
            const float *y = pts + p * D;
            double amax = -INFINITY;
            for (int64_t j = 0; j < NS; j++) {
                double d0 = (double)y[0] - xs[j * D], d1 = (double)y[1] - xs[j * D + 1];
                a[j] = -(d0 * d0 + d1 * d1) / (2.0 * sigma * sigma);
                amax = fmax(amax, a[j]);
            }
            double sa = 0.0, sa2 = 0.0;
            for (int64_t j = 0; j < NS; j++) {
                a[j] = exp(a[j] - amax);
                sa += a[j];
            }
            for (int64_t j = 0; j < NS; j++) {
                a[j] /= sa;
                sa2 += a[j] * a[j];
            }
            ess_min = fmin(ess_min, 1.0 / sa2);
            double m[D] = {0.0, 0.0};
            for (int64_t j = 0; j < NS; j++)
                for (int i = 0; i < D; i++)
                    m[i] += a[j] * xs[j * D + i];
            for (int i = 0; i < D; i++) {
                double v = 0.0;
                for (int64_t j = 0; j < NS; j++) {
                    double t = xs[j * D + i] - m[i];
                    v += a[j] * a[j] * t * t;
                }
                zm = fmax(zm, fabs(pm[p * D + i] - m[i]) / sqrt(v));
                zw = fmax(zw, fabs(pw[p * D + i] - m[i]) / sqrt(v));
                for (int l = i; l < D; l++) {
                    double c = 0.0, vc = 0.0;
                    for (int64_t j = 0; j < NS; j++)
                        c += a[j] * (xs[j * D + i] - m[i]) * (xs[j * D + l] - m[l]);
                    for (int64_t j = 0; j < NS; j++) {
                        double t = (xs[j * D + i] - m[i]) * (xs[j * D + l] - m[l]) - c;
                        vc += a[j] * a[j] * t * t;
                    }
                    zc = fmax(zc, fabs(pc[p * D * D + i * D + l] - c) / sqrt(vc));
                }
            }
        }
        char buf[256];
        printf("mixture prior by importance sampling, sigma = %.1f (%d points, %d prior draws, "
               "min ESS %.0f):\n", sigma, NP, NS, ess_min);
        snprintf(buf, sizeof buf, "effective sample size %.0f >= 2000", ess_min);
        check(ess_min >= 2000.0, buf);
        snprintf(buf, sizeof buf, "posterior mean: max |z| %.2f <= 5", zm);
        check(zm <= 5.0, buf);
        snprintf(buf, sizeof buf, "posterior covariance: max |z| %.2f <= 5", zc);
        check(zc <= 5.0, buf);
        snprintf(buf, sizeof buf, "control: posterior mean at 1.3 sigma is rejected, |z| %.1f > 5",
                 zw);
        check(zw > 5.0, buf);
    }
    free(xs);
    free(a);
    hosm_mixture_free(mix);
}

int main(void)
{
    jacobi_selfcheck();
    consistency(1);
    consistency(2);
    consistency(5);
    gaussian_posterior(1);
    gaussian_posterior(2);
    gaussian_posterior(5);
    importance_sampling();
    if (failures) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
