#include "ref_mlp.h"

#include <math.h>
#include <stdlib.h>

#include "hosm.h"

void ref_model_init(ref_model *m, int64_t dim, int64_t hidden, int64_t depth, int act,
                     int64_t levels, const double *sigmas, int s2, int64_t rank, int64_t s2_hidden,
                     int64_t s2_depth)
{
    m->dim = dim;
    m->levels = levels;
    m->sigmas = sigmas;
    m->s2 = s2;
    m->denoiser = 0;
    m->rank = s2 == HOSM_S2_LOWRANK ? (rank < dim ? rank : dim) : 0;
    m->net1 = (ref_net){dim, hidden, depth, dim, levels, act};
    int64_t out2 = s2 == HOSM_S2_DIAG      ? dim
                   : s2 == HOSM_S2_LOWRANK ? dim * (m->rank + 1)
                   : s2 == HOSM_S2_FULL    ? dim * (dim + 1) / 2
                                           : 0;
    m->net2 = (ref_net){dim, s2_hidden ? s2_hidden : hidden, s2_depth ? s2_depth : depth, out2,
                         levels, act};
}

int64_t ref_net_params(const ref_net *n)
{
    if (n->out == 0)
        return 0;
    int64_t H = n->hidden;
    int64_t p = H * n->in + H + (n->depth - 1) * (H * H + H) + n->out * H + n->out;
    return p + (n->levels > 1 ? n->levels * H : 0);
}

int64_t ref_params1(const ref_model *m)
{
    return ref_net_params(&m->net1);
}

int64_t ref_params(const ref_model *m)
{
    return ref_net_params(&m->net1) + ref_net_params(&m->net2);
}

double ref_act(int a, double z)
{
    switch (a) {
    case HOSM_ACT_SOFTPLUS: return z > 0.0 ? z + log1p(exp(-z)) : log1p(exp(z));
    case HOSM_ACT_SILU: return z / (1.0 + exp(-z));
    case HOSM_ACT_TANH: return tanh(z);
    case HOSM_ACT_ELU: return z > 0.0 ? z : expm1(z);
    default: abort();
    }
}

void ref_net_forward(const ref_net *n, const double *params, const double *x, int64_t level,
                      double *out)
{
    const int64_t H = n->hidden;
    double *cur = malloc((size_t)H * sizeof *cur), *nxt = malloc((size_t)H * sizeof *nxt);
    if (!cur || !nxt)
        abort();
    const double *emb = n->levels > 1 ? params + ref_net_params(n) - n->levels * H + level * H
                                      : NULL;
    const double *p = params;
    for (int64_t j = 0; j < H; j++) {
        double s = p[H * n->in + j] + (emb ? emb[j] : 0.0);
        for (int64_t i = 0; i < n->in; i++)
            s += p[j * n->in + i] * x[i];
        cur[j] = ref_act(n->act, s);
    }
    p += H * n->in + H;
    for (int64_t l = 1; l < n->depth; l++) {
        for (int64_t j = 0; j < H; j++) {
            double s = p[H * H + j];
            for (int64_t i = 0; i < H; i++)
                s += p[j * H + i] * cur[i];
            nxt[j] = ref_act(n->act, s);
        }
        double *t = cur;
        cur = nxt;
        nxt = t;
        p += H * H + H;
    }
    for (int64_t j = 0; j < n->out; j++) {
        double s = p[n->out * H + j];
        for (int64_t i = 0; i < H; i++)
            s += p[j * H + i] * cur[i];
        out[j] = s;
    }
    free(cur);
    free(nxt);
}

void ref_s1(const ref_model *m, const double *params, const double *x, int64_t level,
             double *s1)
{
    ref_net_forward(&m->net1, params, x, level, s1);
    const double sg = m->sigmas[level];
    for (int64_t a = 0; a < m->dim; a++)
        s1[a] = m->denoiser ? (s1[a] - x[a]) / (sg * sg) : s1[a] / sg;
}

void ref_s2(const ref_model *m, const double *params, const double *x, int64_t level,
             double *s2)
{
    const int64_t D = m->dim, r = m->rank;
    const double sg = m->sigmas[level], is = 1.0 / sg, is2 = is * is;
    double *o = malloc((size_t)m->net2.out * sizeof *o);
    if (!o)
        abort();
    ref_net_forward(&m->net2, params + ref_params1(m), x, level, o);
    for (int64_t a = 0; a < D; a++)
        for (int64_t b = 0; b < D; b++) {
            double v = 0.0;
            switch (m->s2) {
            case HOSM_S2_DIAG: v = a == b ? (m->logvar ? expm1(o[a]) : o[a]) * is2 : 0.0; break;
            case HOSM_S2_LOWRANK:
                for (int64_t j = 0; j < r; j++) {
                    const double k = m->logvar ? 1e-2 : 1.0; /* U's factor with logvar */
                    v += (k * o[a * r + j] * is) * (k * o[b * r + j] * is);
                }
                if (a == b)
                    v += (m->logvar ? expm1(o[D * r + a]) : o[D * r + a]) * is2;
                break;
            case HOSM_S2_FULL: {
                int64_t lo = a < b ? a : b, hi = a < b ? b : a;
                /* Row lo of the upper triangle starts after rows 0..lo-1,
                 * which hold D, D-1, ..., D-lo+1 entries. */
                int64_t k = 0;
                for (int64_t row = 0; row < lo; row++)
                    k += D - row;
                v = o[k + (hi - lo)] * is2;
                break;
            }
            default: abort();
            }
            s2[a * D + b] = v;
        }
    free(o);
}

double ref_loss_s1(const ref_model *m, const double *params, int vr, const double *x,
                   const double *z, const int64_t *levels, int64_t n, double *scale)
{
    const int64_t D = m->dim;
    double *xt = malloc((size_t)D * sizeof *xt), *s = malloc((size_t)D * sizeof *s),
           *s0 = malloc((size_t)D * sizeof *s0);
    if (!xt || !s || !s0)
        abort();
    double total = 0.0, mag = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t l = levels ? levels[i] : 0;
        const double sigma = m->sigmas[l];
        const double w = m->levels > 1 ? sigma * sigma : 1.0;
        const double *xi = x + i * D, *zi = z + i * D;
        for (int64_t j = 0; j < D; j++)
            xt[j] = xi[j] + sigma * zi[j];
        ref_s1(m, params, xt, l, s);
        if (vr)
            ref_s1(m, params, xi, l, s0);
        double li = 0.0, mi = 0.0;
        for (int64_t j = 0; j < D; j++) {
            const double r = s[j] + zi[j] / sigma;
            li += r * r;
            mi += r * r;
            if (vr) {
                const double c1 = 2.0 * s0[j] * zi[j] / sigma, c2 = zi[j] * zi[j] / (sigma * sigma);
                li -= c1 + c2;
                mi += fabs(c1) + c2;
            }
        }
        total += w * li;
        mag += w * mi;
    }
    free(xt);
    free(s);
    free(s0);
    if (scale)
        *scale = mag / (double)n;
    return total / (double)n;
}

/* Residual D2SM's target at a row with noise sign z:
 * (sign z / sigma + s1)(sign z / sigma + s1)^T - I / sigma^2. */
static void res_target(int64_t D, const double *z, double sign, const double *s1, double sigma,
                       double *t)
{
    for (int64_t a = 0; a < D; a++)
        for (int64_t b = 0; b < D; b++)
            t[a * D + b] = (sign * z[a] / sigma + s1[a]) * (sign * z[b] / sigma + s1[b]) -
                           (a == b ? 1.0 / (sigma * sigma) : 0.0);
}

/* (log det A + rho^T A^-1 rho + w sum_k (log A_kk + rho_k^2 / A_kk)) / sigma^4
 * with A = I + sigma^2 s2 (D x D), rho = z + sigma s1 = sigma r, by a dense
 * Cholesky factor (a is destroyed); *mag gets the same with |log det A| and
 * |log A_kk|. */
static double nll_dense(int64_t D, double *a, const double *z, const double *s1, double sigma,
                        double w, double *mag)
{
    const double s2 = sigma * sigma;
    for (int64_t k = 0; k < D * D; k++)
        a[k] *= s2;
    double marg = 0.0, marg_mag = 0.0;
    for (int64_t k = 0; k < D; k++) {
        a[k * D + k] += 1.0;
        const double rho = z[k] + sigma * s1[k], t = rho * rho / a[k * D + k];
        marg += log(a[k * D + k]) + t;
        marg_mag += fabs(log(a[k * D + k])) + t;
    }
    double logdet = 0.0;
    for (int64_t j = 0; j < D; j++) { /* lower factor in place */
        for (int64_t k = 0; k < j; k++)
            a[j * D + j] -= a[j * D + k] * a[j * D + k];
        if (!(a[j * D + j] > 0.0))
            abort();
        a[j * D + j] = sqrt(a[j * D + j]);
        logdet += 2.0 * log(a[j * D + j]);
        for (int64_t i = j + 1; i < D; i++) {
            for (int64_t k = 0; k < j; k++)
                a[i * D + j] -= a[i * D + k] * a[j * D + k];
            a[i * D + j] /= a[j * D + j];
        }
    }
    double quad = 0.0; /* || L^-1 rho ||^2 */
    double *y = malloc((size_t)D * sizeof *y);
    if (!y)
        abort();
    for (int64_t i = 0; i < D; i++) {
        double s = z[i] + sigma * s1[i];
        for (int64_t k = 0; k < i; k++)
            s -= a[i * D + k] * y[k];
        y[i] = s / a[i * D + i];
        quad += y[i] * y[i];
    }
    free(y);
    const double is4 = 1.0 / (s2 * s2);
    *mag = (fabs(logdet) + quad + w * marg_mag) * is4;
    return (logdet + quad + w * marg) * is4;
}

/* psi = s2 + s1 s1^T at y. */
static void psi_at(const ref_model *m, const double *params, const double *y, int64_t level,
                   double *psi, double *s1)
{
    const int64_t D = m->dim;
    ref_s1(m, params, y, level, s1);
    ref_s2(m, params, y, level, psi);
    for (int64_t a = 0; a < D; a++)
        for (int64_t b = 0; b < D; b++)
            psi[a * D + b] += s1[a] * s1[b];
}

double ref_loss_s2(const ref_model *m, const ref_objective *o, const double *params,
                 const double *x, const double *z, const int64_t *levels, int64_t n,
                 double *scale)
{
    const int64_t D = m->dim, DD = D * D;
    double *buf = malloc((size_t)(3 * DD + 2 * D + 2 * D + 2 * DD) * sizeof *buf);
    if (!buf)
        abort();
    double *pp = buf, *pm = pp + DD, *p0 = pm + DD, *s1 = p0 + DD, *s10 = s1 + D, *xp = s10 + D,
           *xm = xp + D, *T = xm + D, *s20 = T + DD;
    double total = 0.0, mag = 0.0;
    for (int64_t i = 0; i < n; i++) {
        const int64_t l = levels ? levels[i] : 0;
        const double sg = m->sigmas[l], is2 = 1.0 / (sg * sg);
        const double lambda = m->levels == 1 ? 1.0 : sg * sg * sg * sg;
        const double c1 = o->frozen ? 0.0 : o->w1 * is2;
        const double *xi = x + i * D, *zi = z + i * D;
        for (int64_t a = 0; a < D; a++) {
            xp[a] = xi[a] + sg * zi[a];
            xm[a] = xi[a] - sg * zi[a];
        }
        for (int64_t a = 0; a < D; a++)
            for (int64_t b = 0; b < D; b++)
                T[a * D + b] = (zi[a] * zi[b] - (a == b ? 1.0 : 0.0)) * is2;
        /* First order. */
        double l1 = 0.0, m1 = 0.0;
        psi_at(m, params, xp, l, pp, s1);
        if (c1 != 0.0) {
            if (o->obj1 == HOSM_OBJ_DSM_VR)
                ref_s1(m, params, xi, l, s10);
            for (int64_t a = 0; a < D; a++) {
                double r = s1[a] + zi[a] / sg;
                l1 += r * r;
                m1 += r * r;
                if (o->obj1 == HOSM_OBJ_DSM_VR) {
                    double t1 = 2.0 * s10[a] * zi[a] / sg, t2 = zi[a] * zi[a] * is2;
                    l1 -= t1 + t2;
                    m1 += fabs(t1) + t2;
                }
            }
        }
        /* Second order, the plain Frobenius (or diagonal) forms. */
        double l2 = 0.0, m2 = 0.0;
        const int res = o->obj2 == HOSM_OBJ_D2SM_RES || o->obj2 == HOSM_OBJ_D2SM_RES_VR ||
                        o->obj2 == HOSM_OBJ_D2SM_RES_NLL;
        if (res) {
            /* psi = s2 alone; T' from the detached s1 (s10 as scratch) */
            ref_s2(m, params, xp, l, pp);
            ref_s1(m, o->detached, xp, l, s10);
            res_target(D, zi, 1.0, s10, sg, T);
        }
        if (o->obj2 == HOSM_OBJ_D2SM_RES_VR) {
            /* the antithetic row: s2 at x - sigma z in pm, its T' (noise -z) in p0;
             * s2 at the clean point for the control variate */
            ref_s2(m, params, xi, l, s20);
            ref_s2(m, params, xm, l, pm);
            ref_s1(m, o->detached, xm, l, s10);
            res_target(D, zi, -1.0, s10, sg, p0);
        }
        if (o->obj2 == HOSM_OBJ_D2SM_VR) {
            psi_at(m, params, xm, l, pm, s10);
            psi_at(m, params, xi, l, p0, s10);
        }
        for (int64_t a = 0; a < D; a++)
            for (int64_t b = 0; b < D; b++) {
                if (m->s2 == HOSM_S2_DIAG && a != b)
                    continue;
                const int64_t k = a * D + b;
                if (o->obj2 == HOSM_OBJ_D2SM_RES_VR) {
                    double rp = pp[k] - T[k], rm = pm[k] - p0[k];
                    double t0 = (zi[a] * zi[b] - (a == b ? 1.0 : 0.0)) * is2; /* T */
                    l2 += 0.5 * (rp * rp + rm * rm) + 2.0 * t0 * s20[k];
                    m2 += 0.5 * (pp[k] * pp[k] + 2.0 * fabs(T[k] * pp[k]) + T[k] * T[k] +
                                 pm[k] * pm[k] + 2.0 * fabs(p0[k] * pm[k]) + p0[k] * p0[k]) +
                          2.0 * fabs(t0 * s20[k]);
                } else if (o->obj2 == HOSM_OBJ_D2SM_RES_NLL) {
                    continue; /* not a sum over entries: below */
                } else if (o->obj2 != HOSM_OBJ_D2SM_VR) {
                    double r = pp[k] - T[k];
                    l2 += r * r;
                    m2 += pp[k] * pp[k] + 2.0 * fabs(T[k] * pp[k]) + T[k] * T[k];
                } else {
                    l2 += 0.5 * (pp[k] * pp[k] + pm[k] * pm[k]) -
                          T[k] * (pp[k] + pm[k] - 2.0 * p0[k]);
                    m2 += 0.5 * (pp[k] * pp[k] + pm[k] * pm[k]) +
                          fabs(T[k]) * (fabs(pp[k]) + fabs(pm[k]) + 2.0 * fabs(p0[k]));
                }
            }
        if (o->obj2 == HOSM_OBJ_D2SM_RES_NLL) {
            double mg;
            l2 = nll_dense(D, pp, zi, s10, sg, o->nll_marginal, &mg);
            m2 = mg;
        }
        total += lambda * (c1 * l1 + l2);
        mag += lambda * (c1 * m1 + m2);
    }
    free(buf);
    if (scale)
        *scale = mag / (double)n;
    return total / (double)n;
}
