/* Ozaki's matrix functions (docs/math.md#82-ozaki): with the eigenvalues l
 * of H clamped to l_max,
 *   M     = (exp(eps H / 2) - I) H^-1:   m(l) = (eps / 2) h(eps l / 2)
 *   Sigma = (exp(eps H) - I) H^-1:       s(l) = eps h(eps l)
 * with h(t) = expm1(t) / t (its series near 0), applied per coordinate for
 * a diagonal H, through the symmetric eigensolver, or as Lanczos matrix
 * functions on products with H (never D x D for a low-rank H). */
#include <math.h>
#include <string.h>

#include "linalg/linalg.h"
#include "sample/sampler.h"

typedef struct {
    double eps, l_max;
} fn_ctx;

static double h(double t)
{
    return fabs(t) < 1e-4 ? 1.0 + t * (0.5 + t / 6.0) : expm1(t) / t;
}

static double m_fn(double l, void *ctx)
{
    const fn_ctx *c = ctx;
    return 0.5 * c->eps * h(0.5 * c->eps * fmin(l, c->l_max));
}

static double s_fn(double l, void *ctx)
{
    const fn_ctx *c = ctx;
    return c->eps * h(c->eps * fmin(l, c->l_max));
}

static double sqrt_s_fn(double l, void *ctx)
{
    return sqrt(s_fn(l, ctx));
}

int64_t hosmi_ozaki_work(int64_t D)
{
    return hosmi_mul(3 * D + 4, D);
}

static void apply_h(const double *x, double *y, void *ctx)
{
    hosmi_s2_apply(ctx, -INFINITY, x, y);
}

/* The eigendecomposition of H: values into w (D), vectors as the columns
 * of v (D x D); work holds D^2 doubles. 0, or -2 for NaN or Inf. */
static int eig(const hosm_sampler *s, const hosmi_s2_point *hp, double *w, double *v, double *a)
{
    hosmi_s2_dense(hp, &s->blas, -INFINITY, a, s->fwork);
    return hosmi_sym_eig(hp->D, a, w, v) == 0 ? 0 : -2;
}

/* out = V diag(f(w)) V^T in, through the eigenbasis; t holds D doubles. */
static void through_eig(int64_t D, const double *w, const double *v, double (*f)(double, void *),
                        fn_ctx *c, const double *in, double *out, double *t)
{
    for (int64_t j = 0; j < D; j++) {
        double p = 0.0;
        for (int64_t i = 0; i < D; i++)
            p += v[i * D + j] * in[i];
        t[j] = f(w[j], c) * p;
    }
    for (int64_t i = 0; i < D; i++) {
        double q = 0.0;
        for (int64_t j = 0; j < D; j++)
            q += v[i * D + j] * t[j];
        out[i] = q;
    }
}

/* The Lanczos path, for Ozaki without adjustment. */
static int by_lanczos(const hosm_sampler *s, const hosmi_s2_point *hp, fn_ctx *c,
                      const double *g, const double *xi, double *drift, double *noise)
{
    const int64_t D = hp->D;
    int r1 = hosmi_lanczos_funm(D, apply_h, (void *)hp, m_fn, c, g, drift, s->lanczos_tol, 0, NULL);
    int r2 = hosmi_lanczos_funm(D, apply_h, (void *)hp, sqrt_s_fn, c, xi, noise, s->lanczos_tol, 0,
                                NULL);
    return r1 < 0 || r2 < 0 ? -2 : 0;
}

static int use_lanczos(const hosm_sampler *s, int kind, int adjusted)
{
    if (kind == HOSM_S2_DIAG || adjusted || s->solver == HOSM_OZAKI_EIG)
        return 0;
    return s->solver == HOSM_OZAKI_LANCZOS || kind == HOSM_S2_LOWRANK;
}

int hosmi_ozaki_point(const hosm_sampler *s, const hosmi_s2_point *hp, double eps, const float *g,
                      const float *xi, double *drift, double *noise, double *logq, double *work)
{
    const int64_t D = hp->D;
    fn_ctx c = {eps, s->l_max};
    double *gd = work, *xd = work + D, *t = work + 2 * D, *w = work + 3 * D;
    double *v = work + 4 * D, *a = v + D * D;
    for (int64_t i = 0; i < D; i++) {
        gd[i] = g[i];
        xd[i] = xi[i];
    }
    double logdet = 0.0;
    if (hp->kind == HOSM_S2_DIAG) {
        for (int64_t i = 0; i < D; i++) {
            const double l = hosmi_s2_d(hp, i), sv = s_fn(l, &c);
            drift[i] = m_fn(l, &c) * gd[i];
            noise[i] = sqrt(sv) * xd[i];
            logdet += log(sv);
        }
    } else if (use_lanczos(s, hp->kind, s->kind == HOSM_SAMPLER_MH_OZAKI)) {
        return by_lanczos(s, hp, &c, gd, xd, drift, noise);
    } else {
        if (eig(s, hp, w, v, a) != 0)
            return -2;
        through_eig(D, w, v, m_fn, &c, gd, drift, t);
        through_eig(D, w, v, sqrt_s_fn, &c, xd, noise, t);
        for (int64_t i = 0; i < D; i++)
            logdet += log(s_fn(w[i], &c));
    }
    if (logq) {
        /* noise = Sigma^(1/2) xi, so the quadratic form is ||xi||^2. */
        double q = 0.0;
        for (int64_t i = 0; i < D; i++)
            q += xd[i] * xd[i];
        *logq = -0.5 * (q + logdet);
    }
    return 0;
}

int hosmi_ozaki_logq(const hosm_sampler *s, const hosmi_s2_point *hp, double eps,
                     const double *r, double *logq, double *work)
{
    const int64_t D = hp->D;
    fn_ctx c = {eps, s->l_max};
    double q = 0.0, logdet = 0.0;
    if (hp->kind == HOSM_S2_DIAG) {
        for (int64_t i = 0; i < D; i++) {
            const double sv = s_fn(hosmi_s2_d(hp, i), &c);
            q += r[i] * r[i] / sv;
            logdet += log(sv);
        }
    } else {
        double *w = work + 3 * D, *v = work + 4 * D, *a = v + D * D;
        if (eig(s, hp, w, v, a) != 0)
            return -2;
        for (int64_t j = 0; j < D; j++) {
            double p = 0.0;
            for (int64_t i = 0; i < D; i++)
                p += v[i * D + j] * r[i];
            const double sv = s_fn(w[j], &c);
            q += p * p / sv;
            logdet += log(sv);
        }
    }
    *logq = -0.5 * (q + logdet);
    return 0;
}
