/* Mixing and sample-quality diagnostics (docs/math.md#11-mixing-and-sample-quality-measures):
 * effective sample size, split R-hat, kernel Stein discrepancy and energy
 * distance. Everything is computed in double precision from float inputs. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/internal.h"

/* ---- argument checks ----------------------------------------------------- */

/* The first non-finite value of a (count) floats, as "point p, coordinate d"
 * of rows of dim; HOSM_OK when all are finite. */
static int check_finite(const float *a, int64_t count, int64_t dim, const char *fn,
                        const char *what)
{
    for (int64_t i = 0; i < count; i++)
        if (!isfinite(a[i]))
            return hosmi_fail(NULL, HOSM_E_NONFINITE,
                              "%s: %s has a NaN or Inf (point %lld, coordinate %lld)", fn, what,
                              (long long)(i / dim), (long long)(i % dim));
    return HOSM_OK;
}

/* Common checks of a trace (t, n, dim) for ESS and R-hat. */
static int check_trace(const float *trace, int64_t t, int64_t n, int64_t dim, const void *out,
                       const char *fn, const char *outname)
{
    if (!trace)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: trace is NULL", fn);
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: %s is NULL", fn, outname);
    if (t < 4)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: t = %lld draws per chain (must be >= 4)", fn,
                          (long long)t);
    if (n < 1)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: n = %lld chains (must be >= 1)", fn,
                          (long long)n);
    if (dim < 1 || dim > HOSMI_MAX_DIM)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: dim = %lld (must be in 1..2^20)", fn,
                          (long long)dim);
    const int64_t tn = hosmi_mul(t, n), tnd = tn < 0 ? -1 : hosmi_mul(tn, dim);
    if (tnd < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: t * n * dim = %lld * %lld * %lld is too large",
                          fn, (long long)t, (long long)n, (long long)dim);
    for (int64_t i = 0; i < tnd; i++)
        if (!isfinite(trace[i]))
            return hosmi_fail(NULL, HOSM_E_NONFINITE,
                              "%s: trace has a NaN or Inf (draw %lld, chain %lld, coordinate %lld)",
                              fn, (long long)(i / (n * dim)), (long long)(i / dim % n),
                              (long long)(i % dim));
    return HOSM_OK;
}

/* Checks a point set (count x dim) of a two-set or score function. */
static int check_points(const float *x, int64_t count, int64_t dim, int64_t min_count,
                        const char *fn, const char *xname, const char *nname)
{
    if (count < min_count)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: %s = %lld points (must be >= %lld)", fn, nname,
                          (long long)count, (long long)min_count);
    if (dim < 1 || dim > HOSMI_MAX_DIM)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: dim = %lld (must be in 1..2^20)", fn,
                          (long long)dim);
    const int64_t nd = hosmi_mul(count, dim);
    if (nd < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: %s = %lld points of dim %lld is too many", fn,
                          nname, (long long)count, (long long)dim);
    return check_finite(x, nd, dim, fn, xname);
}

/* ---- effective sample size ------------------------------------------------ */

/* In-place radix-2 FFT of m (a power of 2) complex values z (interleaved re,
 * im), forward (exp(-2 pi i k j / m)); tw holds exp(-2 pi i j / m) for
 * j < m / 2, interleaved. */
static void fft(double *z, int64_t m, const double *tw)
{
    for (int64_t i = 1, j = 0; i < m; i++) {
        int64_t bit = m >> 1;
        for (; j & bit; bit >>= 1)
            j ^= bit;
        j ^= bit;
        if (i < j) {
            double t = z[2 * i];
            z[2 * i] = z[2 * j];
            z[2 * j] = t;
            t = z[2 * i + 1];
            z[2 * i + 1] = z[2 * j + 1];
            z[2 * j + 1] = t;
        }
    }
    for (int64_t len = 2; len <= m; len <<= 1) {
        const int64_t half = len >> 1, step = m / len;
        for (int64_t s = 0; s < m; s += len)
            for (int64_t k = 0; k < half; k++) {
                const double wr = tw[2 * k * step], wi = tw[2 * k * step + 1];
                double *a = z + 2 * (s + k), *b = z + 2 * (s + k + half);
                const double br = b[0] * wr - b[1] * wi, bi = b[0] * wi + b[1] * wr;
                b[0] = a[0] - br;
                b[1] = a[1] - bi;
                a[0] += br;
                a[1] += bi;
            }
    }
}

/* Scratch of hosm_diag_ess, held together so that every exit frees all of it:
 * z (2m: one complex FFT), tw (m: twiddles), pw (m: summed power spectrum),
 * mean and var (n x dim: chain moments). */
typedef struct {
    int64_t m;
    double *z, *tw, *pw, *mean, *var;
} ess_ws;

static void ess_free(ess_ws *w)
{
    free(w->z);
    free(w->tw);
    free(w->pw);
    free(w->mean);
    free(w->var);
}

/* The twiddles exp(-2 pi i j / m), j < m / 2, of fft: once per call. */
static void ess_twiddles(double *tw, int64_t m)
{
    const double twopi = 6.283185307179586476925286766559;
    for (int64_t j = 0; j < m / 2; j++) {
        tw[2 * j] = cos(twopi * (double)j / (double)m);
        tw[2 * j + 1] = -sin(twopi * (double)j / (double)m);
    }
}

/* Chain means and variances (divisor t - 1) of the nd = n * dim series, two
 * passes in the trace's own order (coordinates innermost): sequential reads. */
static void chain_moments(const float *trace, int64_t t, int64_t nd, double *mean, double *var)
{
    memset(mean, 0, (size_t)nd * sizeof(double));
    memset(var, 0, (size_t)nd * sizeof(double));
    for (int64_t s = 0; s < t; s++)
        for (int64_t i = 0; i < nd; i++)
            mean[i] += trace[s * nd + i];
    for (int64_t i = 0; i < nd; i++)
        mean[i] /= (double)t;
    for (int64_t s = 0; s < t; s++)
        for (int64_t i = 0; i < nd; i++) {
            const double e = trace[s * nd + i] - mean[i];
            var[i] += e * e;
        }
    for (int64_t i = 0; i < nd; i++)
        var[i] /= (double)(t - 1);
}

/* Coordinate d's mean within-chain variance W and the pooled variance
 * estimate varp = (N - 1) / N W + B / N (N = t draws per chain), which
 * normalise the autocorrelations. */
static void ess_pooled_var(const ess_ws *w, int64_t n, int64_t dim, int64_t d, double N,
                           double *W_out, double *varp_out)
{
    double W = 0.0, mbar = 0.0, B = 0.0;
    for (int64_t c = 0; c < n; c++) {
        W += w->var[c * dim + d];
        mbar += w->mean[c * dim + d];
    }
    W /= (double)n;
    mbar /= (double)n;
    if (n > 1) {
        for (int64_t c = 0; c < n; c++) {
            const double e = w->mean[c * dim + d] - mbar;
            B += e * e;
        }
        B = B / (double)(n - 1) * N;
    }
    *W_out = W;
    *varp_out = (N - 1.0) / N * W + B / N;
}

/* The power spectra of coordinate d's centred chains, summed into w->pw.
 * Zero padding to m >= 2t makes the circular correlation the linear one. Two
 * chains go through one complex FFT (one in the real part, one in the
 * imaginary part), halving the transforms; the sum of their power spectra is
 * (|Z_k|^2 + |Z_{m-k}|^2) / 2. */
static void ess_power(ess_ws *w, const float *trace, int64_t t, int64_t n, int64_t dim, int64_t d)
{
    const int64_t m = w->m, nd = n * dim;
    double *z = w->z, *pw = w->pw;
    memset(pw, 0, (size_t)m * sizeof(double));
    for (int64_t c = 0; c < n; c += 2) {
        const int two = c + 1 < n;
        const double m0 = w->mean[c * dim + d], m1 = two ? w->mean[(c + 1) * dim + d] : 0.0;
        for (int64_t s = 0; s < t; s++) {
            z[2 * s] = trace[s * nd + c * dim + d] - m0;
            z[2 * s + 1] = two ? trace[s * nd + (c + 1) * dim + d] - m1 : 0.0;
        }
        memset(z + 2 * t, 0, (size_t)(2 * (m - t)) * sizeof(double));
        fft(z, m, w->tw);
        for (int64_t k = 0; k < m; k++) {
            const int64_t r = (m - k) & (m - 1);
            pw[k] += 0.5 * (z[2 * k] * z[2 * k] + z[2 * k + 1] * z[2 * k + 1] +
                            z[2 * r] * z[2 * r] + z[2 * r + 1] * z[2 * r + 1]);
        }
    }
}

/* The autocovariances from the summed spectrum, into w->z: the inverse
 * transform of the real, even spectrum is its forward transform divided by
 * m, so the forward FFT serves. Afterwards acov[lag] = z[2 lag] / m is
 * sum_j sum_s e_{j,s} e_{j,s+lag}. */
static void ess_autocov(ess_ws *w)
{
    for (int64_t k = 0; k < w->m; k++) {
        w->z[2 * k] = w->pw[k];
        w->z[2 * k + 1] = 0.0;
    }
    fft(w->z, w->m, w->tw);
}

/* Geyer's initial monotone sequence on P_k = rho_2k + rho_2k+1, with
 * rho_0 = 1: the sum of the P_k up to the first negative one, each capped by
 * the previous, which keeps the estimate of tau stable in the noisy tail. */
static double geyer_sum(const double *z, int64_t t, double W, double varp, double gscale)
{
#define RHO(lag) (1.0 - (W - z[2 * (lag)] * gscale) / varp)
    double sum = 0.0, prev = HUGE_VAL;
    for (int64_t k = 0; 2 * k + 1 < t; k++) {
        double P = (k == 0 ? 1.0 : RHO(2 * k)) + RHO(2 * k + 1);
        if (P < 0.0)
            break;
        if (P > prev)
            P = prev;
        sum += P;
        prev = P;
    }
#undef RHO
    return sum;
}

/* The ESS of coordinate d over all chains; NaN when every chain is constant
 * in it (no autocorrelation is defined). */
static double ess_coord(ess_ws *w, const float *trace, int64_t t, int64_t n, int64_t dim,
                        int64_t d)
{
    const double N = (double)t, mN = (double)n * N;
    /* tau is floored so that ESS <= mN max(1, log10(mN)) (Stan's cap), which
     * also keeps tau > 0 for antithetic chains. */
    const double tau_min = 1.0 / fmax(1.0, log10(mN));
    double W, varp;
    ess_pooled_var(w, n, dim, d, N, &W, &varp);
    if (!(W > 0.0) || !(varp > 0.0))
        return NAN;
    ess_power(w, trace, t, n, dim, d);
    ess_autocov(w);
    const double gscale = 1.0 / ((double)w->m * N * (double)n); /* mean_j gamma_{j,lag} */
    double tau = -1.0 + 2.0 * geyer_sum(w->z, t, W, varp, gscale);
    if (tau < tau_min)
        tau = tau_min;
    return mN / tau;
}

int hosm_diag_ess(const float *trace, int64_t t, int64_t n, int64_t dim, double *ess)
{
    static const char fn[] = "hosm_diag_ess";
    int st = check_trace(trace, t, n, dim, ess, fn, "ess");
    if (st)
        return st;
    /* Autocovariances by FFT (see ess_power) of length m >= 2t. */
    int64_t m = 1;
    while (m < 2 * t)
        m <<= 1;
    const int64_t nd = n * dim;
    ess_ws w = {.m = m};
    w.z = hosmi_alloc(2 * m, sizeof(double));
    w.tw = hosmi_alloc(m, sizeof(double));
    w.pw = hosmi_alloc(m, sizeof(double));
    w.mean = hosmi_alloc(nd, sizeof(double));
    w.var = hosmi_alloc(nd, sizeof(double));
    if (!w.z || !w.tw || !w.pw || !w.mean || !w.var) {
        ess_free(&w);
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    }
    ess_twiddles(w.tw, m);
    chain_moments(trace, t, nd, w.mean, w.var);
    for (int64_t d = 0; d < dim; d++)
        ess[d] = ess_coord(&w, trace, t, n, dim, d);
    ess_free(&w);
    return HOSM_OK;
}

/* ---- split R-hat ---------------------------------------------------------- */

int hosm_diag_rhat(const float *trace, int64_t t, int64_t n, int64_t dim, double *rhat)
{
    static const char fn[] = "hosm_diag_rhat";
    int st = check_trace(trace, t, n, dim, rhat, fn, "rhat");
    if (st)
        return st;
    /* Half-chain j = 2 c + h: chain c's draws [0, hl) (h = 0) or
     * [t - hl, t) (h = 1); an odd middle draw is dropped. */
    const int64_t hl = t / 2, nd = n * dim, hd = 2 * nd;
    double *mean = hosmi_calloc(hd, sizeof(double)), *var = hosmi_calloc(hd, sizeof(double));
    if (!mean || !var) {
        free(mean);
        free(var);
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    }
    for (int h = 0; h < 2; h++) {
        const int64_t s0 = h ? t - hl : 0;
        for (int64_t s = s0; s < s0 + hl; s++)
            for (int64_t c = 0; c < n; c++) {
                double *mu = mean + (2 * c + h) * dim;
                const float *x = trace + s * nd + c * dim;
                for (int64_t d = 0; d < dim; d++)
                    mu[d] += x[d];
            }
    }
    for (int64_t i = 0; i < hd; i++)
        mean[i] /= (double)hl;
    for (int h = 0; h < 2; h++) {
        const int64_t s0 = h ? t - hl : 0;
        for (int64_t s = s0; s < s0 + hl; s++)
            for (int64_t c = 0; c < n; c++) {
                const double *mu = mean + (2 * c + h) * dim;
                double *v = var + (2 * c + h) * dim;
                const float *x = trace + s * nd + c * dim;
                for (int64_t d = 0; d < dim; d++) {
                    const double e = x[d] - mu[d];
                    v[d] += e * e;
                }
            }
    }
    const int64_t nh = 2 * n;
    const double H = (double)hl;
    for (int64_t d = 0; d < dim; d++) {
        double W = 0.0, mbar = 0.0, B = 0.0;
        for (int64_t j = 0; j < nh; j++) {
            W += var[j * dim + d] / (H - 1.0);
            mbar += mean[j * dim + d];
        }
        W /= (double)nh;
        mbar /= (double)nh;
        for (int64_t j = 0; j < nh; j++) {
            const double e = mean[j * dim + d] - mbar;
            B += e * e;
        }
        B = B / (double)(nh - 1) * H;
        const double varp = (H - 1.0) / H * W + B / H;
        if (W > 0.0)
            rhat[d] = sqrt(varp / W);
        else
            rhat[d] = varp > 0.0 ? HUGE_VAL : NAN;
    }
    free(mean);
    free(var);
    return HOSM_OK;
}

/* ---- pairwise sums over blocks (KSD, energy distance) --------------------- */

/* Rows per block of the pairwise sums: four BLK x BLK double tiles (2 MiB)
 * stay in cache, and each tile is one GEMM of depth D. */
#define BLK 256

/* Copies count x dim floats into double, minus the row vector shift. */
static void to_double(double *dst, const float *src, int64_t count, int64_t dim,
                      const double *shift)
{
    for (int64_t i = 0; i < count; i++)
        for (int64_t d = 0; d < dim; d++)
            dst[i * dim + d] = (double)src[i * dim + d] - (shift ? shift[d] : 0.0);
}

static void row_norms(double *out, const double *a, const double *b, int64_t count, int64_t dim)
{
    for (int64_t i = 0; i < count; i++) {
        double s = 0.0;
        for (int64_t d = 0; d < dim; d++)
            s += a[i * dim + d] * b[i * dim + d];
        out[i] = s;
    }
}

/* ---- kernel Stein discrepancy --------------------------------------------- */

/* Scratch of hosm_diag_ksd, held together so that every exit frees all of it:
 * points X (centred) and scores S in double, the row products xx = x.x,
 * sx = s.x and ss = s.s, the mean mu and four BLK x BLK GEMM tiles. */
typedef struct {
    double *X, *S, *xx, *sx, *ss, *mu, *tile;
} ksd_ws;

static void ksd_free(ksd_ws *w)
{
    free(w->X);
    free(w->S);
    free(w->xx);
    free(w->sx);
    free(w->ss);
    free(w->mu);
    free(w->tile);
}

/* The Stein kernel depends on x only through differences (given the
 * scores): the points are centred so that the Gram expansion
 * ||x_i - x_j||^2 = |x_i|^2 + |x_j|^2 - 2 x_i.x_j loses less. The row
 * products are the diagonal terms of the tiles' expansions. */
static void ksd_prepare(ksd_ws *w, const float *x, const float *score, int64_t n, int64_t dim)
{
    for (int64_t i = 0; i < n; i++)
        for (int64_t d = 0; d < dim; d++)
            w->mu[d] += x[i * dim + d];
    for (int64_t d = 0; d < dim; d++)
        w->mu[d] /= (double)n;
    to_double(w->X, x, n, dim, w->mu);
    to_double(w->S, score, n, dim, NULL);
    row_norms(w->xx, w->X, w->X, n, dim);
    row_norms(w->sx, w->S, w->X, n, dim);
    row_norms(w->ss, w->S, w->S, n, dim);
}

/* Sum of u_p(x_i, x_j) over the tile of rows i0 + [0, bi) by j0 + [0, bj),
 * at c = 1, beta = -1/2 with u = 1 + r^2:
 *   s_i.s_j u^-1/2 + ((s_i - s_j).(x_i - x_j) + D) u^-3/2 - 3 r^2 u^-5/2,
 * (s_i - s_j).(x_i - x_j) = s_i.x_i + s_j.x_j - s_i.x_j - x_i.s_j; the
 * cross products come from four GEMMs of depth D. */
static double stein_tile(const ksd_ws *w, int64_t i0, int64_t bi, int64_t j0, int64_t bj,
                         int64_t dim)
{
    const int64_t bb = (int64_t)BLK * BLK;
    const hosmi_blas blas = {1, HOSM_GEMM_AUTO, NULL};
    double *XX = w->tile, *SS = w->tile + bb, *SX = w->tile + 2 * bb, *XS = w->tile + 3 * bb;
    const double *Xi = w->X + i0 * dim, *Xj = w->X + j0 * dim;
    const double *Si = w->S + i0 * dim, *Sj = w->S + j0 * dim;
    const double Dd = (double)dim;
    hosmi_dgemm(&blas, 0, 1, bi, bj, dim, 1.0, Xi, dim, Xj, dim, 0.0, XX, bj);
    hosmi_dgemm(&blas, 0, 1, bi, bj, dim, 1.0, Si, dim, Sj, dim, 0.0, SS, bj);
    hosmi_dgemm(&blas, 0, 1, bi, bj, dim, 1.0, Si, dim, Xj, dim, 0.0, SX, bj);
    hosmi_dgemm(&blas, 0, 1, bi, bj, dim, 1.0, Xi, dim, Sj, dim, 0.0, XS, bj);
    double part = 0.0;
    for (int64_t a = 0; a < bi; a++) {
        const int64_t i = i0 + a;
        for (int64_t b = 0; b < bj; b++) {
            const int64_t j = j0 + b, ab = a * bj + b;
            double v;
            if (i == j) {
                v = w->ss[i] + Dd; /* u_p(x, x) = ||s||^2 + D at c = 1 */
            } else {
                double r2 = w->xx[i] + w->xx[j] - 2.0 * XX[ab];
                r2 = r2 > 0.0 ? r2 : 0.0;
                const double u = 1.0 + r2, ih = 1.0 / sqrt(u), i3 = ih / u, i5 = i3 / u;
                const double sdx = w->sx[i] + w->sx[j] - SX[ab] - XS[ab];
                v = SS[ab] * ih + (sdx + Dd) * i3 - 3.0 * r2 * i5;
            }
            part += v;
        }
    }
    return part;
}

int hosm_diag_ksd(const float *x, const float *score, int64_t n, int64_t dim, double *ksd)
{
    static const char fn[] = "hosm_diag_ksd";
    if (!x)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: x is NULL", fn);
    if (!score)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: score is NULL", fn);
    if (!ksd)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: ksd is NULL", fn);
    int st = check_points(x, n, dim, 1, fn, "x", "n");
    if (!st)
        st = check_finite(score, n * dim, dim, fn, "score");
    if (st)
        return st;
    const int64_t nd = n * dim, bb = (int64_t)BLK * BLK;
    ksd_ws w;
    w.X = hosmi_alloc(nd, sizeof(double));
    w.S = hosmi_alloc(nd, sizeof(double));
    w.xx = hosmi_alloc(n, sizeof(double));
    w.sx = hosmi_alloc(n, sizeof(double));
    w.ss = hosmi_alloc(n, sizeof(double));
    w.mu = hosmi_calloc(dim, sizeof(double));
    w.tile = hosmi_alloc(4 * bb, sizeof(double));
    if (!w.X || !w.S || !w.xx || !w.sx || !w.ss || !w.mu || !w.tile) {
        ksd_free(&w);
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    }
    ksd_prepare(&w, x, score, n, dim);
    /* Tiles (I, J) with J >= I; the off-diagonal ones count twice. */
    double total = 0.0;
    for (int64_t i0 = 0; i0 < n; i0 += BLK) {
        const int64_t bi = n - i0 < BLK ? n - i0 : BLK;
        for (int64_t j0 = i0; j0 < n; j0 += BLK) {
            const int64_t bj = n - j0 < BLK ? n - j0 : BLK;
            const double part = stein_tile(&w, i0, bi, j0, bj, dim);
            total += j0 == i0 ? part : 2.0 * part;
        }
    }
    const double V = total / ((double)n * (double)n);
    *ksd = sqrt(V > 0.0 ? V : 0.0);
    ksd_free(&w);
    return HOSM_OK;
}

/* ---- energy distance -------------------------------------------------------- */

/* Sum of ||a_i - b_j|| over all pairs (same = 0) or over i < j (same = 1,
 * a = b). Distances come from the Gram expansion; where it cancels badly
 * (r^2 below 1e-6 of |a|^2 + |b|^2) the distance is recomputed directly. */
static double dist_sum(const double *A, const double *an, int64_t na, const double *Bm,
                       const double *bn, int64_t nb, int64_t dim, int same, double *G)
{
    const hosmi_blas blas = {1, HOSM_GEMM_AUTO, NULL};
    double total = 0.0;
    for (int64_t i0 = 0; i0 < na; i0 += BLK) {
        const int64_t bi = na - i0 < BLK ? na - i0 : BLK;
        for (int64_t j0 = same ? i0 : 0; j0 < nb; j0 += BLK) {
            const int64_t bj = nb - j0 < BLK ? nb - j0 : BLK;
            hosmi_dgemm(&blas, 0, 1, bi, bj, dim, 1.0, A + i0 * dim, dim, Bm + j0 * dim, dim,
                        0.0, G, bj);
            double part = 0.0;
            for (int64_t a = 0; a < bi; a++) {
                const int64_t i = i0 + a;
                for (int64_t b = 0; b < bj; b++) {
                    const int64_t j = j0 + b;
                    if (same && j <= i)
                        continue;
                    const double nrm = an[i] + bn[j];
                    double r2 = nrm - 2.0 * G[a * bj + b];
                    if (r2 < 1e-6 * nrm) {
                        const double *p = A + i * dim, *q = Bm + j * dim;
                        r2 = 0.0;
                        for (int64_t d = 0; d < dim; d++)
                            r2 += (p[d] - q[d]) * (p[d] - q[d]);
                    }
                    part += sqrt(r2);
                }
            }
            total += part;
        }
    }
    return total;
}

int hosm_diag_energy_distance(const float *x, int64_t n, const float *y, int64_t m, int64_t dim,
                              double *out)
{
    static const char fn[] = "hosm_diag_energy_distance";
    if (!x)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: x is NULL", fn);
    if (!y)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: y is NULL", fn);
    if (!out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: out is NULL", fn);
    int st = check_points(x, n, dim, 2, fn, "x", "n");
    if (!st)
        st = check_points(y, m, dim, 2, fn, "y", "m");
    if (st)
        return st;
    const int64_t nd = n * dim, md = m * dim;
    double *X = hosmi_alloc(nd, sizeof(double)), *Y = hosmi_alloc(md, sizeof(double));
    double *xn = hosmi_alloc(n, sizeof(double)), *yn = hosmi_alloc(m, sizeof(double));
    double *mu = hosmi_calloc(dim, sizeof(double));
    double *G = hosmi_alloc((int64_t)BLK * BLK, sizeof(double));
    if (!X || !Y || !xn || !yn || !mu || !G) {
        free(X);
        free(Y);
        free(xn);
        free(yn);
        free(mu);
        free(G);
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    }
    /* Centre both sets on their pooled mean (distances do not change). */
    for (int64_t i = 0; i < n; i++)
        for (int64_t d = 0; d < dim; d++)
            mu[d] += x[i * dim + d];
    for (int64_t i = 0; i < m; i++)
        for (int64_t d = 0; d < dim; d++)
            mu[d] += y[i * dim + d];
    for (int64_t d = 0; d < dim; d++)
        mu[d] /= (double)(n + m);
    to_double(X, x, n, dim, mu);
    to_double(Y, y, m, dim, mu);
    row_norms(xn, X, X, n, dim);
    row_norms(yn, Y, Y, m, dim);
    const double sxy = dist_sum(X, xn, n, Y, yn, m, dim, 0, G);
    const double sxx = dist_sum(X, xn, n, X, xn, n, dim, 1, G);
    const double syy = dist_sum(Y, yn, m, Y, yn, m, dim, 1, G);
    const double dn = (double)n, dm = (double)m;
    *out = 2.0 * sxy / (dn * dm) - 2.0 * sxx / (dn * (dn - 1.0)) - 2.0 * syy / (dm * (dm - 1.0));
    free(X);
    free(Y);
    free(xn);
    free(yn);
    free(mu);
    free(G);
    return HOSM_OK;
}
