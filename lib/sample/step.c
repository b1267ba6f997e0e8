/* The steps: Langevin, Ozaki and their Metropolis-adjusted forms
 * (docs/math.md#8-samplers), for a pass of up to cap chains. */
#include <math.h>
#include <string.h>

#include "sample/step.h"

static int adjusted(int kind)
{
    return kind == HOSM_SAMPLER_MALA || kind == HOSM_SAMPLER_MH_OZAKI;
}

/* Score, log density (adjusted kinds) and Hessian (Ozaki kinds) of rows. */
static int evaluate(hosm_sampler *s, const float *x, int64_t rows, int64_t level, float *g,
                    double *lp, float *h)
{
    int st = hosmi_src_score(s, x, rows, level, g);
    if (!st && adjusted(s->kind))
        st = hosmi_src_logp(s, x, rows, level, lp);
    if (!st && hosmi_sampler_uses_hessian(s->kind))
        st = hosmi_src_hess(s, x, rows, level, h);
    return st;
}

static hosmi_s2_point hess_point(const hosm_sampler *s, const float *h, int64_t i)
{
    const hosmi_s2_point p = {s->src.hess_kind, s->src.dim, s->src.rank, h + i * s->src.hess_out};
    return p;
}

/* The proposal y of chain i (row i of x) and, when logq is not NULL (MH),
 * log q(y | x). */
static int propose(hosm_sampler *s, const float *x, int64_t i, double eps, float *y, double *logq)
{
    const int64_t D = s->src.dim;
    const float *g = s->g + i * D, *xi = s->xi + i * D, *xr = x + i * D;
    float *yr = y + i * D;
    if (!hosmi_sampler_uses_hessian(s->kind)) {
        const float drift = (float)(0.5 * eps), diffusion = (float)sqrt(eps);
        for (int64_t j = 0; j < D; j++)
            yr[j] = xr[j] + drift * g[j] + diffusion * xi[j];
        if (logq) {
            double q = 0.0;
            for (int64_t j = 0; j < D; j++) {
                const double d = (double)yr[j] - xr[j] - 0.5 * eps * g[j];
                q += d * d;
            }
            *logq = -0.5 * q / eps; /* the normalisation cancels in the ratio */
        }
        return 0;
    }
    double *drift = s->work + hosmi_ozaki_work(D), *noise = drift + D;
    const hosmi_s2_point hp = hess_point(s, s->h, i);
    int rc = hosmi_ozaki_point(s, &hp, eps, g, xi, drift, noise, adjusted(s->kind) ? logq : NULL,
                               s->work);
    for (int64_t j = 0; j < D; j++)
        yr[j] = rc ? NAN : (float)(xr[j] + drift[j] + noise[j]);
    return rc == -1 ? -1 : 0;
}

/* log q(x | y) for chain i: the reverse proposal from y. */
static int reverse_logq(hosm_sampler *s, const float *x, const float *y, int64_t i, double eps,
                        double *logq)
{
    const int64_t D = s->src.dim;
    const float *gy = s->gy + i * D, *xr = x + i * D, *yr = y + i * D;
    double *r = s->work + hosmi_ozaki_work(D) + 2 * D, *drift = r + D;
    if (!hosmi_sampler_uses_hessian(s->kind)) {
        double q = 0.0;
        for (int64_t j = 0; j < D; j++) {
            double d = (double)xr[j] - yr[j] - 0.5 * eps * gy[j];
            q += d * d;
        }
        *logq = -0.5 * q / eps;
        return 0;
    }
    /* r = x - (y + M(y) g(y)); the drift through the Ozaki update with xi = 0. */
    double *noise = s->work + hosmi_ozaki_work(D);
    const hosmi_s2_point hp = hess_point(s, s->hy, i);
    float *zero = s->tan;
    memset(zero, 0, (size_t)D * sizeof(float));
    if (hosmi_ozaki_point(s, &hp, eps, gy, zero, drift, noise, NULL, s->work) != 0)
        return -2;
    for (int64_t j = 0; j < D; j++)
        r[j] = (double)xr[j] - yr[j] - drift[j];
    return hosmi_ozaki_logq(s, &hp, eps, r, logq, s->work);
}

/* Accept or reject the proposals of the rows (adjusted kinds). */
static int metropolis(hosm_sampler *s, float *x, int64_t i0, int64_t rows, int64_t level,
                      double eps, const double *logq_fwd)
{
    const int64_t D = s->src.dim;
    float *xc = x + i0 * D;
    int st = evaluate(s, s->y, rows, level, s->gy, s->lpy, s->hy);
    if (st)
        return st;
    for (int64_t i = 0; i < rows; i++) {
        const double u = hosmi_rng_uniform(&s->rng);
        if (s->frozen[i0 + i])
            continue;
        double back = -INFINITY;
        int finite = hosmi_all_finite(s->y + i * D, D) && isfinite(s->lpy[i]);
        if (finite && reverse_logq(s, xc, s->y, i, eps, &back) == -1)
            return hosmi_fail(s->errmsg, HOSM_E_NOMEM, "%s: out of memory", s->fn);
        const double log_alpha = s->lpy[i] - s->lp[i] + back - logq_fwd[i];
        s->proposals++;
        if (finite && isfinite(back) && log(u) < log_alpha) {
            memcpy(xc + i * D, s->y + i * D, (size_t)D * sizeof(float));
            s->accepted++;
        }
    }
    return HOSM_OK;
}

/* One step of the chains i0 .. i0 + rows - 1. */
static int step_pass(hosm_sampler *s, float *x, int64_t i0, int64_t rows, int64_t level,
                     double eps)
{
    const int64_t D = s->src.dim;
    float *xc = x + i0 * D;
    int st = evaluate(s, xc, rows, level, s->g, s->lp, s->h);
    if (st)
        return st;
    hosmi_rng_normal(&s->rng, s->xi, rows * D);
    for (int64_t i = 0; i < rows; i++)
        if (propose(s, xc, i, eps, s->y, adjusted(s->kind) ? &s->lq[i] : NULL) != 0)
            return hosmi_fail(s->errmsg, HOSM_E_NOMEM, "%s: out of memory", s->fn);
    if (adjusted(s->kind)) {
        /* A non-finite proposal is rejected: it is replaced by the current
         * state, which the source can evaluate, with an infinite forward
         * density, so that its acceptance probability is zero. */
        for (int64_t i = 0; i < rows; i++)
            if (!hosmi_all_finite(s->y + i * D, D)) {
                memcpy(s->y + i * D, xc + i * D, (size_t)D * sizeof(float));
                s->lq[i] = INFINITY;
            }
        return metropolis(s, x, i0, rows, level, eps, s->lq);
    }
    for (int64_t i = 0; i < rows; i++) {
        if (s->frozen[i0 + i])
            continue;
        if (hosmi_all_finite(s->y + i * D, D)) {
            memcpy(xc + i * D, s->y + i * D, (size_t)D * sizeof(float));
        } else {
            s->frozen[i0 + i] = 1; /* keeps its last finite state */
            s->diverged++;
        }
    }
    return HOSM_OK;
}

int hosmi_sampler_step(hosm_sampler *s, float *x, int64_t n, int64_t level, double eps)
{
    for (int64_t i0 = 0; i0 < n; i0 += s->cap) {
        int st = step_pass(s, x, i0, n - i0 < s->cap ? n - i0 : s->cap, level, eps);
        if (st)
            return st;
    }
    return HOSM_OK;
}
