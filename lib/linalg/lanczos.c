/* Lanczos for a symmetric operator given by its products: an orthonormal
 * Krylov basis with full reorthogonalisation (hosmi_krylov), and what is
 * built on it: the top-k eigenpairs with deflation, and matrix-function
 * products f(A) v. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"

static double kr_dot(const double *restrict x, const double *restrict y, int64_t n)
{
    double s0 = 0.0, s1 = 0.0;
    int64_t i = 0;
    for (; i + 2 <= n; i += 2) {
        s0 += x[i] * y[i];
        s1 += x[i + 1] * y[i + 1];
    }
    if (i < n)
        s0 += x[i] * y[i];
    return s0 + s1;
}

static void kr_axpy(double *restrict y, double a, const double *restrict x, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] += a * x[i];
}

/* Removes from x its components along the na rows of a and the nb rows of
 * b: classical Gram-Schmidt, twice ("twice is enough", Giraud et al. 2005). */
static void kr_orthogonalise(double *x, const double *a, int64_t na, const double *b, int64_t nb,
                             int64_t n)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t i = 0; i < na; i++)
            kr_axpy(x, -kr_dot(x, a + i * n, n), a + i * n, n);
        for (int64_t i = 0; i < nb; i++)
            kr_axpy(x, -kr_dot(x, b + i * n, n), b + i * n, n);
    }
}

/* Grows *p to hold count doubles (contents kept); 0 or -1. */
static int kr_grow(double **p, int64_t count)
{
    int64_t bytes = hosmi_mul(count, sizeof(double));
    void *np = bytes < 0 ? NULL : realloc(*p, (size_t)bytes + 64);
    if (!np)
        return -1;
    *p = np;
    return 0;
}

void hosmi_krylov_free(hosmi_krylov *kr)
{
    free(kr->q);
    free(kr->alpha);
    free(kr->beta);
    free(kr->w);
    memset(kr, 0, sizeof *kr);
}

int hosmi_krylov_init(hosmi_krylov *kr, int64_t n, const double *defl, int64_t ndefl,
                      const double *start)
{
    memset(kr, 0, sizeof *kr);
    kr->n = n;
    kr->defl = defl;
    kr->ndefl = ndefl;
    kr->limit = n - ndefl;
    kr->cap = kr->limit < 16 ? kr->limit : 16;
    kr->alpha = hosmi_alloc(kr->limit + 1, sizeof(double));
    kr->beta = hosmi_alloc(kr->limit + 1, sizeof(double));
    kr->w = hosmi_alloc(n, sizeof(double));
    if (!kr->alpha || !kr->beta || !kr->w || kr_grow(&kr->q, (kr->cap + 1) * n)) {
        hosmi_krylov_free(kr);
        return -1;
    }
    double *q0 = kr->q;
    memcpy(q0, start, (size_t)n * sizeof(double));
    const double before = sqrt(kr_dot(q0, q0, n));
    kr_orthogonalise(q0, defl, ndefl, NULL, 0, n);
    const double norm = sqrt(kr_dot(q0, q0, n));
    if (kr->limit < 1 || !(norm > 1e-8 * before)) {
        kr->invariant = 1; /* nothing of start is left: an empty basis */
        return 1;
    }
    for (int64_t t = 0; t < n; t++)
        q0[t] /= norm;
    kr->norm0 = norm;
    return 0;
}

int hosmi_krylov_extend(hosmi_krylov *kr, hosmi_apply_fn apply, void *ctx, int64_t m)
{
    const int64_t n = kr->n;
    if (m > kr->limit)
        m = kr->limit;
    while (kr->m < m && !kr->invariant) {
        const int64_t j = kr->m;
        if (j + 1 >= kr->cap) {
            kr->cap = 2 * kr->cap < kr->limit ? 2 * kr->cap : kr->limit;
            if (kr_grow(&kr->q, (kr->cap + 1) * n))
                return -1;
        }
        double *qj = kr->q + j * n, *w = kr->w;
        apply(qj, w, ctx);
        if (j > 0)
            kr_axpy(w, -kr->beta[j - 1], qj - n, n);
        const double alpha = kr_dot(w, qj, n);
        kr_axpy(w, -alpha, qj, n);
        kr_orthogonalise(w, kr->defl, kr->ndefl, kr->q, j + 1, n);
        const double beta = sqrt(kr_dot(w, w, n));
        kr->alpha[j] = alpha;
        kr->beta[j] = beta;
        kr->scale = fmax(kr->scale, fabs(alpha));
        kr->m = j + 1;
        /* Invariant (A Q_m = Q_m T_m to working precision) when the residual
         * is negligible next to the operator's size seen so far; NaN stops. */
        if (!(beta > 1e-10 * kr->scale) || kr->m == kr->limit) {
            kr->invariant = 1;
            break;
        }
        kr->scale = fmax(kr->scale, beta);
        for (int64_t t = 0; t < n; t++)
            qj[n + t] = w[t] / beta;
    }
    return 0;
}

void hosmi_krylov_combine(const hosmi_krylov *kr, const double *y, double *out)
{
    memset(out, 0, (size_t)kr->n * sizeof(double));
    for (int64_t j = 0; j < kr->m; j++)
        kr_axpy(out, y[j], kr->q + j * kr->n, kr->n);
}

/* Scratch for eigen-decompositions of T_m: values, off-diagonal, vectors. */
typedef struct {
    double *d, *e, *x, *u, *uprev;
} tri_ws;

static void tri_ws_free(tri_ws *t)
{
    free(t->d);
    free(t->e);
    free(t->x);
    free(t->u);
    free(t->uprev);
}

/* Eigenpairs of T_m of the basis into t: values descending in t->d, unit
 * eigenvectors as the rows of t->x (m x m). 0, -1 without memory, or -2 when
 * the iteration does not converge (T not finite, or out of range). */
static int tri_eig(const hosmi_krylov *kr, tri_ws *t)
{
    const int64_t m = kr->m;
    if (kr_grow(&t->d, m) || kr_grow(&t->e, m) || kr_grow(&t->x, m * m))
        return -1;
    memcpy(t->d, kr->alpha, (size_t)m * sizeof(double));
    memcpy(t->e, kr->beta, (size_t)m * sizeof(double));
    memset(t->x, 0, (size_t)(m * m) * sizeof(double));
    for (int64_t i = 0; i < m; i++)
        t->x[i * m + i] = 1.0;
    return hosmi_tridiag_eig(m, t->d, t->e, t->x, m) ? -2 : 0;
}

/* One Lanczos run in the complement of the `found` rows of vecs from a
 * random start: the top Ritz pair once its residual |beta_m y_m| is below
 * tol * scale (checked at geometrically growing sizes m), or exactly when
 * the Krylov space is invariant or spans the whole complement. 0, or -1 / -2
 * as tri_eig. */
static int top_pair(int64_t n, hosmi_apply_fn apply, void *ctx, const double *vecs,
                    int64_t found, double scale, hosmi_rng *rng, tri_ws *t, double *val,
                    double *vec)
{
    const double tol = 1e-7;
    hosmi_krylov kr;
    int st = 1;
    for (int attempt = 0; attempt < 8 && st == 1; attempt++) {
        for (int64_t i = 0; i < n; i++)
            vec[i] = hosmi_rng_uniform(rng) - 0.5;
        st = hosmi_krylov_init(&kr, n, vecs, found, vec);
        if (st == 1)
            hosmi_krylov_free(&kr);
    }
    if (st != 0) { /* nothing left (callers ask for k <= n), or no memory */
        *val = 0.0;
        memset(vec, 0, (size_t)n * sizeof(double));
        return st < 0 ? -1 : 0;
    }
    int64_t check = kr.limit < 20 ? kr.limit : 20;
    for (;;) {
        const int st2 = hosmi_krylov_extend(&kr, apply, ctx, check) ? -1 : tri_eig(&kr, t);
        if (st2) {
            hosmi_krylov_free(&kr);
            return st2;
        }
        const int64_t m = kr.m;
        const double res = kr.invariant ? 0.0 : fabs(kr.beta[m - 1] * t->x[m - 1]);
        if (res <= tol * fmax(scale, fabs(t->d[0])))
            break;
        check = m + m / 2;
    }
    *val = t->d[0];
    hosmi_krylov_combine(&kr, t->x, vec); /* row 0 of x: the top eigenvector of T */
    const double norm = sqrt(kr_dot(vec, vec, n));
    for (int64_t i = 0; i < n; i++)
        vec[i] /= norm;
    hosmi_krylov_free(&kr);
    return 0;
}

int hosmi_lanczos_topk(int64_t n, int64_t k, hosmi_apply_fn apply, void *ctx, double *vals,
                       double *vecs)
{
    /* Deflation: each run finds the largest eigenpair in the complement of
     * those found before. One start vector reaches one direction per distinct
     * eigenvalue, so taking only a run's top pair keeps repeated eigenvalues
     * (common in low-rank plus diagonal covariances) from being skipped. */
    tri_ws t = {0};
    hosmi_rng rng;
    hosmi_rng_seed(&rng, 0x6c616e637a6f73ULL, 0); /* fixed: queries are deterministic */
    int st = 0;
    for (int64_t c = 0; !st && c < k; c++)
        st = top_pair(n, apply, ctx, vecs, c, c ? fabs(vals[0]) : 0.0, &rng, &t, &vals[c],
                      vecs + c * n);
    /* Runs give non-increasing values up to the tolerance: sort exactly. */
    if (!st)
        hosmi_sort_pairs(k, vals, vecs, n, n, 1); /* vector c is row c */
    tri_ws_free(&t);
    return st;
}

/* u = f(T_m) e_1 = sum_j f(theta_j) (z_j . e_1) z_j from the eigenpairs of
 * T_m; 0 or -1. */
/* The coefficients u = f(T_m) e_1; *varies is 0 when f takes one value on
 * every Ritz value (then u is f(c) e_1 whatever the spectrum beyond them). */
static int funm_coeffs(const hosmi_krylov *kr, double (*f)(double, void *), void *fctx,
                       tri_ws *t, int *varies)
{
    const int64_t m = kr->m;
    if (tri_eig(kr, t) || kr_grow(&t->u, m))
        return -1;
    memset(t->u, 0, (size_t)m * sizeof(double));
    double lo = INFINITY, hi = -INFINITY;
    for (int64_t j = 0; j < m; j++) {
        const double *z = t->x + j * m, fj = f(t->d[j], fctx);
        lo = fmin(lo, fj);
        hi = fmax(hi, fj);
        kr_axpy(t->u, fj * z[0], z, m);
    }
    *varies = hi - lo > 1e-14 * fmax(fabs(hi), fabs(lo));
    return 0;
}

int hosmi_lanczos_funm(int64_t n, hosmi_apply_fn apply, void *ctx, double (*f)(double, void *),
                       void *fctx, const double *v, double *out, double tol, int64_t max_iter,
                       int64_t *iters)
{
    hosmi_krylov kr;
    tri_ws t = {0};
    int64_t mprev = 0;
    int small_before = 0, varies = 0;
    int st = hosmi_krylov_init(&kr, n, NULL, 0, v);
    if (iters)
        *iters = 0;
    if (st != 0) { /* v = 0 (then f(A) v = 0), or no memory */
        hosmi_krylov_free(&kr);
        memset(out, 0, (size_t)n * sizeof(double));
        return st < 0 ? -1 : 0;
    }
    const int64_t mmax = max_iter < 1 || max_iter > n ? n : max_iter;
    for (int64_t m = 1;; m += m < 16 ? 1 : m / 8) {
        if (hosmi_krylov_extend(&kr, apply, ctx, m < mmax ? m : mmax) ||
            funm_coeffs(&kr, f, fctx, &t, &varies) || kr_grow(&t.uprev, kr.m)) {
            st = -1;
            break;
        }
        /* ||x_m - x_prev|| = ||v|| ||u_m - (u_prev, 0)||: Q_m is orthonormal. */
        double diff = 0.0, size = kr_dot(t.u, t.u, kr.m);
        for (int64_t j = 0; j < kr.m; j++) {
            const double dj = t.u[j] - (j < mprev ? t.uprev[j] : 0.0);
            diff += dj * dj;
        }
        if (!isfinite(size)) {
            st = -1;
            break;
        }
        /* A function flat over the Ritz values seen so far (a clamp above
         * them all) stalls the iterates: no convergence is taken from that. */
        const int small = mprev > 0 && diff <= tol * tol * size && varies;
        if (kr.invariant || (small && small_before))
            break; /* exact, or converged */
        small_before = small;
        if (kr.m >= mmax) {
            st = 1;
            break;
        }
        memcpy(t.uprev, t.u, (size_t)kr.m * sizeof(double));
        mprev = kr.m;
    }
    if (st >= 0) {
        hosmi_krylov_combine(&kr, t.u, out);
        for (int64_t i = 0; i < n; i++)
            out[i] *= kr.norm0;
    }
    if (iters)
        *iters = kr.m;
    hosmi_krylov_free(&kr);
    tri_ws_free(&t);
    return st;
}
