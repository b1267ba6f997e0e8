/* The diagnostics (docs/math.md 11, docs/sampling.md#diagnostics) on inputs
 * whose answer is known.
 *
 *  1. ESS of AR(1) chains x_s = rho x_{s-1} + sqrt(1 - rho^2) e_s started in
 *     the stationary law, rho = 0, 0.5, 0.9 (one coordinate each), 8 chains
 *     of 40000 draws: ESS = m N (1 - rho) / (1 + rho). Tolerance: about 4
 *     standard deviations of the estimator plus its bias, both measured over
 *     100 seeds (ESS / expected had mean 0.995 to 0.998 and sd 0.45%, 1.2%,
 *     2.3%): 2.5%, 5% and 10%. One chain of the same trace alone (N = 40000,
 *     sd 1.3%, 2.9%, 6.3%): 6%, 12% and 25%. Chains whose means differ (bad
 *     mixing) must get a far smaller ESS (through B).
 *  2. Split R-hat: 4 well-mixed AR(1) chains (rho = 0.5, 2000 draws) give
 *     R-hat - 1 of order 1e-4 (below 1.01, the usual threshold); chains stuck
 *     in modes -3 and +3 give about sqrt(1 + 9 (4/3)) ~ 3.6 (> 1.5); one
 *     chain with a trend (its halves differ) > 1.5, which only the split
 *     detects. Constant coordinates: NaN (all equal) and +Inf (halves differ).
 *  3. KSD against a direct O(n^2 D) evaluation of the formula of
 *     docs/math.md 11.3 (n = 600 > one block of 256, so off-diagonal blocks
 *     and a ragged edge are exercised): relative 1e-10. On exact samples
 *     (n = 2000) of a correlated Gaussian in D = 4 and of a 2-component
 *     mixture in D = 2, with the oracle's exact scores at sigma = 0: the
 *     V-statistic is (1/n) diag, diag = mean_i u_p(x_i, x_i) = mean ||s||^2
 *     + D (computed from the scores), plus (1 - 1/n) times a degenerate
 *     U-statistic of mean 0 and size O(1/n). So r = n KSD^2 / diag is about
 *     1 on exact samples: over 100 seeds its mean was 1.0 (sd 0.14 and 0.29),
 *     its maximum 1.75; the bound is r <= 4. Biased samples (every coordinate
 *     shifted by 0.5, or scaled by 1.5 about the mean) must give r >= 6: over
 *     the same seeds r was 16 to 24 and 8.7 to 10.2 (Gaussian), 97 to 124
 *     and 70 to 90 (mixture).
 *  4. Energy distance against a direct evaluation (n = 300, m = 517, with a
 *     duplicated point): relative 1e-10. Two independent exact sample sets of
 *     1000 points: |ED| <= 0.03 (over 100 seeds sd 0.003 and 0.004, |ED| at
 *     most 0.012); one set shifted by 1 in every coordinate: ED >= 0.25
 *     (over 100 seeds 0.74 to 1.11 and 0.47 to 0.75).
 *  5. hosm_mixture_assign: points drawn near each of 3 separated means go to
 *     that component; with weights 0.3 / 0.7 on N(-1, 1), N(1, 1) the
 *     boundary is at log(0.3 / 0.7) / 2 = -0.4236, not at the midpoint 0.
 *
 * All draws use fixed seeds, so the outcome is deterministic. */
#include "../test_util.h"

/* ---- AR(1) traces ------------------------------------------------------ */

/* trace (t x n x dim, time-major): coordinate d of every chain is an AR(1)
 * chain with coefficient rho[d], stationary start. */
static void ar1_trace(float *trace, int64_t t, int64_t n, int64_t dim, const double *rho,
                      uint64_t seed)
{
    trng r = {seed};
    for (int64_t c = 0; c < n; c++)
        for (int64_t d = 0; d < dim; d++) {
            double x = trng_normal(&r);
            const double a = rho[d], b = sqrt(1.0 - a * a);
            for (int64_t s = 0; s < t; s++) {
                if (s > 0)
                    x = a * x + b * trng_normal(&r);
                trace[(s * n + c) * dim + d] = (float)x;
            }
        }
}

#define ESS_T 40000
#define ESS_M 8

static void test_ess(void)
{
    const double rho[3] = {0.0, 0.5, 0.9}, tol[3] = {0.025, 0.05, 0.10};
    const double tol1[3] = {0.06, 0.12, 0.25};
    float *tr = xmalloc((size_t)ESS_T * ESS_M * 3 * sizeof *tr);
    ar1_trace(tr, ESS_T, ESS_M, 3, rho, 11);
    double ess[3];
    MUST(hosm_diag_ess(tr, ESS_T, ESS_M, 3, ess));
    for (int d = 0; d < 3; d++) {
        const double want = (double)ESS_T * ESS_M * (1.0 - rho[d]) / (1.0 + rho[d]);
        char what[96];
        snprintf(what, sizeof what, "ESS, AR(1) rho = %.1f, 8 x 40000: |ESS / %.0f - 1|",
                 rho[d], want);
        check_le(what, fabs(ess[d] / want - 1.0), tol[d]);
    }
    /* One chain alone: N (1 - rho) / (1 + rho). */
    double ess1[3];
    float *one = xmalloc((size_t)ESS_T * 3 * sizeof *one);
    for (int64_t s = 0; s < ESS_T; s++)
        for (int d = 0; d < 3; d++)
            one[s * 3 + d] = tr[(s * ESS_M + 2) * 3 + d]; /* chain 2 */
    MUST(hosm_diag_ess(one, ESS_T, 1, 3, ess1));
    for (int d = 0; d < 3; d++) {
        const double want = (double)ESS_T * (1.0 - rho[d]) / (1.0 + rho[d]);
        char what[96];
        snprintf(what, sizeof what, "ESS, one AR(1) chain rho = %.1f: |ESS / %.0f - 1|", rho[d],
                 want);
        check_le(what, fabs(ess1[d] / want - 1.0), tol1[d]);
    }
    /* Chains 0 and 1 offset by +-1 in coordinate 0 (iid within chains): the
     * between-chain variance makes the chains look correlated. */
    for (int64_t s = 0; s < ESS_T; s++) {
        tr[(s * ESS_M + 0) * 3] += 1.0f;
        tr[(s * ESS_M + 1) * 3] -= 1.0f;
    }
    MUST(hosm_diag_ess(tr, ESS_T, ESS_M, 3, ess));
    check_le("ESS of iid chains with offset means / m N", ess[0] / (ESS_T * ESS_M), 0.1);
    free(one);
    free(tr);
}

/* ---- split R-hat ----------------------------------------------------------- */

static void test_rhat(void)
{
    const int64_t T = 2000, M = 4;
    const double rho[2] = {0.5, 0.5};
    float *tr = xmalloc((size_t)T * M * 2 * sizeof *tr);
    ar1_trace(tr, T, M, 2, rho, 21);
    double rh[2];
    MUST(hosm_diag_rhat(tr, T, M, 2, rh));
    check_le("R-hat of mixed AR(1) chains (coordinate 0)", rh[0], 1.01);
    check_le("R-hat of mixed AR(1) chains (coordinate 1)", rh[1], 1.01);
    check_ge("R-hat of mixed AR(1) chains (>= 1 - 1e-3)", fmin(rh[0], rh[1]), 0.999);
    /* Coordinate 0 stuck: chains 0, 1 around -3, chains 2, 3 around +3. */
    for (int64_t s = 0; s < T; s++)
        for (int64_t c = 0; c < M; c++)
            tr[(s * M + c) * 2] += c < 2 ? -3.0f : 3.0f;
    MUST(hosm_diag_rhat(tr, T, M, 2, rh));
    check_ge("R-hat of chains stuck in modes -3 and +3", rh[0], 1.5);
    check_le("... the other coordinate still mixed", rh[1], 1.01);

    /* One chain (odd length) with a linear trend of 6 over its length. */
    const int64_t T1 = 1001;
    float *one = xmalloc((size_t)T1 * sizeof *one);
    trng r = {5};
    for (int64_t s = 0; s < T1; s++)
        one[s] = (float)(6.0 * (double)s / (double)T1 + trng_normal(&r));
    double r1;
    MUST(hosm_diag_rhat(one, T1, 1, 1, &r1));
    check_ge("split R-hat of one trending chain", r1, 1.5);
    for (int64_t s = 0; s < T1; s++)
        one[s] = (float)trng_normal(&r);
    MUST(hosm_diag_rhat(one, T1, 1, 1, &r1));
    check_le("split R-hat of one iid chain", r1, 1.01);

    /* Constant coordinates. */
    float cst[8 * 2];
    for (int s = 0; s < 8; s++) {
        cst[s * 2] = 1.5f;                    /* one chain: constant */
        cst[s * 2 + 1] = s < 4 ? 1.0f : 2.0f; /* halves differ */
    }
    double rc[2], ec[2];
    MUST(hosm_diag_rhat(cst, 8, 1, 2, rc));
    CHECK(isnan(rc[0]), "R-hat of a constant chain is %g, expected NaN", rc[0]);
    CHECK(isinf(rc[1]) && rc[1] > 0, "R-hat of constant halves that differ is %g, expected +Inf",
          rc[1]);
    MUST(hosm_diag_ess(cst, 8, 1, 2, ec));
    CHECK(isnan(ec[0]), "ESS of a constant chain is %g, expected NaN", ec[0]);
    CHECK(isfinite(ec[1]) && ec[1] > 0, "ESS of a step chain is %g", ec[1]);
    free(one);
    free(tr);
}

/* ---- KSD --------------------------------------------------------------------- */

/* The Stein kernel of docs/math.md 11.3 at c = 1, beta = -1/2, directly. */
static double stein_kernel(const float *x, const float *sx, const float *y, const float *sy,
                           int64_t dim)
{
    double r2 = 0.0, ss = 0.0, sd = 0.0;
    for (int64_t d = 0; d < dim; d++) {
        const double r = (double)x[d] - y[d];
        r2 += r * r;
        ss += (double)sx[d] * sy[d];
        sd += ((double)sx[d] - sy[d]) * r;
    }
    const double u = 1.0 + r2;
    return ss / sqrt(u) + (sd + (double)dim) / pow(u, 1.5) - 3.0 * r2 / pow(u, 2.5);
}

static double ksd2_direct(const float *x, const float *s, int64_t n, int64_t dim)
{
    double v = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < n; j++)
            v += stein_kernel(x + i * dim, s + i * dim, x + j * dim, s + j * dim, dim);
    return v / ((double)n * n);
}

/* mean_i u_p(x_i, x_i) = mean ||s||^2 + D. */
static double ksd_diag(const float *s, int64_t n, int64_t dim)
{
    double v = 0.0;
    for (int64_t i = 0; i < n * dim; i++)
        v += (double)s[i] * s[i];
    return v / (double)n + (double)dim;
}

/* The checks of 3. on one target. */
static void ksd_target(const char *name, const hosm_mixture *mix, int64_t dim, double shift)
{
    const int64_t n = 2000;
    float *x = xmalloc((size_t)n * dim * sizeof *x), *s = xmalloc((size_t)n * dim * sizeof *s);
    float *b = xmalloc((size_t)n * dim * sizeof *b);
    char what[128];
    double k;

    /* The blocked evaluation against the direct one (600 points). */
    MUST(hosm_mixture_sample(mix, 7, 600, x));
    MUST(hosm_mixture_score(mix, 0.0, x, 600, s));
    MUST(hosm_diag_ksd(x, s, 600, dim, &k));
    const double ref = ksd2_direct(x, s, 600, dim);
    snprintf(what, sizeof what, "%s: KSD^2 blocked vs direct, 600 points (relative)", name);
    check_le(what, fabs(k * k - ref) / ref, 1e-10);

    MUST(hosm_mixture_sample(mix, 8, n, x));
    MUST(hosm_mixture_score(mix, 0.0, x, n, s));
    MUST(hosm_diag_ksd(x, s, n, dim, &k));
    const double diag = ksd_diag(s, n, dim);
    snprintf(what, sizeof what, "%s: exact samples, n KSD^2 / diag", name);
    check_le(what, (double)n * k * k / diag, 4.0);

    /* Shifted in every coordinate. */
    for (int64_t i = 0; i < n * dim; i++)
        b[i] = x[i] + (float)shift;
    MUST(hosm_mixture_score(mix, 0.0, b, n, s));
    MUST(hosm_diag_ksd(b, s, n, dim, &k));
    snprintf(what, sizeof what, "%s: samples shifted by %g, n KSD^2 / diag", name, shift);
    check_ge(what, (double)n * k * k / ksd_diag(s, n, dim), 6.0);

    /* Scaled by 1.5 about the mixture's mean (the sample mean). */
    for (int64_t d = 0; d < dim; d++) {
        double m = 0.0;
        for (int64_t i = 0; i < n; i++)
            m += x[i * dim + d];
        m /= (double)n;
        for (int64_t i = 0; i < n; i++)
            b[i * dim + d] = (float)(m + 1.5 * (x[i * dim + d] - m));
    }
    MUST(hosm_mixture_score(mix, 0.0, b, n, s));
    MUST(hosm_diag_ksd(b, s, n, dim, &k));
    snprintf(what, sizeof what, "%s: samples scaled by 1.5, n KSD^2 / diag", name);
    check_ge(what, (double)n * k * k / ksd_diag(s, n, dim), 6.0);
    free(x);
    free(s);
    free(b);
}

/* ---- energy distance ------------------------------------------------------------ */

static double ed_direct(const float *x, int64_t n, const float *y, int64_t m, int64_t dim)
{
    double sxy = 0.0, sxx = 0.0, syy = 0.0;
    for (int64_t i = 0; i < n; i++)
        for (int64_t j = 0; j < m; j++) {
            double r2 = 0.0;
            for (int64_t d = 0; d < dim; d++)
                r2 += ((double)x[i * dim + d] - y[j * dim + d]) *
                      ((double)x[i * dim + d] - y[j * dim + d]);
            sxy += sqrt(r2);
        }
    for (int pass = 0; pass < 2; pass++) {
        const float *a = pass ? y : x;
        const int64_t na = pass ? m : n;
        double *acc = pass ? &syy : &sxx;
        for (int64_t i = 0; i < na; i++)
            for (int64_t j = 0; j < na; j++) {
                if (i == j)
                    continue;
                double r2 = 0.0;
                for (int64_t d = 0; d < dim; d++)
                    r2 += ((double)a[i * dim + d] - a[j * dim + d]) *
                          ((double)a[i * dim + d] - a[j * dim + d]);
                *acc += sqrt(r2);
            }
    }
    return 2.0 * sxy / ((double)n * m) - sxx / ((double)n * (n - 1)) -
           syy / ((double)m * (m - 1));
}

static void ed_target(const char *name, const hosm_mixture *mix, int64_t dim, double shift)
{
    const int64_t n = 1000;
    float *x = xmalloc((size_t)n * dim * sizeof *x), *y = xmalloc((size_t)n * dim * sizeof *y);
    char what[128];
    double e;
    MUST(hosm_mixture_sample(mix, 31, 300, x));
    MUST(hosm_mixture_sample(mix, 32, 517, y));
    for (int64_t i = 0; i < 517 * dim; i++)
        y[i] += 0.1f;
    /* A duplicated point: a zero distance, where the Gram expansion cancels. */
    memcpy(x + 5 * dim, x + 4 * dim, (size_t)dim * sizeof *x);
    MUST(hosm_diag_energy_distance(x, 300, y, 517, dim, &e));
    const double ref = ed_direct(x, 300, y, 517, dim);
    snprintf(what, sizeof what, "%s: ED blocked vs direct, 300 x 517 (relative)", name);
    check_le(what, fabs(e - ref) / fabs(ref), 1e-10);

    MUST(hosm_mixture_sample(mix, 33, n, x));
    MUST(hosm_mixture_sample(mix, 34, n, y));
    MUST(hosm_diag_energy_distance(x, n, y, n, dim, &e));
    snprintf(what, sizeof what, "%s: |ED| of two exact sample sets of 1000", name);
    check_le(what, fabs(e), 0.03);
    for (int64_t i = 0; i < n * dim; i++)
        y[i] += (float)shift;
    MUST(hosm_diag_energy_distance(x, n, y, n, dim, &e));
    snprintf(what, sizeof what, "%s: ED with one set shifted by %g", name, shift);
    check_ge(what, e, 0.25);
    free(x);
    free(y);
}

/* ---- mixture_assign -------------------------------------------------------------- */

static void test_assign(void)
{
    const double w[3] = {1, 2, 1}, mu[6] = {0, 0, 6, 0, 0, 6};
    const double cov[12] = {1, 0.3, 0.3, 1, 1, 0, 0, 1, 2, 0, 0, 0.5};
    hosm_mixture *mix;
    MUST(hosm_mixture_new(&mix, 3, 2, w, mu, cov));
    enum { NP = 300 };
    float x[NP * 2];
    int64_t want[NP], got[NP];
    trng r = {41};
    for (int i = 0; i < NP; i++) {
        want[i] = i % 3;
        x[2 * i] = (float)(mu[2 * want[i]] + 0.5 * trng_normal(&r));
        x[2 * i + 1] = (float)(mu[2 * want[i] + 1] + 0.5 * trng_normal(&r));
    }
    MUST(hosm_mixture_assign(mix, x, NP, got));
    int wrong = 0;
    for (int i = 0; i < NP; i++)
        wrong += got[i] != want[i];
    CHECK(wrong == 0, "hosm_mixture_assign: %d of %d points near a mean assigned elsewhere",
          wrong, NP);
    hosm_mixture_free(mix);

    /* Weights move the boundary: N(-1, 1) weight 0.3, N(1, 1) weight 0.7. */
    const double w2[2] = {0.3, 0.7}, mu2[2] = {-1, 1}, cov2[2] = {1, 1};
    MUST(hosm_mixture_new(&mix, 2, 1, w2, mu2, cov2));
    const float p[4] = {-0.45f, -0.40f, 0.0f, -3.0f};
    int64_t k[4] = {-1, -1, -1, -1};
    MUST(hosm_mixture_assign(mix, p, 4, k));
    CHECK(k[0] == 0 && k[1] == 1 && k[2] == 1 && k[3] == 0,
          "hosm_mixture_assign around the weighted boundary -0.4236: %lld %lld %lld %lld "
          "(expected 0 1 1 0)",
          (long long)k[0], (long long)k[1], (long long)k[2], (long long)k[3]);
    hosm_mixture_free(mix);
}

int main(void)
{
    test_ess();
    test_rhat();

    /* A correlated Gaussian in D = 4 (variances 1 .. 2.5) and a
     * two-component mixture in D = 2 (means (-2, 0) and (2, 0.5)). */
    const double w1 = 1.0, mu4[4] = {0.5, -1, 0, 2};
    double cov4[16];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++)
            cov4[i * 4 + j] = i == j ? 1.0 + 0.5 * i : 0.3;
    hosm_mixture *gauss, *mix;
    MUST(hosm_mixture_new(&gauss, 1, 4, &w1, mu4, cov4));
    const double w2[2] = {0.4, 0.6}, mu2[4] = {-2, 0, 2, 0.5};
    const double cov2[8] = {1, 0.2, 0.2, 0.5, 0.6, 0, 0, 1};
    MUST(hosm_mixture_new(&mix, 2, 2, w2, mu2, cov2));
    ksd_target("Gaussian D = 4", gauss, 4, 0.5);
    ksd_target("mixture D = 2", mix, 2, 0.5);
    ed_target("Gaussian D = 4", gauss, 4, 1.0);
    ed_target("mixture D = 2", mix, 2, 1.0);
    hosm_mixture_free(gauss);
    hosm_mixture_free(mix);

    test_assign();
    return finish("test_diag");
}
