/* Lanczos with full reorthogonalisation and deflation: top-k eigenpairs of a
 * symmetric operator given by its products. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "linalg/linalg.h"

static double dot(const double *x, const double *y, int64_t n)
{
    double s = 0.0;
    for (int64_t i = 0; i < n; i++)
        s += x[i] * y[i];
    return s;
}

/* Removes from x its components along the na rows of a and the nb rows of
 * b, twice for stability. */
static void orthogonalise(double *x, const double *a, int64_t na, const double *b, int64_t nb,
                          int64_t n)
{
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t i = 0; i < na + nb; i++) {
            const double *r = i < na ? a + i * n : b + (i - na) * n;
            double c = dot(x, r, n);
            for (int64_t t = 0; t < n; t++)
                x[t] -= c * r[t];
        }
    }
}

/* A fresh unit vector orthogonal to the given rows, or 0 if none is found. */
static int fresh_direction(double *x, const double *a, int64_t na, const double *b, int64_t nb,
                           int64_t n, hosmi_rng *rng)
{
    for (int attempt = 0; attempt < 8; attempt++) {
        for (int64_t t = 0; t < n; t++)
            x[t] = hosmi_rng_uniform(rng) - 0.5;
        orthogonalise(x, a, na, b, nb, n);
        double norm = sqrt(dot(x, x, n));
        if (norm > 1e-8) {
            for (int64_t t = 0; t < n; t++)
                x[t] /= norm;
            return 1;
        }
    }
    return 0;
}

/* Ritz pairs of the m x m tridiagonal matrix (diagonal a, off-diagonal b):
 * values into theta (descending), vectors into the columns of y (m x m),
 * using a m x m scratch. */
static void ritz(int64_t m, const double *a, const double *b, double *scratch, double *theta,
                 double *y)
{
    memset(scratch, 0, (size_t)(m * m) * sizeof(double));
    for (int64_t i = 0; i < m; i++) {
        scratch[i * m + i] = a[i];
        if (i + 1 < m)
            scratch[i * m + i + 1] = scratch[(i + 1) * m + i] = b[i];
    }
    hosmi_sym_eig(m, scratch, theta, y);
}

/* Grows *p to hold count doubles (contents kept); 0 or -1. */
static int grow(double **p, int64_t count)
{
    int64_t bytes = hosmi_mul(count, sizeof(double));
    void *np = bytes < 0 ? NULL : realloc(*p, (size_t)bytes + 256);
    if (!np)
        return -1;
    *p = np;
    return 0;
}

typedef struct {
    double *q, *a, *b, *w, *theta, *y, *scratch;
    int64_t cap;
} lanczos_ws;

/* One Lanczos run in the complement of the `found` rows of vecs: returns the
 * top Ritz pair once its residual |beta_m y_m| is below tol * scale (checked
 * at geometrically growing sizes m), or exactly when the Krylov space is
 * invariant or spans the whole complement. 0, or -1 without memory. */
static int top_pair(int64_t n, hosmi_apply_fn apply, void *ctx, const double *vecs,
                    int64_t found, double scale, hosmi_rng *rng, lanczos_ws *ws, double *val,
                    double *vec)
{
    const double tol = 1e-7;
    const int64_t avail = n - found;
    int64_t check = avail < 20 ? avail : 20, used = 0;
    if (!fresh_direction(ws->q, vecs, found, NULL, 0, n, rng)) {
        *val = 0.0; /* nothing left: callers ask for k <= n */
        memset(vec, 0, (size_t)n * sizeof(double));
        return 0;
    }
    for (int64_t j = 0; j < avail; j++) {
        if (j + 1 >= ws->cap) {
            ws->cap = 2 * ws->cap < avail + 1 ? 2 * ws->cap : avail + 1;
            if (grow(&ws->q, (ws->cap + 1) * n))
                return -1;
        }
        apply(ws->q + j * n, ws->w, ctx);
        ws->a[j] = dot(ws->w, ws->q + j * n, n);
        orthogonalise(ws->w, vecs, found, ws->q, j + 1, n);
        used = j + 1;
        double beta = sqrt(dot(ws->w, ws->w, n));
        int invariant = !(beta > 1e-10 * (fabs(ws->a[j]) + 1e-300));
        if (used == check || used == avail || invariant) {
            if (grow(&ws->y, used * used) || grow(&ws->scratch, used * used))
                return -1;
            ritz(used, ws->a, ws->b, ws->scratch, ws->theta, ws->y);
            double res = invariant ? 0.0 : fabs(beta * ws->y[(used - 1) * used]);
            if (res <= tol * fmax(scale, fabs(ws->theta[0])) || used == avail)
                break;
            check = check + check / 2 < avail ? check + check / 2 : avail;
        }
        ws->b[j] = beta;
        for (int64_t t = 0; t < n; t++)
            ws->q[(j + 1) * n + t] = ws->w[t] / beta;
    }
    *val = ws->theta[0];
    memset(vec, 0, (size_t)n * sizeof(double));
    for (int64_t j = 0; j < used; j++)
        for (int64_t t = 0; t < n; t++)
            vec[t] += ws->y[j * used] * ws->q[j * n + t];
    double norm = sqrt(dot(vec, vec, n));
    for (int64_t t = 0; t < n; t++)
        vec[t] /= norm;
    return 0;
}

int hosmi_lanczos_topk(int64_t n, int64_t k, hosmi_apply_fn apply, void *ctx, double *vals,
                       double *vecs)
{
    /* Deflation: each run finds the largest eigenpair in the complement of
     * those found before. One start vector reaches one direction per distinct
     * eigenvalue, so taking only a run's top pair keeps repeated eigenvalues
     * (common in low-rank plus diagonal covariances) from being skipped. */
    lanczos_ws ws = {0};
    ws.cap = n < 32 ? n : 32;
    ws.a = hosmi_alloc(n, sizeof(double));
    ws.b = hosmi_calloc(n, sizeof(double));
    ws.w = hosmi_alloc(n, sizeof(double));
    ws.theta = hosmi_alloc(n, sizeof(double));
    int ok = ws.a && ws.b && ws.w && ws.theta && grow(&ws.q, (ws.cap + 1) * n) == 0;
    hosmi_rng rng;
    hosmi_rng_seed(&rng, 0x6c616e637a6f73ULL, 0); /* fixed: queries are deterministic */
    for (int64_t c = 0; ok && c < k; c++)
        ok = top_pair(n, apply, ctx, vecs, c, c ? fabs(vals[0]) : 0.0, &rng, &ws, &vals[c],
                      vecs + c * n) == 0;
    /* Runs give non-increasing values up to the tolerance: sort exactly. */
    if (ok)
        hosmi_sort_pairs(k, vals, vecs, n, n, 1); /* vector c is row c */
    free(ws.q);
    free(ws.a);
    free(ws.b);
    free(ws.w);
    free(ws.theta);
    free(ws.y);
    free(ws.scratch);
    return ok ? 0 : -1;
}
