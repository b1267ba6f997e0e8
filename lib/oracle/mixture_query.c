/* Gaussian-mixture oracle: the queries (log-density, s1, s2, posterior
 * moments, the most responsible component) of the sigma-perturbed mixture,
 * in double precision. */
#include <float.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"
#include "oracle/mixture.h"

/* ---- queries --------------------------------------------------------------
 * Points are processed in blocks of BLK, stored transposed (D x BLK, one
 * column a point), so that every inner loop runs over the BLK points of a
 * block: a fixed-length loop without dependences between iterations, which
 * compilers vectorise. The last block is padded with zeros. */

#define BLK 32

/* Kernels over the BLK points of a block. The restrict parameters let the
 * compiler vectorise them once inlined. */
static void blk_sub(double *restrict y, const double *restrict x, double v)
{
    for (int p = 0; p < BLK; p++)
        y[p] = x[p] - v;
}

static void blk_axpy(double *restrict y, const double *restrict x, double a)
{
    for (int p = 0; p < BLK; p++)
        y[p] += a * x[p];
}

static void blk_div(double *restrict y, double d)
{
    for (int p = 0; p < BLK; p++)
        y[p] /= d;
}

static void blk_neg(double *restrict y)
{
    for (int p = 0; p < BLK; p++)
        y[p] = -y[p];
}

static void blk_sumsq(double *restrict q, const double *restrict y)
{
    for (int p = 0; p < BLK; p++)
        q[p] += y[p] * y[p];
}

/* y += a .* x */
static void blk_fma(double *restrict y, const double *restrict a, const double *restrict x)
{
    for (int p = 0; p < BLK; p++)
        y[p] += a[p] * x[p];
}

/* y = s (y - x) */
static void blk_center(double *restrict y, const double *restrict x, double s)
{
    for (int p = 0; p < BLK; p++)
        y[p] = s * (y[p] - x[p]);
}

/* y += a .* x + m b */
static void blk_rank1(double *restrict y, const double *restrict a, const double *restrict x,
                      double m, const double *restrict b)
{
    for (int p = 0; p < BLK; p++)
        y[p] += a[p] * x[p] + m * b[p];
}

enum query_kind { Q_LOGDENS, Q_SCORE, Q_HESS, Q_PMEAN, Q_PCOV, Q_ASSIGN };

static const char *const query_name[] = {
    "hosm_mixture_log_density", "hosm_mixture_score", "hosm_mixture_hessian",
    "hosm_mixture_posterior_mean", "hosm_mixture_posterior_cov", "hosm_mixture_assign"};

/* Per-call state: factors of the C_k at one sigma, and per-block scratch. */
typedef struct {
    double *chol; /* k x D x D: Cholesky factors of C_k */
    double *logc; /* k: log w_k - (D log(2 pi) + log det C_k) / 2 */
    double *mats; /* k x D x D: C_k^-1 (Hessian) or sigma^2 Sigma_k C_k^-1 (cov), or NULL */
    double *xt;   /* D x BLK: the points of the block */
    double *g;    /* k x D x BLK: g_k = -C_k^-1 (x - mu_k), later d_k (see eval_matrix) */
    double *a;    /* k x BLK: log w_k + log N(x; mu_k, C_k), then responsibilities */
    double *s1;   /* D x BLK */
    double *lq;   /* BLK: log q */
    double *row;  /* D x BLK: one row of the matrix outputs, or NULL */
} query_ws;

static void ws_free(query_ws *w)
{
    free(w->chol);
    free(w->logc);
    free(w->mats);
    free(w->xt);
    free(w->g);
    free(w->a);
    free(w->s1);
    free(w->lq);
    free(w->row);
}

/* Factor every C_k = Sigma_k + sigma^2 I once, and precompute what the query
 * needs per component. */
static int ws_init(query_ws *w, const hosm_mixture *mix, double sigma, enum query_kind kind,
                   const char *fn)
{
    const int64_t k = mix->k, D = mix->dim, DD = D * D;
    const int64_t kDD = hosmi_mul(k, DD), DB = hosmi_mul(D, BLK), kDB = hosmi_mul(k, DB);
    const int need_mats = kind == Q_HESS || kind == Q_PCOV;
    memset(w, 0, sizeof *w);
    double *tmp = NULL;
    if (kDD >= 0 && DB >= 0 && kDB >= 0) {
        w->chol = hosmi_alloc(kDD, sizeof(double));
        w->logc = hosmi_alloc(k, sizeof(double));
        w->xt = hosmi_alloc(DB, sizeof(double));
        w->g = hosmi_alloc(kDB, sizeof(double));
        w->a = hosmi_alloc(k * BLK, sizeof(double));
        w->s1 = hosmi_alloc(DB, sizeof(double));
        w->lq = hosmi_alloc(BLK, sizeof(double));
        if (need_mats) {
            w->mats = hosmi_alloc(kDD, sizeof(double));
            w->row = hosmi_alloc(DB, sizeof(double));
            tmp = hosmi_alloc(2 * DD, sizeof(double));
        }
    }
    if (!w->chol || !w->logc || !w->xt || !w->g || !w->a || !w->s1 || !w->lq ||
        (need_mats && (!w->mats || !w->row || !tmp))) {
        free(tmp);
        ws_free(w);
        return hosmi_fail(NULL, HOSM_E_NOMEM, "%s: out of memory", fn);
    }
    const double s2 = sigma * sigma;
    const double log2pi = 1.8378770664093454835606594728112;
    for (int64_t c = 0; c < k; c++) {
        double *L = w->chol + c * DD;
        const double *S = mix->cov + c * DD;
        memcpy(L, S, (size_t)DD * sizeof(double));
        for (int64_t i = 0; i < D; i++)
            L[i * D + i] += s2;
        if (hosmi_chol(L, D) != 0) {
            free(tmp);
            ws_free(w);
            return hosmi_fail(NULL, HOSM_E_ARG,
                              "%s: Sigma + sigma^2 I of component %lld is not positive definite "
                              "at sigma = %g",
                              fn, (long long)c, sigma);
        }
        const double logdet = hosmi_chol_logdet(L, D);
        w->logc[c] = mix->logw[c] - 0.5 * ((double)D * log2pi + logdet);
        if (!need_mats)
            continue;
        double *M = w->mats + c * DD;
        if (kind == Q_HESS) {
            hosmi_chol_inverse(L, D, M, tmp);
        } else {
            /* Posterior covariance of component c: Sigma - Sigma C^-1 Sigma
             * = sigma^2 Sigma C^-1 (Sigma and C commute, so it is symmetric);
             * this product form stays accurate when sigma^2 dominates Sigma.
             * Column j of C^-1 is its row j. */
            double *Ci = tmp + DD;
            hosmi_chol_inverse(L, D, Ci, tmp);
            for (int64_t i = 0; i < D; i++)
                for (int64_t j = i; j < D; j++) {
                    const double v = s2 * hosmi_mix_dot(S + i * D, Ci + j * D, D);
                    M[i * D + j] = v;
                    M[j * D + i] = v;
                }
        }
    }
    free(tmp);
    return HOSM_OK;
}

/* For the block in w->xt: g_k, responsibilities (into w->a), s1 and log q. */
static void eval_block(query_ws *w, const hosm_mixture *mix)
{
    const int64_t k = mix->k, D = mix->dim, DD = D * D;
    double q[BLK];
    for (int64_t c = 0; c < k; c++) {
        double *Y = w->g + c * D * BLK;
        const double *mu = mix->mu + c * D, *L = w->chol + c * DD;
        /* Y = L^-1 (x - mu), row by row (forward substitution). */
        for (int64_t i = 0; i < D; i++) {
            double *yi = Y + i * BLK;
            const double *li = L + i * D;
            blk_sub(yi, w->xt + i * BLK, mu[i]);
            for (int64_t m = 0; m < i; m++)
                blk_axpy(yi, Y + m * BLK, -li[m]);
            blk_div(yi, li[i]);
        }
        for (int p = 0; p < BLK; p++)
            q[p] = 0.0;
        for (int64_t i = 0; i < D; i++)
            blk_sumsq(q, Y + i * BLK);
        /* Y = L^-T Y = C^-1 (x - mu) (back substitution, by columns of L^T). */
        for (int64_t i = D - 1; i >= 0; i--) {
            double *yi = Y + i * BLK;
            const double *li = L + i * D;
            blk_div(yi, li[i]);
            for (int64_t m = 0; m < i; m++)
                blk_axpy(Y + m * BLK, yi, -li[m]);
        }
        for (int64_t i = 0; i < D; i++)
            blk_neg(Y + i * BLK);
        double *restrict ac = w->a + c * BLK;
        const double lc = w->logc[c];
        for (int p = 0; p < BLK; p++)
            ac[p] = lc - 0.5 * q[p];
    }
    /* Responsibilities and log q by log-sum-exp over the components. */
    double amax[BLK], sum[BLK];
    for (int p = 0; p < BLK; p++) {
        amax[p] = -HUGE_VAL;
        sum[p] = 0.0;
    }
    for (int64_t c = 0; c < k; c++) {
        const double *restrict ac = w->a + c * BLK;
        for (int p = 0; p < BLK; p++)
            amax[p] = ac[p] > amax[p] ? ac[p] : amax[p];
    }
    for (int64_t c = 0; c < k; c++) {
        double *restrict ac = w->a + c * BLK;
        for (int p = 0; p < BLK; p++) {
            ac[p] = exp(ac[p] - amax[p]);
            sum[p] += ac[p];
        }
    }
    for (int p = 0; p < BLK; p++)
        w->lq[p] = amax[p] + log(sum[p]);
    for (int64_t i = 0; i < D * BLK; i++)
        w->s1[i] = 0.0;
    for (int64_t c = 0; c < k; c++) {
        double *restrict ac = w->a + c * BLK;
        for (int p = 0; p < BLK; p++)
            ac[p] /= sum[p];
        const double *g = w->g + c * D * BLK;
        for (int64_t i = 0; i < D; i++)
            blk_fma(w->s1 + i * BLK, ac, g + i * BLK);
    }
}

/* The D x D results of the block's first nb points into out (n x D x D
 * floats, starting at the block's first point):
 *   Hessian:  sum_k r_k (d_k d_k^T - C_k^-1),   d_k = g_k - s1
 *   cov:      sum_k r_k (P_k + e_k e_k^T),      e_k = sigma^2 d_k
 * Both equal docs/math.md#9-gaussian-mixture-oracle (s2 = sum r (g g^T - C^-1) - s1 s1^T; cov = sigma^4 s2
 * + sigma^2 I); the centred form avoids cancellation and makes the covariance
 * a sum of positive semidefinite terms. The upper triangle is computed (one
 * row at a time for all points of the block) and mirrored, so the results are
 * exactly symmetric. */
static void eval_matrix(query_ws *w, const hosm_mixture *mix, double sigma, enum query_kind kind,
                        int64_t nb, float *out)
{
    const int64_t k = mix->k, D = mix->dim, DD = D * D;
    const double sign = kind == Q_HESS ? -1.0 : 1.0;
    const double scale = kind == Q_HESS ? 1.0 : sigma * sigma;
    /* g_k -> d_k (or e_k) in place. */
    for (int64_t c = 0; c < k; c++) {
        double *g = w->g + c * D * BLK;
        for (int64_t i = 0; i < D; i++)
            blk_center(g + i * BLK, w->s1 + i * BLK, scale);
    }
    double rd[BLK];
    for (int64_t i = 0; i < D; i++) {
        for (int64_t j = i * BLK; j < D * BLK; j++)
            w->row[j] = 0.0;
        for (int64_t c = 0; c < k; c++) {
            const double *r = w->a + c * BLK;
            const double *d = w->g + c * D * BLK, *M = w->mats + c * DD + i * D;
            for (int p = 0; p < BLK; p++)
                rd[p] = r[p] * d[i * BLK + p];
            for (int64_t j = i; j < D; j++)
                blk_rank1(w->row + j * BLK, rd, d + j * BLK, sign * M[j], r);
        }
        for (int64_t p = 0; p < nb; p++) {
            float *o = out + p * DD + i * D;
            for (int64_t j = i; j < D; j++)
                o[j] = (float)w->row[j * BLK + p];
        }
    }
    for (int64_t p = 0; p < nb; p++) {
        float *o = out + p * DD;
        for (int64_t i = 1; i < D; i++)
            for (int64_t j = 0; j < i; j++)
                o[i * D + j] = o[j * D + i];
    }
}

/* The checks of a query's handle, sigma and n, which come before any pointer
 * is looked at (a query of no points needs none). */
static int query_check_args(const hosm_mixture *mix, enum query_kind kind, double sigma,
                            int64_t n, const char *fn)
{
    int st = hosmi_check_handle(mix, HOSMI_HANDLE_MIXTURE, fn, "mixture");
    if (st)
        return st;
    if (!isfinite(sigma) || sigma < 0.0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: sigma = %g (must be finite and >= 0)", fn, sigma);
    if (!isfinite(sigma * sigma))
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: sigma = %g is too large (sigma^2 overflows)", fn,
                          sigma);
    if (n < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: n = %lld is negative", fn, (long long)n);
    const int64_t D = mix->dim, DD = D * D;
    const int matrix_out = kind == Q_HESS || kind == Q_PCOV;
    const int64_t nin = hosmi_mul(n, D);
    const int64_t nout =
        kind == Q_LOGDENS || kind == Q_ASSIGN ? n : matrix_out ? hosmi_mul(n, DD) : nin;
    if (nin < 0 || nout < 0)
        return hosmi_fail(NULL, HOSM_E_ARG, "%s: n = %lld points is too many", fn, (long long)n);
    return HOSM_OK;
}

/* The checks of the points (n x D, n >= 1, size already checked) and the
 * output pointer of a query. */
static int query_check_points(enum query_kind kind, const float *x, int64_t n, int64_t D,
                              int has_out, const char *fn)
{
    if (!x)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: x is NULL", fn);
    if (!has_out)
        return hosmi_fail(NULL, HOSM_E_NULL, "%s: %s is NULL", fn,
                          kind == Q_ASSIGN ? "component" : "out");
    const int64_t nin = n * D;
    for (int64_t i = 0; i < nin; i++)
        if (!isfinite(x[i]))
            return hosmi_fail(NULL, HOSM_E_NONFINITE,
                              "%s: x has a NaN or Inf (point %lld, coordinate %lld)", fn,
                              (long long)(i / D), (long long)(i % D));
    return HOSM_OK;
}

/* The block's nb points xb (nb x D) into w->xt, transposed (D x BLK) for the
 * block kernels, with the unused columns zero. */
static void load_block(query_ws *w, const float *xb, int64_t nb, int64_t D)
{
    for (int64_t i = 0; i < D; i++) {
        double *xi = w->xt + i * BLK;
        for (int64_t p = 0; p < nb; p++)
            xi[p] = (double)xb[p * D + i];
        for (int64_t p = nb; p < BLK; p++)
            xi[p] = 0.0;
    }
}

/* Writes the query's results for the block's nb points (the first is point
 * p0) from the evaluated block in w to the output of its kind. */
static void store_block(query_ws *w, const hosm_mixture *mix, enum query_kind kind, double sigma,
                        int64_t p0, int64_t nb, double *outd, float *outf, int64_t *outi)
{
    const int64_t D = mix->dim, DD = D * D;
    const double s2 = sigma * sigma;
    switch (kind) {
    case Q_LOGDENS:
        for (int64_t p = 0; p < nb; p++)
            outd[p0 + p] = w->lq[p];
        break;
    case Q_SCORE:
        for (int64_t p = 0; p < nb; p++) {
            float *o = outf + (p0 + p) * D;
            for (int64_t i = 0; i < D; i++)
                o[i] = (float)w->s1[i * BLK + p];
        }
        break;
    case Q_PMEAN:
        for (int64_t p = 0; p < nb; p++) {
            float *o = outf + (p0 + p) * D;
            for (int64_t i = 0; i < D; i++)
                o[i] = (float)(w->xt[i * BLK + p] + s2 * w->s1[i * BLK + p]);
        }
        break;
    case Q_HESS:
    case Q_PCOV:
        eval_matrix(w, mix, sigma, kind, nb, outf + p0 * DD);
        break;
    case Q_ASSIGN:
        /* The largest responsibility; ties go to the lowest index. */
        for (int64_t p = 0; p < nb; p++) {
            int64_t best = 0;
            for (int64_t c = 1; c < mix->k; c++)
                if (w->a[c * BLK + p] > w->a[best * BLK + p])
                    best = c;
            outi[p0 + p] = best;
        }
        break;
    }
}

static int query(const hosm_mixture *mix, enum query_kind kind, double sigma, const float *x,
                 int64_t n, double *outd, float *outf, int64_t *outi)
{
    const char *fn = query_name[kind];
    int st = query_check_args(mix, kind, sigma, n, fn);
    if (st)
        return st;
    if (n == 0)
        return HOSM_OK;
    const int64_t D = mix->dim;
    st = query_check_points(kind, x, n, D, outd || outf || outi, fn);
    if (st)
        return st;
    query_ws w;
    st = ws_init(&w, mix, sigma, kind, fn);
    if (st)
        return st;
    for (int64_t p0 = 0; p0 < n; p0 += BLK) {
        const int64_t nb = n - p0 < BLK ? n - p0 : BLK;
        load_block(&w, x + p0 * D, nb, D);
        eval_block(&w, mix);
        store_block(&w, mix, kind, sigma, p0, nb, outd, outf, outi);
    }
    ws_free(&w);
    return HOSM_OK;
}

int hosm_mixture_log_density(const hosm_mixture *mix, double sigma, const float *x, int64_t n,
                             double *out)
{
    return query(mix, Q_LOGDENS, sigma, x, n, out, NULL, NULL);
}

int hosm_mixture_score(const hosm_mixture *mix, double sigma, const float *x, int64_t n,
                       float *out)
{
    return query(mix, Q_SCORE, sigma, x, n, NULL, out, NULL);
}

int hosm_mixture_hessian(const hosm_mixture *mix, double sigma, const float *x, int64_t n,
                         float *out)
{
    return query(mix, Q_HESS, sigma, x, n, NULL, out, NULL);
}

int hosm_mixture_posterior_mean(const hosm_mixture *mix, double sigma, const float *x,
                                int64_t n, float *out)
{
    return query(mix, Q_PMEAN, sigma, x, n, NULL, out, NULL);
}

int hosm_mixture_posterior_cov(const hosm_mixture *mix, double sigma, const float *x, int64_t n,
                               float *out)
{
    return query(mix, Q_PCOV, sigma, x, n, NULL, out, NULL);
}

int hosm_mixture_assign(const hosm_mixture *mix, const float *x, int64_t n, int64_t *component)
{
    return query(mix, Q_ASSIGN, 0.0, x, n, NULL, NULL, component);
}
