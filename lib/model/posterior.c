/* The posterior covariance operator and its clamp rule. */
#include <math.h>
#include <string.h>

#include "linalg/linalg.h"
#include "model/posterior.h"

void hosmi_posterior_init(hosmi_posterior *p, const hosmi_s2_point *s2, double sigma, int clamp)
{
    p->s2 = *s2;
    p->sigma2 = sigma * sigma;
    p->sigma4 = p->sigma2 * p->sigma2;
    p->clamp = clamp;
    p->dmin = clamp ? -1.0 / p->sigma2 : -INFINITY;
}

void hosmi_posterior_apply(const double *x, double *y, void *ctx)
{
    const hosmi_posterior *p = ctx;
    hosmi_s2_apply(&p->s2, p->dmin, x, y);
    for (int64_t a = 0; a < p->s2.D; a++)
        y[a] = p->sigma4 * y[a] + p->sigma2 * x[a];
}

/* Raises the eigenvalues of the symmetric m (D x D) to at least floor;
 * 0, or -2 when m holds NaN or Inf. */
static int clamp_eigenvalues(const hosmi_blas *blas, int64_t D, double floor_, double *m,
                             double *scratch)
{
    double *a = scratch, *vecs = scratch + D * D, *w = scratch + 2 * D * D;
    memcpy(a, m, (size_t)(D * D) * sizeof(double));
    if (hosmi_sym_eig(D, a, w, vecs) != 0)
        return -2;
    for (int64_t i = 0; i < D; i++)
        w[i] = fmax(w[i], floor_);
    hosmi_sym_rebuild(blas, D, vecs, w, m, a); /* m = Q diag(w) Q^T */
    return 0;
}

int hosmi_posterior_dense(const hosmi_posterior *p, const hosmi_blas *blas, double *m,
                          double *scratch, float *fwork)
{
    const int64_t D = p->s2.D;
    hosmi_s2_dense(&p->s2, blas, p->dmin, m, fwork);
    if (p->clamp && p->s2.kind == HOSM_S2_FULL &&
        clamp_eigenvalues(blas, D, -1.0 / p->sigma2, m, scratch) != 0)
        return -2;
    for (int64_t i = 0; i < D * D; i++)
        m[i] *= p->sigma4;
    for (int64_t a = 0; a < D; a++)
        m[a * D + a] += p->sigma2;
    return 0;
}

int hosmi_posterior_var(const hosmi_posterior *p, const hosmi_blas *blas, double *var,
                        double *scratch, float *fwork)
{
    const int64_t D = p->s2.D;
    if (p->s2.kind == HOSM_S2_FULL && p->clamp) {
        double *m = scratch;
        if (hosmi_posterior_dense(p, blas, m, scratch + D * D, fwork) != 0)
            return -2;
        for (int64_t a = 0; a < D; a++)
            var[a] = m[a * D + a];
        return 0;
    }
    for (int64_t a = 0; a < D; a++) {
        double dd = hosmi_s2_diag(&p->s2, a);
        if (p->s2.kind != HOSM_S2_FULL)
            dd += fmax(hosmi_s2_d(&p->s2, a), p->dmin) - hosmi_s2_d(&p->s2, a);
        var[a] = p->sigma4 * dd + p->sigma2;
    }
    return 0;
}

int hosmi_posterior_topk(const hosmi_posterior *p, int64_t k, double *vals, double *vecs,
                         double *work)
{
    const int64_t D = p->s2.D;
    if (p->s2.kind == HOSM_S2_DIAG) {
        /* Coordinate axes: the k largest variances. */
        for (int64_t a = 0; a < D; a++)
            work[a] = p->sigma4 * fmax(hosmi_s2_d(&p->s2, a), p->dmin) + p->sigma2;
        memset(vecs, 0, (size_t)(k * D) * sizeof(double));
        for (int64_t c = 0; c < k; c++) {
            int64_t best = -1;
            for (int64_t a = 0; a < D; a++)
                if (work[a] != -INFINITY && (best < 0 || work[a] > work[best]))
                    best = a;
            vals[c] = work[best];
            vecs[c * D + best] = 1.0;
            work[best] = -INFINITY;
        }
        return 0;
    }
    const int st = hosmi_lanczos_topk(D, k, hosmi_posterior_apply, (void *)p, vals, vecs);
    if (st)
        return st;
    if (p->s2.kind == HOSM_S2_FULL && p->clamp)
        for (int64_t c = 0; c < k; c++)
            vals[c] = fmax(vals[c], 0.0);
    return 0;
}
